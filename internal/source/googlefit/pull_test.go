package googlefit_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/wearbridge/wearbridge/internal/model"
	"github.com/wearbridge/wearbridge/internal/model/terraschema"
	"github.com/wearbridge/wearbridge/internal/sandbox/fixtures"
	gfsandbox "github.com/wearbridge/wearbridge/internal/sandbox/googlefit"
	"github.com/wearbridge/wearbridge/internal/source"
	"github.com/wearbridge/wearbridge/internal/source/googlefit"
)

// memSink keeps what a pull produced.
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

func (s *memSink) byKey() map[string]model.Record {
	m := make(map[string]model.Record, len(s.recs))
	for _, r := range s.recs {
		m[r.Key] = r
	}
	return m
}

func eq[T comparable](t testing.TB, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

var validator = sync.OnceValues(terraschema.New)

func validate(t testing.TB, rec model.Record) {
	t.Helper()
	v, err := validator()
	if err != nil {
		t.Fatal(err)
	}
	schema := map[model.DataType]string{model.TypeSleep: "Sleep", model.TypeDaily: "Daily", model.TypeActivity: "Activity", model.TypeBody: "Body"}[rec.Type]
	b, err := json.Marshal(rec.Data)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Validate(schema, b); err != nil {
		t.Errorf("%s/%s does not match %s: %v", rec.Type, rec.Key, schema, err)
	}
}

func utc(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// sandbox starts the fake Google and returns it, a provider pointed at it
// and an HTTP client sending a fresh token of user.
func sandbox(t *testing.T, cfg gfsandbox.Config, user string) (*gfsandbox.Server, *googlefit.Provider, *http.Client) {
	t.Helper()
	srv := gfsandbox.New(cfg)
	if err := srv.Err(); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	p := googlefit.New(gfsandbox.ProviderConfig(ts.URL))
	hc := oauth2.NewClient(context.Background(), oauth2.StaticTokenSource(srv.Token(user)))
	return srv, p, hc
}

const (
	keyWalk  = "segment:1420150917000000000:derived:com.google.activity.segment:com.strava:session_activity_segment"
	keyAero  = "segment:1420417649151000000:derived:com.google.activity.segment:com.mapmyrun.android2:session_activity_segment"
	keyRun   = "segment:1436275800000000000:raw:com.google.activity.segment:com.google.android.apps.fitness:user_input"
	keySleep = keyRun // the only-sleep recording has the same point with type 72
)

// TestPullSandbox pulls every type from the fake over the whole recording
// (2015-01-01 to 2015-07-31, eight windows): every recorded item comes out
// once.
func TestPullSandbox(t *testing.T) {
	start, end := utc(2015, 1, 1), utc(2015, 8, 1)
	tests := []struct {
		name string
		typ  model.DataType
		user string
		keys []string
	}{
		// merge_activity_segments.json: points of type 7, 9 and 8.
		{"activity", model.TypeActivity, "", []string{keyWalk, keyAero, keyRun}},
		// merge_activity_segments_only_sleep.json: one point of type 72.
		{"sleep", model.TypeSleep, gfsandbox.SleepUserID, []string{keySleep}},
		{"no sleep", model.TypeSleep, "", nil},
		{"no activity for the sleeper", model.TypeActivity, gfsandbox.SleepUserID, nil},
		// merge_heart_rate.json (2015-01-30, 2015-07-10) and
		// merge_weight.json (2015-02-13, 2015-02-17, 2015-07-08).
		{"body", model.TypeBody, "", []string{"2015-01-30", "2015-02-13", "2015-02-17", "2015-07-08", "2015-07-10"}},
		// Heart-rate summaries are the only recorded daily aggregates.
		{"daily", model.TypeDaily, "", []string{"2015-01-30", "2015-07-10"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, p, hc := sandbox(t, gfsandbox.Config{}, tt.user)
			var sink memSink
			if err := p.Pull(context.Background(), hc, tt.typ, start, end, &sink); err != nil {
				t.Fatal(err)
			}
			if len(sink.probs) != 0 {
				t.Errorf("problems: %+v", sink.probs)
			}
			got := sink.byKey()
			eq(t, "records", len(sink.recs), len(tt.keys))
			eq(t, "distinct keys", len(got), len(sink.recs))
			for _, k := range tt.keys {
				if _, ok := got[k]; !ok {
					t.Errorf("no record %s", k)
				}
			}
			for _, r := range sink.recs {
				eq(t, "type", r.Type, tt.typ)
				validate(t, r)
			}
		})
	}
}

// TestPullSandboxDaily checks the daily heart-rate summaries the fake
// aggregates from merge_heart_rate.json.
func TestPullSandboxDaily(t *testing.T) {
	_, p, hc := sandbox(t, gfsandbox.Config{}, "")
	var sink memSink
	if err := p.Pull(context.Background(), hc, model.TypeDaily, utc(2015, 1, 30), utc(2015, 1, 31), &sink); err != nil {
		t.Fatal(err)
	}
	eq(t, "records", len(sink.recs), 1)
	d := sink.recs[0].Data.(*model.Daily)
	eq(t, "start", d.Metadata.StartTime, "2015-01-30T00:00:00.000000+00:00")
	// point[0] of merge_heart_rate.json: fpVal 54, the day's only reading.
	eq(t, "avg", *d.HeartRateData.Summary.AvgHrBpm, 54)
	eq(t, "max", *d.HeartRateData.Summary.MaxHrBpm, 54)
	eq(t, "min", *d.HeartRateData.Summary.MinHrBpm, 54)
}

// TestPullPaging reads streams one point a page: all points, each once.
func TestPullPaging(t *testing.T) {
	tests := []struct {
		name       string
		typ        model.DataType
		start, end time.Time
		keys       []string
		requests   int
	}{
		{
			// Sessions (1); activity segments over 2014-12-31..2015-01-07:
			// points 0 and 1, one a page (2); heart rate over the two
			// activities: none, one empty page (1).
			name: "activity", typ: model.TypeActivity, start: utc(2015, 1, 1), end: utc(2015, 1, 6),
			keys: []string{keyWalk, keyAero}, requests: 4,
		},
		{
			// Weight in February: points 0 and 1, one a page (2); heart
			// rate: none (1).
			name: "body", typ: model.TypeBody, start: utc(2015, 2, 1), end: utc(2015, 3, 1),
			keys: []string{"2015-02-13", "2015-02-17"}, requests: 3,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, p, hc := sandbox(t, gfsandbox.Config{PageSize: 1}, "")
			var sink memSink
			if err := p.Pull(context.Background(), hc, tt.typ, tt.start, tt.end, &sink); err != nil {
				t.Fatal(err)
			}
			eq(t, "records", len(sink.recs), len(tt.keys))
			got := sink.byKey()
			for _, k := range tt.keys {
				if _, ok := got[k]; !ok {
					t.Errorf("no record %s", k)
				}
			}
			eq(t, "requests", srv.APIRequests(), tt.requests)
		})
	}
}

func TestPullRateLimited(t *testing.T) {
	tests := []struct {
		name   string
		status int
		header time.Duration
		want   time.Duration
	}{
		{"429 with Retry-After", http.StatusTooManyRequests, 30 * time.Second, 30 * time.Second},
		{"429 without Retry-After", http.StatusTooManyRequests, 0, time.Minute},
		{"403 rateLimitExceeded", http.StatusForbidden, 0, time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, p, hc := sandbox(t, gfsandbox.Config{RateLimitStatus: tt.status}, "")
			// Request 1 reads the weight stream, 2 the heart-rate stream.
			srv.InjectRateLimit(2, tt.header)
			var sink memSink
			err := p.Pull(context.Background(), hc, model.TypeBody, utc(2015, 2, 1), utc(2015, 3, 1), &sink)
			var rl *source.RateLimitError
			if !errors.As(err, &rl) {
				t.Fatalf("err = %v, want a RateLimitError", err)
			}
			eq(t, "provider", rl.Provider, "GOOGLE")
			eq(t, "RetryAfter", rl.RetryAfter, tt.want)
			eq(t, "records", len(sink.recs), 0)
		})
	}
}

func TestPullUnauthorized(t *testing.T) {
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	_, p, hc := sandbox(t, gfsandbox.Config{TokenLifetime: time.Minute, Now: clock}, "")
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	for _, typ := range p.PullTypes() {
		err := p.Pull(context.Background(), hc, typ, utc(2015, 1, 1), utc(2015, 2, 1), &memSink{})
		if !errors.Is(err, source.ErrUnauthorized) {
			t.Errorf("%s: err = %v, want ErrUnauthorized", typ, err)
		}
		var apiErr *googlefit.APIError
		if !errors.As(err, &apiErr) || apiErr.Reason != "authError" {
			t.Errorf("%s: err = %#v, want Google's authError", typ, err)
		}
	}
	if _, err := p.Identify(context.Background(), hc, nil); !errors.Is(err, source.ErrUnauthorized) {
		t.Errorf("Identify err = %v, want ErrUnauthorized", err)
	}
}

// TestRefreshRefused: a refresh the token endpoint refuses is
// ErrUnauthorized.
func TestRefreshRefused(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"invalid_grant","error_description":"Token has been expired or revoked."}`))
	}))
	t.Cleanup(ts.Close)
	p := googlefit.New(googlefit.Config{ClientID: "c", ClientSecret: "s", TokenURL: ts.URL, APIBase: ts.URL})
	cfg := p.OAuthConfig()
	hc := cfg.Client(context.Background(), &oauth2.Token{AccessToken: "old", RefreshToken: "gone", Expiry: time.Now().Add(-time.Hour)})
	err := p.Pull(context.Background(), hc, model.TypeBody, utc(2015, 1, 1), utc(2015, 1, 2), &memSink{})
	if !errors.Is(err, source.ErrUnauthorized) {
		t.Fatalf("err = %v, want ErrUnauthorized", err)
	}
}

// fakeAPI answers each stream (by data source id), the session list and
// the aggregate endpoint with fixed handlers; other streams are "not
// found", as Google answers for a stream the user never wrote.
func fakeAPI(t *testing.T, streams map[string]http.HandlerFunc, sessions, aggregate http.HandlerFunc) *googlefit.Provider {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /users/me/dataSources/{id}/datasets/{range}", func(w http.ResponseWriter, r *http.Request) {
		if h, ok := streams[r.PathValue("id")]; ok {
			h(w, r)
			return
		}
		serve(http.StatusBadRequest, `{"error":{"code":400,"message":"datasource not found: `+r.PathValue("id")+`","errors":[{"reason":"invalidArgument"}],"status":"INVALID_ARGUMENT"}}`)(w, r)
	})
	mux.HandleFunc("GET /users/me/sessions", func(w http.ResponseWriter, r *http.Request) {
		if sessions != nil {
			sessions(w, r)
			return
		}
		serve(http.StatusOK, `{"session":[]}`)(w, r)
	})
	mux.HandleFunc("POST /users/me/dataset:aggregate", func(w http.ResponseWriter, r *http.Request) {
		if aggregate != nil {
			aggregate(w, r)
			return
		}
		serve(http.StatusOK, `{"bucket":[]}`)(w, r)
	})
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	return googlefit.New(googlefit.Config{APIBase: ts.URL})
}

func serve(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}
}

func fixture(t *testing.T, name string) string {
	t.Helper()
	b, err := fs.ReadFile(fixtures.FS, "google_fit/"+name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const (
	srcWeight    = "derived:com.google.weight:com.google.android.gms:merge_weight"
	srcHeartRate = "derived:com.google.heart_rate.bpm:com.google.android.gms:merge_heart_rate_bpm"
	srcSegments  = "derived:com.google.activity.segment:com.google.android.gms:merge_activity_segments"
)

// TestPullMalformedPage: a page that is not a dataset becomes a Problem
// with its body, and the other stream still lands.
func TestPullMalformedPage(t *testing.T) {
	for _, body := range []string{"<html><body>502 Bad Gateway</body></html>", `{"point":{"x":1}}`, `{"point":[]}`} {
		p := fakeAPI(t, map[string]http.HandlerFunc{
			srcWeight:    serve(http.StatusOK, body),
			srcHeartRate: serve(http.StatusOK, fixture(t, "merge_heart_rate.json")),
		}, nil, nil)
		var sink memSink
		if err := p.Pull(context.Background(), http.DefaultClient, model.TypeBody, utc(2015, 1, 30), utc(2015, 1, 31), &sink); err != nil {
			t.Fatal(err)
		}
		eq(t, "problems", len(sink.probs), 1)
		eq(t, "problem body", string(sink.probs[0].Raw), body)
		eq(t, "problem type", sink.probs[0].Type, model.TypeBody)
		// merge_heart_rate.json point[0] is on 2015-01-30.
		eq(t, "records", len(sink.recs), 1)
		eq(t, "record", sink.recs[0].Key, "2015-01-30")
	}
}

// TestPullBadPoint: a point that cannot be decoded is a Problem with its
// JSON; the others on the page land.
func TestPullBadPoint(t *testing.T) {
	page := `{"dataSourceId":"` + srcWeight + `","point":[
		{"startTimeNanos":"1423785600000000000","endTimeNanos":"1423785600000000000","dataTypeName":"com.google.weight","value":[{"fpVal":72.5}]},
		{"startTimeNanos":"1423785700000000000","dataTypeName":"com.google.weight","value":[{"fpVal":99}]}
	]}`
	p := fakeAPI(t, map[string]http.HandlerFunc{srcWeight: serve(http.StatusOK, page)}, nil, nil)
	var sink memSink
	if err := p.Pull(context.Background(), http.DefaultClient, model.TypeBody, utc(2015, 2, 13), utc(2015, 2, 14), &sink); err != nil {
		t.Fatal(err)
	}
	eq(t, "records", len(sink.recs), 1)
	b := sink.recs[0].Data.(*model.Body)
	eq(t, "weight", *b.MeasurementsData.Measurements[0].WeightKg, 72.5)
	eq(t, "problems", len(sink.probs), 1)
	if !strings.Contains(string(sink.probs[0].Raw), `"fpVal":99`) {
		t.Errorf("problem raw = %s", sink.probs[0].Raw)
	}
}

// TestPullForbiddenStream: a stream the token may not read is a Problem;
// the rest lands.
func TestPullForbiddenStream(t *testing.T) {
	p := fakeAPI(t, map[string]http.HandlerFunc{
		srcHeartRate: serve(http.StatusForbidden, `{"error":{"errors":[{"domain":"global","reason":"forbidden","message":"No permission to read data for this private data source."}],"code":403,"message":"No permission to read data for this private data source."}}`),
		srcWeight:    serve(http.StatusOK, fixture(t, "merge_weight.json")),
	}, nil, nil)
	var sink memSink
	if err := p.Pull(context.Background(), http.DefaultClient, model.TypeBody, utc(2015, 2, 13), utc(2015, 2, 14), &sink); err != nil {
		t.Fatal(err)
	}
	eq(t, "records", len(sink.recs), 1)
	eq(t, "problems", len(sink.probs), 1)
	if !strings.Contains(sink.probs[0].Err, "No permission") {
		t.Errorf("problem = %q", sink.probs[0].Err)
	}
}

// TestPullRepeatingToken: a server that pages forever ends the pull with
// an error, never a silent partial read.
func TestPullRepeatingToken(t *testing.T) {
	p := fakeAPI(t, map[string]http.HandlerFunc{
		srcWeight: serve(http.StatusOK, `{"dataSourceId":"`+srcWeight+`","nextPageToken":"again"}`),
	}, nil, nil)
	err := p.Pull(context.Background(), http.DefaultClient, model.TypeBody, utc(2015, 2, 13), utc(2015, 2, 14), &memSink{})
	if err == nil || !strings.Contains(err.Error(), "not read") {
		t.Fatalf("err = %v, want a partial-read error", err)
	}
}

// TestPullMalformedLists: a session list or aggregate answer that cannot be
// decoded is a Problem with its body.
func TestPullMalformedLists(t *testing.T) {
	garbage := "<html>oops</html>"
	p := fakeAPI(t, map[string]http.HandlerFunc{
		srcSegments: serve(http.StatusOK, fixture(t, "merge_activity_segments.json")),
	}, serve(http.StatusOK, garbage), serve(http.StatusOK, garbage))
	var sink memSink
	// Sessions are garbage; the segments of the window still land.
	if err := p.Pull(context.Background(), http.DefaultClient, model.TypeActivity, utc(2015, 1, 1), utc(2015, 1, 6), &sink); err != nil {
		t.Fatal(err)
	}
	eq(t, "activity records", len(sink.recs), 2)
	eq(t, "activity problems", len(sink.probs), 1)
	eq(t, "problem body", string(sink.probs[0].Raw), garbage)

	sink = memSink{}
	if err := p.Pull(context.Background(), http.DefaultClient, model.TypeDaily, utc(2015, 1, 1), utc(2015, 1, 6), &sink); err != nil {
		t.Fatal(err)
	}
	eq(t, "daily problems", len(sink.probs), 1)
	eq(t, "daily records", len(sink.recs), 0)
}

// TestPullAggregateWindows: daily pulls ask for whole UTC days in windows
// of at most 28 days, one bucket a day, which neither overlap nor leave
// gaps.
func TestPullAggregateWindows(t *testing.T) {
	var mu sync.Mutex
	var got []string
	p := fakeAPI(t, nil, nil, func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			StartTimeMillis string `json:"startTimeMillis"`
			EndTimeMillis   string `json:"endTimeMillis"`
			BucketByTime    struct {
				DurationMillis string `json:"durationMillis"`
			} `json:"bucketByTime"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			t.Error(err)
		}
		mu.Lock()
		got = append(got, req.StartTimeMillis+"-"+req.EndTimeMillis+"/"+req.BucketByTime.DurationMillis)
		mu.Unlock()
		serve(http.StatusOK, `{"bucket":[]}`)(w, r)
	})
	// 2024-01-01T06:00Z to 2024-03-01T06:00Z: days 2024-01-01 .. 2024-03-01
	// (61 days): 28 + 28 + 5.
	start := time.Date(2024, 1, 1, 6, 0, 0, 0, time.UTC)
	end := time.Date(2024, 3, 1, 6, 0, 0, 0, time.UTC)
	if err := p.Pull(context.Background(), http.DefaultClient, model.TypeDaily, start, end, &memSink{}); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"1704067200000-1706486400000/86400000", // 2024-01-01 .. 2024-01-29
		"1706486400000-1708905600000/86400000", // 2024-01-29 .. 2024-02-26
		"1708905600000-1709337600000/86400000", // 2024-02-26 .. 2024-03-02
	}
	eq(t, "requests", strings.Join(got, " "), strings.Join(want, " "))
}

func TestPullUnsupportedType(t *testing.T) {
	p := googlefit.New(googlefit.Config{})
	if err := p.Pull(context.Background(), http.DefaultClient, model.TypeNutrition, utc(2024, 1, 1), utc(2024, 1, 2), &memSink{}); err == nil {
		t.Error("no error for nutrition")
	}
}

// TestPullWindowEdges: an item crossing the edge between two pull windows
// (28 days each) is emitted once, whole, by the window it ends in.
func TestPullWindowEdges(t *testing.T) {
	start := utc(2024, 1, 1)
	edge := start.Add(28 * 24 * time.Hour) // 2024-01-29T00:00Z
	seg := func(typ int) string {
		return fmt.Sprintf(`{"dataSourceId":%q,"point":[{"startTimeNanos":"%d","endTimeNanos":"%d","dataTypeName":"com.google.activity.segment","originDataSourceId":"raw:com.google.activity.segment:com.example:","value":[{"intVal":%d}]}]}`,
			srcSegments, edge.Add(-time.Hour).UnixNano(), edge.Add(time.Hour).UnixNano(), typ)
	}
	for _, tt := range []struct {
		typ  model.DataType
		code int
	}{{model.TypeActivity, 8}, {model.TypeSleep, 72}} {
		p := fakeAPI(t, map[string]http.HandlerFunc{srcSegments: serve(http.StatusOK, seg(tt.code))}, nil, nil)
		var sink memSink
		if err := p.Pull(context.Background(), http.DefaultClient, tt.typ, start, utc(2024, 3, 1), &sink); err != nil {
			t.Fatal(err)
		}
		eq(t, string(tt.typ)+" records", len(sink.recs), 1)
		if len(sink.recs) == 1 {
			r := sink.recs[0]
			eq(t, string(tt.typ)+" start", r.Start, edge.Add(-time.Hour))
			eq(t, string(tt.typ)+" end", r.End, edge.Add(time.Hour))
		}
	}
}
