package oura

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	ourasandbox "github.com/wearbridge/wearbridge/internal/sandbox/oura"
)

func TestDefaults(t *testing.T) {
	p := New(Config{ClientID: "id", ClientSecret: "secret"})
	eq(t, "Name", p.Name(), "OURA")
	eq(t, "UsePKCE", p.UsePKCE(), false)
	cfg := p.OAuthConfig()
	eq(t, "AuthURL", cfg.Endpoint.AuthURL, "https://cloud.ouraring.com/oauth/authorize")
	eq(t, "TokenURL", cfg.Endpoint.TokenURL, "https://api.ouraring.com/oauth/token")
	eq(t, "scopes", strings.Join(cfg.Scopes, " "), "email personal daily heartrate workout tag session spo2Daily")
	eq(t, "ClientID", cfg.ClientID, "id")
	eq(t, "BackfillDepth", p.BackfillDepth(), 28*24*time.Hour)
	eq(t, "PullTypes", len(p.PullTypes()), 4)
	eq(t, "collection URL", p.collectionURL("sleep", url.Values{"start_date": {"2024-01-01"}}), "https://api.ouraring.com/v2/usercollection/sleep?start_date=2024-01-01")
}

// TestOAuthFlow runs authorize -> code -> token -> Identify -> refresh
// with rotation against the fake, through golang.org/x/oauth2.
func TestOAuthFlow(t *testing.T) {
	srv := ourasandbox.New(ourasandbox.Config{ClientID: "wearbridge", ClientSecret: "s3cret", UserID: "alice"})
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	p := New(Config{
		ClientID: "wearbridge", ClientSecret: "s3cret",
		AuthURL: ts.URL + "/oauth/authorize", TokenURL: ts.URL + "/oauth/token", APIBase: ts.URL,
	})
	cfg := p.OAuthConfig()
	cfg.RedirectURL = "http://127.0.0.1:1/callback"
	ctx := context.Background()

	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(cfg.AuthCodeURL("state-123"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	eq(t, "authorize status", resp.StatusCode, http.StatusFound)
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "redirect path", loc.Path, "/callback")
	eq(t, "state", loc.Query().Get("state"), "state-123")
	code := loc.Query().Get("code")
	if code == "" {
		t.Fatal("no code")
	}

	tok, err := cfg.Exchange(ctx, code)
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken == "" || tok.RefreshToken == "" || tok.Expiry.IsZero() {
		t.Fatalf("token = %+v", tok)
	}
	if _, err := cfg.Exchange(ctx, code); !isOAuthError(err, "invalid_grant") {
		t.Errorf("second use of the code: err = %v, want invalid_grant", err)
	}

	id, err := p.Identify(ctx, cfg.Client(ctx, tok), tok)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "user id", id.UserID, "alice")

	// Refresh: force it by expiring the token locally.
	old := *tok
	old.Expiry = time.Now().Add(-time.Minute)
	fresh, err := cfg.TokenSource(ctx, &old).Token()
	if err != nil {
		t.Fatal(err)
	}
	if fresh.AccessToken == tok.AccessToken || fresh.RefreshToken == tok.RefreshToken {
		t.Error("refresh did not rotate the tokens")
	}
	// The used refresh token is gone.
	if _, err := cfg.TokenSource(ctx, &old).Token(); !isOAuthError(err, "invalid_grant") {
		t.Errorf("reuse of a rotated refresh token: err = %v, want invalid_grant", err)
	}
	// The new one works, once.
	fresh.Expiry = time.Now().Add(-time.Minute)
	if _, err := cfg.TokenSource(ctx, fresh).Token(); err != nil {
		t.Errorf("new refresh token refused: %v", err)
	}

	// A wrong secret is refused.
	bad := cfg
	bad.ClientSecret = "guess"
	if _, err := bad.TokenSource(ctx, fresh).Token(); !isOAuthError(err, "invalid_client") {
		t.Errorf("wrong client secret: err = %v, want invalid_client", err)
	}
}

func isOAuthError(err error, code string) bool {
	var re *oauth2.RetrieveError
	return errors.As(err, &re) && re.ErrorCode == code
}
