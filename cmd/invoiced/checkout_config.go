package main

import (
	"fmt"
	"net/url"
	"strings"
)

// publicURL checks -public-url: an absolute http(s) URL with no query,
// fragment or credentials, returned without its trailing slash so links
// append "/i/<id>" to it.
func publicURL(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	u, err := url.Parse(s)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "":
		return "", fmt.Errorf("-public-url: want an absolute URL such as https://pay.example.com, got %q", s)
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("-public-url: scheme must be http or https, got %q", s)
	case u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(s, "?") || strings.HasSuffix(s, "#"):
		return "", fmt.Errorf("-public-url: must not contain credentials, a query or a fragment, got %q", s)
	}
	return strings.TrimRight(s, "/"), nil
}

// frameAncestors checks -checkout-frame-ancestors: "*", 'none', 'self' or
// http(s) origins (wildcard subdomains allowed), space-separated. It ends
// up inside the Content-Security-Policy header, so anything that could
// close the directive (";", ",", quotes, controls) is refused.
func frameAncestors(s string) (string, error) {
	srcs := strings.Fields(s)
	if len(srcs) == 0 {
		return "", fmt.Errorf("-checkout-frame-ancestors: want * or a list of origins, got %q", s)
	}
	for _, src := range srcs {
		switch src {
		case "*", "'none'", "'self'":
			if src == "'none'" && len(srcs) > 1 {
				return "", fmt.Errorf("-checkout-frame-ancestors: 'none' cannot be combined with other sources")
			}
			continue
		}
		u, err := url.Parse(src)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.User != nil ||
			strings.ContainsAny(src, ";,'\"") {
			return "", fmt.Errorf("-checkout-frame-ancestors: %q is not *, 'none', 'self' or an http(s) origin such as https://shop.example", src)
		}
	}
	return strings.Join(srcs, " "), nil
}

// explorers parses -explorers: CODE=URL items, each URL http(s) with
// {txid} where the transaction id goes.
func explorers(s string) (map[string]string, error) {
	if s == "" {
		return nil, nil
	}
	out := map[string]string{}
	for _, item := range splitList(s) {
		code, link, ok := strings.Cut(item, "=")
		code, link = strings.ToUpper(strings.TrimSpace(code)), strings.TrimSpace(link)
		u, err := url.Parse(strings.ReplaceAll(link, "{txid}", "x"))
		if !ok || code == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || !strings.Contains(link, "{txid}") {
			return nil, fmt.Errorf("-explorers: want CODE=http(s)-URL-with-{txid} items, got %q", item)
		}
		out[code] = link
	}
	return out, nil
}
