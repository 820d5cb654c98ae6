package engine

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/google/uuid"
)

// TestRules runs the payment and lifecycle rules as scripts: each file in
// testdata/rules drives one invoice through Decide and Apply, and after
// "----" holds the events each command produced and the state they left. A
// rule change shows as a diff of those blocks; `go test ./engine -run
// TestRules -rewrite` regenerates them (then read the diff: it is the
// behaviour change).
//
// Commands (times are offsets from the invoice's creation, e.g. at=3m):
//
//	create amount=<units> [currency=BTC] [confirmations=N] [expire=30m] [error=<percent>]
//	create fiat=<EUR> rate=<EUR per coin> ...       priced in fiat
//	create archived amount=<units> [created=<text>]  a historical invoice
//	observe tx=<id> [out=<index>] amount=<units> [height=H conf=C [hash=<block>]] [rbf] at=<offset>
//	revert tx=<id> [out=<index>] reason=<text> at=<offset>
//	expire at=<offset>
//	patch status=<status> [comment=<text>] at=<offset>
//
// Beyond the printed output, every step checks what must hold whatever the
// rules say: each status change is in the lifecycle table, paid is the sum
// of the recorded payments, and the events survive the codec and replay to
// the same state.
func TestRules(t *testing.T) {
	datadriven.Walk(t, "testdata/rules", func(t *testing.T, path string) {
		var s script
		datadriven.RunTest(t, path, func(t *testing.T, td *datadriven.TestData) string {
			return s.run(t, td)
		})
	})
}

// script is the state of one rules file: the rules in force and the invoice
// with the encoded events that built it.
type script struct {
	rules  *Rules
	inv    Invoice
	stored [][]byte
}

func (s *script) run(t *testing.T, td *datadriven.TestData) string {
	var cmd Command
	switch td.Cmd {
	case "create":
		s.rules, s.inv, s.stored = s.rulesFor(t, td), Invoice{}, nil
		cmd = createCommand(t, td, s.rules)
	case "observe":
		c := ObservePayment{TxID: str(t, td, "tx", ""), Index: uint32(num(t, td, "out", 0)), Amount: NewUnits(num(t, td, "amount", -1)),
			Height: uint64(num(t, td, "height", 0)), Confirmations: int(num(t, td, "conf", 0)), RBF: td.HasArg("rbf"), At: at(t, td)}
		if c.Height > 0 {
			c.BlockHash = str(t, td, "hash", fmt.Sprintf("h%d", c.Height))
		}
		cmd = c
	case "revert":
		cmd = RevertPayment{TxID: str(t, td, "tx", ""), Index: uint32(num(t, td, "out", 0)), Reason: str(t, td, "reason", ""), At: at(t, td)}
	case "expire":
		cmd = Expire{At: at(t, td)}
	case "patch":
		c := ChangeStatus{Target: Status(str(t, td, "status", "")), At: at(t, td)}
		if td.HasArg("comment") {
			c.Comment = str(t, td, "comment", "")
		}
		cmd = c
	default:
		t.Fatalf("%s: unknown command %q", td.Pos, td.Cmd)
	}
	if s.rules == nil {
		t.Fatalf("%s: %s before create", td.Pos, td.Cmd)
	}
	events, err := s.rules.Decide(s.inv, cmd)
	var out strings.Builder
	if err != nil {
		fmt.Fprintf(&out, "error: %v\n", err)
	}
	for _, e := range events {
		out.WriteString(formatEvent(e) + "\n")
		s.check(t, td, e)
	}
	s.inv = ApplyAll(s.inv, events)
	s.checkState(t, td)
	out.WriteString(s.formatState())
	return out.String()
}

// rulesFor returns the default rules with the currency's confirmations set
// as the create asks.
func (s *script) rulesFor(t *testing.T, td *datadriven.TestData) *Rules {
	r := DefaultRules()
	if !td.HasArg("confirmations") {
		return r
	}
	cs := DefaultCurrencies()
	code := strings.ToUpper(str(t, td, "currency", "BTC"))
	for i := range cs {
		if cs[i].Code == code {
			cs[i].Confirmations = int(num(t, td, "confirmations", 0))
		}
	}
	reg, err := NewRegistry(cs)
	if err != nil {
		t.Fatal(err)
	}
	r.Currencies = reg
	return r
}

func createCommand(t *testing.T, td *datadriven.TestData, r *Rules) Command {
	req := CreateRequest{OrderID: "order-1", Currency: str(t, td, "currency", "BTC")}
	if td.HasArg("amount") {
		c, ok := r.Currencies.Lookup(req.Currency)
		if !ok {
			t.Fatalf("%s: unknown currency %s", td.Pos, req.Currency)
		}
		req.CryptoAmount = ptr(FormatDecimal(NewUnits(num(t, td, "amount", 0)), c.Decimals))
	}
	if td.HasArg("fiat") {
		req.FiatAmount = ptr(str(t, td, "fiat", ""))
	}
	if td.HasArg("expire") {
		req.ExpireMin = ptr(int64(duration(t, td, "expire") / time.Minute))
	}
	if td.HasArg("error") {
		req.AllowedErrorPercent = ptr(num(t, td, "error", 0))
	}
	var rate *Rate
	if td.HasArg("rate") {
		rate = &Rate{Fiat: "EUR", Value: str(t, td, "rate", ""), Source: "static", At: t0}
	}
	id, project := uuid.MustParse("01a20f78-6c1e-7d3a-9c55-2f0e4b1d8a90"), uuid.MustParse("8c2d5bd4-0000-4000-8000-000000000001")
	if td.HasArg("archived") {
		if td.HasArg("created") {
			req.CreatedAt = ptr(str(t, td, "created", ""))
		}
		return CreateArchived{ID: id, ProjectID: project, Request: req, Rate: rate, At: t0}
	}
	return CreateInvoice{ID: id, ProjectID: project, Request: req, Rate: rate, Address: "bcrt1qdeposit", AddressIndex: 7, At: t0}
}

// check holds one event to the lifecycle table and the codec.
func (s *script) check(t *testing.T, td *datadriven.TestData, e Event) {
	if sc, ok := e.(StatusChanged); ok && !Allowed(sc.From, sc.To, sc.By()) {
		t.Errorf("%s: status change %s -> %s (%s) is not in the lifecycle table", td.Pos, sc.From, sc.To, sc.Reason)
	}
	b, err := EncodeEvent(e)
	if err != nil {
		t.Fatalf("%s: encode %T: %v", td.Pos, e, err)
	}
	s.stored = append(s.stored, b)
}

// checkState holds the invoice to what every state must satisfy.
func (s *script) checkState(t *testing.T, td *datadriven.TestData) {
	sum := NewUnits(0)
	for _, tx := range s.inv.Transactions {
		sum = sum.Add(tx.Amount)
	}
	if s.inv.Exists() && sum.Cmp(s.inv.Paid) != 0 {
		t.Errorf("%s: paid %s, but the payments add up to %s", td.Pos, s.inv.Paid, sum)
	}
	replayed, err := Replay(nil, s.stored)
	if err != nil {
		t.Fatalf("%s: replay: %v", td.Pos, err)
	}
	if !reflect.DeepEqual(normalize(replayed), normalize(s.inv)) {
		t.Errorf("%s: replayed state differs:\n got %+v\nwant %+v", td.Pos, replayed, s.inv)
	}
}

// normalize makes states comparable with DeepEqual: an empty and a nil
// payment list are the same state.
func normalize(inv Invoice) Invoice {
	if len(inv.Transactions) == 0 {
		inv.Transactions = nil
	}
	return inv
}

func formatEvent(e Event) string {
	switch ev := e.(type) {
	case Created:
		inv := ev.Invoice
		line := fmt.Sprintf("created %s amount=%s status=%s", inv.Currency, inv.Amount, inv.Status)
		if inv.FiatAmount != nil {
			line += fmt.Sprintf(" fiat=%s %s rate=%s", FormatDecimal(*inv.FiatAmount, FiatDecimals), inv.FiatCurrency, inv.Rate.Value)
		}
		if inv.Status == StatusArchived {
			return line + " created_at=" + inv.CreatedAt.Format(time.RFC3339)
		}
		return line + " expires=" + offset(inv.ExpiresAt)
	case StatusChanged:
		line := fmt.Sprintf("status %s -> %s reason=%s", ev.From, ev.To, ev.Reason)
		if ev.Comment != "" {
			line += fmt.Sprintf(" comment=%q", ev.Comment)
		}
		return line + " at=" + offset(ev.At)
	case PaymentSeen:
		return "seen " + formatTx(ev.Tx)
	case PaymentUpdated:
		return fmt.Sprintf("updated %s:%d %s at=%s", ev.TxID, ev.Index, place(ev.Height, ev.BlockHash, ev.Confirmations), offset(ev.At))
	case PaymentReverted:
		return fmt.Sprintf("reverted %s:%d reason=%s at=%s", ev.TxID, ev.Index, ev.Reason, offset(ev.At))
	}
	return fmt.Sprintf("%T %+v", e, e)
}

func formatTx(tx Transaction) string {
	line := fmt.Sprintf("%s:%d amount=%s %s", tx.TxID, tx.Index, tx.Amount, place(tx.Height, tx.BlockHash, tx.Confirmations))
	if tx.RBF {
		line += " rbf"
	}
	if tx.Late {
		line += " late"
	}
	return line + " at=" + offset(tx.SeenAt)
}

func place(height uint64, hash string, conf int) string {
	if height == 0 {
		return "mempool"
	}
	return fmt.Sprintf("height=%d hash=%s conf=%d", height, hash, conf)
}

// formatState is the invoice after the command: status, money and the
// payments it records.
func (s *script) formatState() string {
	inv := s.inv
	if !inv.Exists() {
		return "=> no invoice\n"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "=> %s paid=%s of %s", inv.Status, inv.Paid, inv.Amount)
	if inv.AllowedErrorPercent > 0 {
		fmt.Fprintf(&b, " (threshold %s)", Threshold(inv.Amount, inv.AllowedErrorPercent))
	}
	if inv.ManualStatus {
		b.WriteString(" manual")
	}
	b.WriteString("\n")
	for _, tx := range inv.Transactions {
		b.WriteString("   " + formatTx(tx) + "\n")
	}
	return b.String()
}

// offset writes a time as its distance from the creation time t0.
func offset(at time.Time) string {
	d := at.Sub(t0)
	if d%time.Minute == 0 {
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	}
	return d.String()
}

func str(t *testing.T, td *datadriven.TestData, key, def string) string {
	if !td.HasArg(key) {
		if def == "" {
			t.Fatalf("%s: %s needs %s=", td.Pos, td.Cmd, key)
		}
		return def
	}
	var v string
	td.ScanArgs(t, key, &v)
	return v
}

// num reads an integer argument; def < 0 makes it required.
func num(t *testing.T, td *datadriven.TestData, key string, def int64) int64 {
	if !td.HasArg(key) {
		if def < 0 {
			t.Fatalf("%s: %s needs %s=", td.Pos, td.Cmd, key)
		}
		return def
	}
	v, err := strconv.ParseInt(str(t, td, key, ""), 10, 64)
	if err != nil {
		t.Fatalf("%s: %s=: %v", td.Pos, key, err)
	}
	return v
}

func duration(t *testing.T, td *datadriven.TestData, key string) time.Duration {
	d, err := time.ParseDuration(str(t, td, key, ""))
	if err != nil {
		t.Fatalf("%s: %s=: %v", td.Pos, key, err)
	}
	return d
}

func at(t *testing.T, td *datadriven.TestData) time.Time { return t0.Add(duration(t, td, "at")) }
