package view

import (
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"
)

// AppendJSON appends v's JSON encoding to b: byte for byte what
// json.Marshal writes (field order, HTML-safe escaping, RFC 3339 times),
// which TestAppendJSON_MatchesEncodingJSON and FuzzAppendJSON check. It
// exists because every GET, create and webhook body encodes an invoice,
// and reflection made that encoding most of a GET's handler time.
//
// It does not validate: amounts are the engine's decimal text and times
// are the engine's, so the checks json.Marshal would make (a number's
// syntax, a year within 0..9999) cannot fail for a view built by
// FromInvoice.
func (v *Invoice) AppendJSON(b []byte) []byte {
	b = append(b, `{"invoice_id":"`...)
	b = appendUUID(b, v.InvoiceID)
	b = append(b, `","user_id":"`...)
	b = appendUUID(b, v.UserID)
	b = append(b, `","project_id":"`...)
	b = appendUUID(b, v.ProjectID)
	b = append(b, `","order_id":`...)
	b = appendString(b, v.OrderID)
	b = append(b, `,"order_name":`...)
	b = appendString(b, v.OrderName)
	b = append(b, `,"fiat_amount":`...)
	b = appendNullable(b, v.FiatAmount, appendNumber)
	b = append(b, `,"fiat_currency":`...)
	b = appendNullable(b, v.FiatCurrency, appendString)
	b = append(b, `,"currency":`...)
	b = appendString(b, v.Currency)
	b = append(b, `,"crypto_amount":`...)
	b = appendNumber(b, v.CryptoAmount)
	b = append(b, `,"crypto_amount_in_units":`...)
	b = appendNumber(b, v.CryptoAmountInUnits)
	b = append(b, `,"actual_crypto_amount_paid":`...)
	b = appendNumber(b, v.ActualCryptoAmountPaid)
	b = append(b, `,"actual_crypto_amount_paid_in_units":`...)
	b = appendNumber(b, v.ActualCryptoAmountPaidInUnits)
	b = append(b, `,"allowed_error_percent":`...)
	b = strconv.AppendInt(b, int64(v.AllowedErrorPercent), 10)
	b = append(b, `,"expire_min":`...)
	b = strconv.AppendInt(b, int64(v.ExpireMin), 10)
	b = append(b, `,"callback_url":`...)
	b = appendNullable(b, v.CallbackURL, appendString)
	b = append(b, `,"status":`...)
	b = appendString(b, string(v.Status))
	b = append(b, `,"created_at":`...)
	b = appendTime(b, v.CreatedAt)
	b = append(b, `,"updated_at":`...)
	b = appendTime(b, v.UpdatedAt)
	b = append(b, `,"expires_at":`...)
	b = appendTime(b, v.ExpiresAt)
	b = append(b, `,"exchange_rate":`...)
	if r := v.ExchangeRate; r != nil {
		b = append(b, `{"rate":`...)
		b = appendString(b, r.Rate)
		b = append(b, `,"fiat":`...)
		b = appendString(b, r.Fiat)
		b = append(b, `,"source":`...)
		b = appendString(b, r.Source)
		b = append(b, `,"at":`...)
		b = appendTime(b, r.At)
		b = append(b, '}')
	} else {
		b = append(b, "null"...)
	}
	if v.CheckoutURL != "" {
		b = append(b, `,"checkout_url":`...)
		b = appendString(b, v.CheckoutURL)
	}
	b = append(b, `,"blockchain_details":`...)
	b = v.BlockchainDetails.appendJSON(b)
	b = append(b, `,"transactions":`...)
	if v.Transactions == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range v.Transactions {
			if i > 0 {
				b = append(b, ',')
			}
			b = v.Transactions[i].appendJSON(b)
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

func (d *BlockchainDetails) appendJSON(b []byte) []byte {
	b = append(b, '{')
	sep := func(b []byte, key string) []byte {
		if b[len(b)-1] != '{' {
			b = append(b, ',')
		}
		return append(b, key...)
	}
	if d.Currency != "" {
		b = appendString(sep(b, `"currency":`), d.Currency)
	}
	if d.BlockchainAddress != "" {
		b = appendString(sep(b, `"blockchainAddress":`), d.BlockchainAddress)
	}
	if n := d.BlockchainNetwork; n != nil {
		b = appendString(sep(b, `"blockchainNetwork":{"name":`), n.Name)
		b = append(b, `,"type":`...)
		b = appendString(b, n.Type)
		b = append(b, '}')
	}
	if d.PaymentURI != "" {
		b = appendString(sep(b, `"payment_uri":`), d.PaymentURI)
	}
	if d.QRCode != "" {
		b = appendString(sep(b, `"qrcode":`), d.QRCode)
	}
	if d.RequiredConfirmations != 0 {
		b = strconv.AppendInt(sep(b, `"required_confirmations":`), int64(d.RequiredConfirmations), 10)
	}
	return append(b, '}')
}

func (t *Transaction) appendJSON(b []byte) []byte {
	b = append(b, `{"txid":`...)
	b = appendString(b, t.TxID)
	b = append(b, `,"output_index":`...)
	b = strconv.AppendUint(b, uint64(t.OutputIndex), 10)
	b = append(b, `,"amount":`...)
	b = appendNumber(b, t.Amount)
	b = append(b, `,"amount_in_units":`...)
	b = appendNumber(b, t.AmountInUnits)
	b = append(b, `,"confirmations":`...)
	b = strconv.AppendInt(b, int64(t.Confirmations), 10)
	b = append(b, `,"block_height":`...)
	b = appendNullable(b, t.BlockHeight, appendUint)
	b = append(b, `,"status":`...)
	b = appendString(b, t.Status)
	b = append(b, `,"late":`...)
	b = strconv.AppendBool(b, t.Late)
	b = append(b, `,"seen_at":`...)
	b = appendTime(b, t.SeenAt)
	return append(b, '}')
}

// AppendJSON appends w's JSON encoding to b, as json.Marshal writes it: the
// invoice's fields, then event and simulated.
func (w *Webhook) AppendJSON(b []byte) []byte {
	b = w.Invoice.AppendJSON(b)
	b = append(b[:len(b)-1], `,"event":`...)
	b = appendString(b, w.Event)
	if w.Simulated {
		b = append(b, `,"simulated":true`...)
	}
	return append(b, '}')
}

// appendNullable writes *p with appendValue, or null when p is nil.
func appendNullable[T any](b []byte, p *T, appendValue func([]byte, T) []byte) []byte {
	if p == nil {
		return append(b, "null"...)
	}
	return appendValue(b, *p)
}

func appendUint(b []byte, n uint64) []byte { return strconv.AppendUint(b, n, 10) }

func appendUUID(b []byte, id [16]byte) []byte {
	const hex = "0123456789abcdef"
	for i, c := range id {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hex[c>>4], hex[c&0xf])
	}
	return b
}

// appendNumber writes a json.Number as encoding/json does: its text, or 0
// when empty.
func appendNumber(b []byte, n json.Number) []byte {
	if n == "" {
		return append(b, '0')
	}
	return append(b, n...)
}

func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// appendString writes s as a JSON string with encoding/json's escaping:
// HTML-significant <, > and & as \u00XX, invalid UTF-8 as \ufffd, and the
// line and paragraph separators escaped for JavaScript.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
