package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"
	"unicode/utf8"
)

// MaxBodyBytes is the largest request body accepted (413 beyond).
const MaxBodyBytes = 64 << 10

// decodeBody reads a JSON object into dst strictly: the content type must be
// JSON (415), the body at most MaxBodyBytes (413), valid UTF-8 and valid
// JSON with no key twice in one object, no unknown fields, no wrong types
// and nothing after the object (400, naming the field).
func decodeBody(r *http.Request, dst any) error {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return newError(http.StatusUnsupportedMediaType, "unsupported_media_type", "Content-Type must be application/json")
	}
	buf := bodyBuffers.Get().(*[]byte)
	defer bodyBuffers.Put(buf)
	body, err := readBody(*buf, r)
	*buf = body[:0] // keep what the read grew, for the next request
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return newError(http.StatusRequestEntityTooLarge, "payload_too_large", fmt.Sprintf("request body must be at most %d bytes", MaxBodyBytes))
		}
		return newError(http.StatusBadRequest, "invalid_body", "could not read the request body")
	}
	if !utf8.Valid(body) {
		return newError(http.StatusBadRequest, "invalid_json", "request body is not valid UTF-8")
	}
	if jsonTooDeep(body) {
		return newError(http.StatusBadRequest, "invalid_json", fmt.Sprintf("request body nests deeper than %d levels", maxJSONDepth))
	}
	if key, dup := duplicateKey(body); dup {
		if key == "" {
			key = `""` // named as unknown_field names it: an empty name is no name
		}
		return fieldError(http.StatusBadRequest, "duplicate_key", key, "appears more than once in one JSON object; send each key once")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return newError(http.StatusBadRequest, "invalid_json", "request body must hold exactly one JSON object")
	}
	return nil
}

// bodyBuffers recycles the buffers request bodies are read into: nothing
// decoded keeps a reference to them (encoding/json copies every string it
// stores, and so do the fields' UnmarshalJSON), and a fresh buffer per
// request was a tenth of the bytes a create allocated.
var bodyBuffers = sync.Pool{New: func() any {
	b := make([]byte, 0, 1024)
	return &b
}}

// readBody appends r's body, at most MaxBodyBytes of it, to buf[:0].
func readBody(buf []byte, r *http.Request) ([]byte, error) {
	buf = buf[:0]
	if n := r.ContentLength; n > int64(cap(buf)) && n <= MaxBodyBytes {
		buf = make([]byte, 0, n+1) // +1: the read that finds the end
	}
	rd := http.MaxBytesReader(nil, r.Body, MaxBodyBytes)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := rd.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// duplicateKey returns a key that an object of body holds twice, at any
// depth, and true; or false when there is none or body is not valid JSON
// (the decoder then names the syntax error). Keys are compared decoded
// (so "a" and "\u0061" are the same key) and folded as encoding/json
// matches them to struct fields ("order_id" and "ORDER_ID" fill the same
// field): a duplicate is the classic parser differential, where a proxy or
// log sees the first value and the decoder keeps the last.
func duplicateKey(body []byte) (string, bool) {
	if !json.Valid(body) {
		return "", false
	}
	var open []keySet // per open object or array (array: nil keys)
	for i := 0; i < len(body); i++ {
		switch body[i] {
		case '{':
			open = append(open, keySet{object: true})
		case '[':
			open = append(open, keySet{})
		case '}', ']':
			open = open[:len(open)-1]
		case '"':
			end := stringEnd(body, i)
			// In valid JSON a string followed by ':' is a key.
			if top := len(open) - 1; top >= 0 && open[top].object && nextIsColon(body, end+1) {
				raw := body[i+1 : end]
				folded := raw // plain ASCII: compared as it is, case-insensitively
				if !plainASCII(raw) {
					// Decoded as the decoder will: escapes resolved,
					// invalid UTF-8 as U+FFFD. It cannot fail: the body is valid.
					var key string
					_ = json.Unmarshal(body[i:end+1], &key)
					folded = []byte(foldKey(key))
				}
				if open[top].addSeen(folded) {
					var key string
					_ = json.Unmarshal(body[i:end+1], &key)
					return key, true
				}
			}
			i = end
		}
	}
	return "", false
}

// plainASCII reports whether a raw key is ASCII without escapes, the
// common case, whose fold is its ASCII upper case.
func plainASCII(raw []byte) bool {
	for _, c := range raw {
		if c >= utf8.RuneSelf || c == '\\' {
			return false
		}
	}
	return true
}

// keySet is the folded keys of one open object: a slice while small (a
// request body's object has a handful), a map beyond, so a body of
// thousands of keys stays linear. Keys are compared with ASCII case folded:
// a plain ASCII key is kept as sent (no copy per key), any other already
// folded by foldKey, whose ASCII letters are upper case.
type keySet struct {
	object bool
	small  [][]byte
	large  map[string]struct{}
}

// addSeen adds key and reports whether it was already there.
func (k *keySet) addSeen(key []byte) bool {
	if k.large != nil {
		upper := asciiUpper(key)
		if _, ok := k.large[string(upper)]; ok {
			return true
		}
		k.large[string(upper)] = struct{}{}
		return false
	}
	for _, seen := range k.small {
		if asciiEqualFold(seen, key) {
			return true
		}
	}
	k.small = append(k.small, key)
	if len(k.small) > 16 {
		k.large = make(map[string]struct{}, 2*len(k.small))
		for _, s := range k.small {
			k.large[string(asciiUpper(s))] = struct{}{}
		}
		k.small = nil
	}
	return false
}

// asciiUpper is b with its ASCII letters upper case, a new slice.
func asciiUpper(b []byte) []byte {
	up := make([]byte, len(b))
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		up[i] = c
	}
	return up
}

// asciiEqualFold reports whether a and b are equal with ASCII letters
// compared case-insensitively (other bytes exactly).
func asciiEqualFold(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if 'a' <= x && x <= 'z' {
			x -= 'a' - 'A'
		}
		if 'a' <= y && y <= 'z' {
			y -= 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// stringEnd is the index of the quote closing the JSON string that opens
// at body[start].
func stringEnd(body []byte, start int) int {
	for i := start + 1; i < len(body); i++ {
		switch body[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return len(body) - 1
}

// nextIsColon reports whether the next non-space byte from i is ':'.
func nextIsColon(body []byte, i int) bool {
	for ; i < len(body); i++ {
		switch body[i] {
		case ' ', '\t', '\n', '\r':
		case ':':
			return true
		default:
			return false
		}
	}
	return false
}

// foldKey folds a key as encoding/json does to match it to a struct field
// (each rune to the smallest of its case-folding orbit): two keys fill the
// same field exactly when their folds are equal, which is when
// strings.EqualFold says so.
func foldKey(key string) string {
	return strings.Map(func(r rune) rune {
		for {
			next := unicode.SimpleFold(r)
			if next <= r {
				return next
			}
			r = next
		}
	}, key)
}

// jsonError turns an encoding/json error into a 400 naming the field.
func jsonError(err error) *apiError {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			return newError(http.StatusBadRequest, "invalid_json", "request body must be a JSON object")
		}
		return fieldError(http.StatusBadRequest, "invalid_type", field, "must be a JSON "+jsonKind(typeErr.Type.Kind().String()))
	case errors.As(err, &syntaxErr):
		return newError(http.StatusBadRequest, "invalid_json", fmt.Sprintf("malformed JSON at byte %d: %v", syntaxErr.Offset, syntaxErr))
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return newError(http.StatusBadRequest, "invalid_json", "request body is empty or truncated")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
		if field == "" {
			return fieldError(http.StatusBadRequest, "unknown_field", `""`, "an empty field name is not a known field")
		}
		return fieldError(http.StatusBadRequest, "unknown_field", field, "is not a known field")
	}
	var fe *apiError
	if errors.As(err, &fe) {
		return fe
	}
	return newError(http.StatusBadRequest, "invalid_json", "malformed JSON: "+err.Error())
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "struct", "map":
		return "object"
	case "slice", "array":
		return "array"
	case "bool":
		return "boolean"
	default:
		return "number"
	}
}

// decimalField is an amount: a JSON number or a string holding one, kept as
// text so it is parsed exactly. null is the same as absent.
type decimalField struct {
	set  bool
	text string
	bad  bool // not a number or string
}

func (d *decimalField) UnmarshalJSON(b []byte) error {
	switch {
	case string(b) == "null":
		return nil
	case len(b) > 1 && b[0] == '"' && !bytes.ContainsRune(b[1:len(b)-1], '\\'):
		// Without escapes a JSON string is its bytes (the body is valid
		// UTF-8 and valid JSON), which spares json.Unmarshal's scans.
		d.set, d.text = true, string(b[1:len(b)-1])
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		d.set, d.text = true, s
	case len(b) > 0 && (b[0] == '-' || b[0] >= '0' && b[0] <= '9'):
		d.set, d.text = true, string(b)
	default:
		d.bad = true
	}
	return nil
}

// ptr returns the text, or nil when absent; a value of the wrong JSON type
// is a 400 naming field.
func (d decimalField) ptr(field string) (*string, error) {
	if d.bad {
		return nil, fieldError(http.StatusBadRequest, "invalid_type", field, "must be a JSON number or a decimal string")
	}
	if !d.set {
		return nil, nil
	}
	return &d.text, nil
}

// intField is an integer given as a JSON number.
type intField struct {
	set  bool
	text string
	bad  bool
}

func (f *intField) UnmarshalJSON(b []byte) error {
	switch {
	case string(b) == "null":
	case len(b) > 0 && (b[0] == '-' || b[0] >= '0' && b[0] <= '9'):
		f.set, f.text = true, string(b)
	default:
		f.bad = true
	}
	return nil
}

// ptr returns the integer, nil when absent, a 400 for a non-number and a
// 422 for a number that is not an integer in range.
func (f intField) ptr(field string) (*int64, error) {
	if f.bad {
		return nil, fieldError(http.StatusBadRequest, "invalid_type", field, "must be a JSON integer")
	}
	if !f.set {
		return nil, nil
	}
	n, err := strconv.ParseInt(f.text, 10, 64)
	if err != nil {
		return nil, fieldError(http.StatusUnprocessableEntity, "validation_failed", field, "must be an integer")
	}
	return &n, nil
}

// writeJSON sends v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, `{"error":"internal_error","message":"encode response"}`, http.StatusInternalServerError)
		return
	}
	writeRaw(w, status, b)
}

// jsonContentType is the Content-Type of every JSON answer, one slice
// shared by all of them (net/http only reads it) instead of one per answer.
var jsonContentType = []string{"application/json"}

// writeRaw answers with an encoded JSON document.
//
// It sets Content-Length, which spares the client a chunked body: net/http
// chunks a body over 2 KiB that is written before the handler returns. b
// may have been taken from jsonBuffers: writeRaw keeps no reference to it.
func writeRaw(w http.ResponseWriter, status int, b []byte) {
	b = append(b, '\n')
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["Content-Length"] = contentLength(len(b))
	w.WriteHeader(status)
	w.Write(b)
}

// contentLengths holds the Content-Length values of the body sizes most
// answers have, each built once and shared like jsonContentType: an
// invoice's answer (1–3 KiB) took two allocations for its length.
var contentLengths [8 << 10]atomic.Pointer[[]string]

func contentLength(n int) []string {
	if n >= len(contentLengths) {
		return []string{strconv.Itoa(n)}
	}
	if v := contentLengths[n].Load(); v != nil {
		return *v
	}
	v := []string{strconv.Itoa(n)}
	contentLengths[n].Store(&v)
	return v
}

// jsonBuffers recycles the buffers invoice documents are rendered into: a
// rendered invoice is 1.5–2.5 KiB, and growing a fresh buffer to that size
// was 15 % of the bytes a create allocated.
var jsonBuffers = sync.Pool{New: func() any {
	b := make([]byte, 0, 4096)
	return &b
}}
