package googlefit

import (
	"bytes"
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

// ErrUnauthorized marks a request Google refused because the access token
// is missing, expired or revoked (HTTP 401), or a refresh Google refused.
// It is the core's source.ErrUnauthorized.
var ErrUnauthorized = source.ErrUnauthorized

// RateLimitError is returned when Google says a quota is exhausted.
type RateLimitError = source.RateLimitError

// APIError is a non-2xx answer from Google other than a rate limit.
type APIError struct {
	// StatusCode is the HTTP status.
	StatusCode int
	// Reason is the first errors[].reason of Google's error body
	// ("invalidArgument", "forbidden", "authError", ...), if any.
	Reason string
	// Message is Google's error.message, or the body cut short when it is
	// not Google's error shape.
	Message string
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "google: http %d", e.StatusCode)
	if e.Reason != "" {
		b.WriteString(" " + e.Reason)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	return b.String()
}

// Unwrap makes a 401 match ErrUnauthorized.
func (e *APIError) Unwrap() error {
	if e.StatusCode == http.StatusUnauthorized {
		return ErrUnauthorized
	}
	return nil
}

// dataSourceMissing reports whether Google said the data source does not
// exist, which it does for a stream the user never wrote (400
// "datasource not found: <id>"; 404 "DataSourceId not found" on some
// paths).
func (e *APIError) dataSourceMissing() bool {
	if e.StatusCode != http.StatusBadRequest && e.StatusCode != http.StatusNotFound {
		return false
	}
	m := strings.ToLower(e.Message)
	return strings.Contains(m, "datasource not found") || strings.Contains(m, "datasourceid not found")
}

// forbidden reports a 403 that is not a rate limit: a data source the token
// may not read.
func (e *APIError) forbidden() bool { return e.StatusCode == http.StatusForbidden }

// rateLimitReasons are the errors[].reason values of Google's 403 answers
// that mean a quota, not a permission.
var rateLimitReasons = map[string]bool{
	"rateLimitExceeded":     true,
	"userRateLimitExceeded": true,
	"quotaExceeded":         true,
	"dailyLimitExceeded":    true,
}

// googleError is Google's JSON error body:
// {"error": {"code": 400, "message": "...", "status": "INVALID_ARGUMENT",
// "errors": [{"domain": "global", "reason": "invalidArgument", "message": "..."}]}}.
type googleError struct {
	Error struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Status  string `json:"status"`
		Errors  []struct {
			Reason  string `json:"reason"`
			Message string `json:"message"`
		} `json:"errors"`
	} `json:"error"`
}

// do sends a request (with a JSON body when body is not nil) and returns the
// body of a 2xx answer. Other answers become *RateLimitError or *APIError;
// a refused token refresh wraps ErrUnauthorized.
func (p *Provider) do(ctx context.Context, hc *http.Client, method, u string, body []byte) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && refreshRefused(re) {
			return nil, fmt.Errorf("token refresh refused: %w: %w", ErrUnauthorized, err)
		}
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	if len(b) > maxBody {
		return nil, fmt.Errorf("response body larger than %d bytes", maxBody)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return b, nil
	}
	apiErr := parseError(resp.StatusCode, b)
	if resp.StatusCode == http.StatusTooManyRequests || (resp.StatusCode == http.StatusForbidden && rateLimitReasons[apiErr.Reason]) {
		return nil, &RateLimitError{Provider: ProviderName, RetryAfter: retryAfter(resp.Header.Get("Retry-After"), time.Now())}
	}
	return nil, apiErr
}

// parseError reads Google's error body; a body of another shape is kept,
// trimmed and cut short, as the message.
func parseError(status int, body []byte) *APIError {
	e := &APIError{StatusCode: status}
	var g googleError
	if json.Unmarshal(body, &g) == nil && (g.Error.Message != "" || len(g.Error.Errors) > 0) {
		e.Message = g.Error.Message
		if len(g.Error.Errors) > 0 {
			e.Reason = g.Error.Errors[0].Reason
			if e.Message == "" {
				e.Message = g.Error.Errors[0].Message
			}
		}
		return e
	}
	s := strings.TrimSpace(string(body))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	e.Message = s
	return e
}

// refreshRefused reports whether a token endpoint error means the grant is
// gone (as opposed to the endpoint being down).
func refreshRefused(re *oauth2.RetrieveError) bool {
	if re.ErrorCode == "invalid_grant" || re.ErrorCode == "invalid_client" || re.ErrorCode == "unauthorized_client" {
		return true
	}
	return re.Response != nil && (re.Response.StatusCode == http.StatusBadRequest || re.Response.StatusCode == http.StatusUnauthorized)
}

// retryAfter reads a Retry-After value (delay-seconds or an HTTP date).
// Google seldom sends one; without it the wait is DefaultRetryAfter, the
// period of the Fitness API's per-minute quotas.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d.Round(time.Second)
		}
		return 0
	}
	return DefaultRetryAfter
}
