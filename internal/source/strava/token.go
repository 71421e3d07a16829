package strava

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// Strava's token endpoint speaks OAuth 2.0 on success but not on failure:
// a used or unknown code or refresh token is a 400 with a Strava fault,
// {"message":"Bad Request","errors":[{"resource":"RefreshToken",
// "field":"refresh_token","code":"invalid"}]}, not {"error":
// "invalid_grant"}. ExchangeCode and RefreshToken therefore translate the
// fault into the RFC 6749 error code the core understands. They also keep
// the whole token response as the token's extra fields, so that Identify
// reads the athlete of the code exchange.

// tokenResponse is Strava's token response. The code exchange adds an
// "athlete" object, kept in the token's extras.
type tokenResponse struct {
	TokenType    string `json:"token_type"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	ExpiresAt    int64  `json:"expires_at"`
	ExpiresIn    int64  `json:"expires_in"`
}

// ExchangeCode trades an authorization code for a token (grant_type
// authorization_code, client credentials in the body). verifier is unused:
// Strava has no PKCE.
func (p *Provider) ExchangeCode(ctx context.Context, hc *http.Client, cfg oauth2.Config, code, verifier string) (*oauth2.Token, error) {
	tok, err := p.tokenRequest(ctx, hc, cfg, url.Values{"grant_type": {"authorization_code"}, "code": {code}})
	if err != nil {
		return nil, fmt.Errorf("strava code exchange: %w", err)
	}
	return tok, nil
}

// RefreshToken gets a new access token with tok's refresh token. Strava
// may rotate the refresh token; the new one is returned (tok's is kept when
// the answer has none).
func (p *Provider) RefreshToken(ctx context.Context, hc *http.Client, cfg oauth2.Config, tok *oauth2.Token) (*oauth2.Token, error) {
	if tok == nil || tok.RefreshToken == "" {
		return nil, errors.New("strava refresh: no refresh token")
	}
	next, err := p.tokenRequest(ctx, hc, cfg, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}})
	if err != nil {
		return nil, fmt.Errorf("strava refresh: %w", err)
	}
	if next.RefreshToken == "" {
		next.RefreshToken = tok.RefreshToken
	}
	return next, nil
}

// tokenRequest POSTs form plus the client credentials to the token
// endpoint. A refusal is an *oauth2.RetrieveError whose ErrorCode is
// "invalid_grant" for a bad code or refresh token and "invalid_client" for
// bad client credentials.
func (p *Provider) tokenRequest(ctx context.Context, hc *http.Client, cfg oauth2.Config, form url.Values) (*oauth2.Token, error) {
	if hc == nil {
		hc = http.DefaultClient
	}
	form.Set("client_id", cfg.ClientID)
	form.Set("client_secret", cfg.ClientSecret)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cfg.Endpoint.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		fault := parseFault(resp.StatusCode, body)
		return nil, &oauth2.RetrieveError{
			Response:         resp,
			Body:             body,
			ErrorCode:        oauthErrorCode(fault),
			ErrorDescription: fault.Error(),
		}
	}
	var tr tokenResponse
	if err := json.Unmarshal(body, &tr); err != nil {
		return nil, fmt.Errorf("decode token response: %w", err)
	}
	if tr.AccessToken == "" {
		return nil, errors.New("token response has no access_token")
	}
	tok := &oauth2.Token{
		AccessToken:  tr.AccessToken,
		TokenType:    tr.TokenType,
		RefreshToken: tr.RefreshToken,
	}
	switch {
	case tr.ExpiresIn > 0:
		tok.Expiry = p.cfg.Now().Add(time.Duration(tr.ExpiresIn) * time.Second)
	case tr.ExpiresAt > 0:
		tok.Expiry = time.Unix(tr.ExpiresAt, 0)
	}
	var raw map[string]any
	if err := json.Unmarshal(body, &raw); err == nil {
		tok = tok.WithExtra(raw)
	}
	return tok, nil
}

// oauthErrorCode names a token-endpoint fault with its RFC 6749 code.
func oauthErrorCode(f *APIError) string {
	for _, e := range f.Errors {
		switch e.Resource {
		case "AuthorizationCode", "RefreshToken":
			return "invalid_grant"
		case "Application":
			if e.Field == "client_id" || e.Field == "client_secret" {
				return "invalid_client"
			}
		}
	}
	return ""
}
