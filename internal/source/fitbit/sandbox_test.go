package fitbit_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/wearbridge/wearbridge/internal/model"
	"github.com/wearbridge/wearbridge/internal/model/terraschema"
	fitbitsandbox "github.com/wearbridge/wearbridge/internal/sandbox/fitbit"
	"github.com/wearbridge/wearbridge/internal/source"
	"github.com/wearbridge/wearbridge/internal/source/fitbit"
)

// sandbox starts the fake Fitbit and returns it, a provider configured by
// ProviderConfig and the fake's base URL.
func sandbox(t *testing.T, cfg fitbitsandbox.Config) (*fitbitsandbox.Server, *fitbit.Provider, string) {
	t.Helper()
	srv := fitbitsandbox.New(cfg)
	if err := srv.Err(); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return srv, fitbit.New(fitbitsandbox.ProviderConfig(ts.URL)), ts.URL
}

// client sends a fresh token of the fake's user.
func client(srv *fitbitsandbox.Server) *http.Client {
	return oauth2.NewClient(context.Background(), oauth2.StaticTokenSource(srv.Token("")))
}

type memSink struct {
	mu    sync.Mutex
	recs  []model.Record
	probs []model.Problem
}

func (s *memSink) Records(_ context.Context, recs []model.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recs = append(s.recs, recs...)
	return nil
}

func (s *memSink) Problem(_ context.Context, p model.Problem) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.probs = append(s.probs, p)
	return nil
}

// keys returns the record keys by type, sorted, failing on duplicates.
func (s *memSink) keys(t *testing.T) map[model.DataType][]string {
	t.Helper()
	seen := map[string]bool{}
	out := map[model.DataType][]string{}
	for _, r := range s.recs {
		k := string(r.Type) + "/" + r.Key
		if seen[k] {
			t.Errorf("record %s delivered twice", k)
		}
		seen[k] = true
		out[r.Type] = append(out[r.Type], r.Key)
	}
	for _, v := range out {
		sort.Strings(v)
	}
	return out
}

var validator = sync.OnceValues(terraschema.New)

func validate(t *testing.T, r model.Record) {
	t.Helper()
	v, err := validator()
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(r.Data)
	if err != nil {
		t.Fatal(err)
	}
	schema := map[model.DataType]string{model.TypeSleep: "Sleep", model.TypeDaily: "Daily", model.TypeActivity: "Activity", model.TypeBody: "Body"}[r.Type]
	if err := v.Validate(schema, b); err != nil {
		t.Errorf("%s/%s: %v", r.Type, r.Key, err)
	}
}

func eq[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// The records the fixtures hold, read from the files: the logIds of
// sleep_v1.2_classic_by_date.json, activities_date_multiple.json and
// body_log_weight.json; the days with data are 2015-06-23 (the day
// summary) and 2015-08-21 (intraday heart rate and steps).
var recorded = map[model.DataType][]string{
	model.TypeSleep:    {"13211507000", "13214029456"},
	model.TypeActivity: {"253202765", "253202766", "253246706"},
	model.TypeBody:     {"1431541739000", "1431604317000", "1432318326000", "1432480525000"},
	model.TypeDaily:    {"2015-06-23", "2015-08-21"},
}

// TestPullSandbox pulls every type from the fake over its recorded
// months: every recorded item comes out once, and nothing else.
func TestPullSandbox(t *testing.T) {
	tests := []struct {
		typ        model.DataType
		start, end time.Time
		requests   int
	}{
		// 2016-12-01 .. 2016-12-31 in Los Angeles: profile + 1 chunk.
		{model.TypeSleep, day(2016, 12, 1).Add(8 * time.Hour), day(2017, 1, 1).Add(8 * time.Hour), 2},
		// 2015-05-01 .. 2016-12-31 (611 days): profile + 7 chunks.
		{model.TypeSleep, day(2015, 5, 1).Add(8 * time.Hour), day(2017, 1, 1).Add(8 * time.Hour), 8},
		// 2015-06-20 .. 2015-06-26: profile + 7 days.
		{model.TypeActivity, day(2015, 6, 20).Add(7 * time.Hour), day(2015, 6, 27).Add(7 * time.Hour), 8},
		// 2015-05-01 .. 2015-06-30 (61 days): profile + 2 × (weight, fat).
		{model.TypeBody, day(2015, 5, 1).Add(7 * time.Hour), day(2015, 7, 1).Add(7 * time.Hour), 5},
		// 2015-06-20 .. 2015-08-25 (67 days): profile + 3 per day.
		{model.TypeDaily, day(2015, 6, 20).Add(7 * time.Hour), day(2015, 8, 26).Add(7 * time.Hour), 1 + 67*3},
	}
	for _, tt := range tests {
		t.Run(string(tt.typ), func(t *testing.T) {
			srv, p, _ := sandbox(t, fitbitsandbox.Config{})
			var sink memSink
			if err := p.Pull(context.Background(), client(srv), tt.typ, tt.start, tt.end, &sink); err != nil {
				t.Fatal(err)
			}
			if len(sink.probs) != 0 {
				t.Errorf("problems: %+v", sink.probs)
			}
			eq(t, "keys", strings.Join(sink.keys(t)[tt.typ], " "), strings.Join(recorded[tt.typ], " "))
			for _, r := range sink.recs {
				eq(t, "type", r.Type, tt.typ)
				validate(t, r)
			}
			eq(t, "requests", srv.APIRequests(), tt.requests)
		})
	}
}

// TestPullSandboxZone: the fake's profile zone decides the instants; the
// days stay Fitbit's.
func TestPullSandboxZone(t *testing.T) {
	srv, p, _ := sandbox(t, fitbitsandbox.Config{Timezone: "Australia/Sydney"})
	var sink memSink
	// 2016-12-13 in Sydney (+11:00) is 2016-12-12 13:00Z .. 2016-12-13 13:00Z.
	if err := p.Pull(context.Background(), client(srv), model.TypeSleep, time.Date(2016, 12, 12, 13, 0, 0, 0, time.UTC), time.Date(2016, 12, 13, 13, 0, 0, 0, time.UTC), &sink); err != nil {
		t.Fatal(err)
	}
	eq(t, "records", len(sink.recs), 2)
	for _, r := range sink.recs {
		eq(t, "day", r.Day, "2016-12-13")
		if r.Key == "13211507000" {
			// startTime 2016-12-13T01:16:00.000 in Sydney.
			eq(t, "start", r.Data.(*model.Sleep).Metadata.StartTime, "2016-12-13T01:16:00.000000+11:00")
		}
	}
}

func TestPullSandboxRateLimited(t *testing.T) {
	now := time.Date(2026, 12, 3, 17, 40, 0, 0, time.UTC)
	srv, p, _ := sandbox(t, fitbitsandbox.Config{Now: func() time.Time { return now }})
	hc := client(srv)
	// Request 1 is the profile, 2 and 3 the first two days, 4 is refused.
	srv.InjectRateLimit(4)
	var sink memSink
	err := p.Pull(context.Background(), hc, model.TypeActivity, day(2015, 6, 22).Add(7*time.Hour), day(2015, 6, 26).Add(7*time.Hour), &sink)
	var rl *source.RateLimitError
	if !errors.As(err, &rl) {
		t.Fatalf("err = %v, want a RateLimitError", err)
	}
	// Fitbit-Rate-Limit-Reset: the seconds from 17:40 to 18:00.
	eq(t, "RetryAfter", rl.RetryAfter, 20*time.Minute)
	// 2015-06-23, the second day, has the three activities.
	eq(t, "records before the 429", len(sink.recs), 3)
}

func TestPullSandboxUnauthorized(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	srv, p, _ := sandbox(t, fitbitsandbox.Config{TokenLifetime: time.Minute, Now: clock})
	hc := client(srv)
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	err := p.Pull(context.Background(), hc, model.TypeSleep, day(2016, 12, 13), day(2016, 12, 14), &memSink{})
	if !errors.Is(err, source.ErrUnauthorized) {
		t.Fatalf("err = %v, want ErrUnauthorized", err)
	}
	var apiErr *fitbit.APIError
	if !errors.As(err, &apiErr) || !apiErr.HasType("expired_token") {
		t.Errorf("err = %v, want errorType expired_token", err)
	}
}

// TestOAuthFlow runs authorize (PKCE) → code → token → Identify (with
// subscription) → refresh with rotation against the fake, through the
// provider's TokenExchanger as the core calls it.
func TestOAuthFlow(t *testing.T) {
	srv, p, base := sandbox(t, fitbitsandbox.Config{UserID: "ALICE1"})
	ctx := context.Background()
	if !p.UsePKCE() {
		t.Fatal("Fitbit uses PKCE")
	}
	cfg := p.OAuthConfig()
	eq(t, "auth style", cfg.Endpoint.AuthStyle, oauth2.AuthStyleInHeader)
	cfg.RedirectURL = "http://127.0.0.1:1/callback"

	authorize := func(verifier string) string {
		t.Helper()
		noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := noFollow.Get(cfg.AuthCodeURL("state-123", oauth2.S256ChallengeOption(verifier)))
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

	// A wrong verifier is refused, and the code is then used up.
	code := authorize(verifier)
	if _, err := p.ExchangeCode(ctx, http.DefaultClient, cfg, code, oauth2.GenerateVerifier()); !isOAuthError(err, "invalid_grant") {
		t.Errorf("wrong verifier: err = %v, want invalid_grant", err)
	}
	if _, err := p.ExchangeCode(ctx, http.DefaultClient, cfg, code, verifier); !isOAuthError(err, "invalid_grant") {
		t.Errorf("second use of the code: err = %v, want invalid_grant", err)
	}

	code = authorize(verifier)
	tok, err := p.ExchangeCode(ctx, http.DefaultClient, cfg, code, verifier)
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken == "" || tok.RefreshToken == "" || tok.Expiry.IsZero() {
		t.Fatalf("token = %+v", tok)
	}
	if d := time.Until(tok.Expiry); d < 7*time.Hour || d > 8*time.Hour {
		t.Errorf("expiry in %v, want 8 h (expires_in 28800)", d)
	}
	id, err := p.Identify(ctx, cfg.Client(ctx, tok), tok)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "user id (token user_id)", id.UserID, "ALICE1")
	eq(t, "scopes", id.Scopes, "activity,heartrate,profile,sleep,weight")
	eq(t, "subscription", srv.Subscriptions("ALICE1")[""], "ALICE1")
	// Connecting again finds the subscription in place.
	if _, err := p.Identify(ctx, cfg.Client(ctx, tok), tok); err != nil {
		t.Fatal(err)
	}
	// Without user_id in the token, the profile says who it is.
	bare := &oauth2.Token{AccessToken: tok.AccessToken, TokenType: "Bearer"}
	id, err = p.Identify(ctx, cfg.Client(ctx, bare), bare)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "user id (profile encodedId)", id.UserID, "ALICE1")

	// Refresh rotates; the used refresh token is gone.
	fresh, err := p.RefreshToken(ctx, http.DefaultClient, cfg, tok)
	if err != nil {
		t.Fatal(err)
	}
	if fresh.AccessToken == tok.AccessToken || fresh.RefreshToken == tok.RefreshToken {
		t.Error("refresh did not rotate the tokens")
	}
	if _, err := p.RefreshToken(ctx, http.DefaultClient, cfg, tok); !isOAuthError(err, "invalid_grant") {
		t.Errorf("reuse of a rotated refresh token: err = %v, want invalid_grant", err)
	}
	if _, err := p.RefreshToken(ctx, http.DefaultClient, cfg, fresh); err != nil {
		t.Errorf("new refresh token refused: %v", err)
	}
	// A wrong secret is refused.
	bad := cfg
	bad.ClientSecret = "guess"
	if _, err := p.ExchangeCode(ctx, http.DefaultClient, bad, "x", verifier); !isOAuthError(err, "invalid_client") {
		t.Errorf("wrong client secret: err = %v, want invalid_client", err)
	}
	_ = base
}

func isOAuthError(err error, code string) bool {
	var re *oauth2.RetrieveError
	return errors.As(err, &re) && re.ErrorCode == code
}

// TestPushAllEndToEnd sends the fake's notifications for the recorded data
// to a receiver that parses them with the provider, then runs the pulls
// they ask for against the fake: every recorded item lands once.
func TestPushAllEndToEnd(t *testing.T) {
	srv, p, _ := sandbox(t, fitbitsandbox.Config{})
	var mu sync.Mutex
	var pulls []source.PullRequest
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			p.VerifySubscription(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body)
		batches, err := p.ParsePush(r.Context(), r, body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		for _, b := range batches {
			if b.ProviderUserID != fitbitsandbox.DefaultUserID || len(b.Problems) > 0 || b.Revoked {
				t.Errorf("batch %+v", b)
			}
			pulls = append(pulls, b.Pulls...)
		}
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(receiver.Close)

	// The subscriber verification of ProviderConfig's code.
	for code, want := range map[string]int{fitbitsandbox.DefaultVerificationCode: http.StatusNoContent, "wrong": http.StatusNotFound} {
		resp, err := http.Get(receiver.URL + "?verify=" + url.QueryEscape(code))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		eq(t, "verify "+code, resp.StatusCode, want)
	}

	n, err := fitbitsandbox.PushAll(context.Background(), nil, receiver.URL, fitbitsandbox.DefaultUserID)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "posts (activities, body, sleep)", n, 3)
	// activities: 2015-06-23 and 2015-08-21 → activity + daily each;
	// body: four weigh-in days; sleep: 2016-12-13.
	eq(t, "pulls", len(pulls), 4+4+1)

	var sink memSink
	hc := client(srv)
	for _, pr := range pulls {
		if err := p.Pull(context.Background(), hc, pr.Type, pr.Start, pr.End, &sink); err != nil {
			t.Fatal(err)
		}
	}
	if len(sink.probs) != 0 {
		t.Errorf("problems: %+v", sink.probs)
	}
	got := sink.keys(t)
	for typ, want := range recorded {
		eq(t, string(typ), strings.Join(got[typ], " "), strings.Join(want, " "))
	}

	// A notification signed with another secret is refused.
	other := fitbit.New(fitbit.Config{ClientSecret: rand.Text()})
	body := []byte(`[{"collectionType":"sleep","date":"2016-12-13","ownerId":"X","ownerType":"user","subscriptionId":"X"}]`)
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(string(body)))
	req.Header.Set(fitbit.SignatureHeader, fitbit.Sign(body, fitbitsandbox.DefaultClientSecret))
	if _, err := other.ParsePush(context.Background(), req, body); !errors.Is(err, source.ErrBadPush) {
		t.Errorf("err = %v, want ErrBadPush", err)
	}
}
