package whoop_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/wearbridge/wearbridge/internal/model"
	"github.com/wearbridge/wearbridge/internal/model/terraschema"
	whoopsandbox "github.com/wearbridge/wearbridge/internal/sandbox/whoop"
	"github.com/wearbridge/wearbridge/internal/source"
	"github.com/wearbridge/wearbridge/internal/source/whoop"
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

var testValidator = sync.OnceValues(terraschema.New)

func validate(t testing.TB, rec model.Record) {
	t.Helper()
	v, err := testValidator()
	if err != nil {
		t.Fatalf("terraschema: %v", err)
	}
	schema := map[model.DataType]string{model.TypeSleep: "Sleep", model.TypeDaily: "Daily", model.TypeActivity: "Activity", model.TypeBody: "Body"}[rec.Type]
	b, err := json.Marshal(rec.Data)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Validate(schema, b); err != nil {
		t.Errorf("record %s/%s does not match %s: %v", rec.Type, rec.Key, schema, err)
	}
}

// TestPullSandbox pulls every type from the fake over the sandbox
// backfill: each recorded item comes out once, at its recorded date.
func TestPullSandbox(t *testing.T) {
	today := time.Now().UTC().Format("2006-01-02")
	tests := []struct {
		typ      model.DataType
		keys     []string
		day      string
		requests int
	}{
		// cycle_collection.json (id 93845) joined with recovery_collection.json.
		{typ: model.TypeDaily, keys: []string{"93845"}, day: "2022-04-23", requests: 2},
		// sleep_collection.json; recoveries and cycles are read for the join.
		{typ: model.TypeSleep, keys: []string{"ecfc6a15-4661-442f-a9a4-f160dd7afae8"}, day: "2022-04-23", requests: 3},
		// The documented workout example.
		{typ: model.TypeActivity, keys: []string{"ecfc6a15-4661-442f-a9a4-f160dd7afae8"}, day: "2022-04-23", requests: 1},
		// The body measurement, filed under today.
		{typ: model.TypeBody, keys: []string{today}, day: today, requests: 1},
	}
	for _, tt := range tests {
		t.Run(string(tt.typ), func(t *testing.T) {
			srv, _, p, hc := sandbox(t, whoopsandbox.Config{})
			start, end := whole(p)
			var sink memSink
			if err := p.Pull(context.Background(), hc, tt.typ, start, end, &sink); err != nil {
				t.Fatal(err)
			}
			if len(sink.probs) != 0 {
				t.Errorf("problems: %+v", sink.probs)
			}
			eq(t, "records", len(sink.recs), len(tt.keys))
			got := sink.byKey()
			for _, k := range tt.keys {
				r, ok := got[k]
				if !ok {
					t.Errorf("no record %s", k)
					continue
				}
				eq(t, "type", r.Type, tt.typ)
				eq(t, "day", r.Day, tt.day)
				validate(t, r)
			}
			eq(t, "requests", srv.APIRequests(), tt.requests)
		})
	}
}

// TestPullSandboxJoins checks the joins on the recorded data: the
// recovery's cycle_id is the cycle's id, but its sleep_id names a sleep
// that is not recorded, so the sleep gets no recovery data.
func TestPullSandboxJoins(t *testing.T) {
	_, _, p, hc := sandbox(t, whoopsandbox.Config{})
	start, end := whole(p)
	var daily, sleep memSink
	if err := p.Pull(context.Background(), hc, model.TypeDaily, start, end, &daily); err != nil {
		t.Fatal(err)
	}
	if err := p.Pull(context.Background(), hc, model.TypeSleep, start, end, &sleep); err != nil {
		t.Fatal(err)
	}
	d := daily.recs[0].Data.(*model.Daily)
	eq(t, "daily recovery score", *d.Scores.Recovery, 44.0) // recovery_collection.json recovery_score
	s := sleep.recs[0].Data.(*model.Sleep)
	if s.ReadinessData != nil {
		t.Error("the sleep got a recovery that names another sleep")
	}
}

// cycleJSON is a cycle shaped like cycle_collection.json's, with its own
// id and start.
func cycleJSON(id int, start time.Time) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"id":%d,"user_id":10129,"created_at":%q,"updated_at":%q,"start":%q,"end":%q,"timezone_offset":"-05:00","score_state":"SCORED","score":{"strain":5.2951527,"kilojoule":8288.297,"average_heart_rate":68,"max_heart_rate":141}}`,
		id, start.Add(9*time.Hour).Format(time.RFC3339Nano), start.Add(12*time.Hour).Format(time.RFC3339Nano), start.Format(time.RFC3339Nano), start.Add(8*time.Hour).Format(time.RFC3339Nano)))
}

// recoveryJSON is a recovery shaped like recovery_collection.json's.
func recoveryJSON(cycleID int, score float64) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"cycle_id":%d,"sleep_id":"00000000-0000-4000-8000-%012d","user_id":10129,"created_at":"2022-04-24T11:25:44.774Z","updated_at":"2022-04-24T14:25:44.774Z","score_state":"SCORED","score":{"user_calibrating":false,"recovery_score":%g,"resting_heart_rate":64.0,"hrv_rmssd_milli":31.813562}}`, cycleID, cycleID, score))
}

// addCycles adds n cycles, one a day from 2022-05-01 02:25 UTC, ids
// 1000..1000+n-1, each with a recovery scoring its index.
func addCycles(t *testing.T, srv *whoopsandbox.Server, n int) {
	t.Helper()
	first := time.Date(2022, 5, 1, 2, 25, 0, 0, time.UTC)
	var cycles, recs []json.RawMessage
	for i := range n {
		cycles = append(cycles, cycleJSON(1000+i, first.AddDate(0, 0, i)))
		recs = append(recs, recoveryJSON(1000+i, float64(i)))
	}
	if err := srv.AddRecords("cycle", cycles...); err != nil {
		t.Fatal(err)
	}
	if err := srv.AddRecords("recovery", recs...); err != nil {
		t.Fatal(err)
	}
}

// TestPullPaging follows nextToken over several pages of 25: every cycle
// exactly once, each joined with its own recovery.
func TestPullPaging(t *testing.T) {
	tests := []struct {
		name       string
		start, end time.Time
		keys       int
		requests   int
	}{
		// 60 added + the recorded one: 3 pages of recoveries and 3 of cycles.
		{name: "all", start: time.Date(2022, 4, 1, 0, 0, 0, 0, time.UTC), end: time.Date(2022, 8, 1, 0, 0, 0, 0, time.UTC), keys: 61, requests: 6},
		// Cycles starting 2022-05-10 .. 05-14 (ids 1009..1013); the
		// recoveries are read a day wider on each side (7: one page).
		{name: "five days", start: time.Date(2022, 5, 10, 0, 0, 0, 0, time.UTC), end: time.Date(2022, 5, 15, 0, 0, 0, 0, time.UTC), keys: 5, requests: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _, p, hc := sandbox(t, whoopsandbox.Config{})
			addCycles(t, srv, 60)
			var sink memSink
			if err := p.Pull(context.Background(), hc, model.TypeDaily, tt.start, tt.end, &sink); err != nil {
				t.Fatal(err)
			}
			if len(sink.probs) != 0 {
				t.Errorf("problems: %+v", sink.probs)
			}
			eq(t, "records", len(sink.recs), tt.keys)
			eq(t, "distinct keys", len(sink.byKey()), tt.keys)
			for _, r := range sink.recs {
				d := r.Data.(*model.Daily)
				if d.Scores == nil {
					t.Errorf("cycle %s has no recovery", r.Key)
					continue
				}
				var id int
				fmt.Sscan(r.Key, &id)
				if id >= 1000 && id < 2000 {
					eq(t, "recovery of "+r.Key, *d.Scores.Recovery, float64(id-1000))
				}
			}
			eq(t, "requests", srv.APIRequests(), tt.requests)
		})
	}
}

func TestPullRateLimit(t *testing.T) {
	srv, _, p, hc := sandbox(t, whoopsandbox.Config{})
	srv.InjectRateLimit(2, 37*time.Second) // the cycles page, after the recoveries
	start, end := whole(p)
	var sink memSink
	err := p.Pull(context.Background(), hc, model.TypeDaily, start, end, &sink)
	var rl *source.RateLimitError
	if !errors.As(err, &rl) {
		t.Fatalf("err = %v, want a RateLimitError", err)
	}
	eq(t, "provider", rl.Provider, "WHOOP")
	eq(t, "retry after", rl.RetryAfter, 37*time.Second) // X-RateLimit-Reset: 37
}

func TestPullUnauthorized(t *testing.T) {
	_, _, p, _ := sandbox(t, whoopsandbox.Config{})
	hc := oauth2.NewClient(context.Background(), oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "revoked"}))
	start, end := whole(p)
	for _, typ := range p.PullTypes() {
		err := p.Pull(context.Background(), hc, typ, start, end, &memSink{})
		if !errors.Is(err, source.ErrUnauthorized) {
			t.Errorf("%s: err = %v, want ErrUnauthorized", typ, err)
		}
	}
	if _, err := p.Identify(context.Background(), hc, nil); !errors.Is(err, source.ErrUnauthorized) {
		t.Errorf("Identify: err = %v, want ErrUnauthorized", err)
	}
}

// corrupting wraps the fake and answers garbage for the requests bad
// picks.
func corrupting(t *testing.T, srv *whoopsandbox.Server, bad func(*http.Request) bool) (*whoop.Provider, *http.Client) {
	t.Helper()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if bad(r) {
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, "<html>upstream hiccup</html>")
			return
		}
		srv.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	return whoop.New(whoopsandbox.ProviderConfig(ts.URL)), oauth2.NewClient(context.Background(), oauth2.StaticTokenSource(srv.Token(0)))
}

// TestPullMalformedPage: a page that is not a collection page is a problem
// with its raw body; what else can be read lands, and the pull says it is
// incomplete.
func TestPullMalformedPage(t *testing.T) {
	t.Run("recoveries unreadable, cycles land", func(t *testing.T) {
		srv := whoopsandbox.New(whoopsandbox.Config{})
		p, hc := corrupting(t, srv, func(r *http.Request) bool { return r.URL.Path == "/developer/v2/recovery" })
		start, end := whole(p)
		var sink memSink
		err := p.Pull(context.Background(), hc, model.TypeDaily, start, end, &sink)
		if !errors.Is(err, whoop.ErrIncomplete) {
			t.Errorf("err = %v, want ErrIncomplete", err)
		}
		eq(t, "records", len(sink.recs), 1)
		eq(t, "problems", len(sink.probs), 1)
		eq(t, "problem raw", string(sink.probs[0].Raw), "<html>upstream hiccup</html>")
		eq(t, "problem type", sink.probs[0].Type, model.TypeDaily)
	})
	t.Run("second page of cycles unreadable, first page lands", func(t *testing.T) {
		srv := whoopsandbox.New(whoopsandbox.Config{})
		addCycles(t, srv, 30)
		p, hc := corrupting(t, srv, func(r *http.Request) bool {
			return r.URL.Path == "/developer/v2/cycle" && r.URL.Query().Get("nextToken") != ""
		})
		start, end := whole(p)
		var sink memSink
		err := p.Pull(context.Background(), hc, model.TypeDaily, start, end, &sink)
		if !errors.Is(err, whoop.ErrIncomplete) {
			t.Errorf("err = %v, want ErrIncomplete", err)
		}
		eq(t, "records", len(sink.recs), 25)
		eq(t, "problems", len(sink.probs), 1)
		if !strings.Contains(sink.probs[0].Err, "page 2") {
			t.Errorf("problem = %s", sink.probs[0].Err)
		}
	})
}

// TestPullBadItem: an item that cannot be mapped is a problem with its raw
// JSON; the rest of the page lands and the pull is complete.
func TestPullBadItem(t *testing.T) {
	srv, _, p, hc := sandbox(t, whoopsandbox.Config{})
	bad := json.RawMessage(`{"id":77,"user_id":10129,"start":"2022-05-02T02:25:44.774Z","timezone_offset":"Eastern","score_state":"SCORED"}`)
	if err := srv.AddRecords("cycle", bad); err != nil {
		t.Fatal(err)
	}
	start, end := whole(p)
	var sink memSink
	if err := p.Pull(context.Background(), hc, model.TypeDaily, start, end, &sink); err != nil {
		t.Fatal(err)
	}
	eq(t, "records", len(sink.recs), 1)
	eq(t, "problems", len(sink.probs), 1)
	if !strings.Contains(string(sink.probs[0].Raw), `"Eastern"`) {
		t.Errorf("problem raw = %s", sink.probs[0].Raw)
	}
}

// TestFetchItem fetches the items webhooks name.
func TestFetchItem(t *testing.T) {
	const sleepID = "ecfc6a15-4661-442f-a9a4-f160dd7afae8"  // sleep_collection.json id
	const recSleep = "123e4567-e89b-12d3-a456-426614174000" // recovery_collection.json sleep_id
	tests := []struct {
		name      string
		typ       model.DataType
		id        string
		key       string
		readiness bool
		requests  int
	}{
		{name: "sleep", typ: model.TypeSleep, id: sleepID, key: sleepID, requests: 3},
		{name: "sleep with its recovery", typ: model.TypeSleep, id: recSleep, key: recSleep, readiness: true, requests: 3},
		{name: "daily by cycle id", typ: model.TypeDaily, id: "93845", key: "93845", readiness: true, requests: 2},
		{name: "daily by the recovery's sleep", typ: model.TypeDaily, id: recSleep, key: "93845", readiness: true, requests: 3},
		{name: "workout", typ: model.TypeActivity, id: sleepID, key: sleepID, requests: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _, p, hc := sandbox(t, whoopsandbox.Config{})
			// The sleep the recorded recovery names (a copy of the recorded
			// sleep with that id), so that the join can be seen.
			linked := `{"id":"` + recSleep + `","cycle_id":93845,"user_id":10129,"start":"2022-04-24T02:25:44.774Z","end":"2022-04-24T10:25:44.774Z","timezone_offset":"-05:00","nap":false,"score_state":"PENDING_SCORE"}`
			if err := srv.AddRecords("sleep", json.RawMessage(linked)); err != nil {
				t.Fatal(err)
			}
			var sink memSink
			if err := p.FetchItem(context.Background(), hc, tt.typ, tt.id, &sink); err != nil {
				t.Fatal(err)
			}
			if len(sink.probs) != 0 {
				t.Errorf("problems: %+v", sink.probs)
			}
			if len(sink.recs) != 1 {
				t.Fatalf("%d records, want 1", len(sink.recs))
			}
			r := sink.recs[0]
			validate(t, r)
			eq(t, "type", r.Type, tt.typ)
			eq(t, "key", r.Key, tt.key)
			eq(t, "day", r.Day, "2022-04-23")
			switch d := r.Data.(type) {
			case *model.Sleep:
				eq(t, "readiness", d.ReadinessData != nil, tt.readiness)
			case *model.Daily:
				eq(t, "recovery", d.Scores != nil, tt.readiness)
			}
			eq(t, "requests", srv.APIRequests(), tt.requests)
		})
	}

	t.Run("deleted item", func(t *testing.T) {
		_, _, p, hc := sandbox(t, whoopsandbox.Config{})
		var sink memSink
		if err := p.FetchItem(context.Background(), hc, model.TypeSleep, "9f1f7bd4-0000-4000-8000-000000000000", &sink); err != nil {
			t.Fatal(err)
		}
		eq(t, "records", len(sink.recs), 0)
		eq(t, "problems", len(sink.probs), 1)
	})
	t.Run("body cannot be fetched by id", func(t *testing.T) {
		_, _, p, hc := sandbox(t, whoopsandbox.Config{})
		if err := p.FetchItem(context.Background(), hc, model.TypeBody, "x", &memSink{}); err == nil {
			t.Error("no error")
		}
	})
}

// TestPushAllRoundTrip sends the fake's signed webhooks to a receiver that
// runs ParsePush, then fetches what they ask for, as the core would.
func TestPushAllRoundTrip(t *testing.T) {
	srv, _, p, hc := sandbox(t, whoopsandbox.Config{})
	var mu sync.Mutex
	var batches []source.PushBatch
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		bs, err := p.ParsePush(r.Context(), r, body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		batches = append(batches, bs...)
		mu.Unlock()
	}))
	t.Cleanup(recv.Close)

	n, err := srv.PushAll(context.Background(), recv.Client(), recv.URL, "10129")
	if err != nil {
		t.Fatal(err)
	}
	// sleep.updated for the recorded sleep, workout.updated for the
	// documented workout (the recorded recovery's sleep is not served).
	eq(t, "webhooks", n, 2)
	var sink memSink
	for _, b := range batches {
		eq(t, "user", b.ProviderUserID, "10129")
		eq(t, "problems", len(b.Problems), 0)
		for _, pr := range b.Pulls {
			if err := p.FetchItem(context.Background(), hc, pr.Type, pr.ItemID, &sink); err != nil {
				t.Fatal(err)
			}
		}
	}
	eq(t, "records", len(sink.recs), 2)
	eq(t, "fetch problems", len(sink.probs), 0)

	// The package PushAll signs with the default secret, which a provider
	// with another secret refuses.
	other := whoop.New(whoop.Config{ClientSecret: "not-the-sandbox-secret"})
	refuse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if _, err := other.ParsePush(r.Context(), r, body); errors.Is(err, source.ErrBadPush) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
		}
	}))
	t.Cleanup(refuse.Close)
	if _, err := whoopsandbox.PushAll(context.Background(), nil, refuse.URL, "10129"); err == nil {
		t.Error("a wrong secret was accepted")
	}
	if _, err := whoopsandbox.PushAll(context.Background(), nil, refuse.URL, "alice"); err == nil {
		t.Error("a non-integer WHOOP user id was accepted")
	}
}
