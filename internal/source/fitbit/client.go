package fitbit

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

	"github.com/wearbridge/wearbridge/internal/source"
)

// ErrUnauthorized marks a request Fitbit refused because the access token
// is missing, invalid or expired (HTTP 401, errorType expired_token or
// invalid_token), or a refresh Fitbit refused. It is the core's
// source.ErrUnauthorized.
var ErrUnauthorized = source.ErrUnauthorized

// RateLimitError is returned when Fitbit answers 429 Too Many Requests.
type RateLimitError = source.RateLimitError

// Fitbit's rate limit headers (dev.fitbit.com, "Rate Limits"): the hourly
// quota, the requests left in the window, and the seconds until the window
// resets.
const (
	HeaderRateLimitLimit     = "Fitbit-Rate-Limit-Limit"
	HeaderRateLimitRemaining = "Fitbit-Rate-Limit-Remaining"
	HeaderRateLimitReset     = "Fitbit-Rate-Limit-Reset"
)

// APIError is a non-2xx answer from Fitbit other than 429.
type APIError struct {
	// StatusCode is the HTTP status.
	StatusCode int
	// ErrorTypes are the errorType fields of Fitbit's error body
	// ({"errors":[{"errorType":"expired_token","message":...}]}), e.g.
	// "expired_token", "invalid_token", "insufficient_scope", "validation".
	ErrorTypes []string
	// Detail is Fitbit's message, flattened to one line. It is left empty
	// for 401 answers, whose messages quote the refused token.
	Detail string
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "fitbit: http %d", e.StatusCode)
	if len(e.ErrorTypes) > 0 {
		b.WriteString(": " + strings.Join(e.ErrorTypes, ", "))
	}
	if e.Detail != "" {
		b.WriteString(": " + e.Detail)
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

// HasType reports whether Fitbit gave errorType t.
func (e *APIError) HasType(t string) bool {
	for _, v := range e.ErrorTypes {
		if v == t {
			return true
		}
	}
	return false
}

// fitbitErrors is Fitbit's error body.
type fitbitErrors struct {
	Errors []struct {
		ErrorType string `json:"errorType"`
		FieldName string `json:"fieldName"`
		Message   string `json:"message"`
	} `json:"errors"`
}

// parseErrors reads Fitbit's error body; ok is false for another shape.
func parseErrors(body []byte) (types []string, msg string, ok bool) {
	var e fitbitErrors
	if json.Unmarshal(body, &e) != nil || len(e.Errors) == 0 {
		return nil, "", false
	}
	var msgs []string
	for _, v := range e.Errors {
		if v.ErrorType != "" {
			types = append(types, v.ErrorType)
		}
		if m := strings.Join(strings.Fields(v.Message), " "); m != "" {
			msgs = append(msgs, m)
		}
	}
	return types, strings.Join(msgs, "; "), true
}

// get fetches path (relative to APIBase) and returns the body of a 2xx
// answer. Other answers become *RateLimitError (429) or *APIError; a
// refused token refresh wraps ErrUnauthorized.
func (p *Provider) get(ctx context.Context, hc *http.Client, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.cfg.APIBase+path, nil)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	// No Accept-Language: Fitbit then answers in metric units.
	req.Header.Set("Accept", "application/json")
	p.log.DebugContext(ctx, "fitbit get", "path", path)
	body, status, err := p.do(hc, req)
	if err != nil {
		return nil, err
	}
	if status >= 200 && status < 300 {
		return body, nil
	}
	return nil, statusError(status, body)
}

// do sends req and reads the answer; a 429 is returned as a
// *RateLimitError.
func (p *Provider) do(hc *http.Client, req *http.Request) ([]byte, int, error) {
	resp, err := hc.Do(req)
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && refreshRefused(re) {
			return nil, 0, fmt.Errorf("token refresh refused: %w: %w", ErrUnauthorized, err)
		}
		return nil, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, 0, fmt.Errorf("read body: %w", err)
	}
	if len(body) > maxBody {
		return nil, 0, fmt.Errorf("response body larger than %d bytes", maxBody)
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		return nil, resp.StatusCode, &RateLimitError{Provider: Name, RetryAfter: retryAfter(resp.Header, p.cfg.Now())}
	}
	return body, resp.StatusCode, nil
}

// statusError turns a non-2xx answer into an *APIError.
func statusError(status int, body []byte) error {
	e := &APIError{StatusCode: status}
	types, msg, ok := parseErrors(body)
	if ok {
		e.ErrorTypes = types
		e.Detail = msg
	} else {
		e.Detail = snippet(body)
	}
	if status == http.StatusUnauthorized {
		e.Detail = "" // Fitbit quotes the token in the message
	}
	return e
}

// retryAfter reads how long to wait after a 429: Fitbit-Rate-Limit-Reset
// (seconds until the hourly window resets), else Retry-After, else the
// time to the next full hour, when Fitbit's window resets.
func retryAfter(h http.Header, now time.Time) time.Duration {
	for _, name := range []string{HeaderRateLimitReset, "Retry-After"} {
		v := strings.TrimSpace(h.Get(name))
		if v == "" {
			continue
		}
		if n, err := strconv.ParseFloat(v, 64); err == nil && n >= 0 && n < 1e7 {
			return time.Duration(n * float64(time.Second))
		}
		if t, err := http.ParseTime(v); err == nil {
			if d := t.Sub(now); d > 0 {
				return d.Round(time.Second)
			}
			return 0
		}
	}
	return now.Truncate(time.Hour).Add(time.Hour).Sub(now).Round(time.Second)
}

// refreshRefused reports whether a token endpoint error means the grant is
// gone (as opposed to the endpoint being down).
func refreshRefused(re *oauth2.RetrieveError) bool {
	switch re.ErrorCode {
	case "invalid_grant", "invalid_client", "unauthorized_client", "invalid_token", "expired_token":
		return true
	}
	return re.Response != nil && (re.Response.StatusCode == http.StatusBadRequest || re.Response.StatusCode == http.StatusUnauthorized)
}

// ExchangeCode exchanges an authorization code (with the PKCE verifier, if
// any) at the token endpoint. It is golang.org/x/oauth2's exchange, with
// Fitbit's error body ({"errors":[{"errorType":"invalid_grant"}]}) turned
// into a standard RetrieveError.ErrorCode, so that the core sees a refused
// grant as one.
func (p *Provider) ExchangeCode(ctx context.Context, hc *http.Client, cfg oauth2.Config, code, verifier string) (*oauth2.Token, error) {
	ctx = context.WithValue(ctx, oauth2.HTTPClient, hc)
	var opts []oauth2.AuthCodeOption
	if verifier != "" {
		opts = append(opts, oauth2.VerifierOption(verifier))
	}
	tok, err := cfg.Exchange(ctx, code, opts...)
	if err != nil {
		return nil, normalizeTokenError(err)
	}
	return tok, nil
}

// RefreshToken trades tok's refresh token for a new token pair. Fitbit
// rotates refresh tokens: the one sent is invalid afterwards, so the caller
// must store the answer before using it. Errors are normalised as in
// ExchangeCode.
func (p *Provider) RefreshToken(ctx context.Context, hc *http.Client, cfg oauth2.Config, tok *oauth2.Token) (*oauth2.Token, error) {
	if tok == nil || tok.RefreshToken == "" {
		return nil, errors.New("fitbit refresh: no refresh token")
	}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, hc)
	// An empty access token makes the token source refresh.
	old := &oauth2.Token{RefreshToken: tok.RefreshToken, TokenType: tok.TokenType}
	next, err := cfg.TokenSource(ctx, old).Token()
	if err != nil {
		return nil, normalizeTokenError(err)
	}
	return next, nil
}

// normalizeTokenError fills RetrieveError.ErrorCode from Fitbit's own
// error body when the standard "error" field is missing. With ErrorCode
// set, the error's text no longer includes the body.
func normalizeTokenError(err error) error {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "" {
		return err
	}
	types, _, ok := parseErrors(re.Body)
	if !ok || len(types) == 0 {
		return err
	}
	// Only the type: Fitbit's message quotes the refused token.
	re.ErrorCode = types[0]
	return err
}

// snippet shortens a body for an error message.
func snippet(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// pathEscape escapes one path segment.
func pathEscape(s string) string { return url.PathEscape(s) }
