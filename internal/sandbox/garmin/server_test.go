package garmin

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

const redirectURI = "https://app.example/callback"

func newSandbox(t *testing.T, cfg Config) (*httptest.Server, oauth2.Config, context.Context) {
	t.Helper()
	srv := httptest.NewServer(New(cfg))
	t.Cleanup(srv.Close)
	conf := oauth2.Config{
		ClientID:     "client-1",
		ClientSecret: "secret-1",
		RedirectURL:  redirectURI,
		Endpoint: oauth2.Endpoint{
			AuthURL:   srv.URL + DefaultAuthorizePath,
			TokenURL:  srv.URL + DefaultTokenPath,
			AuthStyle: oauth2.AuthStyleInParams,
		},
	}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, srv.Client())
	return srv, conf, ctx
}

// consent follows the consent page and returns the redirect it answers.
func consent(t *testing.T, srv *httptest.Server, authURL string) *http.Response {
	t.Helper()
	hc := srv.Client()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := hc.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// codeFor runs the consent page with verifier's challenge and returns the code.
func codeFor(t *testing.T, srv *httptest.Server, conf oauth2.Config, verifier string) string {
	t.Helper()
	resp := consent(t, srv, conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)))
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("consent status = %d", resp.StatusCode)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(loc.String(), redirectURI+"?") || loc.Query().Get("state") != "st" || loc.Query().Get("code") == "" {
		t.Fatalf("redirect = %s", loc)
	}
	return loc.Query().Get("code")
}

func userID(t *testing.T, srv *httptest.Server, accessToken string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+DefaultUserIDPath, nil)
	if accessToken != "" {
		req.Header.Set("Authorization", "Bearer "+accessToken)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v struct {
		UserID string `json:"userId"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&v)
	return resp.StatusCode, v.UserID
}

func wantOAuthError(t *testing.T, err error, status int, code string) {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.Response.StatusCode != status || re.ErrorCode != code {
		t.Fatalf("err = %v, want %d %s", err, status, code)
	}
}

func TestPKCEFlowWithRefreshRotation(t *testing.T) {
	srv, conf, ctx := newSandbox(t, Config{ClientID: "client-1", ClientSecret: "secret-1"})
	verifier := oauth2.GenerateVerifier()
	code := codeFor(t, srv, conf, verifier)
	tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken == "" || tok.Extra("scope") != Scope {
		t.Errorf("token = %+v", tok)
	}
	if status, id := userID(t, srv, tok.AccessToken); status != http.StatusOK || id != RecordedUserID {
		t.Errorf("user id = %d %q", status, id)
	}

	t.Run("code is single use", func(t *testing.T) {
		_, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
		wantOAuthError(t, err, http.StatusBadRequest, "invalid_grant")
	})

	t.Run("refresh rotates", func(t *testing.T) {
		old := &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: time.Now().Add(-time.Hour)}
		fresh, err := conf.TokenSource(ctx, old).Token()
		if err != nil {
			t.Fatal(err)
		}
		if fresh.RefreshToken == tok.RefreshToken || fresh.AccessToken == tok.AccessToken {
			t.Errorf("refresh did not rotate: %+v", fresh)
		}
		if status, _ := userID(t, srv, fresh.AccessToken); status != http.StatusOK {
			t.Errorf("new access token rejected: %d", status)
		}
		_, err = conf.TokenSource(ctx, old).Token()
		wantOAuthError(t, err, http.StatusBadRequest, "invalid_grant")
	})
}

func TestTokenRejections(t *testing.T) {
	srv, conf, ctx := newSandbox(t, Config{ClientID: "client-1", ClientSecret: "secret-1"})
	verifier := oauth2.GenerateVerifier()

	t.Run("wrong verifier", func(t *testing.T) {
		code := codeFor(t, srv, conf, verifier)
		_, err := conf.Exchange(ctx, code, oauth2.VerifierOption(oauth2.GenerateVerifier()))
		wantOAuthError(t, err, http.StatusBadRequest, "invalid_grant")
	})
	t.Run("no verifier", func(t *testing.T) {
		code := codeFor(t, srv, conf, verifier)
		_, err := conf.Exchange(ctx, code)
		wantOAuthError(t, err, http.StatusBadRequest, "invalid_grant")
	})
	t.Run("wrong secret", func(t *testing.T) {
		code := codeFor(t, srv, conf, verifier)
		bad := conf
		bad.ClientSecret = "guess"
		_, err := bad.Exchange(ctx, code, oauth2.VerifierOption(verifier))
		wantOAuthError(t, err, http.StatusUnauthorized, "invalid_client")
	})
	t.Run("other redirect uri", func(t *testing.T) {
		code := codeFor(t, srv, conf, verifier)
		other := conf
		other.RedirectURL = "https://evil.example/cb"
		_, err := other.Exchange(ctx, code, oauth2.VerifierOption(verifier))
		wantOAuthError(t, err, http.StatusBadRequest, "invalid_grant")
	})
	t.Run("expired code", func(t *testing.T) {
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		srv, conf, ctx := newSandbox(t, Config{Now: func() time.Time { return now }})
		code := codeFor(t, srv, conf, verifier)
		now = now.Add(codeTTL + time.Second)
		_, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
		wantOAuthError(t, err, http.StatusBadRequest, "invalid_grant")
	})
}

func TestAuthorizeRejections(t *testing.T) {
	srv, conf, _ := newSandbox(t, Config{ClientID: "client-1"})
	challenge := oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())
	base := url.Values{
		"response_type":         {"code"},
		"client_id":             {"client-1"},
		"redirect_uri":          {redirectURI},
		"state":                 {"st"},
		"code_challenge":        {challenge},
		"code_challenge_method": {"S256"},
	}
	tests := []struct {
		name  string
		key   string
		value string // "" deletes the parameter
	}{
		{"no challenge", "code_challenge", ""},
		{"plain method", "code_challenge_method", "plain"},
		{"token response type", "response_type", "token"},
		{"other client", "client_id", "client-2"},
		{"relative redirect", "redirect_uri", "/callback"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := url.Values{}
			for k, v := range base {
				q[k] = v
			}
			if tt.value == "" {
				q.Del(tt.key)
			} else {
				q.Set(tt.key, tt.value)
			}
			resp := consent(t, srv, conf.Endpoint.AuthURL+"?"+q.Encode())
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("status = %d, want 400", resp.StatusCode)
			}
		})
	}
}

func TestUserIDNeedsALiveToken(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	srv, conf, ctx := newSandbox(t, Config{UserID: "u-42", AccessTTL: time.Minute, Now: func() time.Time { return now }})
	verifier := oauth2.GenerateVerifier()
	tok, err := conf.Exchange(ctx, codeFor(t, srv, conf, verifier), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if status, id := userID(t, srv, tok.AccessToken); status != http.StatusOK || id != "u-42" {
		t.Errorf("user id = %d %q", status, id)
	}
	for _, tc := range []struct{ name, token string }{{"no token", ""}, {"unknown token", "nope"}} {
		if status, _ := userID(t, srv, tc.token); status != http.StatusUnauthorized {
			t.Errorf("%s: status = %d, want 401", tc.name, status)
		}
	}
	now = now.Add(2 * time.Minute)
	if status, _ := userID(t, srv, tok.AccessToken); status != http.StatusUnauthorized {
		t.Errorf("expired token: status = %d, want 401", status)
	}
}

func TestCustomPaths(t *testing.T) {
	srv := httptest.NewServer(New(Config{AuthorizePath: "/auth", TokenPath: "/token", UserIDPath: "/me"}))
	defer srv.Close()
	conf := oauth2.Config{
		ClientID:    "any",
		RedirectURL: redirectURI,
		Endpoint:    oauth2.Endpoint{AuthURL: srv.URL + "/auth", TokenURL: srv.URL + "/token", AuthStyle: oauth2.AuthStyleInParams},
	}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, srv.Client())
	verifier := oauth2.GenerateVerifier()
	tok, err := conf.Exchange(ctx, codeFor(t, srv, conf, verifier), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := conf.Client(ctx, tok).Get(srv.URL + "/me")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("status = %d", resp.StatusCode)
	}
}
