package whoop_test

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

	whoopsandbox "github.com/wearbridge/wearbridge/internal/sandbox/whoop"
	"github.com/wearbridge/wearbridge/internal/source/whoop"
)

func eq[T comparable](t testing.TB, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func TestDefaults(t *testing.T) {
	p := whoop.New(whoop.Config{ClientID: "id", ClientSecret: "secret"})
	eq(t, "Name", p.Name(), "WHOOP")
	eq(t, "UsePKCE", p.UsePKCE(), false)
	cfg := p.OAuthConfig()
	eq(t, "AuthURL", cfg.Endpoint.AuthURL, "https://api.prod.whoop.com/oauth/oauth2/auth")
	eq(t, "TokenURL", cfg.Endpoint.TokenURL, "https://api.prod.whoop.com/oauth/oauth2/token")
	eq(t, "AuthStyle", cfg.Endpoint.AuthStyle, oauth2.AuthStyleInParams)
	eq(t, "scopes", strings.Join(cfg.Scopes, " "), "offline read:recovery read:cycles read:sleep read:workout read:profile read:body_measurement")
	eq(t, "ClientID", cfg.ClientID, "id")
	eq(t, "BackfillDepth", p.BackfillDepth(), 28*24*time.Hour)
	n, per := p.RequestBudget()
	eq(t, "budget", n, 100)
	eq(t, "budget period", per, time.Minute)
	eq(t, "PullTypes", len(p.PullTypes()), 4)
}

func isOAuthError(err error, code string) bool {
	var re *oauth2.RetrieveError
	return errors.As(err, &re) && re.ErrorCode == code
}

// authorize runs the consent step against the fake and returns the
// redirect's query.
func authorize(t *testing.T, authURL string) url.Values {
	t.Helper()
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(authURL)
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
	return loc.Query()
}

// TestOAuthFlow runs authorize -> code -> token -> Identify -> refresh
// with rotation against the fake, through golang.org/x/oauth2 with the
// provider's settings.
func TestOAuthFlow(t *testing.T) {
	srv := whoopsandbox.New(whoopsandbox.Config{UserID: 4242})
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	p := whoop.New(whoopsandbox.ProviderConfig(ts.URL))
	cfg := p.OAuthConfig()
	cfg.RedirectURL = "http://127.0.0.1:1/callback"
	ctx := context.Background()

	q := authorize(t, cfg.AuthCodeURL("state-123456"))
	eq(t, "state", q.Get("state"), "state-123456")
	code := q.Get("code")
	if code == "" {
		t.Fatalf("no code: %v", q)
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
	eq(t, "user id", id.UserID, "4242")
	eq(t, "scopes", id.Scopes, "offline,read:recovery,read:cycles,read:sleep,read:workout,read:profile,read:body_measurement")

	// Refresh: force it by expiring the token locally. WHOOP rotates.
	old := *tok
	old.Expiry = time.Now().Add(-time.Minute)
	fresh, err := cfg.TokenSource(ctx, &old).Token()
	if err != nil {
		t.Fatal(err)
	}
	if fresh.AccessToken == tok.AccessToken || fresh.RefreshToken == "" || fresh.RefreshToken == tok.RefreshToken {
		t.Error("refresh did not rotate the tokens")
	}
	if _, err := cfg.TokenSource(ctx, &old).Token(); !isOAuthError(err, "invalid_grant") {
		t.Errorf("reuse of a rotated refresh token: err = %v, want invalid_grant", err)
	}
	fresh.Expiry = time.Now().Add(-time.Minute)
	if _, err := cfg.TokenSource(ctx, fresh).Token(); err != nil {
		t.Errorf("new refresh token refused: %v", err)
	}

	// A wrong secret is refused; so are credentials in a basic auth
	// header (WHOOP's client authenticates in the form body).
	bad := cfg
	bad.ClientSecret = "guess"
	if _, err := bad.Exchange(ctx, "x"); !isOAuthError(err, "invalid_client") {
		t.Errorf("wrong client secret: err = %v, want invalid_client", err)
	}
	header := cfg
	header.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
	if _, err := header.Exchange(ctx, "x"); !isOAuthError(err, "invalid_client") {
		t.Errorf("basic auth: err = %v, want invalid_client", err)
	}
}

// TestOAuthFlowQuirks: a short state is refused as WHOOP does, and
// without the offline scope no refresh token is issued.
func TestOAuthFlowQuirks(t *testing.T) {
	srv := whoopsandbox.New(whoopsandbox.Config{})
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	cfg := whoop.New(whoopsandbox.ProviderConfig(ts.URL)).OAuthConfig()
	cfg.RedirectURL = "http://127.0.0.1:1/callback"

	q := authorize(t, cfg.AuthCodeURL("short"))
	eq(t, "error", q.Get("error"), "invalid_state")

	cfg.Scopes = []string{"read:sleep"}
	q = authorize(t, cfg.AuthCodeURL("long-enough-state"))
	tok, err := cfg.Exchange(context.Background(), q.Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "refresh token without offline", tok.RefreshToken, "")

	// PKCE is optional but checked when used.
	cfg.Scopes = nil
	verifier := oauth2.GenerateVerifier()
	q = authorize(t, cfg.AuthCodeURL("long-enough-state", oauth2.S256ChallengeOption(verifier)))
	if _, err := cfg.Exchange(context.Background(), q.Get("code"), oauth2.VerifierOption("wrong-verifier-wrong-verifier-wrong-verifier")); !isOAuthError(err, "invalid_grant") {
		t.Errorf("wrong verifier: err = %v", err)
	}
	q = authorize(t, cfg.AuthCodeURL("long-enough-state", oauth2.S256ChallengeOption(verifier)))
	if _, err := cfg.Exchange(context.Background(), q.Get("code"), oauth2.VerifierOption(verifier)); err != nil {
		t.Errorf("right verifier: %v", err)
	}
}

// sandbox starts the fake and returns it, a provider pointed at it and an
// HTTP client sending a fresh token.
func sandbox(t *testing.T, cfg whoopsandbox.Config) (*whoopsandbox.Server, *httptest.Server, *whoop.Provider, *http.Client) {
	t.Helper()
	srv := whoopsandbox.New(cfg)
	if err := srv.Err(); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	p := whoop.New(whoopsandbox.ProviderConfig(ts.URL))
	hc := oauth2.NewClient(context.Background(), oauth2.StaticTokenSource(srv.Token(0)))
	return srv, ts, p, hc
}

// whole is a window covering all the recorded data, as the sandbox's
// backfill does.
func whole(p *whoop.Provider) (time.Time, time.Time) {
	now := time.Now()
	return now.Add(-p.BackfillDepth()), now
}
