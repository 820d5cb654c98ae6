package httpapi_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/invoiced/invoiced/accounts"
	"github.com/invoiced/invoiced/internal/clock"
	"github.com/invoiced/invoiced/webhooks"
)

// newStepClock is the injected clock of key expiries: tests move it.
func newStepClock() *clock.Test { return clock.NewTest(time.Now().UTC()) }

// roll rolls the project's key and returns the new key and its id.
func (e *env) roll(projectID, expireOldIn string) (key, keyID string) {
	e.t.Helper()
	r := e.do("POST", "/api/v1/projects/"+projectID+"/keys/roll", e.accountKey, `{"expire_old_in":"`+expireOldIn+`"}`)
	if r.status != http.StatusCreated || r.header.Get("Cache-Control") != "no-store" {
		e.t.Fatalf("roll: %d %s (Cache-Control %q)", r.status, r.body, r.header.Get("Cache-Control"))
	}
	m := r.json(e.t)
	return m["api_key"].(string), m["key_id"].(string)
}

// listed is the project as GET /api/v1/projects shows it.
func (e *env) listed(key, projectID string) map[string]any {
	e.t.Helper()
	r := e.do("GET", "/api/v1/projects", key, "")
	if r.status != http.StatusOK {
		e.t.Fatalf("list projects: %d %s", r.status, r.body)
	}
	for _, p := range r.json(e.t)["projects"].([]any) {
		if m := p.(map[string]any); m["project_id"] == projectID {
			return m
		}
	}
	return nil
}

func keyIDs(project map[string]any) []string {
	var out []string
	for _, k := range project["keys"].([]any) {
		out = append(out, k.(map[string]any)["key_id"].(string))
	}
	return out
}

// status is the answer to a project-key request.
func (e *env) status(key string) int {
	e.t.Helper()
	return e.do("GET", "/api/v1/invoices", key, "").status
}

func TestKeys_RollWithOverlapThenOldKeyExpires(t *testing.T) {
	clock := newStepClock()
	e := newEnv(t, t.TempDir(), envOpts{clock: clock})
	pid, oldKey := e.project("shop", "")
	oldID := keyIDs(e.listed(e.accountKey, pid))[0]

	r := e.do("POST", "/api/v1/projects/"+pid+"/keys/roll", e.accountKey, `{"expire_old_in":"24h"}`)
	if r.status != http.StatusCreated || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("roll: %d %s", r.status, r.body)
	}
	m := r.json(t)
	newKey, newID := m["api_key"].(string), m["key_id"].(string)
	if m["project_id"] != pid || len(newKey) != 64 || newKey == oldKey || m["old_keys_expire_at"] != clock.Now().Add(24*time.Hour).Format(time.RFC3339Nano) {
		t.Fatalf("roll answer %s", r.body)
	}
	for _, k := range []string{oldKey, newKey} {
		e.invoice(k, `{"order_id":"o-`+k[:6]+`","crypto_amount":"0.01","currency":"BTC"}`)
	}
	p := e.listed(e.accountKey, pid)
	if ids := keyIDs(p); !slices.Equal(ids, []string{oldID, newID}) {
		t.Fatalf("listed keys %v, want old then new", ids)
	}
	old, cur := p["keys"].([]any)[0].(map[string]any), p["keys"].([]any)[1].(map[string]any)
	if old["prefix"] != oldKey[:8] || cur["prefix"] != newKey[:8] || cur["expires_at"] != nil || old["expires_at"] == nil ||
		old["last_used_at"] == nil || cur["last_used_at"] == nil {
		t.Fatalf("listed keys %v", p["keys"])
	}
	if bytes.Contains(e.do("GET", "/api/v1/projects", e.accountKey, "").body, []byte(newKey)) {
		t.Fatal("the list shows a key")
	}

	clock.Add(24*time.Hour - time.Second)
	if e.status(oldKey) != 200 {
		t.Fatal("old key stopped before its expiry")
	}
	clock.Add(time.Second)
	if got := e.status(oldKey); got != http.StatusUnauthorized {
		t.Fatalf("old key after expiry: %d, want 401", got)
	}
	if e.status(newKey) != 200 {
		t.Fatal("new key after the old one expired")
	}
	if ids := keyIDs(e.listed(e.accountKey, pid)); !slices.Equal(ids, []string{newID}) {
		t.Fatalf("keys listed after expiry %v", ids)
	}
}

// TestKeys_RestartMidOverlap: the old key's expiry is stored with the roll,
// so after a restart it still works until then, and not after.
func TestKeys_RestartMidOverlap(t *testing.T) {
	clock := newStepClock()
	dir := t.TempDir()
	e := newEnv(t, dir, envOpts{clock: clock})
	pid, oldKey := e.project("shop", "")
	newKey, _ := e.roll(pid, "2h")
	clock.Add(time.Hour)
	e.close()

	e2 := newEnv(t, dir, envOpts{clock: clock})
	if e2.status(oldKey) != 200 || e2.status(newKey) != 200 {
		t.Fatal("both keys must work after a restart within the overlap")
	}
	clock.Add(time.Hour)
	if e2.status(oldKey) != http.StatusUnauthorized || e2.status(newKey) != 200 {
		t.Fatal("the old key must stop at its stored expiry after a restart")
	}
}

func TestKeys_ThirdRollStopsTheOldest(t *testing.T) {
	e := newEnv(t, t.TempDir(), envOpts{clock: newStepClock()})
	pid, k0 := e.project("shop", "")
	k1, _ := e.roll(pid, "1h")
	k2, id2 := e.roll(pid, "1h")
	if e.status(k0) != 401 || e.status(k1) != 200 || e.status(k2) != 200 {
		t.Fatal("after two rolls: the first key stops, the last two work")
	}
	if n := len(keyIDs(e.listed(e.accountKey, pid))); n != 2 {
		t.Fatalf("%d live keys, want 2", n)
	}
	// "Our key leaked": one call, the old keys stop now.
	k3, id3 := e.roll(pid, "0s")
	if e.status(k1) != 401 || e.status(k2) != 401 || e.status(k3) != 200 {
		t.Fatal("expire_old_in 0s must stop every old key at once")
	}
	if ids := keyIDs(e.listed(e.accountKey, pid)); !slices.Equal(ids, []string{id3}) || id2 == id3 {
		t.Fatalf("keys %v, want only %s", ids, id3)
	}
}

func TestKeys_RefusalsChangeNothing(t *testing.T) {
	e := newEnv(t, t.TempDir(), envOpts{clock: newStepClock()})
	pid, key := e.project("shop", "")
	otherKey, _, err := e.accounts.CreateAccount()
	if err != nil {
		t.Fatal(err)
	}
	keyID := keyIDs(e.listed(e.accountKey, pid))[0]
	before := e.do("GET", "/api/v1/projects", e.accountKey, "").body
	tests := []struct {
		name, method, path, key, body string
		status                        int
		code, field                   string
	}{
		{"negative", "POST", "/api/v1/projects/" + pid + "/keys/roll", e.accountKey, `{"expire_old_in":"-1s"}`, 422, "validation_failed", "expire_old_in"},
		{"over 7 days", "POST", "/api/v1/projects/" + pid + "/keys/roll", e.accountKey, `{"expire_old_in":"168h1ns"}`, 422, "validation_failed", "expire_old_in"},
		{"unparsable", "POST", "/api/v1/projects/" + pid + "/keys/roll", e.accountKey, `{"expire_old_in":"a day"}`, 422, "validation_failed", "expire_old_in"},
		{"bare number", "POST", "/api/v1/projects/" + pid + "/keys/roll", e.accountKey, `{"expire_old_in":"24"}`, 422, "validation_failed", "expire_old_in"},
		{"missing", "POST", "/api/v1/projects/" + pid + "/keys/roll", e.accountKey, `{}`, 422, "validation_failed", "expire_old_in"},
		{"not a string", "POST", "/api/v1/projects/" + pid + "/keys/roll", e.accountKey, `{"expire_old_in":86400}`, 400, "invalid_type", "expire_old_in"},
		{"account roll out of range", "POST", "/api/v1/account/keys/roll", e.accountKey, `{"expire_old_in":"200h"}`, 422, "validation_failed", "expire_old_in"},
		{"unknown project", "POST", "/api/v1/projects/8c2d5bd4-2f5b-4c7e-9d0a-3e1f6a7b8c9d/keys/roll", e.accountKey, `{"expire_old_in":"1h"}`, 404, "not_found", ""},
		{"malformed project id", "POST", "/api/v1/projects/nope/keys/roll", e.accountKey, `{"expire_old_in":"1h"}`, 404, "not_found", ""},
		{"another account's project", "POST", "/api/v1/projects/" + pid + "/keys/roll", otherKey, `{"expire_old_in":"1h"}`, 404, "not_found", ""},
		{"project key", "POST", "/api/v1/projects/" + pid + "/keys/roll", key, `{"expire_old_in":"1h"}`, 401, "unauthorized", ""},
		{"empty patch", "PATCH", "/api/v1/projects/" + pid, e.accountKey, `{}`, 422, "validation_failed", "body"},
		{"null-only patch", "PATCH", "/api/v1/projects/" + pid, e.accountKey, `{"name":null}`, 422, "validation_failed", "body"},
		{"bad ips", "PATCH", "/api/v1/projects/" + pid, e.accountKey, `{"description":"x","api_allowed_ips":"10.0.0.0/33"}`, 422, "validation_failed", "api_allowed_ips"},
		{"long name", "PATCH", "/api/v1/projects/" + pid, e.accountKey, `{"name":"` + strings.Repeat("n", 101) + `"}`, 422, "validation_failed", "name"},
		{"rate too high", "PATCH", "/api/v1/projects/" + pid, e.accountKey, `{"rate_limit":100001}`, 422, "validation_failed", "rate_limit"},
		{"rate not a number", "PATCH", "/api/v1/projects/" + pid, e.accountKey, `{"rate_limit":"5"}`, 400, "invalid_type", "rate_limit"},
		{"unknown field", "PATCH", "/api/v1/projects/" + pid, e.accountKey, `{"api_key":"x"}`, 400, "unknown_field", "api_key"},
		{"another account patches", "PATCH", "/api/v1/projects/" + pid, otherKey, `{"name":"mine"}`, 404, "not_found", ""},
		{"unknown key", "DELETE", "/api/v1/projects/" + pid + "/keys/8c2d5bd4-2f5b-4c7e-9d0a-3e1f6a7b8c9d", e.accountKey, "", 404, "not_found", ""},
		{"malformed key id", "DELETE", "/api/v1/projects/" + pid + "/keys/" + keyID[:10], e.accountKey, "", 404, "not_found", ""},
		{"last key", "DELETE", "/api/v1/projects/" + pid + "/keys/" + keyID, e.accountKey, "", 409, "last_key", ""},
		{"bad force", "DELETE", "/api/v1/projects/" + pid + "/keys/" + keyID + "?force=yes", e.accountKey, "", 422, "validation_failed", "force"},
		{"another account revokes", "DELETE", "/api/v1/projects/" + pid + "/keys/" + keyID + "?force=true", otherKey, "", 404, "not_found", ""},
		{"another account's events", "GET", "/api/v1/projects/" + pid + "/events", otherKey, "", 404, "not_found", ""},
	}
	for _, tt := range tests {
		r := e.do(tt.method, tt.path, tt.key, tt.body)
		if r.status != tt.status {
			t.Errorf("%s: %d %s, want %d", tt.name, r.status, r.body, tt.status)
			continue
		}
		if code, field := r.errorField(t); code != tt.code || field != tt.field {
			t.Errorf("%s: code %q field %q, want %q %q", tt.name, code, field, tt.code, tt.field)
		}
	}
	if after := e.do("GET", "/api/v1/projects", e.accountKey, "").body; !bytes.Equal(before, after) {
		t.Fatalf("a refused request changed the project:\n%s\n%s", before, after)
	}
	if e.status(key) != 200 {
		t.Fatal("a refused request stopped the key")
	}
	if evs := e.do("GET", "/api/v1/projects/"+pid+"/events", e.accountKey, "").json(t)["events"].([]any); len(evs) != 1 {
		t.Fatalf("refusals wrote events: %v", evs)
	}
	if l := e.do("GET", "/api/v1/projects", otherKey, "").json(t)["projects"].([]any); len(l) != 0 {
		t.Fatalf("another account lists %v", l)
	}
}

func TestKeys_Revoke(t *testing.T) {
	e := newEnv(t, t.TempDir(), envOpts{clock: newStepClock()})
	pid, oldKey := e.project("shop", "")
	oldID := keyIDs(e.listed(e.accountKey, pid))[0]
	newKey, newID := e.roll(pid, "24h")
	if r := e.do("DELETE", "/api/v1/projects/"+pid+"/keys/"+oldID, e.accountKey, ""); r.status != http.StatusNoContent || len(r.body) != 0 {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	if e.status(oldKey) != 401 || e.status(newKey) != 200 {
		t.Fatal("the revoked key must be 401 on its next use, the other work")
	}
	if r := e.do("DELETE", "/api/v1/projects/"+pid+"/keys/"+newID, e.accountKey, ""); r.status != http.StatusConflict {
		t.Fatalf("revoking the last key without force: %d", r.status)
	}
	if r := e.do("DELETE", "/api/v1/projects/"+pid+"/keys/"+newID+"?force=true", e.accountKey, ""); r.status != http.StatusNoContent {
		t.Fatalf("forced revoke of the last key: %d %s", r.status, r.body)
	}
	if e.status(newKey) != 401 {
		t.Fatal("the last key works after a forced revoke")
	}
	if ks := e.listed(e.accountKey, pid)["keys"].([]any); len(ks) != 0 {
		t.Fatalf("keys listed after revoking all: %v", ks)
	}
	k, _ := e.roll(pid, "0s")
	if e.status(k) != 200 {
		t.Fatal("a roll gives a keyless project a key again")
	}
}

// TestKeys_RevokeWhileRequestsRun revokes a key while lists and invoice
// creations with it are in flight: each of them answers either as if
// before the revoke or 401, never an error, and every request sent after
// the revoke answered is 401.
func TestKeys_RevokeWhileRequestsRun(t *testing.T) {
	e := newEnv(t, t.TempDir(), envOpts{})
	pid, oldKey := e.project("shop", "")
	oldID := keyIDs(e.listed(e.accountKey, pid))[0]
	e.roll(pid, "24h")
	for i := range 20 {
		e.invoice(oldKey, fmt.Sprintf(`{"order_id":"seed-%d","crypto_amount":"0.01","currency":"BTC"}`, i))
	}
	var revoked sync.WaitGroup
	revoked.Add(1)
	var revokedAt time.Time
	var mu sync.Mutex
	type answer struct {
		sent   time.Time
		status int
	}
	var answers []answer
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				sent := time.Now()
				var status int
				if w%2 == 0 {
					status = e.do("GET", "/api/v1/invoices?limit=50", oldKey, "").status
				} else {
					status = e.do("POST", "/api/v1/invoices", oldKey, fmt.Sprintf(`{"order_id":"w%d-%d","crypto_amount":"0.01","currency":"BTC"}`, w, i)).status
				}
				mu.Lock()
				answers = append(answers, answer{sent, status})
				done := !revokedAt.IsZero() && sent.After(revokedAt)
				mu.Unlock()
				if done {
					return
				}
			}
		}()
	}
	time.Sleep(50 * time.Millisecond) // let requests run before the revoke (no timing is asserted)
	r := e.do("DELETE", "/api/v1/projects/"+pid+"/keys/"+oldID, e.accountKey, "")
	mu.Lock()
	revokedAt = time.Now()
	mu.Unlock()
	if r.status != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	wg.Wait()
	var before, after int
	for _, a := range answers {
		switch {
		case a.sent.After(revokedAt) && a.status != http.StatusUnauthorized:
			t.Errorf("a request sent after the revoke answered %d, want 401", a.status)
		case a.status != 200 && a.status != 201 && a.status != 401:
			t.Errorf("a request in flight during the revoke answered %d", a.status)
		case a.sent.After(revokedAt):
			after++
		default:
			before++
		}
	}
	if before == 0 || after == 0 {
		t.Fatalf("%d requests before and %d after the revoke: the test did not overlap them", before, after)
	}
}

// TestProjects_PatchHoldsOnTheNextRequest: settings change with one PATCH,
// the allow-list and rate limit apply to the very next request.
func TestProjects_PatchHoldsOnTheNextRequest(t *testing.T) {
	e := newEnv(t, t.TempDir(), envOpts{clock: newStepClock()})
	pid, key := e.project("shop", "")
	e.project("taken", "")
	r := e.do("PATCH", "/api/v1/projects/"+pid, e.accountKey, `{"name":" shop 2 ","description":"d","api_allowed_ips":"203.0.113.0/24"}`)
	if r.status != 200 {
		t.Fatalf("patch: %d %s", r.status, r.body)
	}
	if m := r.json(t); m["name"] != "shop 2" || m["description"] != "d" || m["api_allowed_ips"] != "203.0.113.0/24" || m["rate_limit"] != nil {
		t.Fatalf("patched project %s", r.body)
	}
	if got := e.status(key); got != http.StatusForbidden {
		t.Fatalf("loopback outside the new allow-list: %d, want 403", got)
	}
	if r := e.do("PATCH", "/api/v1/projects/"+pid, e.accountKey, `{"name":"taken"}`); r.status != http.StatusConflict {
		t.Fatalf("taken name: %d", r.status)
	}
	if r := e.do("PATCH", "/api/v1/projects/"+pid, e.accountKey, `{"api_allowed_ips":"127.0.0.1, ::1","rate_limit":2}`); r.status != 200 {
		t.Fatalf("patch: %d %s", r.status, r.body)
	}
	// The clock stands still, so the bucket does not refill: two
	// requests, then 429.
	for i, want := range []int{200, 200, 429} {
		if got := e.status(key); got != want {
			t.Fatalf("request %d with rate_limit 2: %d, want %d", i, got, want)
		}
	}
	if r := e.do("PATCH", "/api/v1/projects/"+pid, e.accountKey, `{"rate_limit":0}`); r.status != 200 || r.json(t)["rate_limit"] != nil {
		t.Fatalf("back to the server's rate: %d %s", r.status, r.body)
	}
	if got := e.status(key); got != 200 {
		t.Fatalf("server-wide (no) limit again: %d", got)
	}
}

// TestKeys_AuditTrail: every key event and project change is recorded
// with the acting key and the client address, and logged without a key.
func TestKeys_AuditTrail(t *testing.T) {
	var logs bytes.Buffer
	clock := newStepClock()
	e := newEnv(t, t.TempDir(), envOpts{clock: clock, logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	_, acctKeyID, _ := e.accounts.Account(e.accountKey)
	pid, k0 := e.project("shop", "")
	id0 := keyIDs(e.listed(e.accountKey, pid))[0]
	k1, id1 := e.roll(pid, "1h")
	e.do("PATCH", "/api/v1/projects/"+pid, e.accountKey, `{"description":"x","rate_limit":5}`)
	k2, id2 := e.roll(pid, "1h") // stops k0 now
	e.do("DELETE", "/api/v1/projects/"+pid+"/keys/"+id1, e.accountKey, "")
	rolledAcct := e.do("POST", "/api/v1/account/keys/roll", e.accountKey, `{"expire_old_in":"1h"}`)
	if rolledAcct.status != 201 || rolledAcct.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("account roll: %d %s", rolledAcct.status, rolledAcct.body)
	}
	newAcctKey := rolledAcct.json(t)["api_key"].(string)

	r := e.do("GET", "/api/v1/projects/"+pid+"/events", e.accountKey, "")
	if r.status != 200 {
		t.Fatalf("events: %d %s", r.status, r.body)
	}
	var got struct {
		Events []struct {
			Type       string   `json:"type"`
			KeyID      *string  `json:"key_id"`
			ActorKeyID *string  `json:"actor_key_id"`
			ClientIP   *string  `json:"client_ip"`
			Fields     []string `json:"fields"`
		} `json:"events"`
	}
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatal(err)
	}
	want := []struct{ typ, key string }{
		{accounts.EventKeyCreated, id0}, {accounts.EventKeyRolled, id1}, {accounts.EventProjectChanged, ""},
		{accounts.EventKeyExpired, id0}, {accounts.EventKeyRolled, id2}, {accounts.EventKeyRevoked, id1},
	}
	if len(got.Events) != len(want) {
		t.Fatalf("events %s", r.body)
	}
	for i, w := range want {
		ev := got.Events[i]
		if ev.Type != w.typ || (w.key == "") != (ev.KeyID == nil) || (ev.KeyID != nil && *ev.KeyID != w.key) ||
			ev.ActorKeyID == nil || *ev.ActorKeyID != acctKeyID.String() || ev.ClientIP == nil || *ev.ClientIP != "127.0.0.1" {
			t.Errorf("event %d: %+v, want %s of key %q by %s from 127.0.0.1", i, ev, w.typ, w.key, acctKeyID)
		}
	}
	if f := got.Events[2].Fields; !slices.Equal(f, []string{"description", "rate_limit"}) {
		t.Errorf("changed fields %v", f)
	}
	// The old account key reaches its expiry on its own: the sweep records
	// and logs it, by no key and from no address.
	clock.Add(time.Hour)
	if e.do("GET", "/api/v1/projects", e.accountKey, "").status != 401 || e.do("GET", "/api/v1/projects", newAcctKey, "").status != 200 {
		t.Fatal("account key roll: the old key must stop at its expiry, the new one work")
	}
	if err := e.accounts.Flush(); err != nil {
		t.Fatal(err)
	}
	logged := logs.String()
	if !strings.Contains(logged, `"type":"key_revoked"`) || !strings.Contains(logged, id1) {
		t.Fatalf("the audit trail is not logged:\n%s", logged)
	}
	for _, secret := range []string{e.accountKey, newAcctKey, k0, k1, k2} {
		h := accounts.HashKey(secret)
		for _, leak := range []string{secret, secret[:accounts.PrefixLen], hex.EncodeToString(h[:])} {
			if strings.Contains(logged, leak) {
				t.Fatalf("the log holds key material %q", leak)
			}
		}
	}
	swept := slices.ContainsFunc(strings.Split(logged, "\n"), func(line string) bool {
		return strings.Contains(line, `"type":"key_expired"`) && strings.Contains(line, `"key_id":"`+acctKeyID.String()+`"`) &&
			!strings.Contains(line, "actor_key_id") && !strings.Contains(line, "client_ip")
	})
	if !swept {
		t.Fatalf("the sweep did not log the account key's expiry:\n%s", logged)
	}
}

// TestKeys_WebhookSignedWithEveryLiveKey: during an overlap a webhook
// carries a signature per live key, so a receiver holding only the old
// key and one holding only the new key both accept it.
func TestKeys_WebhookSignedWithEveryLiveKey(t *testing.T) {
	e := newEnv(t, t.TempDir(), envOpts{clock: newStepClock()})
	pid, oldKey := e.project("shop", "")
	rc := newReceiver(t, 204)
	inv := e.invoice(oldKey, `{"order_id":"o","crypto_amount":"0.01","currency":"BTC","callback_url":"`+rc.srv.URL+`/hook"}`)
	newKey, _ := e.roll(pid, "24h")
	if r := e.do("POST", "/api/v1/webhooks/simulate", newKey, `{"invoice_id":"`+inv["invoice_id"].(string)+`","status":"completed"}`); r.status != 200 {
		t.Fatalf("simulate: %d %s", r.status, r.body)
	}
	req, body := <-rc.got, <-rc.bodies
	header := req.Header.Get(webhooks.HeaderSignature)
	if n := strings.Count(header, "v1="); n != 2 {
		t.Fatalf("signature header %q has %d signatures, want 2", header, n)
	}
	for name, k := range map[string]string{"old": oldKey, "new": newKey} {
		if err := webhooks.Verify(webhooks.SigningKey(k), header, req.Header.Get(webhooks.HeaderTimestamp), body, time.Now(), 5*time.Minute); err != nil {
			t.Errorf("receiver holding the %s key: %v", name, err)
		}
	}
}

// accountEvent is one entry of GET /api/v1/account/events as a client
// reads it.
type accountEvent struct {
	Type       string  `json:"type"`
	KeyID      *string `json:"key_id"`
	ActorKeyID *string `json:"actor_key_id"`
	ClientIP   *string `json:"client_ip"`
	ExpiresAt  *string `json:"old_key_expires_at"`
}

// accountEvents reads the account's audit trail with key.
func (e *env) accountEvents(key string) ([]accountEvent, []byte) {
	e.t.Helper()
	r := e.do("GET", "/api/v1/account/events", key, "")
	if r.status != http.StatusOK {
		e.t.Fatalf("account events: %d %s", r.status, r.body)
	}
	var got struct{ Events []accountEvent }
	if err := json.Unmarshal(r.body, &got); err != nil {
		e.t.Fatal(err)
	}
	return got.Events, r.body
}

// TestAccountEvents_TrailOfTheAccountsOwnKeys: the account's key events
// (created at bootstrap, rolled by a key from an address, expired by the
// server's sweep) are read back oldest first, with nothing of another
// account's or of a project's trail, and no key material.
func TestAccountEvents_TrailOfTheAccountsOwnKeys(t *testing.T) {
	clock := newStepClock()
	e := newEnv(t, t.TempDir(), envOpts{clock: clock})
	_, oldID, _ := e.accounts.Account(e.accountKey)
	_, projectKey := e.project("shop", "") // a project event, not the account's
	otherKey, _, err := e.accounts.CreateAccount()
	if err != nil {
		t.Fatal(err)
	}
	rolled := e.do("POST", "/api/v1/account/keys/roll", e.accountKey, `{"expire_old_in":"1h"}`)
	if rolled.status != http.StatusCreated {
		t.Fatalf("account roll: %d %s", rolled.status, rolled.body)
	}
	newKey, newID := rolled.json(t)["api_key"].(string), rolled.json(t)["key_id"].(string)
	clock.Add(time.Hour)
	if err := e.accounts.Flush(); err != nil { // the sweep writes the old key's expiry
		t.Fatal(err)
	}

	got, body := e.accountEvents(newKey)
	str := func(p *string) string {
		if p == nil {
			return "<none>"
		}
		return *p
	}
	want := []accountEvent{
		{Type: accounts.EventKeyCreated, KeyID: ptr(oldID.String())},
		{Type: accounts.EventKeyRolled, KeyID: ptr(newID), ActorKeyID: ptr(oldID.String()), ClientIP: ptr("127.0.0.1"), ExpiresAt: ptr(clock.Now().Format(time.RFC3339Nano))},
		{Type: accounts.EventKeyExpired, KeyID: ptr(oldID.String())},
	}
	if len(got) != len(want) {
		t.Fatalf("account events %s, want %d", body, len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Type != w.Type || str(g.KeyID) != str(w.KeyID) || str(g.ActorKeyID) != str(w.ActorKeyID) || str(g.ClientIP) != str(w.ClientIP) {
			t.Errorf("event %d: %s of %s by %s from %s; want %s of %s by %s from %s", i,
				g.Type, str(g.KeyID), str(g.ActorKeyID), str(g.ClientIP), w.Type, str(w.KeyID), str(w.ActorKeyID), str(w.ClientIP))
		}
		if (g.ExpiresAt == nil) != (w.ExpiresAt == nil) {
			t.Errorf("event %d: old_key_expires_at %s, want %s", i, str(g.ExpiresAt), str(w.ExpiresAt))
		} else if g.ExpiresAt != nil {
			at, err := time.Parse(time.RFC3339Nano, *g.ExpiresAt)
			if wantAt, _ := time.Parse(time.RFC3339Nano, *w.ExpiresAt); err != nil || !at.Equal(wantAt) {
				t.Errorf("event %d: old_key_expires_at %s, want %s", i, *g.ExpiresAt, *w.ExpiresAt)
			}
		}
	}
	for _, secret := range []string{e.accountKey, newKey, otherKey, projectKey} {
		h := accounts.HashKey(secret)
		for _, leak := range []string{secret, secret[:accounts.PrefixLen], hex.EncodeToString(h[:])} {
			if bytes.Contains(body, []byte(leak)) {
				t.Fatalf("the account events hold key material %q:\n%s", leak, body)
			}
		}
	}
	// Another account reads its own trail: its key's creation alone.
	if other, body := e.accountEvents(otherKey); len(other) != 1 || other[0].Type != accounts.EventKeyCreated || str(other[0].KeyID) == oldID.String() {
		t.Fatalf("another account's events: %s", body)
	}
}

// TestAccountEvents_Refusals: the trail is the account key's alone, as
// every account route: no key, a project key, an unknown key and a key
// past its expiry are 401, and a refusal records nothing.
func TestAccountEvents_Refusals(t *testing.T) {
	clock := newStepClock()
	e := newEnv(t, t.TempDir(), envOpts{clock: clock})
	_, projectKey := e.project("shop", "")
	rolled := e.do("POST", "/api/v1/account/keys/roll", e.accountKey, `{"expire_old_in":"1h"}`)
	if rolled.status != http.StatusCreated {
		t.Fatalf("account roll: %d %s", rolled.status, rolled.body)
	}
	newKey := rolled.json(t)["api_key"].(string)
	clock.Add(time.Hour) // the old account key has expired
	_, before := e.accountEvents(newKey)
	for _, tc := range []struct {
		name, method, key string
		status            int
		code              string
	}{
		{"no key", "GET", "", 401, "unauthorized"},
		{"project key", "GET", projectKey, 401, "unauthorized"},
		{"unknown key", "GET", strings.Repeat("ab", 32), 401, "unauthorized"},
		{"expired account key", "GET", e.accountKey, 401, "unauthorized"},
		{"not a reader's method", "POST", newKey, 405, "method_not_allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(tc.method, "/api/v1/account/events", tc.key, "")
			if r.status != tc.status {
				t.Fatalf("%d %s, want %d", r.status, r.body, tc.status)
			}
			if code, _ := r.errorField(t); code != tc.code {
				t.Fatalf("code %q, want %q", code, tc.code)
			}
		})
	}
	if _, after := e.accountEvents(newKey); !bytes.Equal(before, after) {
		t.Fatalf("a refusal changed the trail:\n%s\n%s", before, after)
	}
}

func ptr(s string) *string { return &s }
