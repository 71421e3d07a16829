// Package webhook delivers events as signed HTTP POSTs, one request per
// event, the way Terra delivers to its webhook destinations: the body is the
// event envelope unchanged, terra-signature signs it with the destination's
// secret and terra-reference carries the delivery id.
//
// Unless private targets are allowed, a webhook refuses to connect to
// private, loopback, link-local and other non-public addresses. The check
// runs at dial time, on the resolved address, so DNS tricks cannot bypass it.
package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/wearbridge/wearbridge/internal/destination"
)

// KindName is the name webhook destinations are registered under.
const KindName = "webhook"

// Defaults and limits.
const (
	// DefaultTimeout bounds one delivery attempt when the settings set none.
	DefaultTimeout = 8 * time.Second
	// maxTimeout is the largest timeout the settings may ask for.
	maxTimeout = 5 * time.Minute
	// maxInFlight is how many requests one Deliver call has open at once.
	maxInFlight = 8
)

// Headers set on every delivery.
const (
	headerReference = "terra-reference"
	headerDelivery  = "X-Wearbridge-Delivery"
	headerTimestamp = "X-Wearbridge-Timestamp"
	userAgent       = "wearbridge"
)

// Settings is a webhook destination's JSON settings.
type Settings struct {
	// URL is the absolute http or https URL to POST to. Required; it may not
	// carry user:password (use Headers for credentials).
	URL string `json:"url"`
	// Timeout bounds each delivery attempt, as a Go duration ("8s").
	// Default DefaultTimeout; at most 5m.
	Timeout string `json:"timeout,omitempty"`
	// Headers are extra request headers (e.g. Authorization). They may not
	// replace the headers the webhook sets itself.
	Headers map[string]string `json:"headers,omitempty"`
	// AllowPrivate asks to reach private, loopback and other non-public
	// addresses. It is refused unless the operator allowed private targets
	// for the whole server (Options.AllowPrivate, the serve flag
	// --allow-private-webhooks): a developer cannot lift the guard alone.
	AllowPrivate bool `json:"allow_private,omitempty"`
}

// Options configures a Kind. The zero value is ready to use.
type Options struct {
	// AllowPrivate lets every destination of this kind reach non-public
	// addresses, as the embedded demo does when it posts to 127.0.0.1.
	AllowPrivate bool
	// Client, when set, sends the requests. It is used as is, transport
	// included, so the built-in private-address guard does not apply to it;
	// redirects are never followed either way. By default each destination
	// gets its own client, which also ignores proxy environment variables.
	Client *http.Client
	// Logger receives debug lines about deliveries; nil discards them.
	Logger *slog.Logger
	// Now is the clock used to sign deliveries; nil means time.Now.
	Now func() time.Time
}

// Kind builds webhook destinations.
type Kind struct {
	allowPrivate bool
	client       *http.Client
	log          *slog.Logger
	now          func() time.Time
}

var (
	_ destination.Kind        = (*Kind)(nil)
	_ destination.Destination = (*Webhook)(nil)
)

// NewKind returns the webhook kind configured by opts.
func NewKind(opts Options) *Kind {
	k := &Kind{
		allowPrivate: opts.AllowPrivate,
		client:       opts.Client,
		log:          opts.Logger,
		now:          opts.Now,
	}
	if k.log == nil {
		k.log = slog.New(slog.DiscardHandler)
	}
	if k.now == nil {
		k.now = time.Now
	}
	return k
}

// Name returns "webhook".
func (k *Kind) Name() string { return KindName }

// Open validates cfg and returns a webhook for it. It does not contact the
// target.
func (k *Kind) Open(_ context.Context, cfg destination.Config) (destination.Destination, error) {
	s, err := parseSettings(cfg.Settings)
	if err != nil {
		return nil, fmt.Errorf("webhook destination %q: %w", cfg.ID, err)
	}
	if cfg.Secret == "" {
		return nil, fmt.Errorf("webhook destination %q: a signing secret is required", cfg.ID)
	}
	if s.allowPrivate && !k.allowPrivate {
		return nil, fmt.Errorf("webhook destination %q: allow_private needs the server to allow private targets (serve --allow-private-webhooks)", cfg.ID)
	}
	allow := k.allowPrivate
	if !allow {
		// Catch literal addresses early; hostnames are checked at dial time.
		if ip, err := netip.ParseAddr(s.url.Hostname()); err == nil {
			if err := checkAddr(ip); err != nil {
				return nil, fmt.Errorf("webhook destination %q: url: %w", cfg.ID, err)
			}
		}
	}
	w := &Webhook{
		id:      cfg.ID,
		url:     s.url.String(),
		shown:   shownURL(s.url),
		timeout: s.timeout,
		headers: s.headers,
		secret:  cfg.Secret,
		now:     k.now,
		log:     k.log.With("destination_id", cfg.ID, "kind", KindName),
	}
	if k.client != nil {
		c := *k.client
		c.CheckRedirect = noRedirects
		w.client = &c
	} else {
		w.transport = newTransport(allow)
		w.client = &http.Client{Transport: w.transport, CheckRedirect: noRedirects}
	}
	return w, nil
}

// settings is Settings validated.
type settings struct {
	url          *url.URL
	timeout      time.Duration
	headers      http.Header
	allowPrivate bool
}

// parseSettings decodes and validates raw.
func parseSettings(raw json.RawMessage) (settings, error) {
	var s Settings
	if len(bytes.TrimSpace(raw)) == 0 {
		return settings{}, errors.New("settings: url is required")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return settings{}, fmt.Errorf("settings: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return settings{}, errors.New("settings: trailing data after the JSON object")
	}
	if s.URL == "" {
		return settings{}, errors.New("settings: url is required")
	}
	u, err := parseURL(s.URL)
	if err != nil {
		return settings{}, fmt.Errorf("settings: url: %w", err)
	}
	out := settings{url: u, timeout: DefaultTimeout, allowPrivate: s.AllowPrivate, headers: http.Header{}}
	if s.Timeout != "" {
		d, err := time.ParseDuration(s.Timeout)
		if err != nil {
			return settings{}, fmt.Errorf("settings: timeout: %w", err)
		}
		if d <= 0 || d > maxTimeout {
			return settings{}, fmt.Errorf("settings: timeout %s: must be more than 0 and at most %s", d, maxTimeout)
		}
		out.timeout = d
	}
	for name, value := range s.Headers {
		if err := checkHeader(name, value); err != nil {
			return settings{}, fmt.Errorf("settings: headers: %w", err)
		}
		out.headers.Set(name, value)
	}
	return out, nil
}

// parseURL checks that raw is an absolute http(s) URL without credentials.
func parseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("scheme %q: must be http or https", u.Scheme)
	case u.Opaque != "" || u.Host == "" || u.Hostname() == "":
		return nil, errors.New("must be an absolute URL with a host")
	case u.User != nil:
		return nil, errors.New("must not contain user:password; set an Authorization header instead")
	}
	u.Fragment, u.RawFragment = "", ""
	return u, nil
}

// shownURL is u without its query, for error messages (queries often hold
// tokens).
func shownURL(u *url.URL) string {
	c := *u
	c.RawQuery, c.ForceQuery = "", false
	return c.String()
}

// reservedHeaders are set by the webhook itself or by the HTTP client.
var reservedHeaders = map[string]bool{
	"Connection":             true,
	"Content-Length":         true,
	"Content-Type":           true,
	"Host":                   true,
	"Keep-Alive":             true,
	"Proxy-Connection":       true,
	"Te":                     true,
	"Terra-Reference":        true,
	"Terra-Signature":        true,
	"Trailer":                true,
	"Transfer-Encoding":      true,
	"Upgrade":                true,
	"User-Agent":             true,
	"X-Wearbridge-Delivery":  true,
	"X-Wearbridge-Timestamp": true,
}

// checkHeader validates one extra header.
func checkHeader(name, value string) error {
	if name == "" {
		return errors.New("empty header name")
	}
	for i := 0; i < len(name); i++ {
		if !isTokenChar(name[i]) {
			return fmt.Errorf("header name %q: invalid character", name)
		}
	}
	if reservedHeaders[http.CanonicalHeaderKey(name)] {
		return fmt.Errorf("header %q is set by wearbridge and cannot be overridden", name)
	}
	for i := 0; i < len(value); i++ {
		if c := value[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return fmt.Errorf("header %q: value contains a control character", name)
		}
	}
	return nil
}

// isTokenChar reports whether c may appear in an HTTP header name (RFC 9110
// token).
func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// newTransport returns the transport of one destination. Unless
// allowPrivate, every connection it opens goes through guardDial. It never
// uses a proxy: a proxy would connect on our behalf, past the guard.
func newTransport(allowPrivate bool) *http.Transport {
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		d.Control = guardDial
	}
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          2 * maxInFlight,
		MaxIdleConnsPerHost:   maxInFlight,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// noRedirects makes the client return a 3xx response as it is: a webhook
// posts to the configured URL only.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
