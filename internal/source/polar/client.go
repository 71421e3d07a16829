package polar

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// APIError is a non-2xx answer from Polar other than 429.
type APIError struct {
	// StatusCode is the HTTP status.
	StatusCode int
	// Message is Polar's own explanation (the "message" of its error
	// body), or the start of a body of another shape.
	Message string
}

func (e *APIError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("polar: http %d", e.StatusCode)
	}
	return fmt.Sprintf("polar: http %d: %s", e.StatusCode, e.Message)
}

// Unwrap makes a 401 match ErrUnauthorized.
func (e *APIError) Unwrap() error {
	if e.StatusCode == http.StatusUnauthorized {
		return ErrUnauthorized
	}
	return nil
}

// response is a Polar answer the caller handles.
type response struct {
	status int
	body   []byte
}

// do sends one request through hc (which adds the user's token) and
// returns a 2xx answer, or an answer whose status is in also. Other
// answers become *RateLimitError (429) or *APIError (a 401 wraps
// ErrUnauthorized).
func (p *Provider) do(ctx context.Context, hc *http.Client, method, u string, body io.Reader, also ...int) (response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return response{}, fmt.Errorf("build request: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return p.send(hc, req, also...)
}

// send sends req; see do.
func (p *Provider) send(hc *http.Client, req *http.Request, also ...int) (response, error) {
	req.Header.Set("Accept", "application/json")
	p.log.DebugContext(req.Context(), "polar request", "method", req.Method, "path", req.URL.Path)
	resp, err := hc.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return response{}, fmt.Errorf("read body: %w", err)
	}
	if len(b) > maxBody {
		return response{}, fmt.Errorf("response body larger than %d bytes", maxBody)
	}
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300, slices.Contains(also, resp.StatusCode):
		return response{status: resp.StatusCode, body: b}, nil
	case resp.StatusCode == http.StatusTooManyRequests:
		return response{}, &RateLimitError{Provider: Name, RetryAfter: retryAfter(resp.Header)}
	default:
		return response{}, &APIError{StatusCode: resp.StatusCode, Message: errorMessage(b)}
	}
}

// get fetches u; see do.
func (p *Provider) get(ctx context.Context, hc *http.Client, u string, also ...int) (response, error) {
	return p.do(ctx, hc, http.MethodGet, u, nil, also...)
}

// shortWindow is the length of Polar's short-term rate-limit window, used
// when a 429 does not say when to come back.
const shortWindow = 15 * time.Minute

// retryAfter reads when to retry after a 429 from Polar's rate-limit
// headers. RateLimit-Usage, RateLimit-Limit and RateLimit-Reset each hold
// two comma-separated values, the short-term (15 min) one first and the
// long-term (24 h) one second; a reset is in seconds. The wait is the
// reset of every window whose usage has reached its limit (the longest of
// them). When the headers do not tell which window is spent, the
// short-term reset is used, then a Retry-After, then the whole short
// window.
func retryAfter(h http.Header) time.Duration {
	usage := headerInts(h.Get("RateLimit-Usage"))
	limit := headerInts(h.Get("RateLimit-Limit"))
	reset := headerInts(h.Get("RateLimit-Reset"))
	var wait time.Duration
	for i := range min(len(usage), len(limit), len(reset)) {
		if usage[i] >= limit[i] && reset[i] >= 0 {
			wait = max(wait, time.Duration(reset[i])*time.Second)
		}
	}
	if wait > 0 {
		return wait
	}
	if len(reset) > 0 && reset[0] > 0 {
		return time.Duration(reset[0]) * time.Second
	}
	if n, err := strconv.Atoi(strings.TrimSpace(h.Get("Retry-After"))); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	return shortWindow
}

// headerInts reads "a, b" into integers; a value that is not an integer
// ends the list.
func headerInts(v string) []int64 {
	if strings.TrimSpace(v) == "" {
		return nil
	}
	var out []int64
	for _, part := range strings.Split(v, ",") {
		n, err := strconv.ParseInt(strings.TrimSpace(part), 10, 64)
		if err != nil {
			break
		}
		out = append(out, n)
	}
	return out
}

// errorMessage flattens Polar's error body ({"timestamp", "status",
// "errorType", "message", "corrId"}) to one line; a body of another shape
// is returned trimmed and cut short.
func errorMessage(body []byte) string {
	var e struct {
		ErrorType string `json:"errorType"`
		Message   string `json:"message"`
		CorrID    string `json:"corrId"`
	}
	if err := json.Unmarshal(body, &e); err == nil && (e.Message != "" || e.ErrorType != "") {
		msg := e.Message
		if e.ErrorType != "" {
			msg = strings.TrimSpace(e.ErrorType + ": " + msg)
		}
		if e.CorrID != "" {
			msg += " (corrId " + e.CorrID + ")"
		}
		return msg
	}
	s := strings.TrimSpace(string(body))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}
