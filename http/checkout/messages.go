package checkout

import (
	"net/http"

	"golang.org/x/text/language"
)

// messages is the page's one message catalog: every string a customer
// reads, by language. Both languages have the same keys
// (TestMessages_SameKeys); a value with verbs is used through printf with
// the arguments its comment names.
var messages = map[string]map[string]string{
	"en": {
		"title":             "Payment",
		"order":             "Order",
		"reference":         "Reference",
		"amount":            "Amount",
		"address":           "Address",
		"price":             "Price",
		"rate":              "1 %s = %s %s", // code, rate, fiat
		"network":           "Network",
		"confirmations_req": "Confirmations required",
		"scan_or_copy":      "Scan the QR code with your wallet app, or copy the address and the exact amount into it.",
		"qr_alt":            "QR code of the payment request: %s %s to %s", // amount, code, address
		"open_wallet":       "Open in wallet",
		"copy":              "Copy",
		"copy_address":      "Copy address",
		"copy_amount":       "Copy amount",
		"copy_uri":          "Copy payment link",
		"copied":            "Copied",
		"expires_in":        "Time left: %s", // mm:ss
		"expires_minutes":   "This invoice expires in %d min.",
		"state_waiting":     "Waiting for your payment",
		"state_seen":        "Payment seen",
		"seen_detail":       "Your payment is on its way. It counts once it has enough confirmations: %d of %d.", // have, need
		"state_partial":     "Partially paid",
		"partial_detail":    "We received %s %s. Please send the rest: %s %s.", // paid, code, rest, code
		"left_to_pay":       "Left to pay",
		"state_completed":   "Paid – thank you!",
		"completed_detail":  "We received %s %s. You can close this page.", // paid, code
		"state_expired":     "This invoice has expired",
		"expired_detail":    "Please do not send a payment to this address any more.",
		"expired_late":      "If you paid after it expired, your payment was still recorded: contact the shop with the reference below and they will sort it out.",
		"expired_received":  "Received so far: %s %s.", // paid, code
		"state_cancelled":   "This invoice was cancelled",
		"cancelled_detail":  "Please do not pay it. Contact the shop if you have questions.",
		"transactions":      "Transactions",
		"tx_confirmations":  "confirmations: %d",
		"tx_late":           "received after expiry",
		"return_to_shop":    "Return to the shop",
		"language":          "Language",
		"live_off":          "This page updates itself. Without JavaScript, reload it to see the latest status.",
		"not_found_title":   "Invoice not found",
		"not_found_detail":  "Check the link you were given, or ask the shop for a new one.",
		"dev_panel":         "Dev mode: move this invoice through its states",
		"dev_pay_full":      "Pay in full",
		"dev_pay_half":      "Pay half",
		"dev_mine":          "Mine a block",
		"dev_expire":        "Let it expire",
	},
	"de": {
		"title":             "Zahlung",
		"order":             "Bestellung",
		"reference":         "Referenz",
		"amount":            "Betrag",
		"address":           "Adresse",
		"price":             "Preis",
		"rate":              "1 %s = %s %s",
		"network":           "Netzwerk",
		"confirmations_req": "Erforderliche Bestätigungen",
		"scan_or_copy":      "Scannen Sie den QR-Code mit Ihrer Wallet-App oder kopieren Sie Adresse und genauen Betrag hinein.",
		"qr_alt":            "QR-Code der Zahlungsanforderung: %s %s an %s",
		"open_wallet":       "In der Wallet öffnen",
		"copy":              "Kopieren",
		"copy_address":      "Adresse kopieren",
		"copy_amount":       "Betrag kopieren",
		"copy_uri":          "Zahlungslink kopieren",
		"copied":            "Kopiert",
		"expires_in":        "Verbleibende Zeit: %s",
		"expires_minutes":   "Diese Rechnung läuft in %d Min. ab.",
		"state_waiting":     "Warten auf Ihre Zahlung",
		"state_seen":        "Zahlung erkannt",
		"seen_detail":       "Ihre Zahlung ist unterwegs. Sie zählt, sobald sie genug Bestätigungen hat: %d von %d.",
		"state_partial":     "Teilweise bezahlt",
		"partial_detail":    "Wir haben %s %s erhalten. Bitte senden Sie den Rest: %s %s.",
		"left_to_pay":       "Noch zu zahlen",
		"state_completed":   "Bezahlt – vielen Dank!",
		"completed_detail":  "Wir haben %s %s erhalten. Sie können diese Seite schließen.",
		"state_expired":     "Diese Rechnung ist abgelaufen",
		"expired_detail":    "Bitte senden Sie keine Zahlung mehr an diese Adresse.",
		"expired_late":      "Falls Sie nach Ablauf bezahlt haben, wurde Ihre Zahlung trotzdem erfasst: Wenden Sie sich mit der unten stehenden Referenz an den Shop.",
		"expired_received":  "Bisher erhalten: %s %s.",
		"state_cancelled":   "Diese Rechnung wurde storniert",
		"cancelled_detail":  "Bitte bezahlen Sie sie nicht. Bei Fragen wenden Sie sich an den Shop.",
		"transactions":      "Transaktionen",
		"tx_confirmations":  "Bestätigungen: %d",
		"tx_late":           "nach Ablauf eingegangen",
		"return_to_shop":    "Zurück zum Shop",
		"language":          "Sprache",
		"live_off":          "Diese Seite aktualisiert sich selbst. Ohne JavaScript laden Sie sie neu, um den aktuellen Stand zu sehen.",
		"not_found_title":   "Rechnung nicht gefunden",
		"not_found_detail":  "Prüfen Sie den erhaltenen Link oder bitten Sie den Shop um einen neuen.",
		"dev_panel":         "Dev-Modus: diese Rechnung durch ihre Zustände bewegen",
		"dev_pay_full":      "Voll bezahlen",
		"dev_pay_half":      "Hälfte bezahlen",
		"dev_mine":          "Block minen",
		"dev_expire":        "Ablaufen lassen",
	},
}

// languages are the catalog's languages, the first the fallback.
var languages = []language.Tag{language.English, language.German}

var matcher = language.NewMatcher(languages)

// pickLanguage is the page's language: ?lang= when it names a catalog
// language, else the best match of Accept-Language, else English.
func pickLanguage(r *http.Request) string {
	if l := r.URL.Query().Get("lang"); messages[l] != nil {
		return l
	}
	tags, _, _ := language.ParseAcceptLanguage(r.Header.Get("Accept-Language"))
	_, i, conf := matcher.Match(tags...)
	if conf == language.No {
		return "en"
	}
	base, _ := languages[i].Base()
	return base.String()
}
