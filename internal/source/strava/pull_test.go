package strava_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/wearbridge/wearbridge/internal/model"
	stravasandbox "github.com/wearbridge/wearbridge/internal/sandbox/strava"
	"github.com/wearbridge/wearbridge/internal/source"
	"github.com/wearbridge/wearbridge/internal/source/strava"
)

// sandbox starts the fake Strava and returns it, a provider pointed at it
// (ProviderConfig changed by tweak) and an HTTP client sending a fresh
// token.
func sandbox(t *testing.T, cfg stravasandbox.Config, tweak func(*strava.Config)) (*stravasandbox.Server, *strava.Provider, *http.Client) {
	t.Helper()
	srv := stravasandbox.New(cfg)
	if err := srv.Err(); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	pc := stravasandbox.ProviderConfig(ts.URL)
	if cfg.Now != nil {
		pc.Now = cfg.Now
	}
	if tweak != nil {
		tweak(&pc)
	}
	hc := oauth2.NewClient(context.Background(), oauth2.StaticTokenSource(srv.Token(0)))
	return srv, strava.New(pc), hc
}

func utc(y int, m time.Month, d, hh, mm, ss int) time.Time {
	return time.Date(y, m, d, hh, mm, ss, 0, time.UTC)
}

// TestPullSandbox pulls windows of the recorded activities from the fake.
func TestPullSandbox(t *testing.T) {
	tests := []struct {
		name        string
		summaryOnly bool
		pageSize    int
		start, end  time.Time
		n           int      // records
		keys        []string // some expected keys
		problems    int
		requests    int
	}{
		{
			// All 32 served activities, 7 a page: 5 pages and an empty
			// one. Then per activity: the marathon 1946417534 carries its
			// laps (detail + streams), 99895560 has no "laps" key (detail
			// + laps + streams), the 30 list items too (3 each): 6 + 2 + 3
			// + 90. One problem: the marathon's recorded streams have no
			// time stream.
			name: "everything, in full", pageSize: 7,
			start: utc(2013, 12, 1, 0, 0, 0), end: utc(2025, 11, 1, 0, 0, 0),
			n: 32, keys: []string{"1946417534", "99895560", "16181809559"}, problems: 1, requests: 101,
		},
		{
			// 2025-09-20 to 2025-09-27 (UTC): six runs, 2 a page: 3 pages
			// and an empty one.
			name: "one week, summaries", summaryOnly: true, pageSize: 2,
			start: utc(2025, 9, 20, 0, 0, 0), end: utc(2025, 9, 28, 0, 0, 0),
			n: 6, keys: []string{"15878564739", "15889469592", "15910796839", "15922145265", "15934231486", "15955495969"}, requests: 4,
		},
		{
			// Edges: start is exactly 15878564739's start_date (kept), end
			// exactly 16181809559's (left out): the 19 runs between.
			name: "exact edges", summaryOnly: true, pageSize: 200,
			start: utc(2025, 9, 20, 13, 26, 9), end: utc(2025, 10, 18, 12, 49, 52),
			n: 19, keys: []string{"15878564739", "16150076848"}, requests: 2,
		},
		{
			name: "nothing", summaryOnly: true,
			start: utc(2020, 1, 1, 0, 0, 0), end: utc(2021, 1, 1, 0, 0, 0), requests: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, p, hc := sandbox(t, stravasandbox.Config{}, func(c *strava.Config) {
				c.SummaryOnly, c.PageSize = tt.summaryOnly, tt.pageSize
			})
			var sink strava.MemSink
			if err := p.Pull(context.Background(), hc, model.TypeActivity, tt.start, tt.end, &sink); err != nil {
				t.Fatal(err)
			}
			strava.Eq(t, "records", len(sink.Recs), tt.n)
			got := sink.ByKey()
			strava.Eq(t, "distinct keys", len(got), tt.n)
			for _, k := range tt.keys {
				if _, ok := got[k]; !ok {
					t.Errorf("no record %s", k)
				}
			}
			for _, r := range sink.Recs {
				strava.Validate(t, r)
				if r.Start.Before(tt.start) || !r.Start.Before(tt.end) {
					t.Errorf("%s starts %s, outside the window", r.Key, r.Start)
				}
			}
			if len(sink.Probs) != tt.problems {
				t.Errorf("problems = %+v, want %d", sink.Probs, tt.problems)
			}
			strava.Eq(t, "requests", srv.APIRequests(), tt.requests)
		})
	}
}

// TestPullSandboxAll: a full pull gives every served activity once, and
// each detailed record keeps what the fake served.
func TestPullSandboxAll(t *testing.T) {
	srv, p, hc := sandbox(t, stravasandbox.Config{}, nil)
	var sink strava.MemSink
	if err := p.Pull(context.Background(), hc, model.TypeActivity, utc(2013, 1, 1, 0, 0, 0), utc(2026, 1, 1, 0, 0, 0), &sink); err != nil {
		t.Fatal(err)
	}
	var want, got []string
	for _, id := range srv.ActivityIDs() {
		want = append(want, strconv.FormatInt(id, 10))
	}
	for _, r := range sink.Recs {
		got = append(got, r.Key)
	}
	slices.Sort(want)
	slices.Sort(got)
	strava.Eq(t, "keys", strings.Join(got, " "), strings.Join(want, " "))

	m := sink.ByKey()["1946417534"]
	a := m.Data.(*model.Activity)
	if a.LapData == nil || len(a.LapData.Laps) != 1 || a.CaloriesData == nil {
		t.Errorf("marathon not mapped from its detail: laps %+v calories %+v", a.LapData, a.CaloriesData)
	}
	var raw struct {
		Activity json.RawMessage            `json:"activity"`
		Streams  map[string]json.RawMessage `json:"streams"`
	}
	if err := json.Unmarshal(m.Raw, &raw); err != nil || strings.TrimSpace(string(raw.Activity)) != strings.TrimSpace(string(strava.Fixture(t, "activity_1946417534.json"))) {
		t.Errorf("marathon Raw does not hold the recorded detail (%v)", err)
	}
	if _, ok := raw.Streams["distance"]; !ok {
		t.Errorf("marathon Raw does not hold the streams")
	}
}

func TestPullUnauthorized(t *testing.T) {
	var mu sync.Mutex
	now := utc(2025, 11, 1, 10, 0, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	_, p, hc := sandbox(t, stravasandbox.Config{TokenLifetime: time.Minute, Now: clock}, nil)
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	err := p.Pull(context.Background(), hc, model.TypeActivity, utc(2025, 9, 1, 0, 0, 0), utc(2025, 10, 1, 0, 0, 0), &strava.MemSink{})
	if !errors.Is(err, source.ErrUnauthorized) {
		t.Fatalf("err = %v, want ErrUnauthorized", err)
	}
	var apiErr *strava.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusUnauthorized || apiErr.Message != "Authorization Error" {
		t.Errorf("err = %#v, want Strava's 401 fault", err)
	}
	if err := p.FetchItem(context.Background(), hc, model.TypeActivity, "1946417534", &strava.MemSink{}); !errors.Is(err, source.ErrUnauthorized) {
		t.Errorf("FetchItem err = %v, want ErrUnauthorized", err)
	}
	if _, err := p.Identify(context.Background(), hc, nil); !errors.Is(err, source.ErrUnauthorized) {
		t.Errorf("Identify err = %v, want ErrUnauthorized", err)
	}
}

// TestPullWithoutActivityScope: a token whose athlete unticked the
// activity scopes gets Strava's 401 "activity:read_permission missing".
func TestPullWithoutActivityScope(t *testing.T) {
	srv, p, _ := sandbox(t, stravasandbox.Config{}, nil)
	hc := oauth2.NewClient(context.Background(), oauth2.StaticTokenSource(srv.TokenWithScope(0, "read,profile:read_all")))
	err := p.Pull(context.Background(), hc, model.TypeActivity, utc(2025, 9, 1, 0, 0, 0), utc(2025, 10, 1, 0, 0, 0), &strava.MemSink{})
	if !errors.Is(err, source.ErrUnauthorized) || !strings.Contains(err.Error(), "activity:read_permission missing") {
		t.Fatalf("err = %v, want ErrUnauthorized for the missing permission", err)
	}
	// The athlete itself is still readable.
	id, err := p.Identify(context.Background(), hc, nil)
	if err != nil {
		t.Fatal(err)
	}
	strava.Eq(t, "athlete", id.UserID, "26462176")
}

// TestPullRateLimited: the fake's 429 (the recorded body, Strava's
// headers) stops the pull with the reset: the next quarter hour, or the
// next UTC midnight when the daily limit is used up. Records of the pages
// before stay.
func TestPullRateLimited(t *testing.T) {
	now := utc(2025, 11, 1, 10, 7, 30)
	tests := []struct {
		daily bool
		want  time.Duration
	}{
		{false, 7*time.Minute + 30*time.Second},                // 10:15:00
		{true, 13*time.Hour + 52*time.Minute + 30*time.Second}, // 2025-11-02T00:00:00Z
	}
	for _, tt := range tests {
		srv, p, hc := sandbox(t, stravasandbox.Config{Now: func() time.Time { return now }}, func(c *strava.Config) {
			c.SummaryOnly, c.PageSize = true, 7
		})
		srv.InjectRateLimit(2, tt.daily) // page 1 answers, page 2 is refused
		var sink strava.MemSink
		err := p.Pull(context.Background(), hc, model.TypeActivity, utc(2013, 1, 1, 0, 0, 0), utc(2026, 1, 1, 0, 0, 0), &sink)
		var rl *source.RateLimitError
		if !errors.As(err, &rl) {
			t.Fatalf("daily %v: err = %v, want a RateLimitError", tt.daily, err)
		}
		strava.Eq(t, "provider", rl.Provider, "STRAVA")
		strava.Eq(t, "retry after", rl.RetryAfter, tt.want)
		strava.Eq(t, "records before the 429", len(sink.Recs), 7)
	}
}

func TestFetchItem(t *testing.T) {
	tests := []struct {
		id       string
		records  int
		laps     int
		problem  string
		requests int
	}{
		// detail (with laps) + streams; the streams have no time stream.
		{"1946417534", 1, 1, "no time stream", 2},
		// detail without "laps" + /laps ([]) + streams ({}).
		{"99895560", 1, 0, "", 3},
		// list-only activity: its summary as detail, no laps, no streams.
		{"16181809559", 1, 0, "", 3},
		// laps were recorded for it, but not the activity: 404.
		{"15605032352", 0, 0, "not found", 1},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			srv, p, hc := sandbox(t, stravasandbox.Config{}, nil)
			var sink strava.MemSink
			if err := p.FetchItem(context.Background(), hc, model.TypeActivity, tt.id, &sink); err != nil {
				t.Fatal(err)
			}
			strava.Eq(t, "records", len(sink.Recs), tt.records)
			strava.Eq(t, "requests", srv.APIRequests(), tt.requests)
			for _, r := range sink.Recs {
				strava.Validate(t, r)
				strava.Eq(t, "key", r.Key, tt.id)
				n := 0
				if a := r.Data.(*model.Activity); a.LapData != nil {
					n = len(a.LapData.Laps)
				}
				strava.Eq(t, "laps", n, tt.laps)
			}
			if tt.problem == "" {
				if len(sink.Probs) != 0 {
					t.Errorf("problems: %+v", sink.Probs)
				}
			} else if len(sink.Probs) != 1 || !strings.Contains(sink.Probs[0].Err, tt.problem) {
				t.Errorf("problems = %+v, want one about %q", sink.Probs, tt.problem)
			}
		})
	}
	p := strava.New(strava.Config{})
	for _, bad := range []string{"", "abc", "-5", "1/2"} {
		if err := p.FetchItem(context.Background(), http.DefaultClient, model.TypeActivity, bad, &strava.MemSink{}); err == nil {
			t.Errorf("FetchItem(%q): no error", bad)
		}
	}
	if err := p.FetchItem(context.Background(), http.DefaultClient, model.TypeSleep, "1", &strava.MemSink{}); err == nil {
		t.Error("FetchItem of a sleep: no error")
	}
}

// staticServer answers the activity list with pages[page-1] (and an empty
// list after the last one) and every other path with 404.
func staticServer(t *testing.T, pages ...string) *strava.Provider {
	t.Helper()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/athlete/activities" {
			http.NotFound(w, r)
			return
		}
		n, _ := strconv.Atoi(r.URL.Query().Get("page"))
		w.Header().Set("Content-Type", "application/json")
		if n < 1 || n > len(pages) {
			_, _ = w.Write([]byte("[]"))
			return
		}
		_, _ = w.Write([]byte(pages[n-1]))
	}))
	t.Cleanup(ts.Close)
	return strava.New(strava.Config{APIBase: ts.URL, SummaryOnly: true, MaxPages: 20})
}

const (
	goodItem  = `{"id":1,"type":"Run","sport_type":"Run","start_date":"2025-09-20T13:26:09Z","start_date_local":"2025-09-20T09:26:09Z","elapsed_time":60}`
	goodItem2 = `{"id":2,"type":"Run","sport_type":"Run","start_date":"2025-09-21T13:26:09Z","start_date_local":"2025-09-21T09:26:09Z","elapsed_time":60}`
	badItem   = `{"id":3,"type":"Run","start_date":"whenever"}`
)

// TestPullBadPages: a page that is not a list is a problem with its body
// and the next page is still read; three in a row end the pull.
func TestPullBadPages(t *testing.T) {
	garbage := "<html><body>502 Bad Gateway</body></html>"
	tests := []struct {
		name     string
		pages    []string
		records  int
		problems int
		wantErr  string
	}{
		{"garbage then good", []string{garbage, "[" + goodItem + "]"}, 1, 1, ""},
		{"wrong shape then good", []string{`{"id":1}`, "null", "[" + goodItem2 + "]"}, 1, 2, ""},
		{"bad item among good", []string{"[" + goodItem + "," + badItem + `,"text",` + goodItem2 + "]"}, 2, 2, ""},
		{"same item on two pages", []string{"[" + goodItem + "]", "[" + goodItem + "," + goodItem2 + "]"}, 2, 0, ""},
		{"three bad pages", []string{garbage, garbage, garbage, "[" + goodItem + "]"}, 0, 3, "3 pages in a row"},
		{"never an empty page", slices.Repeat([]string{"[" + goodItem + "]"}, 30), 1, 0, "stopped after 20 pages"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := staticServer(t, tt.pages...)
			var sink strava.MemSink
			err := p.Pull(context.Background(), http.DefaultClient, model.TypeActivity, utc(2025, 9, 1, 0, 0, 0), utc(2025, 10, 1, 0, 0, 0), &sink)
			if tt.wantErr == "" && err != nil {
				t.Fatal(err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			strava.Eq(t, "records", len(sink.Recs), tt.records)
			strava.Eq(t, "problems", len(sink.Probs), tt.problems)
			for _, pr := range sink.Probs {
				if len(pr.Raw) == 0 {
					t.Errorf("problem without its body: %+v", pr)
				}
			}
		})
	}
}

func TestPullQuery(t *testing.T) {
	var got []string
	var mu sync.Mutex
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.URL.RawQuery)
		mu.Unlock()
		_, _ = w.Write([]byte("[]"))
	}))
	t.Cleanup(ts.Close)
	p := strava.New(strava.Config{APIBase: ts.URL})
	start := time.Date(2025, 9, 20, 9, 0, 0, 0, time.FixedZone("", -4*3600)) // 13:00:00Z = 1758373200
	end := time.Date(2025, 9, 21, 13, 0, 0, 500, time.UTC)                   // 1758459600.0000005
	if err := p.Pull(context.Background(), http.DefaultClient, model.TypeActivity, start, end, &strava.MemSink{}); err != nil {
		t.Fatal(err)
	}
	strava.Eq(t, "queries", strings.Join(got, " "), "after=1758373199&before=1758459601&page=1&per_page=200")
	if err := p.Pull(context.Background(), http.DefaultClient, model.TypeSleep, start, end, &strava.MemSink{}); err == nil {
		t.Error("sleep pull: no error")
	}
}
