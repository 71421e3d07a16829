package strava

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/wearbridge/wearbridge/internal/source"
)

// APIError is a non-2xx answer from Strava other than 429.
type APIError struct {
	// StatusCode is the HTTP status.
	StatusCode int
	// Message is Strava's "message" ("Record Not Found", "Authorization
	// Error", ...), or the start of a body that is not a Strava fault.
	Message string
	// Errors are Strava's "errors" entries.
	Errors []FaultError
}

// FaultError is one entry of a Strava fault's "errors": which resource and
// field were wrong, and how ("invalid", "missing", ...).
type FaultError struct {
	Resource string `json:"resource"`
	Field    string `json:"field"`
	Code     string `json:"code"`
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "strava: http %d", e.StatusCode)
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	for i, fe := range e.Errors {
		if i == 0 {
			b.WriteString(" (")
		} else {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s.%s %s", fe.Resource, fe.Field, fe.Code)
		if i == len(e.Errors)-1 {
			b.WriteString(")")
		}
	}
	return b.String()
}

// Unwrap makes a 401 match source.ErrUnauthorized. Strava answers 401 both
// for a bad token and for a token without the scope the endpoint needs
// ("activity:read_permission" missing); both need the user to connect
// again.
func (e *APIError) Unwrap() error {
	if e.StatusCode == http.StatusUnauthorized {
		return source.ErrUnauthorized
	}
	return nil
}

// parseFault reads a Strava fault body. The recorded 429 body has
// "errors" as a string; a body of another shape gives its trimmed start as
// the message.
func parseFault(status int, body []byte) *APIError {
	e := &APIError{StatusCode: status}
	var f struct {
		Message string          `json:"message"`
		Errors  json.RawMessage `json:"errors"`
	}
	if err := json.Unmarshal(body, &f); err == nil && (f.Message != "" || len(f.Errors) > 0) {
		e.Message = f.Message
		var list []FaultError
		var s string
		switch {
		case json.Unmarshal(f.Errors, &list) == nil:
			e.Errors = list
		case json.Unmarshal(f.Errors, &s) == nil && s != "":
			e.Message = strings.TrimSpace(e.Message + " " + s)
		}
		return e
	}
	e.Message = snippet(body)
	return e
}

// snippet shortens a body for an error message.
func snippet(b []byte) string {
	const max = 200
	s := strings.TrimSpace(string(b))
	if len(s) > max {
		s = s[:max] + "..."
	}
	return s
}

// get fetches u and returns the body of a 2xx answer. A 429 becomes a
// *source.RateLimitError; other answers an *APIError (a 401 wraps
// source.ErrUnauthorized); a token refresh refused by the token endpoint
// wraps source.ErrUnauthorized.
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
			return nil, fmt.Errorf("token refresh refused: %w: %w", source.ErrUnauthorized, err)
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
		return nil, &source.RateLimitError{Provider: Name, RetryAfter: retryAfter(resp.Header, p.cfg.Now())}
	default:
		return nil, parseFault(resp.StatusCode, body)
	}
}

// refreshRefused reports whether a failed token refresh means the grant
// is gone: invalid_grant from ExchangeCode/RefreshToken, or, from a plain
// golang.org/x/oauth2 client (no error code, Strava's own fault body), a
// 400/401 naming the refresh token. Bad client credentials are not the
// user's doing and are not reported as a refused token.
func refreshRefused(re *oauth2.RetrieveError) bool {
	if re.ErrorCode != "" {
		return re.ErrorCode == "invalid_grant"
	}
	if re.Response == nil || (re.Response.StatusCode != http.StatusBadRequest && re.Response.StatusCode != http.StatusUnauthorized) {
		return false
	}
	return oauthErrorCode(parseFault(re.Response.StatusCode, re.Body)) == "invalid_grant"
}

// isNotFound reports whether err is Strava's 404.
func isNotFound(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.StatusCode == http.StatusNotFound
}

// The rate-limit headers: each holds two comma-separated numbers, the
// 15-minute value and the daily value. X-RateLimit-* is the overall limit,
// X-ReadRateLimit-* the "non-upload" (read) one.
const (
	headerLimit     = "X-RateLimit-Limit"
	headerUsage     = "X-RateLimit-Usage"
	headerReadLimit = "X-ReadRateLimit-Limit"
	headerReadUsage = "X-ReadRateLimit-Usage"
)

// retryAfter is how long to wait after a 429. Strava sends no Retry-After
// (one is honoured if present); its limits reset at the quarter hours
// (hh:00, :15, :30, :45) and the daily ones at midnight UTC. So the wait
// runs to the next quarter hour, or to the next UTC midnight when a daily
// usage has reached its limit. Times are measured from the response's
// Date header when it has one (so a skewed local clock does not matter),
// else from now.
func retryAfter(h http.Header, now time.Time) time.Duration {
	if d, ok := parseRetryAfter(h.Get("Retry-After"), now); ok {
		return d
	}
	ref := now
	if t, err := http.ParseTime(h.Get("Date")); err == nil {
		ref = t
	}
	ref = ref.UTC()
	var reset time.Time
	if dailyExhausted(h.Get(headerLimit), h.Get(headerUsage)) || dailyExhausted(h.Get(headerReadLimit), h.Get(headerReadUsage)) {
		y, m, d := ref.Date()
		reset = time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC)
	} else {
		reset = ref.Truncate(15 * time.Minute).Add(15 * time.Minute)
	}
	return max(reset.Sub(ref), time.Second)
}

// dailyExhausted reports whether a limit/usage header pair says the daily
// limit is used up.
func dailyExhausted(limit, usage string) bool {
	_, dayLimit, ok1 := parsePair(limit)
	_, dayUsage, ok2 := parsePair(usage)
	return ok1 && ok2 && dayLimit > 0 && dayUsage >= dayLimit
}

// parsePair reads "a,b".
func parsePair(s string) (a, b int, ok bool) {
	as, bs, found := strings.Cut(s, ",")
	if !found {
		return 0, 0, false
	}
	a, err1 := strconv.Atoi(strings.TrimSpace(as))
	b, err2 := strconv.Atoi(strings.TrimSpace(bs))
	return a, b, err1 == nil && err2 == nil
}

// parseRetryAfter reads a Retry-After value: delay-seconds or an HTTP
// date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return max(time.Duration(n)*time.Second, time.Second), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now).Round(time.Second), time.Second), true
	}
	return 0, false
}
