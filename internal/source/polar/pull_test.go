package polar

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/wearbridge/wearbridge/internal/model"
)

func utc(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// static is a fake AccessLink answering each path with a fixed handler and
// 404 (Polar's "no data") for anything else; it logs the requests.
type static struct {
	mu    sync.Mutex
	paths map[string]http.HandlerFunc
	reqs  []string
}

func (s *static) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.reqs = append(s.reqs, r.Method+" "+r.URL.Path)
	h, ok := s.paths[r.Method+" "+r.URL.Path]
	s.mu.Unlock()
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	h(w, r)
}

func (s *static) asked(prefix string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, r := range s.reqs {
		if strings.HasPrefix(r, prefix) {
			out = append(out, r)
		}
	}
	return out
}

func newStatic(t *testing.T, cfg Config, paths map[string]http.HandlerFunc) (*Provider, *static) {
	t.Helper()
	s := &static{paths: paths}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	cfg.APIBase = ts.URL
	return New(cfg), s
}

func serve(status int, body string, header ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}
}

// TestPullMalformedPage: a list that is not a list becomes a problem with
// its body, and the other documents still land.
func TestPullMalformedPage(t *testing.T) {
	garbage := "<html><body>502 Bad Gateway</body></html>"
	p, _ := newStatic(t, Config{}, map[string]http.HandlerFunc{
		"GET /v3/users/sleep":            serve(200, `{"nights":[`+string(fixture(t, "sleep_get.json"))+`]}`),
		"GET /v3/users/nightly-recharge": serve(200, garbage),
	})
	var s memSink
	if err := p.Pull(context.Background(), http.DefaultClient, model.TypeSleep, utc(2020, 1, 1), utc(2020, 1, 2), &s); err != nil {
		t.Fatal(err)
	}
	eq(t, "records", len(s.recs), 1)
	eq(t, "record", s.recs[0].Key, "2020-01-01")
	var found bool
	for _, pr := range s.probs {
		if string(pr.Raw) == garbage {
			found = true
			eq(t, "problem type", pr.Type, model.TypeSleep)
		}
	}
	if !found {
		t.Errorf("problems %+v do not keep the page", s.probs)
	}

	// Continuous heart rate: one date's body is broken, the next lands.
	p, _ = newStatic(t, Config{HistoryLimit: -1}, map[string]http.HandlerFunc{
		"GET /v3/users/sleep":                            serve(200, `{"nights":[`+string(fixture(t, "sleep_get.json"))+`]}`),
		"GET /v3/exercises":                              serve(200, `[]`),
		"GET /v3/users/continuous-heart-rate/2022-09-11": serve(200, `{"date":"2022-09-11","heart_rate_samples":{`),
		"GET /v3/users/continuous-heart-rate/2022-09-12": serve(200, string(fixture(t, "continuous_heart_rate.json"))),
		"POST /v3/users/1/activity-transactions":         serve(204, ""),
	})
	s = memSink{}
	if err := p.Pull(context.Background(), http.DefaultClient, model.TypeDaily, utc(2022, 9, 12), utc(2022, 9, 13), &s); err != nil {
		t.Fatal(err)
	}
	eq(t, "daily records", len(s.recs), 1)
	eq(t, "daily problems", len(s.probs), 1)
	eq(t, "problem raw", string(s.probs[0].Raw), `{"date":"2022-09-11","heart_rate_samples":{`)
}

// TestPullBadItem: one exercise that cannot be mapped is a problem with
// that item; the other lands.
func TestPullBadItem(t *testing.T) {
	bad := `{"id":"BAD","start_time":"whenever","start_time_utc_offset":0,"duration":"PT1H"}`
	good := `{"id":"GOOD","start_time":"2024-06-01T18:00:00","start_time_utc_offset":120,"duration":"PT45M","sport":"RUNNING"}`
	p, s := newStatic(t, Config{}, map[string]http.HandlerFunc{
		"GET /v3/exercises": serve(200, "["+bad+","+good+"]"),
	})
	var sink memSink
	if err := p.Pull(context.Background(), http.DefaultClient, model.TypeActivity, utc(2024, 6, 1), utc(2024, 6, 2), &sink); err != nil {
		t.Fatal(err)
	}
	eq(t, "records", len(sink.recs), 1)
	eq(t, "record", sink.recs[0].Key, "GOOD")
	validate(t, sink.recs[0])
	eq(t, "problems", len(sink.probs), 1)
	eq(t, "problem raw", string(sink.probs[0].Raw), bad)
	// GOOD's detail answered 404 (gone): it was mapped from the list.
	eq(t, "detail asked", len(s.asked("GET /v3/exercises/GOOD")), 1)
}

// TestPullHeartRateOffsets: a date is read in the offset of the sleep
// filed under it (its wake-up offset); other dates in the nearest one.
func TestPullHeartRateOffsets(t *testing.T) {
	nights := `{"nights":[
		{"polar_user":"https://www.polaraccesslink.com/v3/users/42","date":"2024-03-10","sleep_start_time":"2024-03-10T01:00:00-05:00","sleep_end_time":"2024-03-10T08:00:00-04:00"},
		{"polar_user":"https://www.polaraccesslink.com/v3/users/42","date":"2024-03-01","sleep_start_time":"2024-03-01T00:00:00+01:00","sleep_end_time":"2024-03-01T07:00:00+01:00"}]}`
	chr := func(d string) http.HandlerFunc {
		return serve(200, `{"polar_user":"https://www.polaraccesslink.com/v3/users/42","date":"`+d+`","heart_rate_samples":[{"heart_rate":50,"sample_time":"12:00:00"}]}`)
	}
	p, s := newStatic(t, Config{Now: func() time.Time { return utc(2024, 3, 20) }}, map[string]http.HandlerFunc{
		"GET /v3/users/sleep":                            serve(200, nights),
		"GET /v3/exercises":                              serve(200, `[]`),
		"GET /v3/users/continuous-heart-rate/2024-03-10": chr("2024-03-10"),
		"GET /v3/users/continuous-heart-rate/2024-03-03": chr("2024-03-03"),
		"POST /v3/users/42/activity-transactions":        serve(204, ""),
	})
	var sink memSink
	if err := p.Pull(context.Background(), http.DefaultClient, model.TypeDaily, utc(2024, 3, 3), utc(2024, 3, 11), &sink); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range sink.recs {
		validate(t, r)
		got[r.Key] = *r.Data.(*model.Daily).HeartRateData.Detailed.HrSamples[0].Timestamp
	}
	eq(t, "same-date sleep", got["heart_rate:2024-03-10"], "2024-03-10T12:00:00.000000-04:00")
	eq(t, "nearest sleep", got["heart_rate:2024-03-03"], "2024-03-03T12:00:00.000000+01:00")
	eq(t, "transactions of user 42", len(s.asked("POST /v3/users/42/activity-transactions")), 1)
	// 2024-03-03 has no sleep: exercises of that date were looked for, once.
	eq(t, "exercise list", len(s.asked("GET /v3/exercises")), 1)
}

// TestPullUserIDDiscovery: without sleeps or exercises the user id comes
// from a heart-rate day; without any document there is a problem.
func TestPullUserIDDiscovery(t *testing.T) {
	p, s := newStatic(t, Config{Now: func() time.Time { return utc(2024, 3, 20) }}, map[string]http.HandlerFunc{
		"GET /v3/users/sleep":                            serve(200, `{"nights":[]}`),
		"GET /v3/exercises":                              serve(200, `[{"id":"E","polar_user":"x","start_time":"2024-03-09T10:00:00","start_time_utc_offset":60,"duration":"PT1H"}]`),
		"GET /v3/users/continuous-heart-rate/2024-03-10": serve(200, `{"polar_user":"https://polaraccesslink.com/v3/users/777","date":"2024-03-10","heart_rate_samples":[{"heart_rate":50,"sample_time":"00:00:10"}]}`),
		"POST /v3/users/777/activity-transactions":       serve(204, ""),
	})
	var sink memSink
	if err := p.Pull(context.Background(), http.DefaultClient, model.TypeDaily, utc(2024, 3, 10), utc(2024, 3, 10).Add(time.Hour), &sink); err != nil {
		t.Fatal(err)
	}
	eq(t, "transactions of user 777", len(s.asked("POST /v3/users/777/activity-transactions")), 1)
	// The offset came from the exercise (+01:00).
	eq(t, "sample", *sink.recs[0].Data.(*model.Daily).HeartRateData.Detailed.HrSamples[0].Timestamp, "2024-03-10T00:00:10.000000+01:00")

	p, s = newStatic(t, Config{}, map[string]http.HandlerFunc{
		"GET /v3/users/sleep": serve(200, `{"nights":[]}`),
		"GET /v3/exercises":   serve(204, ""),
	})
	sink = memSink{}
	if err := p.Pull(context.Background(), http.DefaultClient, model.TypeDaily, utc(2024, 3, 10), utc(2024, 3, 11), &sink); err != nil {
		t.Fatal(err)
	}
	eq(t, "problems", len(sink.probs), 1)
	if !strings.Contains(sink.probs[0].Err, "user id is unknown") {
		t.Errorf("problem = %q", sink.probs[0].Err)
	}
	eq(t, "no transaction", len(s.asked("POST ")), 0)
}

// TestPullHeartRateNoOffset: a heart-rate day of a user with no sleep or
// exercise cannot be placed; it is a problem with its body.
func TestPullHeartRateNoOffset(t *testing.T) {
	body := `{"polar_user":"https://polaraccesslink.com/v3/users/5","date":"2024-03-10","heart_rate_samples":[{"heart_rate":50,"sample_time":"00:00:10"}]}`
	p, _ := newStatic(t, Config{Now: func() time.Time { return utc(2024, 3, 20) }}, map[string]http.HandlerFunc{
		"GET /v3/users/sleep":                            serve(200, `{"nights":[]}`),
		"GET /v3/exercises":                              serve(200, `[]`),
		"GET /v3/users/continuous-heart-rate/2024-03-10": serve(200, body),
		"POST /v3/users/5/activity-transactions":         serve(204, ""),
	})
	var sink memSink
	if err := p.Pull(context.Background(), http.DefaultClient, model.TypeDaily, utc(2024, 3, 10), utc(2024, 3, 10).Add(time.Hour), &sink); err != nil {
		t.Fatal(err)
	}
	eq(t, "records", len(sink.recs), 0)
	eq(t, "problems", len(sink.probs), 1)
	eq(t, "problem raw", string(sink.probs[0].Raw), body)
}

// TestPullDates checks which dates are asked: every local date an instant
// of the window falls on, from -12:00 to +14:00, and none older than the
// history AccessLink keeps.
func TestPullDates(t *testing.T) {
	now := time.Date(2024, 3, 20, 15, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		start, end time.Time
		first      string
		last       string
		n          int
	}{
		// A poll of the last 72 h.
		{"poll", now.Add(-72 * time.Hour), now, "2024-03-17", "2024-03-21", 5},
		// A push of 2024-03-10: [00:00Z, 24:00Z).
		{"push day", utc(2024, 3, 10), utc(2024, 3, 11), "2024-03-09", "2024-03-11", 3},
		// A backfill of 60 days reaches back only 30.
		{"backfill", now.Add(-60 * 24 * time.Hour), now, "2024-02-19", "2024-03-21", 32},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, s := newStatic(t, Config{Now: func() time.Time { return now }}, map[string]http.HandlerFunc{
				"GET /v3/users/sleep": serve(200, `{"nights":[]}`),
				"GET /v3/exercises":   serve(200, `[]`),
			})
			if err := p.Pull(context.Background(), http.DefaultClient, model.TypeDaily, tt.start, tt.end, &memSink{}); err != nil {
				t.Fatal(err)
			}
			asked := s.asked("GET /v3/users/continuous-heart-rate/")
			eq(t, "dates", len(asked), tt.n)
			eq(t, "first", strings.TrimPrefix(asked[0], "GET /v3/users/continuous-heart-rate/"), tt.first)
			eq(t, "last", strings.TrimPrefix(asked[len(asked)-1], "GET /v3/users/continuous-heart-rate/"), tt.last)
		})
	}
}

// TestPullSleepWindow: nights are kept by their Polar date; a recharge
// without its night is a problem.
func TestPullSleepWindow(t *testing.T) {
	night := func(d string) string {
		return `{"date":"` + d + `","sleep_start_time":"` + d + `T00:30:00+03:00","sleep_end_time":"` + d + `T07:00:00+03:00"}`
	}
	p, _ := newStatic(t, Config{}, map[string]http.HandlerFunc{
		"GET /v3/users/sleep":            serve(200, `{"nights":[`+night("2024-05-01")+","+night("2024-05-03")+","+night("2024-05-09")+`]}`),
		"GET /v3/users/nightly-recharge": serve(200, `{"recharges":[{"date":"2024-05-03","nightly_recharge_status":5},{"date":"2024-05-04","nightly_recharge_status":2}]}`),
	})
	var sink memSink
	if err := p.Pull(context.Background(), http.DefaultClient, model.TypeSleep, utc(2024, 5, 3), utc(2024, 5, 5), &sink); err != nil {
		t.Fatal(err)
	}
	// Dates 05-02 .. 05-05 belong to the window.
	eq(t, "records", len(sink.recs), 1)
	eq(t, "record", sink.recs[0].Key, "2024-05-03")
	eq(t, "recovery", *sink.recs[0].Data.(*model.Sleep).ReadinessData.RecoveryLevel, 5)
	eq(t, "problems", len(sink.probs), 1)
	if !strings.Contains(sink.probs[0].Err, "2024-05-04") {
		t.Errorf("problem = %q", sink.probs[0].Err)
	}
}

func TestRetryAfter(t *testing.T) {
	tests := []struct {
		name                string
		usage, limit, reset string
		retry               string
		want                time.Duration
	}{
		{"short spent", "500, 1200", "500, 5000", "300, 40000", "", 300 * time.Second},
		{"long spent", "20, 5000", "500, 5000", "300, 40000", "", 40000 * time.Second},
		{"both spent", "500, 5000", "500, 5000", "300, 40000", "", 40000 * time.Second},
		{"not told which", "", "", "120, 900", "", 120 * time.Second},
		{"retry-after only", "", "", "", "30", 30 * time.Second},
		{"nothing", "", "", "", "", 15 * time.Minute},
		{"garbage", "a, b", "c", "d", "soon", 15 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range map[string]string{"RateLimit-Usage": tt.usage, "RateLimit-Limit": tt.limit, "RateLimit-Reset": tt.reset, "Retry-After": tt.retry} {
				if v != "" {
					h.Set(k, v)
				}
			}
			eq(t, "retryAfter", retryAfter(h), tt.want)
		})
	}
}

// TestPullStatusErrors: 429 and 401 from a list, and other errors with
// Polar's message.
func TestPullStatusErrors(t *testing.T) {
	p, _ := newStatic(t, Config{}, map[string]http.HandlerFunc{
		"GET /v3/exercises": serve(429, `{"status":429,"errorType":"TOO_MANY_REQUESTS","message":"slow down"}`,
			"RateLimit-Usage", "510, 2000", "RateLimit-Limit", "500, 5000", "RateLimit-Reset", "420, 50000"),
		"GET /v3/users/sleep": serve(401, `{"timestamp":"2024-01-01T00:00:00Z","status":401,"errorType":"UNAUTHORIZED","message":"token revoked","corrId":"c1"}`),
	})
	err := p.Pull(context.Background(), http.DefaultClient, model.TypeActivity, utc(2024, 1, 1), utc(2024, 1, 2), &memSink{})
	var rl *RateLimitError
	if !errors.As(err, &rl) || rl.RetryAfter != 420*time.Second {
		t.Errorf("err = %v, want a RateLimitError after 420 s", err)
	}
	err = p.Pull(context.Background(), http.DefaultClient, model.TypeSleep, utc(2024, 1, 1), utc(2024, 1, 2), &memSink{})
	if !errors.Is(err, ErrUnauthorized) || !strings.Contains(err.Error(), "UNAUTHORIZED: token revoked (corrId c1)") {
		t.Errorf("err = %v, want ErrUnauthorized with Polar's message", err)
	}
	var apiErr *APIError
	p, _ = newStatic(t, Config{}, map[string]http.HandlerFunc{"GET /v3/exercises": serve(500, "upstream exploded")})
	err = p.Pull(context.Background(), http.DefaultClient, model.TypeActivity, utc(2024, 1, 1), utc(2024, 1, 2), &memSink{})
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 500 || apiErr.Message != "upstream exploded" || errors.Is(err, ErrUnauthorized) {
		t.Errorf("err = %v, want a 500 APIError", err)
	}
}

func TestPullUnsupportedType(t *testing.T) {
	if err := New(Config{}).Pull(context.Background(), http.DefaultClient, model.TypeBody, utc(2024, 1, 1), utc(2024, 1, 2), &memSink{}); err == nil {
		t.Error("no error for body")
	}
	if err := New(Config{}).Pull(context.Background(), http.DefaultClient, model.TypeSleep, utc(2024, 1, 2), utc(2024, 1, 1), &memSink{}); err != nil {
		t.Errorf("empty window: %v", err)
	}
}

// TestTransactionForeignLink: an activity link outside the transaction is
// never followed and the transaction is not committed.
func TestTransactionForeignLink(t *testing.T) {
	p, s := newStatic(t, Config{}, map[string]http.HandlerFunc{
		"GET /v3/users/sleep":                      serve(200, `{"nights":[{"polar_user":"https://www.polaraccesslink.com/v3/users/9","date":"2024-01-01","sleep_start_time":"2024-01-01T00:00:00Z","sleep_end_time":"2024-01-01T07:00:00Z"}]}`),
		"POST /v3/users/9/activity-transactions":   serve(201, `{"transaction-id":55,"resource-uri":"https://www.polaraccesslink.com/v3/users/9/activity-transactions/55"}`),
		"GET /v3/users/9/activity-transactions/55": serve(200, `{"activity-log":["https://evil.example/v3/users/8/activity-transactions/55/activities/1"]}`),
	})
	var sink memSink
	if err := p.Pull(context.Background(), http.DefaultClient, model.TypeDaily, utc(2024, 1, 1), utc(2024, 1, 1).Add(time.Hour), &sink); err != nil {
		t.Fatal(err)
	}
	eq(t, "problems", len(sink.probs), 1)
	eq(t, "commits", len(s.asked("PUT ")), 0)
	eq(t, "followed", len(s.asked("GET /v3/users/8")), 0)
}

func TestDefaults(t *testing.T) {
	p := New(Config{ClientID: "id", ClientSecret: "secret"})
	eq(t, "Name", p.Name(), "POLAR")
	eq(t, "UsePKCE", p.UsePKCE(), false)
	cfg := p.OAuthConfig()
	eq(t, "AuthURL", cfg.Endpoint.AuthURL, "https://flow.polar.com/oauth2/authorization")
	eq(t, "TokenURL", cfg.Endpoint.TokenURL, "https://polarremote.com/v2/oauth2/token")
	eq(t, "AuthStyle", cfg.Endpoint.AuthStyle, oauth2.AuthStyleInHeader)
	eq(t, "scopes", strings.Join(cfg.Scopes, " "), "accesslink.read_all")
	eq(t, "BackfillDepth", p.BackfillDepth(), 28*24*time.Hour)
	n, per := p.RequestBudget()
	eq(t, "budget", n, 5000)
	eq(t, "budget period", per, 24*time.Hour)
	eq(t, "PullTypes", len(p.PullTypes()), 3)

	eq(t, "capped", New(Config{BackfillDepth: 90 * 24 * time.Hour}).BackfillDepth(), 30*24*time.Hour)
	eq(t, "uncapped", New(Config{BackfillDepth: 90 * 24 * time.Hour, HistoryLimit: -1}).BackfillDepth(), 90*24*time.Hour)
	n, per = New(Config{RequestBudget: -1}).RequestBudget()
	eq(t, "no budget", n+int(per), 0)
}
