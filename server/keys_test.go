package server

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/invoiced/invoiced/webhooks"
)

// signedHook is what a receiver got: the signature header as sent.
type signedHook struct {
	signature, ts string
	body          []byte
}

// TestKeys_WebhookOwedBeforeARollGoesOutWithTheKeysLiveWhenSent: a webhook
// that failed before a roll is still delivered after the old key is
// revoked and the server restarted, signed with the keys live when it is
// sent: the new key only.
func TestKeys_WebhookOwedBeforeARollGoesOutWithTheKeysLiveWhenSent(t *testing.T) {
	w := newWebhookHarness(t, nil)
	var mu sync.Mutex
	var got []signedHook
	rc := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, signedHook{r.Header.Get(webhooks.HeaderSignature), r.Header.Get(webhooks.HeaderTimestamp), b})
		n := len(got)
		mu.Unlock()
		if n == 1 {
			rw.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		rw.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.Close)
	oldKey := w.key
	inv := w.invoiceWithCallback("o", rc.URL+"/hook")
	w.patch(inv.ID, "cancelled")
	first := w.attempted(inv.ID, 0, 1)

	var projects struct {
		Projects []struct {
			ProjectID string `json:"project_id"`
			Keys      []struct {
				KeyID string `json:"key_id"`
			} `json:"keys"`
		} `json:"projects"`
	}
	w.call("GET", "/api/v1/projects", accountKey, "", 200, &projects)
	pid, oldID := projects.Projects[0].ProjectID, projects.Projects[0].Keys[0].KeyID
	var rolled struct {
		APIKey string `json:"api_key"`
	}
	w.call("POST", "/api/v1/projects/"+pid+"/keys/roll", accountKey, `{"expire_old_in":"24h"}`, 201, &rolled)
	w.call("DELETE", "/api/v1/projects/"+pid+"/keys/"+oldID, accountKey, "", 204, nil)
	w.key = rolled.APIKey

	w.stop()
	w.skipTo(*first.NextAttemptAt)
	w.start()
	w.awaitWebhooks(inv.ID, "delivered after the roll, the revoke and the restart", allDelivered(1))
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 {
		t.Fatalf("receiver got %d requests, want 2", len(got))
	}
	verify := func(h signedHook, key string) error {
		return webhooks.Verify(webhooks.SigningKey(key), h.signature, h.ts, h.body, w.clock.Now(), 5*time.Minute)
	}
	if err := verify(got[0], oldKey); err != nil || strings.Count(got[0].signature, "v1=") != 1 {
		t.Fatalf("first attempt, before the roll: %q %v", got[0].signature, err)
	}
	if err := verify(got[1], rolled.APIKey); err != nil || strings.Count(got[1].signature, "v1=") != 1 {
		t.Fatalf("the attempt after the revoke must carry the new key's signature alone: %q %v", got[1].signature, err)
	}
	if verify(got[1], oldKey) == nil {
		t.Fatal("the revoked key still signs")
	}
}

// TestKeys_RolledBootstrapKeyIsNotRecreated: after the account key is
// rolled away, a restart with the old key still configured starts, does
// not make it a new account, and the account goes on with its new key.
func TestKeys_RolledBootstrapKeyIsNotRecreated(t *testing.T) {
	h := newHarness(t, nil)
	var rolled struct {
		APIKey string `json:"api_key"`
	}
	h.call("POST", "/api/v1/account/keys/roll", accountKey, `{"expire_old_in":"0s"}`, 201, &rolled)
	h.stop()
	h.start()
	if h.srv.AccountKey != "" {
		t.Fatalf("the server reports the retired key %q as its account key", h.srv.AccountKey)
	}
	h.call("GET", "/api/v1/projects", accountKey, "", 401, nil)
	var list struct {
		Projects []struct {
			Name string `json:"name"`
		} `json:"projects"`
	}
	h.call("GET", "/api/v1/projects", rolled.APIKey, "", 200, &list)
	if len(list.Projects) != 1 || list.Projects[0].Name != "shop" {
		t.Fatalf("the new account key lists %+v", list.Projects)
	}
}
