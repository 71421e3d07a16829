package whoop

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
	"github.com/wearbridge/wearbridge/internal/source"
)

// ErrIncomplete marks a pull that could not read everything it was asked
// for (a page that could not be decoded, a cursor that repeats, the page
// bound): what could be read was stored and problems were recorded, but the
// window must not be taken as complete.
var ErrIncomplete = errors.New("whoop: the window was only partly read")

// defaultRetryAfter is used when a 429 carries no X-RateLimit-Reset: the
// length of WHOOP's shorter window.
const defaultRetryAfter = time.Minute

// APIError is a non-2xx answer from WHOOP other than 429.
type APIError struct {
	// StatusCode is the HTTP status.
	StatusCode int
	// Body is the start of the response body, for the message.
	Body string
}

func (e *APIError) Error() string {
	if e.Body == "" {
		return fmt.Sprintf("whoop: http %d", e.StatusCode)
	}
	return fmt.Sprintf("whoop: http %d: %s", e.StatusCode, e.Body)
}

// Unwrap makes a 401 match source.ErrUnauthorized.
func (e *APIError) Unwrap() error {
	if e.StatusCode == http.StatusUnauthorized {
		return source.ErrUnauthorized
	}
	return nil
}

// isNotFound reports whether err is WHOOP's 404.
func isNotFound(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.StatusCode == http.StatusNotFound
}

// get fetches u and returns the body of a 2xx answer. A 429 becomes a
// *source.RateLimitError, other answers an *APIError (401 wraps
// source.ErrUnauthorized). Transport errors (including a refused token
// refresh) are returned wrapped.
func (p *Provider) get(ctx context.Context, hc *http.Client, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("request: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	if len(body) > maxBody {
		return nil, fmt.Errorf("response body larger than %d bytes", maxBody)
	}
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return body, nil
	case resp.StatusCode == http.StatusTooManyRequests:
		return nil, &source.RateLimitError{Provider: Name, RetryAfter: retryAfter(resp.Header)}
	default:
		return nil, &APIError{StatusCode: resp.StatusCode, Body: snippet(body)}
	}
}

// retryAfter reads WHOOP's X-RateLimit-Reset (seconds until the exhausted
// window resets), then a standard Retry-After, else defaultRetryAfter.
func retryAfter(h http.Header) time.Duration {
	for _, name := range []string{"X-RateLimit-Reset", "Retry-After"} {
		v := strings.TrimSpace(h.Get(name))
		if v == "" {
			continue
		}
		if f, err := strconv.ParseFloat(v, 64); err == nil && f >= 0 && !math.IsInf(f, 0) && f < 1e7 {
			return time.Duration(math.Ceil(f)) * time.Second
		}
	}
	return defaultRetryAfter
}

// snippet shortens a response body for an error message.
func snippet(b []byte) string {
	const max = 200
	s := strings.TrimSpace(string(b))
	if len(s) > max {
		s = s[:max] + "..."
	}
	return s
}

// page is one page of a WHOOP collection. next_token is absent (or empty)
// on the last page.
type page struct {
	Records   *[]json.RawMessage `json:"records"`
	NextToken *string            `json:"next_token"`
}

// timeParam writes a window bound as WHOOP's date-time query values.
func timeParam(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// windowQuery is the start/end filter of a collection.
func windowQuery(start, end time.Time) url.Values {
	return url.Values{"start": {timeParam(start)}, "end": {timeParam(end)}}
}

// eachPage fetches every page of the collection at path (relative to
// APIBase) with filter q, following next_token (sent back as nextToken)
// until WHOOP leaves it out, and hands each page's records to fn.
//
// complete is false when the collection could not be read to its end: a
// page that is not a collection page (reported to sink with its raw body),
// a next_token that repeats an earlier one, or more than MaxPages pages.
// Errors from the transport, from WHOOP (401, 429, ...), from fn and from
// sink are returned.
func (p *Provider) eachPage(ctx context.Context, hc *http.Client, t model.DataType, path string, q url.Values, sink source.Sink, fn func(items []json.RawMessage) error) (complete bool, err error) {
	q = cloneValues(q)
	q.Set("limit", strconv.Itoa(p.cfg.PageLimit))
	seen := make(map[string]bool)
	for n := 1; ; n++ {
		if n > p.cfg.MaxPages {
			return false, sink.Problem(ctx, model.Problem{Type: t, Err: fmt.Sprintf("whoop %s: stopped after %d pages; the rest of the window was not read", path, p.cfg.MaxPages)})
		}
		p.log.DebugContext(ctx, "whoop get", "path", path, "page", n)
		body, err := p.get(ctx, hc, p.cfg.APIBase+path+"?"+q.Encode())
		if err != nil {
			return false, fmt.Errorf("whoop %s page %d: %w", path, n, err)
		}
		var pg page
		if err := json.Unmarshal(body, &pg); err != nil {
			return false, sink.Problem(ctx, model.Problem{Type: t, Err: fmt.Sprintf("whoop %s page %d: not a collection page: %v; the rest of the window was not read", path, n, err), Raw: body})
		}
		if pg.Records == nil {
			return false, sink.Problem(ctx, model.Problem{Type: t, Err: fmt.Sprintf("whoop %s page %d: no records array; the rest of the window was not read", path, n), Raw: body})
		}
		if err := fn(*pg.Records); err != nil {
			return false, err
		}
		if pg.NextToken == nil || *pg.NextToken == "" {
			return true, nil
		}
		if seen[*pg.NextToken] {
			return false, sink.Problem(ctx, model.Problem{Type: t, Err: fmt.Sprintf("whoop %s page %d: next_token repeats an earlier one; the rest of the window was not read", path, n), Raw: body})
		}
		seen[*pg.NextToken] = true
		q.Set("nextToken", *pg.NextToken)
	}
}

func cloneValues(q url.Values) url.Values {
	c := make(url.Values, len(q)+2)
	for k, v := range q {
		c[k] = append([]string(nil), v...)
	}
	return c
}
