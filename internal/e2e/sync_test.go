package e2e_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wearbridge/wearbridge/internal/app"
	"github.com/wearbridge/wearbridge/internal/model"
	sandboxoura "github.com/wearbridge/wearbridge/internal/sandbox/oura"
	"github.com/wearbridge/wearbridge/internal/source"
	"github.com/wearbridge/wearbridge/internal/source/oura"
	"github.com/wearbridge/wearbridge/internal/store/storetest"
)

// The recorded Oura fixtures (internal/sandbox/fixtures/oura), counted by
// hand:
const (
	// sleep_2024-10-09_11-03.json holds 48 sleep periods, the first
	// starting 2024-10-10T01:01:59+02:00 and the last on day 2024-11-02.
	ouraSleeps = 48
	// daily_sleep, daily_readiness and daily_spo2 cover 2024-11-11 and
	// 2024-11-12 (daily_activity_single.json is 2024-11-11): two Dailies.
	ouraDailies = 2
)

// TestResyncCreatesNoNewEvents: pulling the same provider data again
// stores nothing new and appends no data event; a record whose content
// changed gives exactly one event, version 2, under the same record key.
func TestResyncCreatesNoNewEvents(t *testing.T) {
	t.Parallel()
	for _, d := range storetest.Dialects(t) {
		t.Run(storetest.Name(d), func(t *testing.T) {
			e := start(t, d)
			dev := e.newDeveloper()
			_, userID := e.connect(dev, "OURA", "resync", "")
			e.waitIdle()

			first := dataEvents(e.events(dev))
			if n := countTypes(first)["sleep"]; n != ouraSleeps {
				t.Fatalf("sleep events after the backfill = %d, want %d", n, ouraSleeps)
			}
			from, to := date(t, "2024-09-01"), date(t, "2024-12-31")
			sleeps := e.records(userID, model.TypeSleep, from, to)
			if len(sleeps) != ouraSleeps {
				t.Fatalf("stored sleeps = %d, want %d", len(sleeps), ouraSleeps)
			}

			u := e.user(dev, userID)
			if err := e.a.Jobs.Backfill(e.ctx, u); err != nil {
				t.Fatal(err)
			}
			e.waitIdle()
			again := dataEvents(e.events(dev))
			if len(again) != len(first) {
				t.Errorf("data events after the same backfill again = %d, want %d (unchanged): new ones %v",
					len(again), len(first), countTypes(again[min(len(first), len(again)):]))
			}
			for _, r := range e.records(userID, model.TypeSleep, from, to) {
				if r.Version != 1 {
					t.Errorf("sleep %s has version %d after a re-sync of the same data, want 1", r.Key, r.Version)
				}
			}

			// The same record with other content: one new event, version 2.
			rec := sleeps[0]
			var data map[string]any
			if err := json.Unmarshal(rec.Payload, &data); err != nil {
				t.Fatal(err)
			}
			meta, _ := data["metadata"].(map[string]any)
			if meta == nil {
				t.Fatalf("stored sleep has no metadata: %s", rec.Payload)
			}
			meta["upload_type"] = 3 // was 2 or 1; any other content will do
			changed := model.Record{Type: model.TypeSleep, Key: rec.Key, Start: rec.Start, End: rec.End, Day: rec.Day, Data: data}
			last, err := e.a.Store.LastSeq(e.ctx, dev.ID)
			if err != nil {
				t.Fatal(err)
			}
			c, err := e.a.Ingest.Apply(e.ctx, u, []model.Record{changed}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if c.Stored != 1 {
				t.Errorf("changed record: counts %+v, want 1 stored", c)
			}
			evs, err := e.a.Store.EventsAfter(e.ctx, dev.ID, last, 100)
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) != 1 {
				t.Fatalf("events after the change = %d, want 1", len(evs))
			}
			if ev := evs[0]; ev.Type != "sleep" || ev.RecordKey != rec.Key || ev.Version != 2 || ev.UserID != userID {
				t.Errorf("event = type %s key %s version %d user %s; want sleep %s version 2 %s", ev.Type, ev.RecordKey, ev.Version, ev.UserID, rec.Key, userID)
			}
			// And the changed content once more changes nothing.
			if c, err := e.a.Ingest.Apply(e.ctx, u, []model.Record{changed}, nil); err != nil || c.Stored != 0 || c.Unchanged != 1 {
				t.Errorf("same change again: counts %+v, %v; want 1 unchanged", c, err)
			}
		})
	}
}

// brokenPage is what the fake Oura answers for daily_readiness.
const brokenPage = `{"data": [ {broken`

// TestMalformedProviderPage: an Oura whose daily_readiness collection
// answers invalid JSON. Each broken page (the backfill asks for the
// collection once per window chunk) is recorded as a problem with its raw
// body (GET /problems shows them) and every other collection still lands.
func TestMalformedProviderPage(t *testing.T) {
	t.Parallel()
	for _, d := range storetest.Dialects(t) {
		t.Run(storetest.Name(d), func(t *testing.T) {
			sb := sandboxoura.New(sandboxoura.Config{ClientID: "e2e-oura", ClientSecret: "e2e-secret"})
			var brokenServed atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/v2/usercollection/daily_readiness" {
					brokenServed.Add(1)
					w.Header().Set("Content-Type", "application/json")
					_, _ = w.Write([]byte(brokenPage))
					return
				}
				sb.ServeHTTP(w, r)
			}))
			t.Cleanup(srv.Close)
			e := start(t, d, func(c *app.Config) {
				c.Sandbox = false
				c.ProviderOverrides = []source.Provider{oura.New(oura.Config{ClientID: "e2e-oura", ClientSecret: "e2e-secret",
					AuthURL: srv.URL + "/oauth/authorize", TokenURL: srv.URL + "/oauth/token", APIBase: srv.URL,
					BackfillDepth: time.Since(app.SandboxRecordedSince)})}
			})
			dev := e.newDeveloper()
			_, userID := e.connect(dev, "OURA", "broken-page", "")
			e.waitIdle()

			var out struct {
				Problems []struct {
					UserID   string `json:"user_id"`
					Provider string `json:"provider"`
					DataType string `json:"data_type"`
					Error    string `json:"error"`
					Raw      string `json:"raw"`
				} `json:"problems"`
			}
			e.callJSON(http.MethodGet, "/problems?user_id="+userID, dev, nil, http.StatusOK, &out)
			if n := int(brokenServed.Load()); n == 0 || len(out.Problems) != n {
				t.Fatalf("problems = %d for %d broken pages served, want one per page", len(out.Problems), n)
			}
			for _, p := range out.Problems {
				if p.UserID != userID || p.Provider != "OURA" || p.DataType != "daily" || p.Raw != brokenPage || !strings.Contains(p.Error, "daily_readiness") {
					t.Fatalf("problem = %+v, want user %s, OURA, daily, the raw page %q and an error naming daily_readiness", p, userID, brokenPage)
				}
			}
			// Problems are the developer's own.
			e.callJSON(http.MethodGet, "/problems?user_id="+userID, e.newDeveloper(), nil, http.StatusOK, &out)
			if len(out.Problems) != 0 {
				t.Errorf("another developer sees %d problems", len(out.Problems))
			}

			from, to := date(t, "2024-09-01"), date(t, "2024-12-31")
			if n := len(e.records(userID, model.TypeSleep, from, to)); n != ouraSleeps {
				t.Errorf("sleeps = %d, want %d", n, ouraSleeps)
			}
			if n := len(e.records(userID, model.TypeDaily, from, to)); n != ouraDailies {
				t.Errorf("dailies = %d, want %d (from the collections that did answer)", n, ouraDailies)
			}
			if n := len(e.records(userID, model.TypeActivity, from, to)); n != 1 {
				t.Errorf("activities = %d, want 1 (session_2024-10-09_11-03.json)", n)
			}
		})
	}
}
