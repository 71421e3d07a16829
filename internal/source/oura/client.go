package oura

import (
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

	"golang.org/x/oauth2"

	"github.com/wearbridge/wearbridge/internal/model"
	"github.com/wearbridge/wearbridge/internal/source"
)

// get fetches u and returns the body of a 2xx answer. Other answers become
// *RateLimitError (429) or *APIError; a refused token refresh wraps
// ErrUnauthorized.
func (p *Provider) get(ctx context.Context, hc *http.Client, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && refreshRefused(re) {
			return nil, fmt.Errorf("token refresh refused: %w: %w", ErrUnauthorized, err)
		}
		return nil, err
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
		return nil, &RateLimitError{Provider: "OURA", RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())}
	default:
		return nil, &APIError{StatusCode: resp.StatusCode, Detail: errorDetail(body)}
	}
}

// refreshRefused reports whether a token endpoint error means the grant is
// gone (as opposed to the endpoint being down).
func refreshRefused(re *oauth2.RetrieveError) bool {
	if re.ErrorCode == "invalid_grant" || re.ErrorCode == "invalid_client" || re.ErrorCode == "unauthorized_client" {
		return true
	}
	return re.Response != nil && (re.Response.StatusCode == http.StatusBadRequest || re.Response.StatusCode == http.StatusUnauthorized)
}

// parseRetryAfter reads a Retry-After value: delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil {
		if n < 0 {
			return 0
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d.Round(time.Second)
		}
	}
	return 0
}

// errorDetail flattens Oura's error body to one line. The body is
// {"detail": "..."} or, for validation errors, {"detail": [{"loc": [...],
// "msg": "..."}, ...]}. A body of another shape is returned trimmed and
// cut short.
func errorDetail(body []byte) string {
	var e struct {
		Detail json.RawMessage `json:"detail"`
	}
	if err := json.Unmarshal(body, &e); err == nil && len(e.Detail) > 0 {
		var s string
		if json.Unmarshal(e.Detail, &s) == nil {
			return s
		}
		var list []struct {
			Loc   []any  `json:"loc"`
			Msg   string `json:"msg"`
			Input any    `json:"input"`
		}
		if json.Unmarshal(e.Detail, &list) == nil && len(list) > 0 {
			parts := make([]string, 0, len(list))
			for _, v := range list {
				loc := make([]string, 0, len(v.Loc))
				for _, l := range v.Loc {
					loc = append(loc, fmt.Sprint(l))
				}
				part := v.Msg
				if len(loc) > 0 {
					part += " (" + strings.Join(loc, ".") + ")"
				}
				parts = append(parts, part)
			}
			return strings.Join(parts, "; ")
		}
		return string(e.Detail)
	}
	s := strings.TrimSpace(string(body))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// page is one page of an Oura user collection.
type page struct {
	Data      *[]json.RawMessage `json:"data"`
	NextToken *string            `json:"next_token"`
}

// eachPage fetches every page of collection with query q, following
// next_token until Oura returns null, and hands each page's items to fn.
//
// A page that is not a JSON collection page is reported to sink with its
// body and ends this collection; eachPage then returns nil so the caller
// goes on with other collections. Errors from the transport, from Oura
// (401, 429, ...), from fn and from sink are returned.
func (p *Provider) eachPage(ctx context.Context, hc *http.Client, t model.DataType, collection string, q url.Values, sink source.Sink, fn func(items []json.RawMessage) error) error {
	seen := make(map[string]bool)
	for n := 1; ; n++ {
		if n > p.cfg.MaxPages {
			return sink.Problem(ctx, model.Problem{Type: t, Err: fmt.Sprintf("oura %s: stopped after %d pages; the rest of the range was not read", collection, p.cfg.MaxPages)})
		}
		u := p.collectionURL(collection, q)
		p.log.DebugContext(ctx, "oura get", "collection", collection, "page", n)
		body, err := p.get(ctx, hc, u)
		if err != nil {
			return fmt.Errorf("oura %s page %d: %w", collection, n, err)
		}
		var pg page
		if err := json.Unmarshal(body, &pg); err != nil {
			return sink.Problem(ctx, model.Problem{Type: t, Err: fmt.Sprintf("oura %s page %d: not a collection page: %v; the rest of the range was not read", collection, n, err), Raw: body})
		}
		if pg.Data == nil {
			return sink.Problem(ctx, model.Problem{Type: t, Err: fmt.Sprintf("oura %s page %d: no data array; the rest of the range was not read", collection, n), Raw: body})
		}
		if err := fn(*pg.Data); err != nil {
			return err
		}
		if pg.NextToken == nil || *pg.NextToken == "" {
			return nil
		}
		if seen[*pg.NextToken] {
			return sink.Problem(ctx, model.Problem{Type: t, Err: fmt.Sprintf("oura %s page %d: next_token repeats an earlier one; the rest of the range was not read", collection, n), Raw: body})
		}
		seen[*pg.NextToken] = true
		q = cloneValues(q)
		q.Set("next_token", *pg.NextToken)
	}
}

func cloneValues(q url.Values) url.Values {
	c := make(url.Values, len(q)+1)
	for k, v := range q {
		c[k] = append([]string(nil), v...)
	}
	return c
}
