package checkout

import (
	"fmt"
	"html/template"
	"math"
	"math/big"
	"net/url"
	"strings"
	"time"

	"github.com/invoiced/invoiced/engine"
)

// pageView is everything the templates show of one invoice: only what its
// customer may see.
type pageView struct {
	Lang   string
	T      map[string]string
	Langs  []langLink
	Assets string

	ID, OrderID, OrderName, Project string
	State                           string // waiting, seen, partial, completed, expired, cancelled
	Final                           bool
	Version                         uint64

	Currency, Network string
	Address           string
	// Amount is the invoice's amount, Due what the QR code asks for now
	// (the rest, once partly paid), Half a partial payment for the dev
	// panel; all decimal text in whole coins.
	Amount, Due, Paid, Half string
	HasPaid                 bool
	Fiat, Rate              string
	// URI is the payment URI of Due as a link (wallet schemes such as
	// bitcoin: are not URLs html/template lets through; ours are built
	// from our own address and amount), URIText the same for copying.
	URI     template.URL
	URIText string
	QR      string

	Required, Confirmations int
	Txs                     []txView

	ExpiresAt, CountdownFrom string // RFC 3339
	Countdown                bool
	MinutesLeft              int

	RedirectURL string
	Dev         bool

	EventsURL, StatusURL, DevExpireURL string
}

type txView struct {
	ID, URL, Amount string
	Confirmations   int
	Late            bool
}

type langLink struct {
	Code, Name string
	Current    bool
}

var languageNames = map[string]string{"en": "English", "de": "Deutsch"}

// state is the page's state for a status.
func state(s engine.Status) string {
	switch s {
	case engine.StatusNew:
		return "waiting"
	case engine.StatusPending:
		return "seen"
	case engine.StatusPaidPartial:
		return "partial"
	case engine.StatusCompleted:
		return "completed"
	case engine.StatusExpired:
		return "expired"
	}
	return "cancelled"
}

// final reports whether the page has nothing more to wait for, so its
// stream closes: a final status (engine's IsFinal), or completed, which a
// reorganisation could still undo but which the customer is done with.
func final(s engine.Status) bool {
	return s == engine.StatusCompleted || s.IsFinal()
}

// view builds the page of inv in lang.
func (h *Handler) view(inv engine.Invoice, lang string) pageView {
	cur, _ := h.cfg.Rules.Currencies.Lookup(inv.Currency)
	base := "/i/" + inv.ID.String()
	v := pageView{
		Lang: lang, T: messages[lang], Assets: AssetsPath,
		ID: inv.ID.String(), OrderID: inv.OrderID, OrderName: inv.OrderName,
		State: state(inv.Status), Final: final(inv.Status), Version: inv.Version,
		Currency: cur.Code, Network: cur.Name, Address: inv.Address,
		Amount:   engine.FormatDecimal(inv.Amount, cur.Decimals),
		Paid:     engine.FormatDecimal(inv.Paid, cur.Decimals),
		HasPaid:  inv.Paid.Sign() > 0,
		Required: cur.Confirmations, RedirectURL: inv.RedirectURL, Dev: h.cfg.Dev,
		EventsURL: base + "/events?lang=" + lang, StatusURL: base + "/status?lang=" + lang,
		ExpiresAt: inv.ExpiresAt.UTC().Format(time.RFC3339),
	}
	if name, ok := h.cfg.Projects.ProjectName(inv.ProjectID); ok {
		v.Project = name
	}
	for _, l := range languages {
		code := l.String()
		v.Langs = append(v.Langs, langLink{Code: code, Name: languageNames[code], Current: code == lang})
	}
	due := inv.Amount
	v.QR = base + "/qr.svg"
	if inv.Status == engine.StatusPaidPartial {
		if rest := inv.Amount.Sub(inv.Paid); rest.Sign() > 0 {
			due = rest
			// The rest in the URL keeps each partial QR its own cache entry.
			v.QR += "?rest=" + rest.String()
		}
	}
	v.Due = engine.FormatDecimal(due, cur.Decimals)
	v.Half = engine.FormatDecimal(engine.UnitsFromBig(new(big.Int).Quo(inv.Amount.Big(), big.NewInt(2))), cur.Decimals)
	v.URIText = cur.PaymentURI(inv.Address, due)
	v.URI = template.URL(v.URIText)
	if inv.FiatAmount != nil {
		v.Fiat = cents(*inv.FiatAmount) + " " + inv.FiatCurrency
		if inv.Rate != nil {
			v.Rate = fmt.Sprintf(v.T["rate"], cur.Code, inv.Rate.Value, inv.Rate.Fiat)
		}
	}
	v.Confirmations = -1
	for _, t := range inv.Transactions {
		tv := txView{ID: t.TxID, Amount: engine.FormatDecimal(t.Amount, cur.Decimals), Confirmations: t.Confirmations, Late: t.Late}
		if tmpl := h.cfg.Explorers[cur.Code]; tmpl != "" {
			tv.URL = strings.ReplaceAll(tmpl, "{txid}", url.PathEscape(t.TxID))
		}
		v.Txs = append(v.Txs, tv)
		if !t.Late && (v.Confirmations < 0 || t.Confirmations < v.Confirmations) {
			v.Confirmations = t.Confirmations // the slowest payment decides
		}
	}
	v.Confirmations = max(v.Confirmations, 0)
	// The countdown: the last quarter of the invoice's life.
	life := inv.ExpiresAt.Sub(inv.CreatedAt)
	from := inv.ExpiresAt.Add(-life / 4)
	v.CountdownFrom = from.UTC().Format(time.RFC3339)
	now := h.cfg.Clock.Now()
	if !now.Before(from) && now.Before(inv.ExpiresAt) {
		v.Countdown = true
		v.MinutesLeft = int(math.Ceil(inv.ExpiresAt.Sub(now).Minutes()))
	}
	if h.cfg.Dev {
		v.DevExpireURL = "/dev/expire"
	}
	return v
}

// cents writes a fiat amount as prices are written: always two decimals.
func cents(u engine.Units) string {
	whole, frac, _ := strings.Cut(engine.FormatDecimal(u, engine.FiatDecimals), ".")
	return whole + "." + (frac + "00")[:2]
}
