package withings_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/wearbridge/wearbridge/internal/model"
	sandbox "github.com/wearbridge/wearbridge/internal/sandbox/withings"
	"github.com/wearbridge/wearbridge/internal/source"
	"github.com/wearbridge/wearbridge/internal/source/withings"
)

// fake starts the fake Withings and returns it, a provider pointed at it
// and an HTTP client sending a fresh token.
func fake(t *testing.T, cfg sandbox.Config) (*sandbox.Server, *httptest.Server, *withings.Provider, *http.Client) {
	t.Helper()
	srv := sandbox.New(cfg)
	if err := srv.Err(); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	p := withings.New(sandbox.ProviderConfig(ts.URL))
	hc := oauth2.NewClient(context.Background(), oauth2.StaticTokenSource(srv.Token()))
	return srv, ts, p, hc
}

func utc(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// TestOAuthFlow runs authorize → code → requesttoken → Identify →
// refresh with rotation against the fake, through the TokenExchanger.
func TestOAuthFlow(t *testing.T) {
	srv, _, p, _ := fake(t, sandbox.Config{})
	ctx := context.Background()
	cfg := p.OAuthConfig()
	cfg.RedirectURL = "http://127.0.0.1:1/callback"

	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(cfg.AuthCodeURL("state-123"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	withings.Eq(t, "authorize status", resp.StatusCode, http.StatusFound)
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	withings.Eq(t, "state", loc.Query().Get("state"), "state-123")
	code := loc.Query().Get("code")

	tok, err := p.ExchangeCode(ctx, nil, cfg, code, "")
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken == "" || tok.RefreshToken == "" || tok.Expiry.IsZero() || tok.TokenType != "Bearer" {
		t.Fatalf("token = %+v", tok)
	}
	id, err := p.Identify(ctx, nil, tok)
	if err != nil {
		t.Fatal(err)
	}
	withings.Eq(t, "user id", id.UserID, srv.UserID())
	withings.Eq(t, "scopes", id.Scopes, "user.metrics,user.activity")

	var re *oauth2.RetrieveError
	if _, err := p.ExchangeCode(ctx, nil, cfg, code, ""); !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Errorf("second use of the code: err = %v, want invalid_grant", err)
	}

	fresh, err := p.RefreshToken(ctx, nil, cfg, tok)
	if err != nil {
		t.Fatal(err)
	}
	if fresh.AccessToken == tok.AccessToken || fresh.RefreshToken == tok.RefreshToken {
		t.Fatal("refresh did not rotate")
	}
	// Using the new access token retires the old refresh token.
	hc := oauth2.NewClient(ctx, oauth2.StaticTokenSource(fresh))
	if err := p.Pull(ctx, hc, model.TypeSleep, utc(2017, 9, 1), utc(2017, 9, 5), &withings.MemSink{}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.RefreshToken(ctx, nil, cfg, tok); !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Errorf("reuse of a rotated refresh token: err = %v, want invalid_grant", err)
	}
	if _, err := p.RefreshToken(ctx, nil, cfg, fresh); err != nil {
		t.Errorf("new refresh token refused: %v", err)
	}
	bad := cfg
	bad.ClientSecret = "guess"
	if _, err := p.RefreshToken(ctx, nil, bad, fresh); !errors.As(err, &re) {
		t.Errorf("wrong client secret: err = %v, want a RetrieveError", err)
	}
}

// TestPullSandbox pulls every type from the fake with 3 items a page:
// every recorded item comes out once.
func TestPullSandbox(t *testing.T) {
	tests := []struct {
		name       string
		typ        model.DataType
		start, end time.Time
		keys       []string // expected keys; nil: see n
		n          int
		problems   int
		requests   int
	}{
		{
			// 39 groups: 13 pages of 3. Type 18 (in 3 groups of
			// measure_getmeas_body.json) is reported once.
			name: "body, everything", typ: model.TypeBody,
			start: utc(2015, 1, 1), end: utc(2024, 2, 1), n: 39, problems: 1, requests: 13,
		},
		{
			name: "body, 2015", typ: model.TypeBody, start: utc(2015, 1, 1), end: utc(2016, 1, 1),
			keys: []string{"366956482", "347186704", "323560022", "321858727", "320419189"}, problems: 1, requests: 2,
		},
		{
			name: "body, one instant", typ: model.TypeBody,
			// date 1703523863: grpids 5109691092, 5109691089 and 5109691080.
			start: time.Unix(1703523863, 0), end: time.Unix(1703523864, 0),
			keys: []string{"5109691092", "5109691089", "5109691080"}, requests: 1,
		},
		{
			name: "sleep", typ: model.TypeSleep, start: utc(2017, 9, 1), end: utc(2017, 9, 5),
			keys: []string{"123", "124"}, requests: 1,
		},
		{
			// 11 entries (3752609174 twice): 4 pages, 10 records.
			name: "activity", typ: model.TypeActivity, start: utc(2023, 8, 1), end: utc(2023, 11, 1),
			keys: []string{"3661300277", "3661300290", "3661300269", "3743596080", "3743596073", "3743596085",
				"3743596072", "3752609171", "3752609178", "3752609174"},
			requests: 4,
		},
		{
			// 4 days: 2 getactivity pages and one intraday call a day.
			name: "daily", typ: model.TypeDaily, start: utc(2015, 2, 1), end: utc(2015, 7, 1),
			keys: []string{"2015-02-21", "2015-06-18", "2015-06-19", "2015-06-20"}, requests: 6,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _, p, hc := fake(t, sandbox.Config{PageSize: 3})
			var sink withings.MemSink
			if err := p.Pull(context.Background(), hc, tt.typ, tt.start, tt.end, &sink); err != nil {
				t.Fatal(err)
			}
			withings.Eq(t, "problems", len(sink.Probs), tt.problems)
			got := sink.ByKey()
			withings.Eq(t, "duplicates", len(got), len(sink.Recs))
			if tt.keys != nil {
				withings.Eq(t, "records", len(sink.Recs), len(tt.keys))
				for _, k := range tt.keys {
					if _, ok := got[k]; !ok {
						t.Errorf("no record %s", k)
					}
				}
			} else {
				withings.Eq(t, "records", len(sink.Recs), tt.n)
			}
			for _, r := range sink.Recs {
				withings.Eq(t, "type", r.Type, tt.typ)
				if len(r.Raw) == 0 {
					t.Errorf("record %s has no raw payload", r.Key)
				}
				withings.Validate(t, r)
			}
			withings.Eq(t, "requests", srv.APIRequests(), tt.requests)
		})
	}
}

// TestPullSandboxDailySamples: the fake's intraday entries land in the
// Daily of 2015-06-19 (Los Angeles), and nowhere else.
func TestPullSandboxDailySamples(t *testing.T) {
	_, _, p, hc := fake(t, sandbox.Config{})
	var sink withings.MemSink
	if err := p.Pull(context.Background(), hc, model.TypeDaily, utc(2015, 6, 18), utc(2015, 6, 21), &sink); err != nil {
		t.Fatal(err)
	}
	for k, r := range sink.ByKey() {
		d := r.Data.(*model.Daily)
		samples := 0
		if d.DistanceData != nil && d.DistanceData.Detailed != nil {
			samples = len(d.DistanceData.Detailed.StepSamples)
		}
		want := 0
		if k == "2015-06-19" {
			want = 4 // the four intraday entries with steps
		}
		withings.Eq(t, k+" step samples", samples, want)
	}
}

func TestPullSandboxRateLimited(t *testing.T) {
	srv, _, p, hc := fake(t, sandbox.Config{PageSize: 3})
	srv.InjectRateLimit(3) // the third getmeas page
	var sink withings.MemSink
	err := p.Pull(context.Background(), hc, model.TypeBody, utc(2015, 1, 1), utc(2024, 2, 1), &sink)
	var rl *withings.RateLimitError
	if !errors.As(err, &rl) {
		t.Fatalf("err = %v, want a RateLimitError", err)
	}
	withings.Eq(t, "RetryAfter", rl.RetryAfter, time.Minute) // Withings gives no reset; one window
	withings.Eq(t, "records before the 601", len(sink.Recs), 6)
}

func TestPullSandboxUnauthorized(t *testing.T) {
	now := time.Now()
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	_, _, p, hc := fake(t, sandbox.Config{Now: clock})
	mu.Lock()
	now = now.Add(4 * time.Hour) // past expires_in (3 h)
	mu.Unlock()
	for _, typ := range p.PullTypes() {
		err := p.Pull(context.Background(), hc, typ, utc(2015, 1, 1), utc(2024, 2, 1), &withings.MemSink{})
		if !errors.Is(err, withings.ErrUnauthorized) || !errors.Is(err, source.ErrUnauthorized) {
			t.Errorf("%s: err = %v, want ErrUnauthorized", typ, err)
		}
	}
}

// TestBackfillSandbox: a backfill over ProviderConfig's depth reads every
// recorded item.
func TestBackfillSandbox(t *testing.T) {
	_, _, p, hc := fake(t, sandbox.Config{})
	end := time.Now()
	start := end.Add(-p.BackfillDepth())
	want := map[model.DataType]int{model.TypeBody: 39, model.TypeDaily: 4, model.TypeActivity: 10, model.TypeSleep: 2}
	for _, typ := range p.PullTypes() {
		var sink withings.MemSink
		if err := p.Pull(context.Background(), hc, typ, start, end, &sink); err != nil {
			t.Fatal(err)
		}
		withings.Eq(t, string(typ), len(sink.ByKey()), want[typ])
	}
}

// TestPushSandbox: the fake's notifications, parsed by the provider, ask
// for pulls that fetch every recorded item.
func TestPushSandbox(t *testing.T) {
	srv, _, p, hc := fake(t, sandbox.Config{})
	var mu sync.Mutex
	var pulls []source.PullRequest
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Error(err)
		}
		batches, err := p.ParsePush(r.Context(), r, body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		for _, b := range batches {
			if b.ProviderUserID != srv.UserID() || len(b.Problems) != 0 {
				t.Errorf("batch %+v", b)
			}
			pulls = append(pulls, b.Pulls...)
		}
	}))
	t.Cleanup(recv.Close)
	n, err := sandbox.PushAll(context.Background(), recv.Client(), recv.URL+"/push/withings", srv.UserID())
	if err != nil {
		t.Fatal(err)
	}
	withings.Eq(t, "notifications", n, 41)
	got := map[model.DataType]map[string]bool{}
	for _, pr := range pulls {
		var sink withings.MemSink
		if err := p.Pull(context.Background(), hc, pr.Type, pr.Start, pr.End, &sink); err != nil {
			t.Fatal(err)
		}
		if got[pr.Type] == nil {
			got[pr.Type] = map[string]bool{}
		}
		for _, r := range sink.Recs {
			got[pr.Type][r.Key] = true
		}
	}
	withings.Eq(t, "body", len(got[model.TypeBody]), 39)
	withings.Eq(t, "daily", len(got[model.TypeDaily]), 4)
	withings.Eq(t, "activity", len(got[model.TypeActivity]), 10)
	withings.Eq(t, "sleep", len(got[model.TypeSleep]), 2)
}

// TestSubscribeSandbox: Subscribe passes the fake's HEAD check when the
// callback answers with VerifySubscription, and fails without the token.
func TestSubscribeSandbox(t *testing.T) {
	srv, ts, _, hc := fake(t, sandbox.Config{})
	cfg := sandbox.ProviderConfig(ts.URL)
	cfg.NotifyToken = "s3cret"
	p := withings.New(cfg)
	cb := httptest.NewServer(http.HandlerFunc(p.VerifySubscription))
	t.Cleanup(cb.Close)
	if err := p.Subscribe(context.Background(), hc, cb.URL+"/push/withings?token=s3cret"); err != nil {
		t.Fatal(err)
	}
	withings.Eq(t, "subscriptions", len(srv.Subscriptions()), len(withings.DefaultSubscriptions))
	err := p.Subscribe(context.Background(), hc, cb.URL+"/push/withings", withings.AppliSleep)
	var apiErr *withings.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 293 {
		t.Errorf("err = %v, want status 293", err)
	}
}
