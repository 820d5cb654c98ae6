package checkout

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/invoiced/invoiced/engine"
)

type oneProject struct{}

func (oneProject) ProjectName(uuid.UUID) (string, bool) { return "Bücherstube Berlin", true }

func benchInvoice() engine.Invoice {
	now := time.Now()
	return engine.Invoice{
		ID: uuid.New(), Version: 2, OrderID: "order-12345", OrderName: "Blue shoes, size 42", Currency: "BTC",
		Amount: engine.NewUnits(166667), Paid: engine.NewUnits(166667), Status: engine.StatusPending,
		Address: "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080", CreatedAt: now, ExpiresAt: now.Add(30 * time.Minute),
		Transactions: []engine.Transaction{{TxID: strings.Repeat("ab", 32), Amount: engine.NewUnits(166667), SeenAt: now}},
	}
}

// BenchmarkStatus is what each commit costs a follower: rendering the
// state section and its JSON event.
func BenchmarkStatus(b *testing.B) {
	h := New(Config{Rules: engine.DefaultRules(), Projects: oneProject{}})
	inv := benchInvoice()
	b.ReportAllocs()
	for range b.N {
		if _, err := h.status(inv, "en"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkQR compares drawing a QR code with serving it from the cache.
func BenchmarkQR(b *testing.B) {
	uri := "bitcoin:bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080?amount=0.00166667"
	for _, format := range []string{"png", "svg"} {
		b.Run(format+"/render", func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				if _, err := newQRCache(1).image(format, uri); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(format+"/cached", func(b *testing.B) {
			c := newQRCache(16)
			c.image(format, uri)
			b.ResetTimer()
			b.ReportAllocs()
			for range b.N {
				c.image(format, uri)
			}
		})
	}
}
