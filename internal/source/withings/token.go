package withings

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// tokenBody is the "body" of a requesttoken answer (API reference, OAuth
// 2.0 - Request Access and Refresh Tokens). userid is documented as an
// integer but some answers carry it as a string; expires_in likewise.
type tokenBody struct {
	UserID       json.RawMessage `json:"userid"`
	AccessToken  string          `json:"access_token"`
	RefreshToken string          `json:"refresh_token"`
	ExpiresIn    json.RawMessage `json:"expires_in"`
	Scope        string          `json:"scope"`
	TokenType    string          `json:"token_type"`
}

// ExchangeCode trades an authorization code for tokens at the requesttoken
// endpoint (action=requesttoken, grant_type=authorization_code, client id
// and secret in the form). The token's extras hold "userid" (the Withings
// user id, read by Identify) and "scope". verifier is unused: Withings has
// no PKCE.
func (p *Provider) ExchangeCode(ctx context.Context, hc *http.Client, cfg oauth2.Config, code, verifier string) (*oauth2.Token, error) {
	form := url.Values{
		"action":        {"requesttoken"},
		"grant_type":    {"authorization_code"},
		"client_id":     {cfg.ClientID},
		"client_secret": {cfg.ClientSecret},
		"code":          {code},
		"redirect_uri":  {cfg.RedirectURL},
	}
	return p.requestToken(ctx, hc, cfg.Endpoint.TokenURL, form)
}

// RefreshToken gets a new token pair with tok's refresh token. Withings
// rotates refresh tokens: the returned token has a new one, which must be
// stored before the new access token is used.
func (p *Provider) RefreshToken(ctx context.Context, hc *http.Client, cfg oauth2.Config, tok *oauth2.Token) (*oauth2.Token, error) {
	if tok == nil || tok.RefreshToken == "" {
		return nil, &oauth2.RetrieveError{ErrorCode: "invalid_grant", ErrorDescription: "no refresh token"}
	}
	form := url.Values{
		"action":        {"requesttoken"},
		"grant_type":    {"refresh_token"},
		"client_id":     {cfg.ClientID},
		"client_secret": {cfg.ClientSecret},
		"refresh_token": {tok.RefreshToken},
	}
	return p.requestToken(ctx, hc, cfg.Endpoint.TokenURL, form)
}

// requestToken posts form to the token endpoint and reads the wrapped
// answer. A refused grant (Withings' "authentication failed" and "invalid
// params" statuses, e.g. 503 for a used code) is an *oauth2.RetrieveError
// with ErrorCode "invalid_grant", which the core treats as "connect
// again"; status 601 is a *RateLimitError; other statuses are plain
// errors, worth a retry.
func (p *Provider) requestToken(ctx context.Context, hc *http.Client, tokenURL string, form url.Values) (*oauth2.Token, error) {
	if hc == nil {
		hc = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("withings requesttoken: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("withings requesttoken: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("withings requesttoken: read body: %w", err)
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		return nil, p.rateLimit(resp.Header)
	case resp.StatusCode == http.StatusUnauthorized:
		return nil, &oauth2.RetrieveError{Response: resp, Body: raw, ErrorCode: "invalid_client", ErrorDescription: "http 401"}
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("withings requesttoken: http %d: %s", resp.StatusCode, snippet(raw))
	}
	var env envelope
	if err := json.Unmarshal(raw, &env); err != nil || env.Status == nil {
		return nil, fmt.Errorf("withings requesttoken: answer is not a Withings envelope: %s", snippet(raw))
	}
	if st := *env.Status; st != 0 {
		switch {
		case st == statusTooManyRequests:
			return nil, p.rateLimit(resp.Header)
		case grantRefused(st):
			return nil, &oauth2.RetrieveError{
				Response:         resp,
				Body:             raw,
				ErrorCode:        "invalid_grant",
				ErrorDescription: fmt.Sprintf("withings status %d: %s", st, env.Error),
			}
		default:
			return nil, &APIError{Action: "requesttoken", Status: st, Message: env.Error}
		}
	}
	var b tokenBody
	if err := json.Unmarshal(env.Body, &b); err != nil {
		return nil, fmt.Errorf("withings requesttoken: decode body: %w", err)
	}
	if b.AccessToken == "" {
		return nil, fmt.Errorf("withings requesttoken: no access_token in %s", snippet(raw))
	}
	uid := rawString(b.UserID)
	if uid == "" {
		return nil, fmt.Errorf("withings requesttoken: no userid in the answer")
	}
	tok := &oauth2.Token{
		AccessToken:  b.AccessToken,
		TokenType:    "Bearer", // Withings' token_type; the header must say Bearer.
		RefreshToken: b.RefreshToken,
	}
	if secs, err := strconv.ParseInt(rawString(b.ExpiresIn), 10, 64); err == nil && secs > 0 {
		tok.ExpiresIn = secs
		tok.Expiry = p.cfg.Now().Add(time.Duration(secs) * time.Second)
	}
	return tok.WithExtra(map[string]any{"userid": uid, "scope": normScopes(b.Scope)}), nil
}

// grantRefused reports whether a requesttoken status means the code,
// refresh token or client was refused: the "authentication failed"
// (100-102, 200, 401) and "invalid params" (201-299, 501-511) families of
// the API reference's status table. 503 is what Withings answers for a
// used or unknown code or refresh token.
func grantRefused(st int) bool {
	return (st >= 100 && st <= 102) || (st >= 200 && st <= 299) || st == 401 || (st >= 501 && st <= 511)
}

// rawString reads a JSON string or number as text.
func rawString(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return strings.TrimSpace(s)
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}
