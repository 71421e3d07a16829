package connect_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/wearbridge/wearbridge/internal/connect"
	"github.com/wearbridge/wearbridge/internal/model"
	"github.com/wearbridge/wearbridge/internal/pipeline"
	sandboxoura "github.com/wearbridge/wearbridge/internal/sandbox/oura"
	"github.com/wearbridge/wearbridge/internal/source"
	"github.com/wearbridge/wearbridge/internal/source/oura"
	"github.com/wearbridge/wearbridge/internal/store"
	"github.com/wearbridge/wearbridge/internal/store/storetest"
)

const (
	clientID     = "connect-test-client"
	clientSecret = "connect-test-secret"
	// ouraSleeps is the number of sleep periods in
	// internal/sandbox/fixtures/oura/sleep_2024-10-09_11-03.json.
	ouraSleeps = 48
)

// clock is the sandbox's clock, moved by the test.
type clock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// fixture is a sandbox Oura behind an httptest server that counts its
// token endpoint's grants, the Oura provider pointed at it, a store and a
// Connector.
type fixture struct {
	ctx      context.Context
	st       *store.Store
	srv      *httptest.Server
	prov     *oura.Provider
	conn     *connect.Connector
	dev      store.NewDeveloper
	refresh  atomic.Int64 // refresh_token grants answered 200
	exchange atomic.Int64 // authorization_code grants
}

func setup(t *testing.T, dialect string, sb sandboxoura.Config) *fixture {
	t.Helper()
	f := &fixture{ctx: context.Background(), st: storetest.Open(t, dialect)}
	sb.ClientID, sb.ClientSecret = clientID, clientSecret
	sandbox := sandboxoura.New(sb)
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/oauth/token" {
			_ = r.ParseForm() // the sandbox reads PostForm again
			rec := &statusRecorder{ResponseWriter: w}
			sandbox.ServeHTTP(rec, r)
			if rec.status == http.StatusOK {
				switch r.PostForm.Get("grant_type") {
				case "refresh_token":
					f.refresh.Add(1)
				case "authorization_code":
					f.exchange.Add(1)
				}
			}
			return
		}
		sandbox.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	f.prov = oura.New(oura.Config{ClientID: clientID, ClientSecret: clientSecret,
		AuthURL: f.srv.URL + "/oauth/authorize", TokenURL: f.srv.URL + "/oauth/token", APIBase: f.srv.URL})
	reg, err := source.NewRegistry(f.prov)
	if err != nil {
		t.Fatal(err)
	}
	f.conn = connect.New(f.st, reg, connect.Config{PublicURL: "http://wearbridge.test", HTTPClient: &http.Client{Timeout: 10 * time.Second},
		Logger: slog.New(slog.DiscardHandler)})
	if f.dev, err = f.st.CreateDeveloper(f.ctx); err != nil {
		t.Fatal(err)
	}
	return f
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// connectUser runs the OAuth flow: Start, the browser's visit to auth_url
// (the sandbox consents at once and redirects), and the callback.
func (f *fixture) connectUser(t *testing.T) store.User {
	t.Helper()
	_, authURL, err := f.conn.Start(f.ctx, f.dev.ID, "OURA", connect.StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	browser := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := browser.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc.String(), f.conn.CallbackURL("OURA")) {
		t.Fatalf("authorize answered %s, Location %q; want a redirect to the callback", resp.Status, resp.Header.Get("Location"))
	}
	res, err := f.conn.Callback(f.ctx, "OURA", loc.Query())
	if err != nil {
		t.Fatalf("callback: %v", err)
	}
	return res.User
}

// storedToken reads a user's token back from the store.
func (f *fixture) storedToken(t *testing.T, userID string) *oauth2.Token {
	t.Helper()
	var tok *oauth2.Token
	err := f.st.InTx(f.ctx, func(tx *store.Tx) (err error) {
		tok, err = tx.Token(f.ctx, userID, false)
		return err
	})
	if err != nil || tok == nil {
		t.Fatalf("read token: %v (%v)", err, tok)
	}
	return tok
}

// expireStored makes the stored token look expired to wearbridge, as it
// does once its expiry has passed.
func (f *fixture) expireStored(t *testing.T, userID string) {
	t.Helper()
	err := f.st.InTx(f.ctx, func(tx *store.Tx) error {
		tok, err := tx.Token(f.ctx, userID, true)
		if err != nil {
			return err
		}
		tok.Expiry = time.Now().Add(-time.Minute)
		return tx.SaveToken(f.ctx, userID, tok)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// pullSleep pulls the sleep collection over the recorded months through
// the Connector's client and stores it.
func (f *fixture) pullSleep(t *testing.T, u store.User) pipeline.Counts {
	t.Helper()
	hc, err := f.conn.Client(f.ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	var c pipeline.Counts
	in := pipeline.NewIngest(f.st, slog.New(slog.DiscardHandler), nil)
	start, end := time.Date(2024, 9, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, 12, 1, 0, 0, 0, 0, time.UTC)
	if err := f.prov.Pull(f.ctx, hc, model.TypeSleep, start, end, in.Sink(u, &c)); err != nil {
		t.Fatalf("pull: %v", err)
	}
	return c
}

// refreshGrant asks the sandbox's token endpoint for a refresh with rt, as
// a stale replica holding an old refresh token would.
func (f *fixture) refreshGrant(t *testing.T, rt string) int {
	t.Helper()
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(clientID, clientSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK && !strings.Contains(string(body), "invalid_grant") {
		t.Errorf("refresh with a used token: %s %s, want invalid_grant", resp.Status, body)
	}
	return resp.StatusCode
}

// apiGet calls personal_info through hc.
func (f *fixture) apiGet(hc *http.Client) (int, error) {
	resp, err := hc.Get(f.srv.URL + "/v2/usercollection/personal_info")
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// TestRefreshRotation: once the access token has expired (at the sandbox
// and for wearbridge), a pull refreshes it exactly once, stores the rotated
// refresh token before using it, and the old refresh token is dead.
func TestRefreshRotation(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(storetest.Name(d), func(t *testing.T) {
			var clk clock
			f := setup(t, d, sandboxoura.Config{TokenLifetime: time.Minute, Now: clk.Now})
			u := f.connectUser(t)
			if f.exchange.Load() != 1 || f.refresh.Load() != 0 {
				t.Fatalf("connecting made %d exchanges and %d refreshes, want 1 and 0", f.exchange.Load(), f.refresh.Load())
			}
			old := f.storedToken(t, u.ID)

			// Let the token expire on both sides.
			clk.advance(2 * time.Minute)
			f.expireStored(t, u.ID)
			stale := &http.Client{Transport: &oauth2.Transport{Source: oauth2.StaticTokenSource(old)}}
			if status, err := f.apiGet(stale); err != nil || status != http.StatusUnauthorized {
				t.Fatalf("the sandbox still accepts the expired access token: %d, %v", status, err)
			}

			c := f.pullSleep(t, u)
			if c.Stored != ouraSleeps {
				t.Errorf("pull stored %d sleeps, want %d", c.Stored, ouraSleeps)
			}
			if n := f.refresh.Load(); n != 1 {
				t.Errorf("refreshes during the pull = %d, want 1", n)
			}
			now := f.storedToken(t, u.ID)
			if now.RefreshToken == "" || now.RefreshToken == old.RefreshToken || now.AccessToken == old.AccessToken {
				t.Errorf("stored token was not rotated")
			}
			if !now.Valid() {
				t.Errorf("stored token is not valid after the refresh (expiry %s)", now.Expiry)
			}
			if status := f.refreshGrant(t, old.RefreshToken); status == http.StatusOK {
				t.Errorf("the sandbox accepted the old refresh token after rotation")
			}
		})
	}
}

// TestConcurrentRefreshIsSingleFlight: ten clients of the same user, used
// at once after the token expired, cause exactly one refresh; every call
// succeeds.
func TestConcurrentRefreshIsSingleFlight(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(storetest.Name(d), func(t *testing.T) {
			var clk clock
			f := setup(t, d, sandboxoura.Config{TokenLifetime: time.Minute, Now: clk.Now})
			u := f.connectUser(t)
			old := f.storedToken(t, u.ID)
			clk.advance(2 * time.Minute)
			f.expireStored(t, u.ID)

			const callers = 10
			var wg sync.WaitGroup
			statuses := make([]int, callers)
			errs := make([]error, callers)
			startGate := make(chan struct{})
			for i := range callers {
				wg.Go(func() {
					hc, err := f.conn.Client(f.ctx, u)
					if err != nil {
						errs[i] = err
						return
					}
					<-startGate
					statuses[i], errs[i] = f.apiGet(hc)
				})
			}
			close(startGate)
			wg.Wait()
			for i := range callers {
				if errs[i] != nil || statuses[i] != http.StatusOK {
					t.Errorf("caller %d: status %d, err %v", i, statuses[i], errs[i])
				}
			}
			if n := f.refresh.Load(); n != 1 {
				t.Errorf("refreshes = %d, want exactly 1 for %d concurrent callers", n, callers)
			}
			if now := f.storedToken(t, u.ID); now.RefreshToken == old.RefreshToken {
				t.Errorf("stored refresh token was not rotated")
			}
			if status := f.refreshGrant(t, old.RefreshToken); status == http.StatusOK {
				t.Errorf("the sandbox accepted the old refresh token after rotation")
			}
		})
	}
}

// TestTinyTokenLifetime: a provider whose access tokens live only a second
// (less than golang.org/x/oauth2's 10 s expiry margin, so wearbridge sees
// every token as expired at once). Connecting must keep a refresh token
// that works: the pull afterwards refreshes, rotating on every request,
// and each rotated token is stored.
func TestTinyTokenLifetime(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(storetest.Name(d), func(t *testing.T) {
			f := setup(t, d, sandboxoura.Config{TokenLifetime: time.Second})
			u := f.connectUser(t)
			first := f.storedToken(t, u.ID)
			if n := f.refresh.Load(); n != 0 {
				t.Errorf("connecting refreshed the token %d times, leaving the stored refresh token used up", n)
			}
			c := f.pullSleep(t, u)
			if c.Stored != ouraSleeps {
				t.Errorf("pull stored %d sleeps, want %d", c.Stored, ouraSleeps)
			}
			if f.refresh.Load() == 0 {
				t.Errorf("the pull never refreshed an expired token")
			}
			last := f.storedToken(t, u.ID)
			if last.RefreshToken == first.RefreshToken {
				t.Errorf("stored refresh token was not rotated")
			}
			// The stored refresh token is the live one: it can be used once.
			if status := f.refreshGrant(t, last.RefreshToken); status != http.StatusOK {
				t.Errorf("the stored refresh token is not the live one: %d", status)
			}
			if status := f.refreshGrant(t, first.RefreshToken); status == http.StatusOK {
				t.Errorf("the sandbox accepted the first refresh token after rotation")
			}
		})
	}
}
