// Package view is the public JSON form of an invoice, shared by the REST API
// and webhook payloads so a merchant parses one shape everywhere.
//
// Amounts are written as JSON numbers whose text is the exact decimal value
// (0.00166667, never 0.0016666700000000001): the spec's fields are numbers,
// and writing them from decimal text rather than float64 loses nothing.
// Clients that parse JSON numbers into doubles should use the *_in_units
// integers for anything with more than 15 significant digits (wei amounts).
package view

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"

	"github.com/invoiced/invoiced/engine"
)

// Invoice is the API's invoice object: every field of the spec plus
// blockchain_details, transactions and the locked exchange rate. user_id
// is the account owning the invoice's project: not stored on the invoice,
// as a project never changes owner and its record holds the account.
type Invoice struct {
	InvoiceID                     uuid.UUID     `json:"invoice_id"`
	UserID                        uuid.UUID     `json:"user_id"`
	ProjectID                     uuid.UUID     `json:"project_id"`
	OrderID                       string        `json:"order_id"`
	OrderName                     string        `json:"order_name"`
	FiatAmount                    *json.Number  `json:"fiat_amount"`
	FiatCurrency                  *string       `json:"fiat_currency"`
	Currency                      string        `json:"currency"`
	CryptoAmount                  json.Number   `json:"crypto_amount"`
	CryptoAmountInUnits           json.Number   `json:"crypto_amount_in_units"`
	ActualCryptoAmountPaid        json.Number   `json:"actual_crypto_amount_paid"`
	ActualCryptoAmountPaidInUnits json.Number   `json:"actual_crypto_amount_paid_in_units"`
	AllowedErrorPercent           int           `json:"allowed_error_percent"`
	ExpireMin                     int           `json:"expire_min"`
	CallbackURL                   *string       `json:"callback_url"`
	Status                        engine.Status `json:"status"`
	CreatedAt                     time.Time     `json:"created_at"`
	UpdatedAt                     time.Time     `json:"updated_at"`
	ExpiresAt                     time.Time     `json:"expires_at"`
	ExchangeRate                  *ExchangeRate `json:"exchange_rate"`
	// CheckoutURL is the customer's payment page; absent on an archived
	// invoice, which has no address.
	CheckoutURL       string            `json:"checkout_url,omitempty"`
	BlockchainDetails BlockchainDetails `json:"blockchain_details"`
	Transactions      []Transaction     `json:"transactions"`
}

// ExchangeRate is the rate locked at creation: fiat per whole coin, as an
// exact decimal string.
type ExchangeRate struct {
	Rate   string    `json:"rate"`
	Fiat   string    `json:"fiat"`
	Source string    `json:"source"`
	At     time.Time `json:"at"`
}

// BlockchainDetails says where and how to pay. It is the empty object for an
// archived invoice, which has no address.
type BlockchainDetails struct {
	Currency          string          `json:"currency,omitempty"`
	BlockchainAddress string          `json:"blockchainAddress,omitempty"`
	BlockchainNetwork *engine.Network `json:"blockchainNetwork,omitempty"`
	PaymentURI        string          `json:"payment_uri,omitempty"`
	// QRCode is the URL of a PNG QR code of PaymentURI (…/qr.svg is the
	// same code as SVG).
	QRCode                string `json:"qrcode,omitempty"`
	RequiredConfirmations int    `json:"required_confirmations,omitempty"`
}

// Transaction is one payment to the invoice's address as the chain shows it.
// Status is "unconfirmed" (in the mempool), "confirming" (in a block, fewer
// confirmations than required) or "confirmed". Late marks a payment seen
// after the invoice expired or was cancelled: counted in the amount paid,
// not in the status.
type Transaction struct {
	TxID          string      `json:"txid"`
	OutputIndex   uint32      `json:"output_index"`
	Amount        json.Number `json:"amount"`
	AmountInUnits json.Number `json:"amount_in_units"`
	Confirmations int         `json:"confirmations"`
	BlockHeight   *uint64     `json:"block_height"`
	Status        string      `json:"status"`
	Late          bool        `json:"late"`
	SeenAt        time.Time   `json:"seen_at"`
}

// CheckoutURL is the customer's page of invoice id under the server's
// public base URL (no trailing slash).
func CheckoutURL(publicURL string, id uuid.UUID) string {
	return publicURL + "/i/" + id.String()
}

// FromInvoice builds the view of inv; owner is the account that owns its
// project (user_id), reg supplies the currency's decimals, network and
// confirmation count, publicURL the base of the checkout page and QR image
// links.
func FromInvoice(inv engine.Invoice, owner uuid.UUID, reg *engine.Registry, publicURL string) Invoice {
	cur, _ := reg.Lookup(inv.Currency)
	v := Invoice{
		InvoiceID:                     inv.ID,
		UserID:                        owner,
		ProjectID:                     inv.ProjectID,
		OrderID:                       inv.OrderID,
		OrderName:                     inv.OrderName,
		Currency:                      inv.Currency,
		CryptoAmount:                  json.Number(engine.FormatDecimal(inv.Amount, cur.Decimals)),
		CryptoAmountInUnits:           json.Number(inv.Amount.String()),
		ActualCryptoAmountPaid:        json.Number(engine.FormatDecimal(inv.Paid, cur.Decimals)),
		ActualCryptoAmountPaidInUnits: json.Number(inv.Paid.String()),
		AllowedErrorPercent:           inv.AllowedErrorPercent,
		ExpireMin:                     inv.ExpireMin,
		Status:                        inv.Status,
		CreatedAt:                     inv.CreatedAt,
		UpdatedAt:                     inv.UpdatedAt,
		ExpiresAt:                     inv.ExpiresAt,
		Transactions:                  make([]Transaction, len(inv.Transactions)),
	}
	for i, t := range inv.Transactions {
		vt := Transaction{
			TxID: t.TxID, OutputIndex: t.Index, Confirmations: t.Confirmations, Late: t.Late, SeenAt: t.SeenAt,
			Amount: json.Number(engine.FormatDecimal(t.Amount, cur.Decimals)), AmountInUnits: json.Number(t.Amount.String()),
			Status: "unconfirmed",
		}
		if t.Height > 0 {
			h := t.Height
			vt.BlockHeight = &h
			vt.Status = "confirming"
			if t.Confirmed(cur.Confirmations) {
				vt.Status = "confirmed"
			}
		}
		v.Transactions[i] = vt
	}
	if inv.FiatAmount != nil {
		n := json.Number(engine.FormatDecimal(*inv.FiatAmount, engine.FiatDecimals))
		v.FiatAmount = &n
		fc := inv.FiatCurrency
		v.FiatCurrency = &fc
	}
	if inv.CallbackURL != "" {
		u := inv.CallbackURL
		v.CallbackURL = &u
	}
	if inv.Rate != nil {
		v.ExchangeRate = &ExchangeRate{Rate: inv.Rate.Value, Fiat: inv.Rate.Fiat, Source: inv.Rate.Source, At: inv.Rate.At}
	}
	if inv.Address != "" {
		network := cur.Network
		v.CheckoutURL = CheckoutURL(publicURL, inv.ID)
		v.BlockchainDetails = BlockchainDetails{
			Currency:              inv.Currency,
			BlockchainAddress:     inv.Address,
			BlockchainNetwork:     &network,
			PaymentURI:            cur.PaymentURI(inv.Address, inv.Amount),
			QRCode:                v.CheckoutURL + "/qr.png",
			RequiredConfirmations: cur.Confirmations,
		}
	}
	return v
}

// Webhook is a webhook body: the invoice object with the event name beside
// its fields, so the hosted API's webhook fields (invoice_id, status,
// order_id, amounts, updated_at) stay at the top level.
type Webhook struct {
	Invoice
	Event string `json:"event"`
	// Simulated marks a body sent by POST /webhooks/simulate: the status in
	// it is not the invoice's.
	Simulated bool `json:"simulated,omitempty"`
}
