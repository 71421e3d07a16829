package garmin

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"golang.org/x/oauth2"

	sandbox "github.com/wearbridge/wearbridge/internal/sandbox/garmin"
)

func TestNewDefaultsToGarmin(t *testing.T) {
	p := New(Config{ClientID: "id"})
	c := p.OAuthConfig()
	if c.Endpoint.AuthURL != "https://connect.garmin.com/oauth2Confirm" ||
		c.Endpoint.TokenURL != "https://diauth.garmin.com/di-oauth2-service/oauth/token" ||
		c.Endpoint.AuthStyle != oauth2.AuthStyleInParams || len(c.Scopes) != 0 {
		t.Errorf("oauth config = %+v", c)
	}
	if p.Name() != "GARMIN" || !p.UsePKCE() {
		t.Errorf("name, pkce = %s, %v", p.Name(), p.UsePKCE())
	}
}

// connect runs the authorization-code flow with PKCE against the sandbox
// and exchanges the code using exchangeVerifier.
func connect(t *testing.T, srv *httptest.Server, conf oauth2.Config, verifier, exchangeVerifier string) (*oauth2.Token, error) {
	t.Helper()
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, srv.Client())
	authURL := conf.AuthCodeURL("state-1", oauth2.S256ChallengeOption(verifier))
	hc := srv.Client()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := hc.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("consent status = %d", resp.StatusCode)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if loc.Query().Get("state") != "state-1" || loc.Host != "app.example" {
		t.Fatalf("redirect = %s", loc)
	}
	return conf.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(exchangeVerifier))
}

func TestOAuthFlowAgainstSandbox(t *testing.T) {
	srv := httptest.NewServer(sandbox.New(sandbox.Config{ClientID: "client-1", ClientSecret: "secret-1"}))
	defer srv.Close()
	p := New(Config{
		ClientID:     "client-1",
		ClientSecret: "secret-1",
		AuthURL:      srv.URL + sandbox.DefaultAuthorizePath,
		TokenURL:     srv.URL + sandbox.DefaultTokenPath,
		APIBase:      srv.URL,
	})
	conf := p.OAuthConfig()
	conf.RedirectURL = "https://app.example/callback"
	verifier := oauth2.GenerateVerifier()

	t.Run("right verifier", func(t *testing.T) {
		tok, err := connect(t, srv, conf, verifier, verifier)
		if err != nil {
			t.Fatalf("exchange: %v", err)
		}
		ctx := context.WithValue(context.Background(), oauth2.HTTPClient, srv.Client())
		id, err := p.Identify(ctx, conf.Client(ctx, tok), tok)
		if err != nil {
			t.Fatal(err)
		}
		if id.UserID != "someUser" { // the userId of the recorded pushes
			t.Errorf("user id = %q", id.UserID)
		}
		if id.Scopes != "PARTNER_WRITE,PARTNER_READ,CONNECT_READ,CONNECT_WRITE" {
			t.Errorf("scopes = %q", id.Scopes)
		}
	})

	t.Run("wrong verifier", func(t *testing.T) {
		_, err := connect(t, srv, conf, verifier, oauth2.GenerateVerifier())
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) || re.Response.StatusCode != http.StatusBadRequest || re.ErrorCode != "invalid_grant" {
			t.Fatalf("err = %v, want a 400 invalid_grant", err)
		}
	})

	t.Run("identify with a bad token", func(t *testing.T) {
		ctx := context.WithValue(context.Background(), oauth2.HTTPClient, srv.Client())
		bad := &oauth2.Token{AccessToken: "nope"}
		if _, err := p.Identify(ctx, conf.Client(ctx, bad), bad); err == nil {
			t.Fatal("identify with a bad token succeeded")
		}
	})
}
