package fitbit

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

const profileLA = `{"user":{"encodedId":"ABC123","timezone":"America/Los_Angeles","offsetFromUTCMillis":-28800000}}`

// static is a Fitbit stand-in answering fixed bodies by path; the profile
// is Los Angeles unless pages says otherwise, and unknown paths are
// empty lists. It records the paths asked for.
type static struct {
	mu    sync.Mutex
	paths []string
}

func (s *static) asked() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.paths...)
}

func staticServer(t *testing.T, cfg Config, pages map[string]http.HandlerFunc) (*Provider, *static) {
	t.Helper()
	st := &static{}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st.mu.Lock()
		st.paths = append(st.paths, r.URL.Path)
		st.mu.Unlock()
		if h, ok := pages[r.URL.Path]; ok {
			h(w, r)
			return
		}
		switch {
		case r.URL.Path == "/1/user/-/profile.json":
			serve(http.StatusOK, profileLA)(w, r)
		case strings.Contains(r.URL.Path, "/sleep/"):
			serve(http.StatusOK, `{"sleep":[]}`)(w, r)
		case strings.Contains(r.URL.Path, "/body/log/weight/"):
			serve(http.StatusOK, `{"weight":[]}`)(w, r)
		case strings.Contains(r.URL.Path, "/body/log/fat/"):
			serve(http.StatusOK, `{"fat":[]}`)(w, r)
		default:
			serve(http.StatusNotFound, `{"errors":[{"errorType":"not_found","message":"not here"}],"success":false}`)(w, r)
		}
	}))
	t.Cleanup(ts.Close)
	cfg.APIBase = ts.URL
	return New(cfg), st
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

func utc(y int, m time.Month, d, h int) time.Time { return time.Date(y, m, d, h, 0, 0, 0, time.UTC) }

// TestPullDays: a window becomes the local days it touches in the
// profile's zone; range endpoints get chunks that neither overlap nor
// leave gaps.
func TestPullDays(t *testing.T) {
	tests := []struct {
		name       string
		typ        model.DataType
		start, end time.Time
		want       []string
	}{
		{
			// 2016-12-13 07:00Z is 2016-12-12 23:00 in Los Angeles;
			// 2016-12-14 08:00Z is 00:00 of the 14th there.
			name: "daily, local days", typ: model.TypeDaily,
			start: utc(2016, 12, 13, 7), end: utc(2016, 12, 14, 8).Add(time.Nanosecond),
			want: []string{
				"/1/user/-/activities/date/2016-12-12.json", "/1/user/-/activities/heart/date/2016-12-12/1d/1min.json", "/1/user/-/activities/steps/date/2016-12-12/1d/1min.json",
				"/1/user/-/activities/date/2016-12-13.json", "/1/user/-/activities/heart/date/2016-12-13/1d/1min.json", "/1/user/-/activities/steps/date/2016-12-13/1d/1min.json",
				"/1/user/-/activities/date/2016-12-14.json", "/1/user/-/activities/heart/date/2016-12-14/1d/1min.json", "/1/user/-/activities/steps/date/2016-12-14/1d/1min.json",
			},
		},
		{
			// A notification's window for 2016-12-13 is that day alone.
			name: "activity, notified day", typ: model.TypeActivity,
			start: utc(2016, 12, 13, 10), end: utc(2016, 12, 13, 14),
			want: []string{"/1/user/-/activities/date/2016-12-13.json"},
		},
		{
			// 2016-01-01 .. 2016-07-01 local: 183 days, 100 + 83.
			name: "sleep, chunks", typ: model.TypeSleep,
			start: utc(2016, 1, 1, 8), end: utc(2016, 7, 2, 7),
			want: []string{"/1.2/user/-/sleep/date/2016-01-01/2016-04-09.json", "/1.2/user/-/sleep/date/2016-04-10/2016-07-01.json"},
		},
		{
			// 2016-01-01 .. 2016-02-10 local: 41 days, 31 + 10.
			name: "body, chunks", typ: model.TypeBody,
			start: utc(2016, 1, 1, 8), end: utc(2016, 2, 11, 8),
			want: []string{
				"/1/user/-/body/log/weight/date/2016-01-01/2016-01-31.json", "/1/user/-/body/log/fat/date/2016-01-01/2016-01-31.json",
				"/1/user/-/body/log/weight/date/2016-02-01/2016-02-10.json", "/1/user/-/body/log/fat/date/2016-02-01/2016-02-10.json",
			},
		},
	}
	empty := serve(http.StatusOK, `{"activities":[],"summary":{"steps":0}}`)
	emptyHeart := serve(http.StatusOK, `{"activities-heart":[]}`)
	emptySteps := serve(http.StatusOK, `{"activities-steps":[]}`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pages := map[string]http.HandlerFunc{}
			for _, p := range tt.want {
				switch {
				case strings.Contains(p, "/heart/"):
					pages[p] = emptyHeart
				case strings.Contains(p, "/steps/"):
					pages[p] = emptySteps
				case strings.Contains(p, "/activities/date/"):
					pages[p] = empty
				}
			}
			p, st := staticServer(t, Config{}, pages)
			var sink memSink
			if err := p.Pull(context.Background(), http.DefaultClient, tt.typ, tt.start, tt.end, &sink); err != nil {
				t.Fatal(err)
			}
			want := append([]string{"/1/user/-/profile.json"}, tt.want...)
			eq(t, "requests", strings.Join(st.asked(), "\n"), strings.Join(want, "\n"))
			eq(t, "problems", len(sink.probs), 0)
		})
	}
}

// TestPullMalformedPage: a page that cannot be decoded is a Problem with
// its body, and the other days still land.
func TestPullMalformedPage(t *testing.T) {
	garbage := "<html><body>502 Bad Gateway</body></html>"
	p, _ := staticServer(t, Config{SkipIntraday: true}, map[string]http.HandlerFunc{
		"/1/user/-/activities/date/2015-06-22.json": serve(http.StatusOK, garbage),
		"/1/user/-/activities/date/2015-06-23.json": serve(http.StatusOK, string(fixture(t, "activities_date_multiple.json"))),
		"/1/user/-/activities/date/2015-06-24.json": serve(http.StatusOK, `{"activities":[]}`), // no summary
	})
	for _, typ := range []model.DataType{model.TypeActivity, model.TypeDaily} {
		var sink memSink
		// 2015-06-22 .. 2015-06-24 in Los Angeles.
		if err := p.Pull(context.Background(), http.DefaultClient, typ, utc(2015, 6, 22, 7), utc(2015, 6, 25, 7), &sink); err != nil {
			t.Fatal(err)
		}
		eq(t, string(typ)+" problems", len(sink.probs), 2)
		if len(sink.probs) > 0 {
			eq(t, "problem raw", string(sink.probs[0].Raw), garbage)
			eq(t, "problem type", sink.probs[0].Type, typ)
		}
		want := map[model.DataType]int{model.TypeActivity: 3, model.TypeDaily: 1}[typ]
		eq(t, string(typ)+" records", len(sink.recs), want)
		for _, r := range sink.recs {
			validate(t, r)
		}
	}
}

// TestPullBadItem: one log that cannot be mapped is a Problem with that
// log; the others land. A log filed under a day outside the asked chunk
// is dropped.
func TestPullBadItem(t *testing.T) {
	page := `{"sleep":[
		{"logId":1,"dateOfSleep":"2016-12-13","startTime":"2016-12-13T01:00:00.000","endTime":"2016-12-13T07:00:00.000","type":"classic","isMainSleep":true},
		{"logId":2,"dateOfSleep":"2016-12-13","startTime":"whenever","endTime":"2016-12-13T07:00:00.000","type":"classic"},
		{"logId":3,"dateOfSleep":"2016-12-20","startTime":"2016-12-20T01:00:00.000","endTime":"2016-12-20T07:00:00.000","type":"classic"}
	]}`
	p, _ := staticServer(t, Config{}, map[string]http.HandlerFunc{
		"/1.2/user/-/sleep/date/2016-12-13/2016-12-13.json": serve(http.StatusOK, page),
	})
	var sink memSink
	if err := p.Pull(context.Background(), http.DefaultClient, model.TypeSleep, utc(2016, 12, 13, 10), utc(2016, 12, 13, 14), &sink); err != nil {
		t.Fatal(err)
	}
	eq(t, "records", len(sink.recs), 1)
	eq(t, "record", sink.recs[0].Key, "1")
	eq(t, "problems", len(sink.probs), 1)
	if !strings.Contains(string(sink.probs[0].Raw), `"logId":2`) {
		t.Errorf("problem raw = %s, want the bad log", sink.probs[0].Raw)
	}
}

// TestPullBodyHalfRead: a chunk whose fat page cannot be read is not
// emitted from its weight page alone.
func TestPullBodyHalfRead(t *testing.T) {
	p, _ := staticServer(t, Config{}, map[string]http.HandlerFunc{
		"/1/user/-/body/log/weight/date/2015-05-13/2015-05-13.json": serve(http.StatusOK, string(fixture(t, "body_log_weight.json"))),
		"/1/user/-/body/log/fat/date/2015-05-13/2015-05-13.json":    serve(http.StatusOK, `{"fat":null}`),
	})
	var sink memSink
	if err := p.Pull(context.Background(), http.DefaultClient, model.TypeBody, utc(2015, 5, 13, 10), utc(2015, 5, 13, 14), &sink); err != nil {
		t.Fatal(err)
	}
	eq(t, "records", len(sink.recs), 0)
	eq(t, "problems", len(sink.probs), 1)
}

// TestPullRateLimited: a 429 is a RateLimitError with Fitbit's reset; the
// days read before it are kept.
func TestPullRateLimited(t *testing.T) {
	summary := string(fixture(t, "activities_date_multiple.json"))
	p, _ := staticServer(t, Config{SkipIntraday: true}, map[string]http.HandlerFunc{
		"/1/user/-/activities/date/2015-06-23.json": serve(http.StatusOK, summary),
		"/1/user/-/activities/date/2015-06-24.json": serve(http.StatusTooManyRequests,
			`{"errors":[{"errorType":"system","fieldName":"n/a","message":"Too Many Requests"}],"success":false}`,
			HeaderRateLimitLimit, "150", HeaderRateLimitRemaining, "0", HeaderRateLimitReset, "1234"),
	})
	var sink memSink
	err := p.Pull(context.Background(), http.DefaultClient, model.TypeDaily, utc(2015, 6, 23, 7), utc(2015, 6, 25, 7), &sink)
	var rl *RateLimitError
	if !errors.As(err, &rl) {
		t.Fatalf("err = %v, want a RateLimitError", err)
	}
	eq(t, "provider", rl.Provider, "FITBIT")
	eq(t, "RetryAfter (Fitbit-Rate-Limit-Reset 1234)", rl.RetryAfter, 1234*time.Second)
	eq(t, "records before the 429", len(sink.recs), 1)
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 3, 17, 40, 30, 0, time.UTC)
	tests := []struct {
		name   string
		header http.Header
		want   time.Duration
	}{
		{"reset", http.Header{HeaderRateLimitReset: {"95"}}, 95 * time.Second},
		{"reset wins", http.Header{HeaderRateLimitReset: {"95"}, "Retry-After": {"5"}}, 95 * time.Second},
		{"retry-after", http.Header{"Retry-After": {"30"}}, 30 * time.Second},
		{"http date", http.Header{"Retry-After": {now.Add(time.Minute).Format(http.TimeFormat)}}, time.Minute},
		{"none: the next full hour", http.Header{}, 19*time.Minute + 30*time.Second},
		{"garbage: the next full hour", http.Header{HeaderRateLimitReset: {"soon"}}, 19*time.Minute + 30*time.Second},
	}
	for _, tt := range tests {
		eq(t, tt.name, retryAfter(tt.header, now), tt.want)
	}
}

// TestPullNoProfileScope: without the profile scope the times are read as
// UTC and a Problem says so.
func TestPullNoProfileScope(t *testing.T) {
	p, _ := staticServer(t, Config{}, map[string]http.HandlerFunc{
		"/1/user/-/profile.json":                            serve(http.StatusForbidden, `{"errors":[{"errorType":"insufficient_scope","message":"This application does not have permission to access profile data."}],"success":false}`),
		"/1.2/user/-/sleep/date/2016-12-13/2016-12-13.json": serve(http.StatusOK, string(fixture(t, sleepFixture))),
	})
	var sink memSink
	if err := p.Pull(context.Background(), http.DefaultClient, model.TypeSleep, utc(2016, 12, 13, 10), utc(2016, 12, 13, 14), &sink); err != nil {
		t.Fatal(err)
	}
	eq(t, "problems", len(sink.probs), 1)
	if len(sink.probs) == 1 && !strings.Contains(sink.probs[0].Err, "UTC") {
		t.Errorf("problem %q does not say times are read as UTC", sink.probs[0].Err)
	}
	eq(t, "records", len(sink.recs), 2)
	// sleep[1].startTime 2016-12-13T01:16:00.000, read as UTC.
	eq(t, "start", sink.byKey()["13211507000"].Data.(*model.Sleep).Metadata.StartTime, "2016-12-13T01:16:00.000000+00:00")
}

// TestPullIntradayForbidden: an app without intraday access still gets
// its dailies, and is told once.
func TestPullIntradayForbidden(t *testing.T) {
	forbid := serve(http.StatusForbidden, `{"errors":[{"errorType":"insufficient_permissions","message":"intraday"}],"success":false}`)
	day := serve(http.StatusOK, `{"activities":[],"summary":{"steps":100}}`)
	p, st := staticServer(t, Config{}, map[string]http.HandlerFunc{
		"/1/user/-/activities/date/2020-01-01.json":               day,
		"/1/user/-/activities/date/2020-01-02.json":               day,
		"/1/user/-/activities/heart/date/2020-01-01/1d/1min.json": forbid,
	})
	var sink memSink
	if err := p.Pull(context.Background(), http.DefaultClient, model.TypeDaily, utc(2020, 1, 1, 10), utc(2020, 1, 2, 14), &sink); err != nil {
		t.Fatal(err)
	}
	eq(t, "records", len(sink.recs), 2)
	eq(t, "problems", len(sink.probs), 1)
	eq(t, "requests (profile, day, heart, day)", len(st.asked()), 4)
}

func TestPullErrors(t *testing.T) {
	p, _ := staticServer(t, Config{}, map[string]http.HandlerFunc{
		"/1/user/-/activities/date/2020-01-01.json": serve(http.StatusUnauthorized,
			`{"errors":[{"errorType":"expired_token","message":"Access token expired: eyJhbGciOiJIUzI1NiJ9.secret"}],"success":false}`),
		"/1.2/user/-/sleep/date/2020-01-01/2020-01-01.json": serve(http.StatusBadRequest,
			`{"errors":[{"errorType":"validation","fieldName":"date","message":"Invalid date"}],"success":false}`),
	})
	err := p.Pull(context.Background(), http.DefaultClient, model.TypeActivity, utc(2020, 1, 1, 10), utc(2020, 1, 1, 14), &memSink{})
	if !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("err = %v, want ErrUnauthorized", err)
	}
	var apiErr *APIError
	if !errors.As(err, &apiErr) || !apiErr.HasType("expired_token") {
		t.Errorf("err = %#v, want an APIError of type expired_token", err)
	}
	if strings.Contains(err.Error(), "secret") {
		t.Errorf("error %q quotes the token", err)
	}
	err = p.Pull(context.Background(), http.DefaultClient, model.TypeSleep, utc(2020, 1, 1, 10), utc(2020, 1, 1, 14), &memSink{})
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || !strings.Contains(err.Error(), "Invalid date") {
		t.Errorf("err = %v, want a 400 with Fitbit's message", err)
	}
	if err := p.Pull(context.Background(), http.DefaultClient, model.TypeNutrition, utc(2020, 1, 1, 10), utc(2020, 1, 1, 14), &memSink{}); err == nil {
		t.Error("no error for nutrition")
	}
	if err := p.Pull(context.Background(), http.DefaultClient, model.TypeSleep, utc(2020, 1, 1, 10), utc(2020, 1, 1, 10), &memSink{}); err != nil {
		t.Errorf("empty window: %v", err)
	}
}

// TestRefreshRefused: a refresh Fitbit refuses, in its own error shape,
// is ErrUnauthorized for a pull, and a standard invalid_grant for the
// core's TokenExchanger path.
func TestRefreshRefused(t *testing.T) {
	ts := httptest.NewServer(serve(http.StatusBadRequest, `{"errors":[{"errorType":"invalid_grant","message":"Refresh token invalid: used-one"}],"success":false}`))
	t.Cleanup(ts.Close)
	p := New(Config{ClientID: "c", ClientSecret: "s", TokenURL: ts.URL, APIBase: ts.URL})
	cfg := p.OAuthConfig()
	hc := cfg.Client(context.Background(), &oauth2.Token{AccessToken: "old", RefreshToken: "used-one", Expiry: time.Now().Add(-time.Hour)})
	err := p.Pull(context.Background(), hc, model.TypeSleep, utc(2020, 1, 1, 10), utc(2020, 1, 1, 14), &memSink{})
	if !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("err = %v, want ErrUnauthorized", err)
	}

	_, err = p.RefreshToken(context.Background(), http.DefaultClient, cfg, &oauth2.Token{RefreshToken: "used-one"})
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Fatalf("err = %v, want a RetrieveError with ErrorCode invalid_grant", err)
	}
	if strings.Contains(err.Error(), "used-one") {
		t.Errorf("error %q quotes the refresh token", err)
	}
	_, err = p.ExchangeCode(context.Background(), http.DefaultClient, cfg, "code", "verifier")
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Errorf("exchange err = %v, want invalid_grant", err)
	}
}
