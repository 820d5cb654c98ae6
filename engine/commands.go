package engine

import (
	"time"

	"github.com/google/uuid"
)

// Command asks for a change to one invoice. Decide turns it into events or
// refuses it.
type Command interface {
	command()
}

// CreateKind says what a create request makes.
type CreateKind int

const (
	// ForPayment: an invoice with a deposit address, watched for payment.
	ForPayment CreateKind = iota
	// ForArchive: a historical invoice, status archived, no address.
	ForArchive
)

// CreateRequest is a create (or archived create) request as the merchant
// sent it: decoded from JSON but not yet validated. Optional fields are nil
// when absent; amounts stay decimal text so they are parsed exactly.
type CreateRequest struct {
	OrderID             string
	OrderName           *string
	Currency            string
	FiatAmount          *string
	FiatCurrency        *string
	CryptoAmount        *string
	AllowedErrorPercent *int64
	ExpireMin           *int64
	CallbackURL         *string
	// RedirectURL is the checkout page's "return to the shop" link.
	RedirectURL *string
	// CreatedAt is the custom creation time of an archived invoice.
	CreatedAt *string
}

// CreateInvoice creates an invoice that is watched for payment at Address.
type CreateInvoice struct {
	ID, ProjectID uuid.UUID
	Request       CreateRequest
	// Rate is the current exchange rate for the currency; required when the
	// request is priced in fiat, recorded when it is not.
	Rate *Rate
	// Address and AddressIndex are the deposit address allocated for it.
	Address      string
	AddressIndex uint64
	At           time.Time
}

// CreateArchived records a historical invoice: status archived, no address,
// never watched.
type CreateArchived struct {
	ID, ProjectID uuid.UUID
	Request       CreateRequest
	Rate          *Rate
	At            time.Time
}

// ChangeStatus is a merchant's manual status change (PATCH).
type ChangeStatus struct {
	Target  Status
	Comment string
	At      time.Time
}

func (CreateInvoice) command()  {}
func (CreateArchived) command() {}
func (ChangeStatus) command()   {}
