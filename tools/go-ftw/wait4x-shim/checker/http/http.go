// Package http is the minimal subset of wait4x.dev/v3/checker/http that go-ftw v2.1.0 uses:
// an HTTP GET that succeeds when the status (and optional body regex / header) match.
package http

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	nethttp "net/http"
	"regexp"
	"strings"
	"time"
)

// Defaults as in wait4x.
const (
	DefaultConnectionTimeout     = 3 * time.Second
	DefaultInsecureSkipTLSVerify = false
	DefaultNoRedirect            = false
)

// Option configures an HTTP checker.
type Option func(*HTTP)

// HTTP polls one URL.
type HTTP struct {
	address        string
	timeout        time.Duration
	expectStatus   int
	expectBodyRe   string
	expectBodyJSON string
	expectBodyXP   string
	expectHeader   string
	insecure       bool
	noRedirect     bool
}

// New creates a checker for address.
func New(address string, opts ...Option) *HTTP {
	h := &HTTP{address: address, timeout: DefaultConnectionTimeout}
	for _, o := range opts {
		o(h)
	}
	return h
}

// WithExpectStatusCode sets the expected status (0: any status below 400... as 2xx/3xx).
func WithExpectStatusCode(c int) Option { return func(h *HTTP) { h.expectStatus = c } }

// WithExpectBodyRegex requires the body to match a regular expression.
func WithExpectBodyRegex(r string) Option { return func(h *HTTP) { h.expectBodyRe = r } }

// WithExpectBodyJSON is not supported by the shim; a non-empty value makes Check fail.
func WithExpectBodyJSON(q string) Option { return func(h *HTTP) { h.expectBodyJSON = q } }

// WithExpectBodyXPath is not supported by the shim; a non-empty value makes Check fail.
func WithExpectBodyXPath(q string) Option { return func(h *HTTP) { h.expectBodyXP = q } }

// WithExpectHeader requires a header "Name" or "Name=regex".
func WithExpectHeader(s string) Option { return func(h *HTTP) { h.expectHeader = s } }

// WithTimeout sets the per-request timeout.
func WithTimeout(d time.Duration) Option { return func(h *HTTP) { h.timeout = d } }

// WithInsecureSkipTLSVerify disables certificate checks.
func WithInsecureSkipTLSVerify(b bool) Option { return func(h *HTTP) { h.insecure = b } }

// WithNoRedirect stops following redirects.
func WithNoRedirect(b bool) Option { return func(h *HTTP) { h.noRedirect = b } }

// Identity returns the URL.
func (h *HTTP) Identity() (string, error) { return h.address, nil }

// Check performs one GET and compares the response with the expectations.
func (h *HTTP) Check(ctx context.Context) error {
	if h.expectBodyJSON != "" || h.expectBodyXP != "" {
		return fmt.Errorf("wait4x shim: JSON/XPath body expectations are not supported")
	}
	client := &nethttp.Client{
		Timeout: h.timeout,
		Transport: &nethttp.Transport{
			TLSClientConfig: &tls.Config{InsecureSkipVerify: h.insecure}, //nolint:gosec // user flag
		},
	}
	if h.noRedirect {
		client.CheckRedirect = func(*nethttp.Request, []*nethttp.Request) error { return nethttp.ErrUseLastResponse }
	}
	req, err := nethttp.NewRequestWithContext(ctx, nethttp.MethodGet, h.address, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if h.expectStatus != 0 && resp.StatusCode != h.expectStatus {
		return fmt.Errorf("status %d, expected %d", resp.StatusCode, h.expectStatus)
	}
	if h.expectStatus == 0 && resp.StatusCode >= 400 {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	if h.expectBodyRe != "" {
		re, err := regexp.Compile(h.expectBodyRe)
		if err != nil {
			return err
		}
		if !re.Match(body) {
			return fmt.Errorf("body does not match %q", h.expectBodyRe)
		}
	}
	if h.expectHeader != "" {
		name, want, hasValue := strings.Cut(h.expectHeader, "=")
		got, ok := resp.Header[nethttp.CanonicalHeaderKey(name)]
		if !ok {
			return fmt.Errorf("header %q missing", name)
		}
		if hasValue {
			re, err := regexp.Compile(want)
			if err != nil {
				return err
			}
			if !re.MatchString(strings.Join(got, ", ")) {
				return fmt.Errorf("header %q does not match %q", name, want)
			}
		}
	}
	return nil
}
