package httpapi

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// referenceDuplicateKey is the simple detector duplicateKey is checked
// against: encoding/json's token stream, a stack of the keys of each open
// object, compared pairwise with strings.EqualFold (the equivalence
// encoding/json matches struct fields by). Only for valid JSON. The HTTP
// fuzz targets use it (ReferenceDuplicateKey) to check that no accepted
// body repeats a key.
func referenceDuplicateKey(body []byte) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	type frame struct {
		object    bool
		keys      []string
		expectKey bool
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return "", false // io.EOF: the end of a valid document
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if s, ok := tok.(string); ok && top != nil && top.object && top.expectKey {
			for _, k := range top.keys {
				if strings.EqualFold(k, s) {
					return s, true
				}
			}
			top.keys = append(top.keys, s)
			top.expectKey = false
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{object: true, expectKey: true})
			if top != nil && top.object {
				top.expectKey = true // the object was the value
			}
			continue
		case json.Delim('['):
			stack = append(stack, &frame{})
			if top != nil && top.object {
				top.expectKey = true
			}
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
			continue
		}
		if top != nil && top.object {
			top.expectKey = true // a scalar value was read
		}
	}
}

var duplicateKeyCases = []struct {
	body string
	key  string
	dup  bool
}{
	{`{"order_id":"d1","crypto_amount":1,"crypto_amount":1000000,"currency":"BTC"}`, "crypto_amount", true},
	{`{"a":1,"b":2}`, "", false},
	{`{"a":1,"\u0061":2}`, "a", true},                        // the same key escaped
	{`{"order_id":"x","ORDER_ID":"y"}`, "ORDER_ID", true},    // encoding/json fills one field with both
	{`{"status":"x","ſtatus":"y"}`, "ſtatus", true},          // U+017F folds to s
	{`{"k":1,"\u212a":2}`, "\u212a", true},                   // the Kelvin sign folds to k
	{`{"a":{"b":1,"b":2}}`, "b", true},                       // nested
	{`{"a":[{"b":1},{"b":2}]}`, "", false},                   // two objects, one key each
	{`{"a":{"b":1},"b":2}`, "", false},                       // different objects
	{`[{"x":1,"x":1}]`, "x", true},                           // inside an array
	{`{"a":"b","b":"a"}`, "", false},                         // values are not keys
	{`{"a":"\"b\":","b":1}`, "", false},                      // a value that looks like a key
	{`{"a\\":1,"a\\":2}`, "a\\", true},                       // escaped backslash in the key
	{`{"":1,"":2}`, "", true},                                // the empty key twice
	{`{"a" : 1 , "a" : 2}`, "a", true},                       // whitespace around ':'
	{`{"a":1,"a":2`, "", false},                              // invalid JSON: the decoder reports it
	{"{\"\xff\":1,\"\xfe\":2}", "\ufffd", true},              // invalid UTF-8 reads as U+FFFD
	{`{"é":1,"É":2}`, "É", true},                             // non-ASCII fold
	{`{"a":1,"A":{"a":1,"b":[1,{"c":1,"c":2}]}}`, "A", true}, // the first duplicate in document order
	// past 16 keys the set is a map: folding and escapes still count
	{`{"k1":1,"k2":1,"k3":1,"k4":1,"k5":1,"k6":1,"k7":1,"k8":1,"k9":1,"k10":1,"k11":1,"k12":1,"k13":1,"k14":1,"k15":1,"k16":1,"k17":1,"ſtatus":1,"STATUS":2}`, "STATUS", true},
	{`{"k1":1,"k2":1,"k3":1,"k4":1,"k5":1,"k6":1,"k7":1,"k8":1,"k9":1,"k10":1,"k11":1,"k12":1,"k13":1,"k14":1,"k15":1,"k16":1,"k17":1,"\u212a1":2}`, "\u212a1", true},
	{`{"k1":1,"k2":1,"k3":1,"k4":1,"k5":1,"k6":1,"k7":1,"k8":1,"k9":1,"k10":1,"k11":1,"k12":1,"k13":1,"k14":1,"k15":1,"k16":1,"k17":1,"é":1,"É":2}`, "É", true},
}

func TestDuplicateKey(t *testing.T) {
	for _, c := range duplicateKeyCases {
		key, dup := duplicateKey([]byte(c.body))
		if dup != c.dup || key != c.key {
			t.Errorf("duplicateKey(%s) = %q, %v; want %q, %v", c.body, key, dup, c.key, c.dup)
		}
	}
}

// FuzzDuplicateKey is the differential: on every valid JSON document,
// duplicateKey and the reference agree on whether a key repeats and on
// which one comes first; invalid documents are left to the decoder.
func FuzzDuplicateKey(f *testing.F) {
	for _, c := range duplicateKeyCases {
		f.Add([]byte(c.body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		key, dup := duplicateKey(body)
		if !json.Valid(body) {
			if dup {
				t.Fatalf("invalid JSON %q reported a duplicate %q", body, key)
			}
			return
		}
		wantKey, wantDup := referenceDuplicateKey(body)
		if dup != wantDup || key != wantKey {
			t.Fatalf("%q: duplicateKey = %q, %v; the reference %q, %v", body, key, dup, wantKey, wantDup)
		}
	})
}

// BenchmarkDuplicateKey is the per-request cost of the check on a create
// body of typical size.
func BenchmarkDuplicateKey(b *testing.B) {
	body := []byte(`{"order_id":"order-1234","order_name":"Two widgets","crypto_amount":"0.0015","currency":"BTC","callback_url":"https://shop.example/hook","metadata":{"customer":"c-77","note":"gift"}}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, dup := duplicateKey(body); dup {
			b.Fatal("no duplicate in the body")
		}
	}
}
