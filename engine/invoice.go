package engine

import (
	"math/big"
	"time"

	"github.com/google/uuid"
)

// Invoice is the state of one invoice, rebuilt by applying its events in
// order. Version counts the events applied; 0 means the invoice does not
// exist yet.
type Invoice struct {
	ID        uuid.UUID `json:"id"`
	ProjectID uuid.UUID `json:"project_id"`
	Version   uint64    `json:"version"`

	OrderID   string `json:"order_id"`
	OrderName string `json:"order_name,omitempty"`
	// Fingerprint identifies the create request, so a retry with the same
	// order_id and body is recognised as the same request.
	Fingerprint string `json:"fingerprint"`

	Currency string `json:"currency"`
	// Amount is what is owed, in the currency's smallest units.
	Amount Units `json:"amount"`
	// FiatAmount is the priced amount in cents when the invoice was priced in
	// fiat; nil when it was priced in crypto.
	FiatAmount   *Units `json:"fiat_amount,omitempty"`
	FiatCurrency string `json:"fiat_currency,omitempty"`
	// Rate is the exchange rate locked at creation (nil if none was used or
	// available).
	Rate *Rate `json:"rate,omitempty"`

	AllowedErrorPercent int    `json:"allowed_error_percent"`
	ExpireMin           int    `json:"expire_min"`
	CallbackURL         string `json:"callback_url,omitempty"`
	// RedirectURL is where the checkout page sends the customer back to
	// the shop; empty when the merchant gave none.
	RedirectURL string `json:"redirect_url,omitempty"`

	Status    Status    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	ExpiresAt time.Time `json:"expires_at"`

	// Address is the deposit address (empty for archived invoices) and
	// AddressIndex its derivation index.
	Address      string `json:"address,omitempty"`
	AddressIndex uint64 `json:"address_index,omitempty"`

	// Paid is the sum of the payments the chain shows for Address, late
	// ones included: what the merchant actually received.
	Paid Units `json:"paid"`
	// Transactions are the payments the chain shows, in the order seen.
	Transactions []Transaction `json:"transactions,omitempty"`
	// ManualStatus is set when the merchant set the current status by hand:
	// the chain no longer moves it (a merchant who accepted a short payment
	// is not overruled by the next block).
	ManualStatus bool `json:"manual_status,omitempty"`
}

// Exists reports whether the invoice has been created.
func (inv Invoice) Exists() bool { return inv.Version > 0 }

// Threshold is the least total payment that settles the invoice:
// amount * (100 - allowed_error_percent) / 100, rounded up to a whole unit so
// tolerance never lets the merchant receive less than it agreed to.
func Threshold(amount Units, allowedErrorPercent int) Units {
	n := new(big.Int).Mul(amount.big(), big.NewInt(int64(100-allowedErrorPercent)))
	q, r := new(big.Int).QuoRem(n, big.NewInt(100), new(big.Int))
	if r.Sign() > 0 {
		q.Add(q, big.NewInt(1))
	}
	return Units{q}
}
