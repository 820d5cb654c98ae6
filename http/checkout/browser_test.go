package checkout_test

import (
	"context"
	"fmt"
	"image/png"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
)

// The browser tests drive headless Chromium (Debian's chromium package,
// which .ci/install-chromium installs) through the DevTools protocol. They
// skip when no browser is installed; CHROMIUM names a browser binary
// elsewhere, and CHECKOUT_SCREENSHOTS a directory that keeps the
// screenshots (default: the test's temporary directory).

// browser starts a headless Chromium for t, or skips t without one.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := os.Getenv("CHROMIUM")
	if path == "" {
		for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
			if p, err := exec.LookPath(name); err == nil {
				path = p
				break
			}
		}
	}
	if path == "" {
		t.Skip("no Chromium found (apt-get install chromium, or set CHROMIUM): skipping the browser tests")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("start %s: %v", path, err)
	}
	return ctx
}

// screenshots is where screenshots go.
func screenshots(t *testing.T) string {
	dir := os.Getenv("CHECKOUT_SCREENSHOTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// do runs browser steps with a deadline, failing t with what was being done.
func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func eval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

func text(t *testing.T, ctx context.Context, css string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(css)))
	if err != nil {
		t.Fatalf("text of %s: %v", css, err)
	}
	return strings.TrimSpace(s)
}

func shoot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	b, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// decodeQR reads the QR code in the PNG at url back to its text.
func decodeQR(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	img, err := png.Decode(resp.Body)
	if err != nil {
		t.Fatalf("decode PNG %s: %v", url, err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_PURE_BARCODE: true})
	if err != nil {
		t.Fatalf("decode QR code %s: %v", url, err)
	}
	return res.GetText()
}

// TestBrowser_PaidInFull: a fresh invoice's page shows its amount, address
// and a QR code of its payment URI above the fold on a phone; paying it
// moves the open page to "payment seen" and, after a block, to "completed"
// with the shop's link, without a reload.
func TestBrowser_PaidInFull(t *testing.T) {
	ctx := browser(t)
	h := newHarness(t)
	dir := screenshots(t)
	inv := h.create(`{"order_id":"o-1","currency":"BTC","fiat_amount":"100","order_name":"Blue shoes, size 42","redirect_url":"https://shop.example/thanks?o=1"}`)

	if got := decodeQR(t, inv.Details.QRCode); got != inv.Details.PaymentURI {
		t.Fatalf("QR code reads %q, want the payment URI %q", got, inv.Details.PaymentURI)
	}
	do(t, ctx, "open the page on a phone",
		chromedp.EmulateViewport(375, 667),
		chromedp.Navigate(inv.CheckoutURL+"?lang=en"),
		chromedp.WaitVisible(chromedp.CSS(".state-waiting")),
	)
	if got := text(t, ctx, "[data-testid=amount]"); got != inv.Amount.String() {
		t.Errorf("amount shown %q, want %s", got, inv.Amount)
	}
	if got := text(t, ctx, "[data-testid=address]"); got != inv.Details.Address {
		t.Errorf("address shown %q, want %s", got, inv.Details.Address)
	}
	if got := text(t, ctx, "h1"); got != "Blue shoes, size 42" {
		t.Errorf("heading %q, want the order_name", got)
	}
	// The QR code: loaded, linking to the payment URI, entirely above the
	// fold of a 375×667 phone screen.
	if w := eval[int](t, ctx, `document.querySelector(".qr img").naturalWidth`); w == 0 {
		t.Error("QR image did not load")
	}
	if href := eval[string](t, ctx, `document.querySelector(".qr").getAttribute("href")`); href != inv.Details.PaymentURI {
		t.Errorf("QR links to %q, want %q", href, inv.Details.PaymentURI)
	}
	if bottom := eval[float64](t, ctx, `document.querySelector(".qr img").getBoundingClientRect().bottom`); bottom > 667 {
		t.Errorf("QR code ends %.0f px down, below the fold of a 667 px screen", bottom)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll("button[data-copy]:not([hidden])").length`); n != 3 {
		t.Errorf("%d copy buttons shown, want 3 (amount, address, payment link)", n)
	}
	shoot(t, ctx, dir, "waiting-375.png")
	do(t, ctx, "widen", chromedp.EmulateViewport(1280, 800))
	shoot(t, ctx, dir, "waiting-1280.png")
	// 320 CSS px is a 1280 px window at 400 % zoom (WCAG's reflow width):
	// nothing may need horizontal scrolling.
	do(t, ctx, "zoom", chromedp.EmulateViewport(320, 640))
	if over := eval[bool](t, ctx, `document.documentElement.scrollWidth > window.innerWidth`); over {
		t.Error("the page scrolls sideways at 320 px")
	}
	do(t, ctx, "narrow", chromedp.EmulateViewport(375, 667))

	eval[int](t, ctx, `window.sameDocument = 1`) // gone if the page reloads
	h.pay(inv, inv.Amount.String())
	do(t, ctx, "see the payment", chromedp.WaitVisible(chromedp.CSS(".state-seen")))
	if got := text(t, ctx, ".state-seen p"); !strings.Contains(got, "0 of 1") {
		t.Errorf("payment seen says %q, want confirmations 0 of 1", got)
	}
	shoot(t, ctx, dir, "seen-375.png")
	h.mine()
	do(t, ctx, "see it complete", chromedp.WaitVisible(chromedp.CSS(".state-completed")))
	if same := eval[int](t, ctx, `window.sameDocument`); same != 1 {
		t.Fatal("the page reloaded to change state")
	}
	if href := eval[string](t, ctx, `document.querySelector(".state-completed a.button").href`); href != "https://shop.example/thanks?o=1" {
		t.Errorf("return link %q", href)
	}
	if href := eval[string](t, ctx, `document.querySelector(".txs a").href`); !strings.HasPrefix(href, "https://explorer.example/tx/") {
		t.Errorf("transaction link %q, want the configured explorer", href)
	}
	shoot(t, ctx, dir, "completed-375.png")
	t.Logf("screenshots in %s", dir)
}

// TestBrowser_PartialAndExpired: a part payment shows what is left with a
// QR code for the rest; an invoice left to expire says so; German is
// chosen by ?lang=de.
func TestBrowser_PartialAndExpired(t *testing.T) {
	ctx := browser(t)
	h := newHarness(t)
	dir := screenshots(t)

	part := h.create(`{"order_id":"o-2","currency":"BTC","crypto_amount":"0.002","order_name":"Bücher"}`)
	do(t, ctx, "open the page", chromedp.EmulateViewport(375, 667), chromedp.Navigate(part.CheckoutURL),
		chromedp.WaitVisible(chromedp.CSS(".state-waiting")))
	h.pay(part, "0.0005")
	h.mine()
	do(t, ctx, "see the part payment", chromedp.WaitVisible(chromedp.CSS(".state-partial")))
	if got := text(t, ctx, "[data-testid=amount]"); got != "0.0015" {
		t.Errorf("left to pay %q, want 0.0015", got)
	}
	qr := eval[string](t, ctx, `document.querySelector(".qr img").src`)
	rest := strings.Replace(qr, "/qr.svg", "/qr.png", 1)
	if got, want := decodeQR(t, rest), "bitcoin:"+part.Details.Address+"?amount=0.0015"; got != want {
		t.Errorf("QR code of the rest reads %q, want %q", got, want)
	}
	shoot(t, ctx, dir, "partial-375.png")

	exp := h.create(`{"order_id":"o-3","currency":"BTC","crypto_amount":"0.001"}`)
	do(t, ctx, "open the page in German", chromedp.Navigate(exp.CheckoutURL+"?lang=de"),
		chromedp.WaitVisible(chromedp.CSS(".state-waiting")))
	if got := text(t, ctx, ".badge"); got != "Warten auf Ihre Zahlung" {
		t.Errorf("German badge %q", got)
	}
	if lang := eval[string](t, ctx, `document.documentElement.lang`); lang != "de" {
		t.Errorf("lang %q", lang)
	}
	h.call("POST", "/dev/expire", "", fmt.Sprintf(`{"invoice_id":%q}`, exp.ID), 200, nil)
	do(t, ctx, "see it expire", chromedp.WaitVisible(chromedp.CSS(".state-expired")))
	if got := text(t, ctx, ".badge"); got != "Diese Rechnung ist abgelaufen" {
		t.Errorf("expired badge %q", got)
	}
	do(t, ctx, "switch to English", chromedp.Navigate(exp.CheckoutURL+"?lang=en"), chromedp.WaitVisible(chromedp.CSS(".state-expired")))
	shoot(t, ctx, dir, "expired-375.png")
}

// TestBrowser_MerchantMarkupIsText: markup in order_name and in the
// project's name is shown as text and never runs, on the page and in the
// states the live status swaps in.
func TestBrowser_MerchantMarkupIsText(t *testing.T) {
	ctx := browser(t)
	h := newHarness(t)
	var p struct {
		APIKey string `json:"api_key"`
	}
	h.call("POST", "/api/v1/projects", accountKey, `{"name":"<img src=x onerror=window.pwned=3>Shop"}`, 201, &p)
	h.key = p.APIKey
	name := `<script>window.pwned=1</script><img src=x onerror=window.pwned=2>Shoes`
	inv := h.create(`{"order_id":"<b>o</b>","currency":"BTC","crypto_amount":"0.001","order_name":"` + strings.ReplaceAll(name, `"`, `\"`) + `"}`)
	do(t, ctx, "open the page", chromedp.Navigate(inv.CheckoutURL), chromedp.WaitVisible(chromedp.CSS(".state-waiting")))
	h.pay(inv, "0.001")
	do(t, ctx, "see the payment", chromedp.WaitVisible(chromedp.CSS(".state-seen")))
	for css, want := range map[string]string{"h1": name, ".project": "<img src=x onerror=window.pwned=3>Shop", ".reference bdi": "<b>o</b>"} {
		if got := text(t, ctx, css); got != want {
			t.Errorf("%s shows %q, want the markup as text %q", css, got, want)
		}
	}
	if pwned := eval[bool](t, ctx, `window.pwned !== undefined`); pwned {
		t.Fatal("merchant markup ran")
	}
}

// contrastJS computes the WCAG contrast ratio of each visible text element's
// colour against the background it sits on, and returns the worst.
const contrastJS = `(() => {
  const lum = (c) => {
    const [r, g, b] = c.match(/[\d.]+/g).slice(0, 3).map(Number).map(v => {
      v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const bg = (el) => {
    for (; el; el = el.parentElement) {
      const c = getComputedStyle(el).backgroundColor;
      if (!/rgba\(.*, 0\)$/.test(c) && c !== "transparent") return c;
    }
    return "rgb(255, 255, 255)";
  };
  let worst = 21, what = "";
  for (const el of document.querySelectorAll("h1, h2, h3, p, dt, dd, li, a, button, span, code, bdi")) {
    if (!el.offsetParent || !el.textContent.trim()) continue;
    const a = lum(getComputedStyle(el).color), b = lum(bg(el));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < worst) { worst = ratio; what = el.tagName + "." + el.className + ": " + el.textContent.trim().slice(0, 30); }
  }
  return worst.toFixed(2) + " " + what;
})()`

// TestBrowser_KeyboardAndContrast: Tab reaches the wallet link, every copy
// button and the language links, each with a visible focus ring; every
// text in every state has at least WCAG AA's 4.5:1 contrast.
func TestBrowser_KeyboardAndContrast(t *testing.T) {
	ctx := browser(t)
	h := newHarness(t)
	inv := h.create(`{"order_id":"o","currency":"BTC","fiat_amount":"10","order_name":"Tea"}`)
	do(t, ctx, "open the page", chromedp.EmulateViewport(375, 667), chromedp.Navigate(inv.CheckoutURL),
		chromedp.WaitVisible(chromedp.CSS(".state-waiting")))
	reached := map[string]bool{}
	for range 20 {
		do(t, ctx, "press Tab", chromedp.KeyEvent("\t"))
		el := eval[string](t, ctx, `(() => { const e = document.activeElement; return e.tagName + "|" + (e.dataset.copy ? "copy" : e.textContent.trim()) + "|" + getComputedStyle(e).outlineStyle; })()`)
		parts := strings.Split(el, "|")
		if parts[0] == "BODY" {
			continue
		}
		if parts[2] == "none" {
			t.Errorf("focused %s %q shows no focus ring", parts[0], parts[1])
		}
		reached[parts[0]+" "+parts[1]] = true
	}
	for _, want := range []string{"A Open in wallet", "BUTTON copy", "A Deutsch", "BUTTON Pay in full"} {
		if !reached[want] {
			t.Errorf("Tab never reached %q; reached %v", want, reached)
		}
	}
	check := func(state string) {
		t.Helper()
		got := eval[string](t, ctx, contrastJS)
		var ratio float64
		fmt.Sscan(got, &ratio)
		if ratio < 4.5 {
			t.Errorf("%s: lowest contrast %s, below 4.5:1", state, got)
		}
	}
	check("waiting")
	h.pay(inv, "0.0001")
	do(t, ctx, "partial", chromedp.WaitVisible(chromedp.CSS(".state-partial")))
	check("partial")
	h.pay(inv, inv.Amount.String())
	do(t, ctx, "seen", chromedp.WaitVisible(chromedp.CSS(".state-seen")))
	check("seen")
	h.mine()
	do(t, ctx, "completed", chromedp.WaitVisible(chromedp.CSS(".state-completed")))
	check("completed")
	exp := h.create(`{"order_id":"o2","currency":"BTC","crypto_amount":"0.001"}`)
	h.call("POST", "/dev/expire", "", fmt.Sprintf(`{"invoice_id":%q}`, exp.ID), 200, nil)
	do(t, ctx, "expired", chromedp.Navigate(exp.CheckoutURL), chromedp.WaitVisible(chromedp.CSS(".state-expired")))
	check("expired")
}
