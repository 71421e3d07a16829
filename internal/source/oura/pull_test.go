package oura

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/wearbridge/wearbridge/internal/model"
	ourasandbox "github.com/wearbridge/wearbridge/internal/sandbox/oura"
)

// sandbox starts the fake Oura and returns it, a provider pointed at it
// and an HTTP client sending a fresh token.
func sandbox(t *testing.T, cfg ourasandbox.Config) (*ourasandbox.Server, *Provider, *http.Client) {
	t.Helper()
	srv := ourasandbox.New(cfg)
	if err := srv.Err(); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	p := New(Config{
		ClientID: "wearbridge", ClientSecret: "secret",
		AuthURL: ts.URL + "/oauth/authorize", TokenURL: ts.URL + "/oauth/token", APIBase: ts.URL,
	})
	hc := oauth2.NewClient(context.Background(), oauth2.StaticTokenSource(srv.Token("")))
	return srv, p, hc
}

func utc(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// TestPullSandbox pulls every type from the fake with 5 documents a page:
// every recorded document comes out once, none twice.
func TestPullSandbox(t *testing.T) {
	tests := []struct {
		name       string
		typ        model.DataType
		start, end time.Time
		keys       []string // expected record keys, in any order; nil: see n
		n          int
		requests   int
	}{
		{
			// 48 periods, days 2024-10-10 to 2024-11-02: 10 pages of sleep
			// plus 1 (empty) page of daily_sleep.
			name: "sleep, whole fixture", typ: model.TypeSleep,
			start: utc(2024, 10, 9), end: utc(2024, 11, 3), n: 48, requests: 11,
		},
		{
			// Days 2024-10-10 and (one day ahead, for users east of UTC)
			// 2024-10-11: 96e7772a, c45e23d6 (2024-10-10), 83b66e04,
			// 2d465ffc (2024-10-11).
			name: "sleep, one UTC day", typ: model.TypeSleep,
			start: utc(2024, 10, 10), end: utc(2024, 10, 11),
			keys: []string{
				"96e7772a-64a7-4342-9c5f-3e5ed9e64d6d", "c45e23d6-b045-45b5-8399-e0e635bec378",
				"83b66e04-7baf-4e7b-97d3-898724031ee1", "2d465ffc-7b92-4670-bb05-37babbfe60e3",
			},
		},
		{
			name: "daily", typ: model.TypeDaily,
			start: utc(2024, 11, 11), end: utc(2024, 11, 13),
			keys: []string{"2024-11-11", "2024-11-12"}, requests: 4,
		},
		{
			// workout is empty; one breathing session on 2024-10-09.
			name: "activity", typ: model.TypeActivity,
			start: utc(2024, 10, 9), end: utc(2024, 10, 10),
			keys: []string{"0daf01ce-ce56-4b7e-b573-2954c709741d"}, requests: 2,
		},
		{
			// 1101 rows: 221 pages.
			name: "body", typ: model.TypeBody,
			start: utc(2024, 12, 13), end: utc(2024, 12, 15),
			keys: []string{"2024-12-13", "2024-12-14"}, requests: 221,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, p, hc := sandbox(t, ourasandbox.Config{PageSize: 5})
			var sink memSink
			if err := p.Pull(context.Background(), hc, tt.typ, tt.start, tt.end, &sink); err != nil {
				t.Fatal(err)
			}
			if len(sink.probs) != 0 {
				t.Errorf("problems: %+v", sink.probs)
			}
			got := sink.byKey()
			if len(got) != len(sink.recs) {
				t.Errorf("%d records but %d keys: duplicates", len(sink.recs), len(got))
			}
			if tt.keys != nil {
				eq(t, "records", len(sink.recs), len(tt.keys))
				for _, k := range tt.keys {
					if _, ok := got[k]; !ok {
						t.Errorf("no record %s", k)
					}
				}
			} else {
				eq(t, "records", len(sink.recs), tt.n)
			}
			for _, r := range sink.recs {
				eq(t, "type", r.Type, tt.typ)
				validate(t, r)
			}
			if tt.requests > 0 {
				eq(t, "requests", srv.APIRequests(), tt.requests)
			}
		})
	}
}

// TestPullSandboxSleepIDs checks the whole-fixture sleep pull returns
// exactly the fixture's ids.
func TestPullSandboxSleepIDs(t *testing.T) {
	_, p, hc := sandbox(t, ourasandbox.Config{PageSize: 5})
	var sink memSink
	if err := p.Pull(context.Background(), hc, model.TypeSleep, utc(2024, 10, 1), utc(2024, 11, 30), &sink); err != nil {
		t.Fatal(err)
	}
	got := sink.byKey()
	for _, it := range fixtureItems(t, sleepFixture) {
		var h dailyHead
		if err := json.Unmarshal(it, &h); err != nil {
			t.Fatal(err)
		}
		r, ok := got[h.ID]
		if !ok {
			t.Errorf("fixture period %s missing", h.ID)
			continue
		}
		if string(r.Raw) != string(it) {
			t.Errorf("period %s: Raw differs from the recorded item", h.ID)
		}
	}
	eq(t, "records", len(sink.recs), 48)
}

func TestPullHeartRateChunks(t *testing.T) {
	srv, p, hc := sandbox(t, ourasandbox.Config{PageSize: 2000})
	var sink memSink
	// 2024-11-01 to 2024-12-20 is 49 days: two heartrate windows.
	if err := p.Pull(context.Background(), hc, model.TypeBody, utc(2024, 11, 1), utc(2024, 12, 20), &sink); err != nil {
		t.Fatal(err)
	}
	eq(t, "requests", srv.APIRequests(), 2)
	eq(t, "records", len(sink.recs), 2)
}

func TestPullUnauthorized(t *testing.T) {
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	_, p, hc := sandbox(t, ourasandbox.Config{TokenLifetime: time.Minute, Now: clock})
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	err := p.Pull(context.Background(), hc, model.TypeSleep, utc(2024, 10, 9), utc(2024, 10, 12), &memSink{})
	if !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("err = %v, want ErrUnauthorized", err)
	}
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusUnauthorized || apiErr.Detail == "" {
		t.Errorf("err = %#v, want a 401 APIError with Oura's detail", err)
	}
	if _, err := p.Identify(context.Background(), hc, nil); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("Identify err = %v, want ErrUnauthorized", err)
	}
}

func TestPullRateLimited(t *testing.T) {
	srv, p, hc := sandbox(t, ourasandbox.Config{PageSize: 5})
	// Request 1 is daily_sleep, 2 the first sleep page, 3 is refused.
	srv.InjectRateLimit(3, 30*time.Second)
	var sink memSink
	err := p.Pull(context.Background(), hc, model.TypeSleep, utc(2024, 10, 9), utc(2024, 11, 3), &sink)
	var rl *RateLimitError
	if !errors.As(err, &rl) {
		t.Fatalf("err = %v, want a RateLimitError", err)
	}
	eq(t, "RetryAfter", rl.RetryAfter, 30*time.Second)
	eq(t, "records before the 429", len(sink.recs), 5)
}

// staticServer answers each collection with a fixed status and body.
func staticServer(t *testing.T, pages map[string]func(w http.ResponseWriter, r *http.Request)) *Provider {
	t.Helper()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		coll := strings.TrimPrefix(r.URL.Path, "/v2/usercollection/")
		h, ok := pages[coll]
		if !ok {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"data":[],"next_token":null}`))
			return
		}
		h(w, r)
	}))
	t.Cleanup(ts.Close)
	return New(Config{APIBase: ts.URL})
}

func serve(status int, body []byte, header ...string) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}
}

func TestPullErrorBodies(t *testing.T) {
	tests := []struct {
		name, file string
		status     int
		want       string
	}{
		{"422", "error_422_start_after_end.json", http.StatusUnprocessableEntity, "Start date must be before end date (query.start_date)"},
		{"404", "error_404_not_found.json", http.StatusNotFound, "Document not found."},
		{"500 not json", "", http.StatusInternalServerError, "upstream exploded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := []byte("upstream exploded")
			if tt.file != "" {
				body = fixture(t, tt.file)
			}
			p := staticServer(t, map[string]func(http.ResponseWriter, *http.Request){"workout": serve(tt.status, body)})
			err := p.Pull(context.Background(), http.DefaultClient, model.TypeActivity, utc(2024, 10, 9), utc(2024, 10, 10), &memSink{})
			var apiErr *APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("err = %v, want an APIError", err)
			}
			eq(t, "status", apiErr.StatusCode, tt.status)
			eq(t, "detail", apiErr.Detail, tt.want)
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "workout") {
				t.Errorf("error %q does not say what and where", err)
			}
		})
	}
}

func TestPullRetryAfterForms(t *testing.T) {
	now := time.Now()
	tests := []struct {
		header string
		want   time.Duration
	}{
		{"120", 2 * time.Minute},
		{"", 0},
		{"soon", 0},
		{now.Add(90 * time.Second).UTC().Format(http.TimeFormat), 90 * time.Second},
	}
	for _, tt := range tests {
		got := parseRetryAfter(tt.header, now)
		// An HTTP date has whole seconds.
		if d := got - tt.want; d < -time.Second || d > time.Second {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tt.header, got, tt.want)
		}
	}
}

// TestPullMalformedPage: a page that is not a collection page becomes a
// Problem with its body, and the other collections still land.
func TestPullMalformedPage(t *testing.T) {
	garbage := []byte("<html><body>502 Bad Gateway</body></html>")
	wrongShape := []byte(`{"data":{"id":"x"},"next_token":null}`)
	p := staticServer(t, map[string]func(http.ResponseWriter, *http.Request){
		"daily_activity":  serve(http.StatusOK, garbage),
		"daily_spo2":      serve(http.StatusOK, wrongShape),
		"daily_readiness": serve(http.StatusOK, fixture(t, "daily_readiness_2024-11-11_12.json")),
		"daily_sleep":     serve(http.StatusOK, fixture(t, "daily_sleep_2024-11-11_12.json")),
	})
	var sink memSink
	if err := p.Pull(context.Background(), http.DefaultClient, model.TypeDaily, utc(2024, 11, 11), utc(2024, 11, 13), &sink); err != nil {
		t.Fatal(err)
	}
	eq(t, "problems", len(sink.probs), 2)
	raws := map[string]bool{}
	for _, pr := range sink.probs {
		eq(t, "problem type", pr.Type, model.TypeDaily)
		raws[string(pr.Raw)] = true
	}
	if !raws[string(garbage)] || !raws[string(wrongShape)] {
		t.Errorf("problem bodies not kept: %q", sink.probs)
	}
	eq(t, "records", len(sink.recs), 2)
	d := sink.byKey()["2024-11-11"].Data.(*model.Daily)
	eq(t, "readiness still landed", val(t, "recovery", d.Scores.Recovery), 86)
	eq(t, "sleep score still landed", val(t, "sleep", d.Scores.Sleep), 77)
}

// TestPullBadItem: one item that cannot be mapped is a Problem with that
// item; the others on the page land.
func TestPullBadItem(t *testing.T) {
	page := []byte(`{"data":[
		{"id":"good","type":"breathing","day":"2024-10-09","start_datetime":"2024-10-09T16:39:07+02:00","end_datetime":"2024-10-09T16:43:44+02:00"},
		{"id":"bad","type":"breathing","day":"2024-10-09","start_datetime":"whenever","end_datetime":"2024-10-09T16:43:44+02:00"}
	],"next_token":null}`)
	p := staticServer(t, map[string]func(http.ResponseWriter, *http.Request){"session": serve(http.StatusOK, page)})
	var sink memSink
	if err := p.Pull(context.Background(), http.DefaultClient, model.TypeActivity, utc(2024, 10, 9), utc(2024, 10, 10), &sink); err != nil {
		t.Fatal(err)
	}
	eq(t, "records", len(sink.recs), 1)
	eq(t, "record", sink.recs[0].Key, "good")
	eq(t, "problems", len(sink.probs), 1)
	if !strings.Contains(string(sink.probs[0].Raw), `"id":"bad"`) {
		t.Errorf("problem raw = %s, want the bad item", sink.probs[0].Raw)
	}
}

// TestPullRepeatingToken stops a provider that pages forever.
func TestPullRepeatingToken(t *testing.T) {
	p := staticServer(t, map[string]func(http.ResponseWriter, *http.Request){
		"workout": serve(http.StatusOK, []byte(`{"data":[],"next_token":"again"}`)),
	})
	var sink memSink
	if err := p.Pull(context.Background(), http.DefaultClient, model.TypeActivity, utc(2024, 10, 9), utc(2024, 10, 10), &sink); err != nil {
		t.Fatal(err)
	}
	eq(t, "problems", len(sink.probs), 1)
}

// TestPullQuery checks the dates sent: a day more on each side of the
// emitted days, and whole UTC days for heartrate.
func TestPullQuery(t *testing.T) {
	var mu sync.Mutex
	got := map[string]url.Values{}
	rec := func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got[strings.TrimPrefix(r.URL.Path, "/v2/usercollection/")] = r.URL.Query()
		mu.Unlock()
		serve(http.StatusOK, []byte(`{"data":[],"next_token":null}`))(w, r)
	}
	p := staticServer(t, map[string]func(http.ResponseWriter, *http.Request){"sleep": rec, "heartrate": rec})
	start := time.Date(2024, 10, 10, 6, 0, 0, 0, time.UTC)
	end := time.Date(2024, 10, 12, 6, 0, 0, 0, time.UTC)
	for _, typ := range []model.DataType{model.TypeSleep, model.TypeBody} {
		if err := p.Pull(context.Background(), http.DefaultClient, typ, start, end, &memSink{}); err != nil {
			t.Fatal(err)
		}
	}
	// emitted days 2024-10-10 .. 2024-10-13
	eq(t, "sleep start_date", got["sleep"].Get("start_date"), "2024-10-09")
	eq(t, "sleep end_date", got["sleep"].Get("end_date"), "2024-10-14")
	eq(t, "heartrate start", got["heartrate"].Get("start_datetime"), "2024-10-10T00:00:00Z")
	eq(t, "heartrate end", got["heartrate"].Get("end_datetime"), "2024-10-13T00:00:00Z")
}

// TestPullLongRange splits a long pull into queries of at most 30 days,
// whose emitted days neither overlap nor leave gaps.
func TestPullLongRange(t *testing.T) {
	var mu sync.Mutex
	var got []string
	p := staticServer(t, map[string]func(http.ResponseWriter, *http.Request){
		"sleep": func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			got = append(got, r.URL.Query().Get("start_date")+"/"+r.URL.Query().Get("end_date"))
			mu.Unlock()
			serve(http.StatusOK, []byte(`{"data":[],"next_token":null}`))(w, r)
		},
	})
	// Emitted days 2024-09-01 .. 2024-10-31 (61): 28 + 28 + 5.
	if err := p.Pull(context.Background(), http.DefaultClient, model.TypeSleep, utc(2024, 9, 1), utc(2024, 10, 31), &memSink{}); err != nil {
		t.Fatal(err)
	}
	want := []string{"2024-08-31/2024-09-29", "2024-09-28/2024-10-27", "2024-10-26/2024-11-01"}
	eq(t, "queries", strings.Join(got, " "), strings.Join(want, " "))
}

func TestPullUnsupportedType(t *testing.T) {
	p := New(Config{})
	if err := p.Pull(context.Background(), http.DefaultClient, model.TypeNutrition, utc(2024, 1, 1), utc(2024, 1, 2), &memSink{}); err == nil {
		t.Error("no error for nutrition")
	}
}

// TestRefreshRefused: a refresh the token endpoint refuses is
// ErrUnauthorized.
func TestRefreshRefused(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"invalid_grant"}`))
	}))
	t.Cleanup(ts.Close)
	p := New(Config{ClientID: "c", ClientSecret: "s", TokenURL: ts.URL, APIBase: ts.URL})
	cfg := p.OAuthConfig()
	hc := cfg.Client(context.Background(), &oauth2.Token{AccessToken: "old", RefreshToken: "used", Expiry: time.Now().Add(-time.Hour)})
	err := p.Pull(context.Background(), hc, model.TypeSleep, utc(2024, 10, 9), utc(2024, 10, 10), &memSink{})
	if !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("err = %v, want ErrUnauthorized", err)
	}
}
