package polar_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/wearbridge/wearbridge/internal/model"
	"github.com/wearbridge/wearbridge/internal/model/terraschema"
	polarsandbox "github.com/wearbridge/wearbridge/internal/sandbox/polar"
	"github.com/wearbridge/wearbridge/internal/source/polar"
)

// sink keeps what a pull produced; failRecords makes Records fail.
type sink struct {
	mu          sync.Mutex
	recs        []model.Record
	probs       []model.Problem
	failRecords bool
}

func (s *sink) Records(_ context.Context, recs []model.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failRecords {
		return errors.New("disk full")
	}
	s.recs = append(s.recs, recs...)
	return nil
}

func (s *sink) Problem(_ context.Context, p model.Problem) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.probs = append(s.probs, p)
	return nil
}

func (s *sink) keys() []string {
	var out []string
	for _, r := range s.recs {
		out = append(out, r.Key)
	}
	return out
}

var validator = sync.OnceValues(terraschema.New)

func validateAll(t *testing.T, recs []model.Record) {
	t.Helper()
	v, err := validator()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		b, err := json.Marshal(r.Data)
		if err != nil {
			t.Fatal(err)
		}
		schema := map[model.DataType]string{model.TypeActivity: "Activity", model.TypeSleep: "Sleep", model.TypeDaily: "Daily"}[r.Type]
		if err := v.Validate(schema, b); err != nil {
			t.Errorf("%s %s: %v", r.Type, r.Key, err)
		}
	}
}

func eq[T comparable](t testing.TB, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// requestLog records the method and path of every request to a handler.
type requestLog struct {
	mu   sync.Mutex
	reqs []string
	h    http.Handler
}

func (l *requestLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	l.mu.Lock()
	l.reqs = append(l.reqs, r.Method+" "+r.URL.Path)
	l.mu.Unlock()
	l.h.ServeHTTP(w, r)
}

func (l *requestLog) count(prefix string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, r := range l.reqs {
		if strings.HasPrefix(r, prefix) {
			n++
		}
	}
	return n
}

func (l *requestLog) reset() {
	l.mu.Lock()
	l.reqs = nil
	l.mu.Unlock()
}

// fake is a sandbox AccessLink with a registered user and a client
// calling it as that user.
type fake struct {
	srv *polarsandbox.Server
	log *requestLog
	url string
	p   *polar.Provider
	hc  *http.Client
	tok *oauth2.Token
}

func newFake(t *testing.T, cfg polarsandbox.Config) *fake {
	t.Helper()
	srv := polarsandbox.New(cfg)
	if err := srv.Err(); err != nil {
		t.Fatal(err)
	}
	l := &requestLog{h: srv}
	ts := httptest.NewServer(l)
	t.Cleanup(ts.Close)
	p := polar.New(polarsandbox.ProviderConfig(ts.URL))
	tok := srv.Token("")
	ocfg := p.OAuthConfig()
	hc := ocfg.Client(context.Background(), tok)
	if _, err := p.Identify(context.Background(), hc, tok); err != nil {
		t.Fatalf("identify: %v", err)
	}
	l.reset()
	return &fake{srv: srv, log: l, url: ts.URL, p: p, hc: hc, tok: tok}
}

// TestPullRecordedData pulls every type over the recorded dates from the
// fake and checks what lands.
func TestPullRecordedData(t *testing.T) {
	f := newFake(t, polarsandbox.Config{})
	ctx := context.Background()

	var act sink
	if err := f.p.Pull(ctx, f.hc, model.TypeActivity, day(2008, 10, 13), day(2008, 10, 14), &act); err != nil {
		t.Fatal(err)
	}
	validateAll(t, act.recs)
	eq(t, "activities", strings.Join(act.keys(), ","), "2AC312F") // exercises_list.json id
	a := act.recs[0].Data.(*model.Activity)
	eq(t, "speed samples from the detail", len(a.MovementData.SpeedSamples), 27)
	eq(t, "list+detail requests", f.log.count("GET /v3/exercises"), 2)
	eq(t, "activity problems", len(act.probs), 0)

	var sl sink
	if err := f.p.Pull(ctx, f.hc, model.TypeSleep, day(2020, 1, 1), day(2020, 1, 2), &sl); err != nil {
		t.Fatal(err)
	}
	validateAll(t, sl.recs)
	eq(t, "sleeps", strings.Join(sl.keys(), ","), "2020-01-01") // sleep_get.json date
	s := sl.recs[0].Data.(*model.Sleep)
	eq(t, "recharge joined", *s.ReadinessData.RecoveryLevel, 3)   // nightly_recharge_status
	eq(t, "hrv joined", *s.HeartRateData.Summary.AvgHrvRmssd, 28) // heart_rate_variability_avg
	eq(t, "sleep notes", len(sl.probs), 1)                        // hypnogram stage 6

	f.log.reset()
	var dl sink
	if err := f.p.Pull(ctx, f.hc, model.TypeDaily, day(2022, 9, 12), day(2022, 9, 13), &dl); err != nil {
		t.Fatal(err)
	}
	validateAll(t, dl.recs)
	eq(t, "dailies", strings.Join(dl.keys(), ","), "heart_rate:2022-09-12")
	// Dates 09-11 .. 09-13 may hold an instant of the window somewhere.
	eq(t, "heart-rate days asked", f.log.count("GET /v3/users/continuous-heart-rate/"), 3)
	hr := dl.recs[0].Data.(*model.Daily).HeartRateData.Detailed.HrSamples
	// No sleep of 2022-09-12: the nearest one (2020-01-01, +03:00) gives the offset.
	eq(t, "sample time", *hr[0].Timestamp, "2022-09-12T00:02:08.000000+03:00")
	// The Polar user id "1" comes from the sleep's polar_user link.
	eq(t, "transaction asked", f.log.count("POST /v3/users/1/activity-transactions"), 1)
	eq(t, "daily problems", len(dl.probs), 0)
}

// TestPullOutsideWindow: exercises outside the window are not read in
// detail.
func TestPullOutsideWindow(t *testing.T) {
	f := newFake(t, polarsandbox.Config{})
	var s sink
	if err := f.p.Pull(context.Background(), f.hc, model.TypeActivity, day(2024, 1, 1), day(2024, 1, 2), &s); err != nil {
		t.Fatal(err)
	}
	eq(t, "records", len(s.recs), 0)
	eq(t, "requests", f.log.count("GET "), 1)
}

// summaries makes n activity summaries for consecutive dates from
// 2024-01-01.
func summaries(n int) []json.RawMessage {
	out := make([]json.RawMessage, n)
	for i := range n {
		d := day(2024, 1, 1).AddDate(0, 0, i).Format("2006-01-02")
		out[i] = json.RawMessage(fmt.Sprintf(`{"id":%d,"polar-user":"https://www.polaraccesslink.com/v3/users/1","transaction-id":1,"date":%q,"created":"2024-06-01T10:00:00.000Z","calories":%d,"active-calories":400,"duration":"PT1H","active-steps":%d}`, 1000+i, d, 2000+i, 5000+i))
	}
	return out
}

// TestActivityTransactions drains 120 summaries: three transactions of
// 50, 50 and 20, each committed; every summary lands exactly once.
func TestActivityTransactions(t *testing.T) {
	f := newFake(t, polarsandbox.Config{ActivitySummaries: summaries(120)})
	var s sink
	if err := f.p.Pull(context.Background(), f.hc, model.TypeDaily, day(2024, 7, 1), day(2024, 7, 2), &s); err != nil {
		t.Fatal(err)
	}
	validateAll(t, s.recs)
	seen := map[string]int{}
	for _, r := range s.recs {
		seen[r.Key]++
	}
	eq(t, "records", len(s.recs), 120)
	eq(t, "distinct", len(seen), 120)
	eq(t, "first", seen["activity:2024-01-01"], 1)
	eq(t, "last", seen["activity:2024-04-29"], 1)                                   // 2024-01-01 + 119 days
	eq(t, "transactions", f.log.count("POST /v3/users/1/activity-transactions"), 4) // 3 + the 204
	eq(t, "commits", f.log.count("PUT /v3/users/1/activity-transactions/"), 3)
	eq(t, "summaries read", f.log.count("GET /v3/users/1/activity-transactions/")-3, 120)
	eq(t, "pending", f.srv.PendingActivities("1"), 0)
	eq(t, "problems", len(s.probs), 0)

	// Offered once: the next pull finds nothing new.
	var again sink
	if err := f.p.Pull(context.Background(), f.hc, model.TypeDaily, day(2024, 7, 1), day(2024, 7, 2), &again); err != nil {
		t.Fatal(err)
	}
	eq(t, "records again", len(again.recs), 0)
}

// clock is a settable clock for the fake.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestTransactionNotCommittedOnFailure: when the summaries cannot be
// stored the transaction is not committed; after it expires Polar offers
// them again and the next pull stores and commits them.
func TestTransactionNotCommittedOnFailure(t *testing.T) {
	c := &clock{t: time.Now()}
	f := newFake(t, polarsandbox.Config{ActivitySummaries: summaries(5), Now: c.now})
	ctx := context.Background()
	bad := &sink{failRecords: true}
	err := f.p.Pull(ctx, f.hc, model.TypeDaily, day(2024, 7, 1), day(2024, 7, 2), bad)
	if err == nil || !strings.Contains(err.Error(), "not committed") {
		t.Fatalf("err = %v, want a not-committed error", err)
	}
	eq(t, "commits", f.log.count("PUT "), 0)
	eq(t, "pending", f.srv.PendingActivities("1"), 5)

	// While the transaction lives its summaries are not offered again.
	var early sink
	if err := f.p.Pull(ctx, f.hc, model.TypeDaily, day(2024, 7, 1), day(2024, 7, 2), &early); err != nil {
		t.Fatal(err)
	}
	eq(t, "records before expiry", len(early.recs), 0)

	c.add(11 * time.Minute)
	var good sink
	if err := f.p.Pull(ctx, f.hc, model.TypeDaily, day(2024, 7, 1), day(2024, 7, 2), &good); err != nil {
		t.Fatal(err)
	}
	eq(t, "records after expiry", len(good.recs), 5)
	eq(t, "pending after", f.srv.PendingActivities("1"), 0)
}

// TestTransactionUnmappableSummary: a summary that cannot be mapped is
// stored as a problem with its body, and the transaction is committed.
func TestTransactionUnmappableSummary(t *testing.T) {
	sums := summaries(2)
	sums[1] = json.RawMessage(`{"id":7,"date":"2024-01-02","duration":"a while"}`)
	f := newFake(t, polarsandbox.Config{ActivitySummaries: sums})
	var s sink
	if err := f.p.Pull(context.Background(), f.hc, model.TypeDaily, day(2024, 7, 1), day(2024, 7, 2), &s); err != nil {
		t.Fatal(err)
	}
	eq(t, "records", len(s.recs), 1)
	eq(t, "problems", len(s.probs), 1)
	eq(t, "problem raw", string(s.probs[0].Raw), string(sums[1]))
	eq(t, "pending", f.srv.PendingActivities("1"), 0)
}

func TestPullRateLimited(t *testing.T) {
	f := newFake(t, polarsandbox.Config{RateLimitReset: 120 * time.Second})
	f.srv.InjectRateLimit(2) // the exercise detail
	var s sink
	err := f.p.Pull(context.Background(), f.hc, model.TypeActivity, day(2008, 10, 1), day(2008, 11, 1), &s)
	var rl *polar.RateLimitError
	if !errors.As(err, &rl) {
		t.Fatalf("err = %v, want a RateLimitError", err)
	}
	eq(t, "provider", rl.Provider, "POLAR")
	eq(t, "RetryAfter", rl.RetryAfter, 120*time.Second) // RateLimit-Reset short-term value
}

// TestPullUnauthorized: a de-registered user's token is revoked; the pull
// fails with ErrUnauthorized.
func TestPullUnauthorized(t *testing.T) {
	f := newFake(t, polarsandbox.Config{})
	req, _ := http.NewRequest(http.MethodDelete, f.url+"/v3/users/1", nil)
	resp, err := f.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	eq(t, "de-register", resp.StatusCode, http.StatusNoContent)
	for _, typ := range []model.DataType{model.TypeActivity, model.TypeSleep, model.TypeDaily} {
		err := f.p.Pull(context.Background(), f.hc, typ, day(2020, 1, 1), day(2020, 1, 2), &sink{})
		if !errors.Is(err, polar.ErrUnauthorized) {
			t.Errorf("%s: err = %v, want ErrUnauthorized", typ, err)
		}
		var apiErr *polar.APIError
		if !errors.As(err, &apiErr) || !strings.Contains(apiErr.Message, "revoked") {
			t.Errorf("%s: err = %v, want Polar's message", typ, err)
		}
	}
}

// TestFetchItem reads the exercise an EXERCISE webhook names; an unknown
// id is a problem, not an error.
func TestFetchItem(t *testing.T) {
	f := newFake(t, polarsandbox.Config{})
	var s sink
	if err := f.p.FetchItem(context.Background(), f.hc, model.TypeActivity, "2AC312F", &s); err != nil {
		t.Fatal(err)
	}
	validateAll(t, s.recs)
	eq(t, "records", strings.Join(s.keys(), ","), "2AC312F")
	var missing sink
	if err := f.p.FetchItem(context.Background(), f.hc, model.TypeActivity, "NOPE", &missing); err != nil {
		t.Fatal(err)
	}
	eq(t, "problems", len(missing.probs), 1)
	if err := f.p.FetchItem(context.Background(), f.hc, model.TypeSleep, "2020-01-01", &sink{}); err == nil {
		t.Error("FetchItem of a sleep: no error")
	}
}

// TestSandboxBackfill backfills over the sandbox's BackfillDepth, as the
// core does on connect: every recorded document lands.
func TestSandboxBackfill(t *testing.T) {
	if testing.Short() {
		t.Skip("thousands of per-date requests")
	}
	f := newFake(t, polarsandbox.Config{})
	end := time.Now()
	start := end.Add(-f.p.BackfillDepth())
	want := map[model.DataType]string{
		model.TypeActivity: "2AC312F",
		model.TypeSleep:    "2020-01-01",
		model.TypeDaily:    "heart_rate:2022-09-12",
	}
	for _, typ := range f.p.PullTypes() {
		var s sink
		if err := f.p.Pull(context.Background(), f.hc, typ, start, end, &s); err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		validateAll(t, s.recs)
		eq(t, string(typ), strings.Join(s.keys(), ","), want[typ])
	}
}
