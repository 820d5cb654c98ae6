package server

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"
)

// apiTx is one entry of an invoice's transactions as the API writes it,
// decoded independently of the view package (these tests check the wire
// format); seen_at is left out so a want value can be compared whole.
type apiTx struct {
	TxID          string      `json:"txid"`
	OutputIndex   uint32      `json:"output_index"`
	Amount        json.Number `json:"amount"`
	AmountInUnits json.Number `json:"amount_in_units"`
	Confirmations int         `json:"confirmations"`
	BlockHeight   *uint64     `json:"block_height"`
	Status        string      `json:"status"`
	Late          bool        `json:"late"`
}

// awaitReady polls the server at addr until /readyz answers 200: its chain
// monitors have synced with their nodes (they start at the tip, so a block
// mined before that would go unseen).
func awaitReady(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz still %d after 10s", resp.StatusCode)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
