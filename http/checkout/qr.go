package checkout

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"strconv"
	"sync"

	"github.com/julienschmidt/httprouter"
	qrcode "github.com/yeqown/go-qrcode/v2"

	"github.com/invoiced/invoiced/engine"
)

// QR codes are drawn here from the library's module matrix: error
// correction M (a phone still reads a code with a smudge or a logo-sized
// scratch, and the code stays small for a ~90 character URI), a quiet zone
// of four modules on every side (what the standard asks; scanners fail
// without it on dark shop pages), black on white.
const (
	quietZone   = 4
	pngModulePx = 8
	qrCacheSize = 4096
)

// qrMatrix encodes text as a QR code's modules, quiet zone included.
func qrMatrix(text string) ([][]bool, error) {
	q, err := qrcode.NewWith(text, qrcode.WithErrorCorrectionLevel(qrcode.ErrorCorrectionMedium), qrcode.WithEncodingMode(qrcode.EncModeByte))
	if err != nil {
		return nil, fmt.Errorf("encode QR code: %w", err)
	}
	var m matrixWriter
	if err := q.Save(&m); err != nil {
		return nil, fmt.Errorf("encode QR code: %w", err)
	}
	n := len(m.bits) + 2*quietZone
	out := make([][]bool, n)
	for y := range out {
		out[y] = make([]bool, n)
	}
	for y, row := range m.bits {
		for x, dark := range row {
			out[y+quietZone][x+quietZone] = dark
		}
	}
	return out, nil
}

// matrixWriter takes the library's matrix instead of an image: we draw
// the PNG and SVG ourselves, without the library's image writer and its
// font and graphics dependencies.
type matrixWriter struct{ bits [][]bool }

func (m *matrixWriter) Write(mat qrcode.Matrix) error { m.bits = mat.Bitmap(); return nil }
func (m *matrixWriter) Close() error                  { return nil }

// encodePNG draws the modules pngModulePx pixels each, in a two-colour
// palette (a ~1 KB file).
func encodePNG(mods [][]bool) ([]byte, error) {
	n := len(mods) * pngModulePx
	img := image.NewPaletted(image.Rect(0, 0, n, n), color.Palette{color.White, color.Black})
	for y := range n {
		row := img.Pix[y*img.Stride : y*img.Stride+n]
		for x := range row {
			if mods[y/pngModulePx][x/pngModulePx] {
				row[x] = 1
			}
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return nil, fmt.Errorf("encode QR PNG: %w", err)
	}
	return b.Bytes(), nil
}

// encodeSVG draws the modules as one path, one unit per module.
func encodeSVG(mods [][]bool) []byte {
	n := len(mods)
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" shape-rendering="crispEdges"><rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="`, n, n, n, n)
	for y, row := range mods {
		for x := 0; x < n; x++ {
			if !row[x] {
				continue
			}
			run := 1
			for x+run < n && row[x+run] {
				run++
			}
			fmt.Fprintf(&b, "M%d %dh%dv1h-%dz", x, y, run, run)
			x += run - 1
		}
	}
	b.WriteString(`"/></svg>`)
	return b.Bytes()
}

// qrCache keeps rendered images by format and URI: an invoice's URI never
// changes, and its page and the shop's <img> ask for it again and again.
// It is bounded; when full it drops the oldest entry.
type qrCache struct {
	mu    sync.Mutex // guards the fields below
	max   int
	m     map[string][]byte
	order []string // insertion order, for eviction
}

func newQRCache(max int) *qrCache { return &qrCache{max: max, m: map[string][]byte{}} }

// image returns the format ("png" or "svg") image of uri, rendering it on
// a miss.
func (c *qrCache) image(format, uri string) ([]byte, error) {
	key := format + " " + uri
	c.mu.Lock()
	b, ok := c.m[key]
	c.mu.Unlock()
	if ok {
		return b, nil
	}
	mods, err := qrMatrix(uri)
	if err != nil {
		return nil, err
	}
	if format == "png" {
		if b, err = encodePNG(mods); err != nil {
			return nil, err
		}
	} else {
		b = encodeSVG(mods)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[key]; !ok {
		if len(c.order) >= c.max {
			delete(c.m, c.order[0])
			c.order = c.order[1:]
		}
		c.m[key] = b
		c.order = append(c.order, key)
	}
	return b, nil
}

// QRPNG serves GET /i/:invoice_id/qr.png.
func (h *Handler) QRPNG(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	h.serveQR(w, r, ps, "png", "image/png")
}

// QRSVG serves GET /i/:invoice_id/qr.svg.
func (h *Handler) QRSVG(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	h.serveQR(w, r, ps, "svg", "image/svg+xml")
}

// serveQR draws the invoice's payment URI. With ?rest (the page of a
// partly paid invoice) it asks for what is left to pay instead, whatever
// the parameter's value: the value only keys the browser's cache.
func (h *Handler) serveQR(w http.ResponseWriter, r *http.Request, ps httprouter.Params, format, contentType string) {
	h.secure(w)
	inv, err := h.invoice(ps)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	cur, _ := h.cfg.Rules.Currencies.Lookup(inv.Currency)
	amount, cache := inv.Amount, "public, max-age=86400, immutable"
	if r.URL.Query().Has("rest") {
		cache = "no-cache"
		if rest := inv.Amount.Sub(inv.Paid); inv.Status == engine.StatusPaidPartial && rest.Sign() > 0 {
			amount = rest
		}
	}
	b, err := h.qr.image(format, cur.PaymentURI(inv.Address, amount))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Header().Set("Cache-Control", cache)
	w.Write(b)
}
