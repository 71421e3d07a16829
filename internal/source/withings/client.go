package withings

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
	"github.com/wearbridge/wearbridge/internal/source"
)

// Withings statuses the client treats specially (API reference, "Response
// status").
const (
	statusOK              = 0
	statusInvalidToken    = 401
	statusTooManyRequests = 601
)

// The Withings services, relative to Config.APIBase.
const (
	serviceMeasure   = "/measure"
	serviceMeasureV2 = "/v2/measure"
	serviceSleepV2   = "/v2/sleep"
	serviceNotify    = "/notify"
)

// envelope is the wrapper of every Withings answer.
type envelope struct {
	Status *int            `json:"status"`
	Body   json.RawMessage `json:"body"`
	Error  string          `json:"error"`
}

// APIError is an answer Withings gave with a non-zero status (other than
// 601), or an HTTP status other than 200 and 429.
type APIError struct {
	// Action is the Withings action called ("getmeas", ...).
	Action string
	// HTTPStatus is the HTTP status when it was not 200; 0 otherwise.
	HTTPStatus int
	// Status is the Withings status of the body; 0 when the body had none.
	Status int
	// Message is Withings' "error" text, or a snippet of a non-JSON body.
	Message string
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "withings %s:", e.Action)
	if e.HTTPStatus != 0 {
		fmt.Fprintf(&b, " http %d", e.HTTPStatus)
	}
	if e.Status != 0 {
		fmt.Fprintf(&b, " status %d", e.Status)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	return b.String()
}

// Unwrap makes a refused access token match ErrUnauthorized: status 401
// and the other "authentication failed" statuses (100-102, 200), or HTTP
// 401.
func (e *APIError) Unwrap() error {
	if e.HTTPStatus == http.StatusUnauthorized || tokenRefused(e.Status) {
		return ErrUnauthorized
	}
	return nil
}

// tokenRefused reports whether a data-call status means the access token
// was refused.
func tokenRefused(st int) bool {
	return st == statusInvalidToken || (st >= 100 && st <= 102) || st == 200
}

// malformedError is an answer that is not a Withings envelope at all; the
// caller reports it as a Problem with raw.
type malformedError struct {
	action string
	why    string
	raw    []byte
}

func (e *malformedError) Error() string {
	return fmt.Sprintf("withings %s: %s", e.action, e.why)
}

// call POSTs action with params to service and returns the "body" of a
// status-0 answer. Errors: *RateLimitError (601 or HTTP 429), *APIError
// (other statuses, wrapping ErrUnauthorized for a refused token),
// *malformedError (an answer that is not an envelope), or the transport's
// error, wrapped.
func (p *Provider) call(ctx context.Context, hc *http.Client, service, action string, params url.Values) (json.RawMessage, error) {
	form := cloneValues(params)
	form.Set("action", action)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.cfg.APIBase+service, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("withings %s: build request: %w", action, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	p.log.DebugContext(ctx, "withings call", "action", action)
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("withings %s: %w", action, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("withings %s: read body: %w", action, err)
	}
	if len(raw) > maxBody {
		return nil, fmt.Errorf("withings %s: response body larger than %d bytes", action, maxBody)
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		return nil, p.rateLimit(resp.Header)
	case resp.StatusCode != http.StatusOK:
		return nil, &APIError{Action: action, HTTPStatus: resp.StatusCode, Message: errorText(raw)}
	}
	var env envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return nil, &malformedError{action: action, why: fmt.Sprintf("answer is not JSON: %v", err), raw: raw}
	}
	if env.Status == nil {
		return nil, &malformedError{action: action, why: "answer has no status", raw: raw}
	}
	switch st := *env.Status; st {
	case statusOK:
		return env.Body, nil
	case statusTooManyRequests:
		return nil, p.rateLimit(resp.Header)
	default:
		return nil, &APIError{Action: action, Status: st, Message: env.Error}
	}
}

// rateLimit builds the error for status 601 / HTTP 429: Withings sends no
// reset header, so the wait is a Retry-After if one is there, else one
// minute (the limit is per minute).
func (p *Provider) rateLimit(h http.Header) *RateLimitError {
	wait := parseRetryAfter(h.Get("Retry-After"), p.cfg.Now())
	if wait <= 0 {
		wait = DefaultRateLimitWait
	}
	return &RateLimitError{Provider: Name, RetryAfter: wait}
}

// parseRetryAfter reads a Retry-After value: delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil {
		return max(time.Duration(n)*time.Second, 0)
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now).Round(time.Second), 0)
	}
	return 0
}

// errorText is Withings' "error" of a body, or the body cut short.
func errorText(raw []byte) string {
	var env envelope
	if json.Unmarshal(raw, &env) == nil && env.Error != "" {
		return env.Error
	}
	return snippet(raw)
}

// snippet shortens a body for an error message.
func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

func cloneValues(q url.Values) url.Values {
	c := make(url.Values, len(q)+2)
	for k, v := range q {
		c[k] = append([]string(nil), v...)
	}
	return c
}

// list names one paged Withings list: the service and action, and the key
// of the list in the answer's body.
type list struct {
	service, action, key string
}

// eachPage calls l with params, following "more" and "offset" until
// Withings says there is no more, and hands each page's body and items to
// fn.
//
// A page that cannot be read (not an envelope, no list, a "more" without a
// usable offset) is reported to sink with its raw body, and the rest of the
// range is not read; eachPage then returns nil so the pull goes on with the
// other lists. Errors from the transport, from Withings (401, 601, ...),
// from fn and from sink are returned.
func (p *Provider) eachPage(ctx context.Context, hc *http.Client, t model.DataType, l list, params url.Values, sink source.Sink, fn func(body json.RawMessage, items []json.RawMessage) error) error {
	var offset int64
	for n := 1; ; n++ {
		if n > p.cfg.MaxPages {
			return sink.Problem(ctx, model.Problem{Type: t, Err: fmt.Sprintf("withings %s: stopped after %d pages; the rest of the range was not read", l.action, p.cfg.MaxPages)})
		}
		q := cloneValues(params)
		if n > 1 {
			q.Set("offset", strconv.FormatInt(offset, 10))
		}
		body, err := p.call(ctx, hc, l.service, l.action, q)
		var me *malformedError
		if errors.As(err, &me) {
			return sink.Problem(ctx, model.Problem{Type: t, Err: fmt.Sprintf("%v (page %d); the rest of the range was not read", me, n), Raw: me.raw})
		}
		if err != nil {
			return fmt.Errorf("withings %s page %d: %w", l.action, n, err)
		}
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(body, &fields); err != nil {
			return sink.Problem(ctx, model.Problem{Type: t, Err: fmt.Sprintf("withings %s page %d: body is not an object: %v; the rest of the range was not read", l.action, n, err), Raw: body})
		}
		items, ok := decodeList(fields[l.key])
		if !ok {
			return sink.Problem(ctx, model.Problem{Type: t, Err: fmt.Sprintf("withings %s page %d: no %q list; the rest of the range was not read", l.action, n, l.key), Raw: body})
		}
		if err := fn(body, items); err != nil {
			return err
		}
		more, err := parseMore(fields["more"])
		if err != nil {
			return sink.Problem(ctx, model.Problem{Type: t, Err: fmt.Sprintf("withings %s page %d: %v; the rest of the range was not read", l.action, n, err), Raw: body})
		}
		if !more {
			return nil
		}
		next, err := strconv.ParseInt(rawString(fields["offset"]), 10, 64)
		if err != nil || next <= offset {
			return sink.Problem(ctx, model.Problem{Type: t, Err: fmt.Sprintf("withings %s page %d: more without an advancing offset (%s); the rest of the range was not read", l.action, n, fields["offset"]), Raw: body})
		}
		offset = next
	}
}

// decodeList reads a JSON list; a missing or null list is not one.
func decodeList(raw json.RawMessage) ([]json.RawMessage, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, false
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, false
	}
	return items, true
}

// parseMore reads "more": a boolean in the v2 services, 0/1 in getmeas.
// Absent means no more.
func parseMore(raw json.RawMessage) (bool, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return false, nil
	}
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		return b, nil
	}
	var n float64
	if json.Unmarshal(raw, &n) == nil {
		return n != 0, nil
	}
	return false, fmt.Errorf("more is %s, neither a boolean nor a number", raw)
}
