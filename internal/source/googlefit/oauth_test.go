package googlefit_test

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
	gfsandbox "github.com/wearbridge/wearbridge/internal/sandbox/googlefit"
	"github.com/wearbridge/wearbridge/internal/source/googlefit"
)

func TestDefaults(t *testing.T) {
	p := googlefit.New(googlefit.Config{ClientID: "id", ClientSecret: "secret"})
	eq(t, "Name", p.Name(), "GOOGLE")
	eq(t, "UsePKCE", p.UsePKCE(), true)
	cfg := p.OAuthConfig()
	eq(t, "AuthURL", cfg.Endpoint.AuthURL, "https://accounts.google.com/o/oauth2/v2/auth?access_type=offline&prompt=consent")
	eq(t, "TokenURL", cfg.Endpoint.TokenURL, "https://oauth2.googleapis.com/token")
	eq(t, "AuthStyle", cfg.Endpoint.AuthStyle, oauth2.AuthStyleInParams)
	eq(t, "scopes", strings.Join(cfg.Scopes, " "), "openid"+
		" https://www.googleapis.com/auth/fitness.activity.read"+
		" https://www.googleapis.com/auth/fitness.body.read"+
		" https://www.googleapis.com/auth/fitness.heart_rate.read"+
		" https://www.googleapis.com/auth/fitness.sleep.read"+
		" https://www.googleapis.com/auth/fitness.location.read")
	eq(t, "BackfillDepth", p.BackfillDepth(), 28*24*time.Hour)
	eq(t, "PullTypes", len(p.PullTypes()), 4)
	for _, typ := range []model.DataType{model.TypeActivity, model.TypeSleep, model.TypeDaily, model.TypeBody} {
		found := false
		for _, pt := range p.PullTypes() {
			found = found || pt == typ
		}
		if !found {
			t.Errorf("%s not pulled", typ)
		}
	}
	// An AuthURL that already says what it wants keeps it.
	q := googlefit.New(googlefit.Config{AuthURL: "https://example.test/auth?prompt=select_account"}).OAuthConfig()
	eq(t, "own prompt", q.Endpoint.AuthURL, "https://example.test/auth?access_type=offline&prompt=select_account")
}

// TestOAuthFlow runs authorize (PKCE) -> code -> token -> Identify ->
// refresh against the fake, through golang.org/x/oauth2 as the core does.
func TestOAuthFlow(t *testing.T) {
	srv := gfsandbox.New(gfsandbox.Config{ClientID: gfsandbox.SandboxClientID, ClientSecret: gfsandbox.SandboxClientSecret})
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	p := googlefit.New(gfsandbox.ProviderConfig(ts.URL))
	cfg := p.OAuthConfig()
	cfg.RedirectURL = "http://127.0.0.1:1/callback"
	ctx := context.Background()
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	authorize := func(verifier string) string {
		t.Helper()
		u := cfg.AuthCodeURL("state-123", oauth2.S256ChallengeOption(verifier))
		parsed, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		q := parsed.Query()
		eq(t, "access_type", q.Get("access_type"), "offline")
		eq(t, "prompt", q.Get("prompt"), "consent")
		eq(t, "code_challenge_method", q.Get("code_challenge_method"), "S256")
		resp, err := noFollow.Get(u)
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
		return loc.Query().Get("code")
	}

	verifier := oauth2.GenerateVerifier()
	code := authorize(verifier)
	if _, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(oauth2.GenerateVerifier())); !isOAuthError(err, "invalid_grant") {
		t.Errorf("wrong verifier: err = %v, want invalid_grant", err)
	}
	code = authorize(verifier)
	if _, err := cfg.Exchange(ctx, code); !isOAuthError(err, "invalid_grant") {
		t.Errorf("no verifier: err = %v, want invalid_grant", err)
	}
	code = authorize(verifier)
	tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken == "" || tok.RefreshToken == "" || tok.Expiry.IsZero() {
		t.Fatalf("token = %+v", tok)
	}
	if _, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier)); !isOAuthError(err, "invalid_grant") {
		t.Errorf("second use of the code: err = %v, want invalid_grant", err)
	}

	id, err := p.Identify(ctx, cfg.Client(ctx, tok), tok)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "user id", id.UserID, gfsandbox.DefaultUserID)
	if !strings.HasPrefix(id.Scopes, "openid,https://www.googleapis.com/auth/fitness.activity.read,") {
		t.Errorf("scopes = %q", id.Scopes)
	}

	// Refresh: Google does not rotate. The answer has no refresh token,
	// golang.org/x/oauth2 keeps the one it had, and it keeps working.
	old := *tok
	old.Expiry = time.Now().Add(-time.Minute)
	fresh, err := cfg.TokenSource(ctx, &old).Token()
	if err != nil {
		t.Fatal(err)
	}
	if fresh.AccessToken == tok.AccessToken {
		t.Error("refresh gave the same access token")
	}
	eq(t, "refresh token after refresh", fresh.RefreshToken, tok.RefreshToken)
	again := old
	if _, err := cfg.TokenSource(ctx, &again).Token(); err != nil {
		t.Errorf("second refresh with the same refresh token: %v", err)
	}

	bad := cfg
	bad.ClientSecret = "guess"
	if _, err := bad.TokenSource(ctx, &old).Token(); !isOAuthError(err, "invalid_client") {
		t.Errorf("wrong client secret: err = %v, want invalid_client", err)
	}
}

func isOAuthError(err error, code string) bool {
	var re *oauth2.RetrieveError
	return errors.As(err, &re) && re.ErrorCode == code
}
