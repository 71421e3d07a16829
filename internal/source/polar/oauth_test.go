package polar_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/wearbridge/wearbridge/internal/model"
	polarsandbox "github.com/wearbridge/wearbridge/internal/sandbox/polar"
	"github.com/wearbridge/wearbridge/internal/source"
	"github.com/wearbridge/wearbridge/internal/source/polar"
)

// authorize runs the consent step and returns the code.
func authorize(t *testing.T, cfg oauth2.Config, state string) string {
	t.Helper()
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(cfg.AuthCodeURL(state))
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
	eq(t, "state", loc.Query().Get("state"), state)
	code := loc.Query().Get("code")
	if code == "" {
		t.Fatalf("no code in %s", loc)
	}
	return code
}

// TestOAuthFlow runs authorize -> code -> token -> Identify (registration)
// against the fake, through golang.org/x/oauth2.
func TestOAuthFlow(t *testing.T) {
	srv := polarsandbox.New(polarsandbox.Config{})
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	p := polar.New(polarsandbox.ProviderConfig(ts.URL))
	cfg := p.OAuthConfig()
	cfg.RedirectURL = "http://127.0.0.1:1/callback"
	ctx := context.Background()

	code := authorize(t, cfg, "state-123")
	tok, err := cfg.Exchange(ctx, code)
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken == "" || tok.RefreshToken != "" {
		t.Fatalf("token = %+v, want an access token and no refresh token", tok)
	}
	// expires_in 31535999: about a year.
	if d := time.Until(tok.Expiry); d < 364*24*time.Hour || d > 366*24*time.Hour {
		t.Errorf("expiry in %v, want about a year", d)
	}
	hc := cfg.Client(ctx, tok)

	// Before registration the data is not served.
	if err := p.Pull(ctx, hc, model.TypeSleep, day(2020, 1, 1), day(2020, 1, 2), &sink{}); err == nil {
		t.Error("pull before registration: no error")
	}
	id, err := p.Identify(ctx, hc, tok)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "user id", id.UserID, "1") // x_user_id of the fake's default user
	// Registering again answers 409, which is fine.
	if _, err := p.Identify(ctx, hc, tok); err != nil {
		t.Errorf("second Identify: %v", err)
	}
	var s sink
	if err := p.Pull(ctx, hc, model.TypeSleep, day(2020, 1, 1), day(2020, 1, 2), &s); err != nil || len(s.recs) != 1 {
		t.Errorf("pull after registration: %d records, err %v", len(s.recs), err)
	}

	// A code used twice is refused and revokes what it gave.
	if _, err := cfg.Exchange(ctx, code); !isOAuthError(err, "invalid_grant") {
		t.Errorf("second use of the code: err = %v, want invalid_grant", err)
	}
	if err := p.Pull(ctx, hc, model.TypeSleep, day(2020, 1, 1), day(2020, 1, 2), &sink{}); !errors.Is(err, source.ErrUnauthorized) {
		t.Errorf("pull with the revoked token: err = %v, want ErrUnauthorized", err)
	}
	if _, err := p.Identify(ctx, hc, tok); !errors.Is(err, source.ErrUnauthorized) {
		t.Errorf("Identify with the revoked token: err = %v, want ErrUnauthorized", err)
	}

	// Another sandbox user.
	u := cfg.AuthCodeURL("s", oauth2.SetAuthURLParam("user", "4242"))
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	tok2, err := cfg.Exchange(ctx, loc.Query().Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	id2, err := p.Identify(ctx, cfg.Client(ctx, tok2), tok2)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "second user id", id2.UserID, "4242")
}

// TestTokenClientAuth: Polar takes the client credentials only as HTTP
// Basic.
func TestTokenClientAuth(t *testing.T) {
	srv := polarsandbox.New(polarsandbox.Config{})
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	p := polar.New(polarsandbox.ProviderConfig(ts.URL))
	ctx := context.Background()
	for name, mod := range map[string]func(*oauth2.Config){
		"wrong secret":        func(c *oauth2.Config) { c.ClientSecret = "guess" },
		"credentials in body": func(c *oauth2.Config) { c.Endpoint.AuthStyle = oauth2.AuthStyleInParams },
	} {
		t.Run(name, func(t *testing.T) {
			cfg := p.OAuthConfig()
			cfg.RedirectURL = "http://127.0.0.1:1/callback"
			code := authorize(t, cfg, "x")
			mod(&cfg)
			if _, err := cfg.Exchange(ctx, code); !isOAuthError(err, "invalid_client") {
				t.Errorf("err = %v, want invalid_client", err)
			}
		})
	}
}

func isOAuthError(err error, code string) bool {
	var re *oauth2.RetrieveError
	return errors.As(err, &re) && re.ErrorCode == code
}

func TestIdentifyErrors(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if !strings.Contains(string(b), `"member-id":"wearbridge-77"`) {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusForbidden)
	}))
	t.Cleanup(ts.Close)
	p := polar.New(polar.Config{APIBase: ts.URL})
	tok := (&oauth2.Token{AccessToken: "a"}).WithExtra(map[string]any{"x_user_id": float64(77)})
	_, err := p.Identify(context.Background(), http.DefaultClient, tok)
	if err == nil || !strings.Contains(err.Error(), "consents") {
		t.Errorf("err = %v, want the consent error", err)
	}
	if _, err := p.Identify(context.Background(), http.DefaultClient, &oauth2.Token{AccessToken: "a"}); err == nil {
		t.Error("no x_user_id: no error")
	}
}

// TestCreateWebhook creates the webhook on the fake, which PINGs our push
// receiver first.
func TestCreateWebhook(t *testing.T) {
	srv := polarsandbox.New(polarsandbox.Config{})
	api := httptest.NewServer(srv)
	t.Cleanup(api.Close)
	p := polar.New(polarsandbox.ProviderConfig(api.URL))
	pings := 0
	fail := false
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		batches, err := p.ParsePush(r.Context(), r, body)
		if err != nil || len(batches) != 0 || fail {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		pings++
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(recv.Close)

	fail = true
	if _, err := p.CreateWebhook(context.Background(), nil, recv.URL, nil); err == nil {
		t.Error("a receiver that refuses the PING: no error")
	}
	fail = false
	hook, err := p.CreateWebhook(context.Background(), nil, recv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "pings", pings, 1)
	eq(t, "secret", hook.SignatureSecretKey, polarsandbox.DefaultWebhookSecret)
	eq(t, "events", strings.Join(hook.Events, ","), "EXERCISE,SLEEP,CONTINUOUS_HEART_RATE,ACTIVITY_SUMMARY")
	if _, err := p.CreateWebhook(context.Background(), nil, recv.URL, nil); err == nil || !strings.Contains(err.Error(), "409") {
		t.Errorf("second webhook: err = %v, want 409", err)
	}
	bad := polar.New(polar.Config{APIBase: api.URL, ClientID: polarsandbox.DefaultClientID, ClientSecret: "guess"})
	if _, err := bad.CreateWebhook(context.Background(), nil, recv.URL, nil); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("wrong client secret: err = %v, want 401", err)
	}
}
