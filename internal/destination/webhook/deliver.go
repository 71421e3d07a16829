package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/wearbridge/wearbridge/internal/destination"
	"github.com/wearbridge/wearbridge/internal/signature"
)

// Response handling limits.
const (
	// maxResponseBody is how much of a response body is read (and so
	// drained for connection reuse); the rest is discarded with the
	// connection.
	maxResponseBody = 64 << 10
	// snippetLen is how much of a failed response's body goes into the error.
	snippetLen = 200
	// maxRetryAfter caps a receiver's Retry-After.
	maxRetryAfter = 24 * time.Hour
)

// Webhook is an open webhook destination.
type Webhook struct {
	id        string
	url       string // as requested
	shown     string // url without the query, for errors
	timeout   time.Duration
	headers   http.Header // extra headers from the settings
	secret    string
	client    *http.Client
	transport *http.Transport // nil when the Kind's client is used
	now       func() time.Time
	log       *slog.Logger
	closeOnce sync.Once
}

// Deliver POSTs each event, at most 8 at a time, and returns one result per
// event in order. A 2xx answer means delivered; 408, 425, 429, 5xx, 3xx,
// timeouts and network errors are retryable (with Retry-After honoured on 429
// and 503); other 4xx answers and refused addresses are permanent.
func (w *Webhook) Deliver(ctx context.Context, events []destination.Event) []destination.Result {
	results := make([]destination.Result, len(events))
	sem := make(chan struct{}, maxInFlight)
	var wg sync.WaitGroup
	for i := range events {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			err := fmt.Errorf("webhook: not sent: %w", context.Cause(ctx))
			for j := i; j < len(events); j++ {
				results[j] = destination.Result{Err: err}
			}
			wg.Wait()
			return results
		}
		wg.Go(func() {
			defer func() { <-sem }()
			results[i] = w.deliver(ctx, &events[i])
		})
	}
	wg.Wait()
	return results
}

// deliver makes one attempt at one event.
func (w *Webhook) deliver(ctx context.Context, ev *destination.Event) destination.Result {
	start := time.Now()
	res := w.post(ctx, ev)
	if res.Err != nil {
		w.log.DebugContext(ctx, "webhook delivery failed", "delivery_id", ev.DeliveryID,
			"permanent", res.Permanent, "retry_after", res.RetryAfter, "duration", time.Since(start), "error", res.Err)
	} else {
		w.log.DebugContext(ctx, "webhook delivered", "delivery_id", ev.DeliveryID, "duration", time.Since(start))
	}
	return res
}

// post sends ev and classifies the outcome.
func (w *Webhook) post(parent context.Context, ev *destination.Event) destination.Result {
	ctx, cancel := context.WithTimeout(parent, w.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(ev.Body))
	if err != nil {
		return destination.Result{Err: fmt.Errorf("webhook: build request: %w", err), Permanent: true}
	}
	h := req.Header
	for name, values := range w.headers {
		h[name] = append([]string(nil), values...)
	}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", userAgent)
	h.Set(signature.Header, signature.Sign(w.secret, w.now(), ev.Body))
	h.Set(headerReference, ev.DeliveryID)
	h.Set(headerDelivery, ev.DeliveryID)
	h.Set(headerTimestamp, ev.CreatedAt.UTC().Format(time.RFC3339Nano))

	resp, err := w.client.Do(req)
	if err != nil {
		return w.requestError(parent, err)
	}
	defer resp.Body.Close()
	// Read (and so drain) a bounded amount; a read error after the status
	// line changes nothing about the outcome.
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))

	code := resp.StatusCode
	if code >= 200 && code <= 299 {
		return destination.Result{}
	}
	msg := fmt.Sprintf("webhook: POST %s: %s", w.shown, resp.Status)
	if code >= 300 && code <= 399 {
		if loc := resp.Header.Get("Location"); loc != "" {
			msg += " (redirects are not followed; Location: " + clip(loc) + ")"
		}
	}
	if s := snippet(body); s != "" {
		msg += ": " + s
	}
	res := destination.Result{Err: errors.New(msg)}
	switch {
	case code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable:
		res.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), w.now())
	case code == http.StatusRequestTimeout || code == http.StatusTooEarly || code >= 500:
	case code >= 400:
		res.Permanent = true
	}
	return res
}

// requestError classifies an error from the HTTP client. Only a refused
// address is permanent.
func (w *Webhook) requestError(parent context.Context, err error) destination.Result {
	// url.Error repeats the full URL, query included; use the short form.
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	switch {
	case errors.Is(err, ErrBlockedAddress):
		return destination.Result{Err: fmt.Errorf("webhook: POST %s: %w", w.shown, err), Permanent: true}
	case parent.Err() != nil:
		return destination.Result{Err: fmt.Errorf("webhook: POST %s: canceled: %w", w.shown, context.Cause(parent))}
	case errors.Is(err, context.DeadlineExceeded):
		return destination.Result{Err: fmt.Errorf("webhook: POST %s: timed out after %s: %w", w.shown, w.timeout, err)}
	default:
		return destination.Result{Err: fmt.Errorf("webhook: POST %s: %w", w.shown, err)}
	}
}

// Close releases idle connections. It is safe to call more than once.
func (w *Webhook) Close() error {
	w.closeOnce.Do(func() {
		if w.transport != nil {
			w.transport.CloseIdleConnections()
		}
	})
	return nil
}

// retryAfter parses a Retry-After value (delay in seconds or an HTTP date)
// into a delay from now, capped at maxRetryAfter. It returns 0 for a missing,
// past or unparsable value.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseUint(v, 10, 64); err == nil {
		if secs > uint64(maxRetryAfter/time.Second) {
			return maxRetryAfter
		}
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), maxRetryAfter)
}

// snippet returns the start of a response body, on one line, for an error
// message.
func snippet(body []byte) string {
	s := strings.ToValidUTF8(string(body[:min(len(body), 4*snippetLen)]), "?")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > snippetLen {
		s = string(r[:snippetLen]) + "..."
	} else if len(body) > 4*snippetLen {
		s += "..."
	}
	return s
}

// clip shortens s for an error message.
func clip(s string) string {
	if len(s) > snippetLen {
		return strings.ToValidUTF8(s[:snippetLen], "") + "..."
	}
	return s
}
