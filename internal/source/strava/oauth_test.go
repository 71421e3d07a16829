package strava_test

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

	"github.com/wearbridge/wearbridge/internal/model"
	stravasandbox "github.com/wearbridge/wearbridge/internal/sandbox/strava"
	"github.com/wearbridge/wearbridge/internal/source"
	"github.com/wearbridge/wearbridge/internal/source/strava"
)

func TestDefaults(t *testing.T) {
	p := strava.New(strava.Config{ClientID: "id", ClientSecret: "secret"})
	strava.Eq(t, "Name", p.Name(), "STRAVA")
	strava.Eq(t, "UsePKCE", p.UsePKCE(), false)
	cfg := p.OAuthConfig()
	strava.Eq(t, "AuthURL", cfg.Endpoint.AuthURL, "https://www.strava.com/oauth/authorize?approval_prompt=auto")
	strava.Eq(t, "TokenURL", cfg.Endpoint.TokenURL, "https://www.strava.com/oauth/token")
	strava.Eq(t, "AuthStyle", cfg.Endpoint.AuthStyle, oauth2.AuthStyleInParams)
	strava.Eq(t, "scopes", strings.Join(cfg.Scopes, " "), "read,activity:read_all,profile:read_all")
	strava.Eq(t, "BackfillDepth", p.BackfillDepth(), 28*24*time.Hour)
	strava.Eq(t, "PullTypes", len(p.PullTypes()), 1)
	strava.Eq(t, "PullTypes[0]", p.PullTypes()[0], model.TypeActivity)
	n, per := p.RequestBudget()
	strava.Eq(t, "budget", n, 100)
	strava.Eq(t, "budget period", per, 15*time.Minute)
	n, per = strava.New(strava.Config{RequestBudget: -1}).RequestBudget()
	strava.Eq(t, "budget off", n+int(per), 0)
	u, err := url.Parse(cfg.AuthCodeURL("st"))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	strava.Eq(t, "approval_prompt", q.Get("approval_prompt"), "auto")
	strava.Eq(t, "scope", q.Get("scope"), "read,activity:read_all,profile:read_all")
	strava.Eq(t, "response_type", q.Get("response_type"), "code")
}

// authorize runs the fake's consent and returns the callback query.
func authorize(t *testing.T, cfg oauth2.Config, extra ...oauth2.AuthCodeOption) url.Values {
	t.Helper()
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(cfg.AuthCodeURL("state-123", extra...))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	strava.Eq(t, "authorize status", resp.StatusCode, http.StatusFound)
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	strava.Eq(t, "redirect path", loc.Path, "/callback")
	strava.Eq(t, "state", loc.Query().Get("state"), "state-123")
	if loc.Query().Get("code") == "" {
		t.Fatal("no code")
	}
	return loc.Query()
}

func retrieveCode(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return re.ErrorCode
	}
	return "not a RetrieveError: " + errorString(err)
}

func errorString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// TestOAuthFlow runs authorize -> code -> token (through the provider's
// TokenExchanger) -> Identify -> refresh with rotation against the fake.
func TestOAuthFlow(t *testing.T) {
	srv := stravasandbox.New(stravasandbox.Config{})
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	p := strava.New(stravasandbox.ProviderConfig(ts.URL))
	cfg := p.OAuthConfig()
	cfg.RedirectURL = "http://127.0.0.1:1/callback"
	ctx := context.Background()

	back := authorize(t, cfg)
	strava.Eq(t, "accepted scope", back.Get("scope"), "read,activity:read_all,profile:read_all")
	code := back.Get("code")
	tok, err := p.ExchangeCode(ctx, nil, cfg, code, "")
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken == "" || tok.RefreshToken == "" {
		t.Fatalf("token = %+v", tok)
	}
	if d := time.Until(tok.Expiry); d < 5*time.Hour || d > 7*time.Hour {
		t.Errorf("expiry in %s, want about 6 h", d)
	}
	if _, err := p.ExchangeCode(ctx, nil, cfg, code, ""); retrieveCode(err) != "invalid_grant" {
		t.Errorf("second use of the code: err = %v, want invalid_grant", err)
	}

	// The athlete comes from the token response: no API request.
	id, err := p.Identify(ctx, cfg.Client(ctx, tok), tok)
	if err != nil {
		t.Fatal(err)
	}
	strava.Eq(t, "athlete from the token", id.UserID, "26462176")
	strava.Eq(t, "API requests for Identify", srv.APIRequests(), 0)
	// A token without the athlete: GET /athlete.
	bare := &oauth2.Token{AccessToken: tok.AccessToken, TokenType: "Bearer", Expiry: tok.Expiry}
	id, err = p.Identify(ctx, cfg.Client(ctx, bare), bare)
	if err != nil {
		t.Fatal(err)
	}
	strava.Eq(t, "athlete from /athlete", id.UserID, "26462176")

	// Rotation: r1 -> r2. r1 stays usable until r2 is used.
	r1 := tok
	t2, err := p.RefreshToken(ctx, nil, cfg, r1)
	if err != nil {
		t.Fatal(err)
	}
	if t2.RefreshToken == r1.RefreshToken || t2.AccessToken == r1.AccessToken {
		t.Fatal("refresh did not rotate the tokens")
	}
	t3, err := p.RefreshToken(ctx, nil, cfg, r1)
	if err != nil {
		t.Fatalf("r1 before r2 was used: %v", err)
	}
	if _, err := p.RefreshToken(ctx, nil, cfg, t2); err != nil {
		t.Fatalf("r2: %v", err)
	}
	if _, err := p.RefreshToken(ctx, nil, cfg, r1); retrieveCode(err) != "invalid_grant" {
		t.Errorf("r1 after r2 was used: err = %v, want invalid_grant", err)
	}
	// r3 was issued after r2: still good.
	if _, err := p.RefreshToken(ctx, nil, cfg, t3); err != nil {
		t.Errorf("r3: %v", err)
	}

	// Wrong client secret.
	bad := cfg
	bad.ClientSecret = "guess"
	if _, err := p.RefreshToken(ctx, nil, bad, t3); retrieveCode(err) != "invalid_client" {
		t.Errorf("wrong secret: err = %v, want invalid_client", err)
	}
	if _, err := p.RefreshToken(ctx, nil, cfg, &oauth2.Token{}); err == nil {
		t.Error("refresh without a refresh token: no error")
	}
}

// TestOAuthWithLibrary: golang.org/x/oauth2 on its own (as the core uses
// it for AuthCodeURL) can also run the exchange and keeps the athlete;
// another athlete can be picked with the fake's "user" parameter.
func TestOAuthWithLibrary(t *testing.T) {
	srv := stravasandbox.New(stravasandbox.Config{})
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	p := strava.New(stravasandbox.ProviderConfig(ts.URL))
	cfg := p.OAuthConfig()
	cfg.RedirectURL = "http://127.0.0.1:1/callback"
	ctx := context.Background()
	back := authorize(t, cfg, oauth2.SetAuthURLParam("user", "1513"))
	tok, err := cfg.Exchange(ctx, back.Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	id, err := p.Identify(ctx, cfg.Client(ctx, tok), tok)
	if err != nil {
		t.Fatal(err)
	}
	strava.Eq(t, "athlete", id.UserID, "1513")
}

// TestRefusedRefreshThroughTheClient: Strava's 400 fault for a used
// refresh token, met by an oauth2 client refreshing on its own, is
// ErrUnauthorized for a pull.
func TestRefusedRefreshThroughTheClient(t *testing.T) {
	srv := stravasandbox.New(stravasandbox.Config{})
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	p := strava.New(stravasandbox.ProviderConfig(ts.URL))
	cfg := p.OAuthConfig()
	hc := cfg.Client(context.Background(), &oauth2.Token{AccessToken: "old", RefreshToken: "never-issued", Expiry: time.Now().Add(-time.Hour)})
	err := p.Pull(context.Background(), hc, model.TypeActivity, utc(2025, 9, 1, 0, 0, 0), utc(2025, 10, 1, 0, 0, 0), &strava.MemSink{})
	if !errors.Is(err, source.ErrUnauthorized) {
		t.Fatalf("err = %v, want ErrUnauthorized", err)
	}
}

// TestDeauthorize: after the athlete's grant is revoked at the fake, its
// tokens are refused.
func TestDeauthorize(t *testing.T) {
	_, p, hc := sandbox(t, stravasandbox.Config{}, func(c *strava.Config) { c.SummaryOnly = true })
	tok, err := hc.Transport.(*oauth2.Transport).Source.Token()
	if err != nil {
		t.Fatal(err)
	}
	base := strings.TrimSuffix(p.OAuthConfig().Endpoint.TokenURL, "/oauth/token")
	resp, err := http.PostForm(base+"/oauth/deauthorize", url.Values{"access_token": {tok.AccessToken}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	strava.Eq(t, "deauthorize", resp.StatusCode, http.StatusOK)
	err = p.Pull(context.Background(), hc, model.TypeActivity, utc(2025, 9, 1, 0, 0, 0), utc(2025, 10, 1, 0, 0, 0), &strava.MemSink{})
	if !errors.Is(err, source.ErrUnauthorized) {
		t.Fatalf("err = %v, want ErrUnauthorized", err)
	}
}
