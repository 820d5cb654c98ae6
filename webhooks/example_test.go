package webhooks_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/invoiced/invoiced/webhooks"
)

// A merchant's receiver: verify with the key derived from the project API
// key, reject replays outside five minutes, then deduplicate on the ID.
// During a key roll's overlap the header has a signature per live key;
// Verify passes if the one made with this key is among them.
func ExampleVerify() {
	key := webhooks.SigningKey("the project api key")
	handler := func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "read body", http.StatusBadRequest)
			return
		}
		err = webhooks.Verify(key, r.Header.Get(webhooks.HeaderSignature),
			r.Header.Get(webhooks.HeaderTimestamp), body, time.Now(), 5*time.Minute)
		if errors.Is(err, webhooks.ErrBadSignature) || errors.Is(err, webhooks.ErrStaleTimestamp) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		// Process body once per r.Header.Get(webhooks.HeaderID), then answer 2xx.
		w.WriteHeader(http.StatusNoContent)
	}
	_ = handler

	body := []byte(`{"invoice_id":"inv_1","status":"paid"}`)
	sig := webhooks.Sign(key, 1700000000, body)
	fmt.Println(webhooks.Verify(key, sig, "1700000000", body, time.Unix(1700000060, 0), 5*time.Minute))
	rolled := webhooks.SignAll([][32]byte{webhooks.SigningKey("the new project api key"), key}, 1700000000, body)
	fmt.Println(webhooks.Verify(key, rolled, "1700000000", body, time.Unix(1700000060, 0), 5*time.Minute))
	// Output:
	// <nil>
	// <nil>
}
