package e2e_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"github.com/wearbridge/wearbridge/internal/model"
	"github.com/wearbridge/wearbridge/internal/model/terraschema"
	"github.com/wearbridge/wearbridge/internal/store/storetest"
)

// envelope is the part of a data event body the tests read.
type envelope struct {
	Type string `json:"type"`
	User struct {
		UserID string `json:"user_id"`
	} `json:"user"`
	Data    []json.RawMessage `json:"data"`
	Version string            `json:"version"`
}

// summaryID reads a Terra sleep's metadata.summary_id.
func summaryID(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var s struct {
		Metadata struct {
			SummaryID string `json:"summary_id"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(raw, &s); err != nil || s.Metadata.SummaryID == "" {
		t.Fatalf("sleep without metadata.summary_id (%v): %s", err, abbreviate(raw))
	}
	return s.Metadata.SummaryID
}

// sleepIDs returns the sorted summary ids of the sleeps in deliveries.
func sleepIDs(t *testing.T, ds []delivery) []string {
	t.Helper()
	var ids []string
	for _, d := range ds {
		var env envelope
		if err := json.Unmarshal(d.Body, &env); err != nil || len(env.Data) != 1 {
			t.Fatalf("sleep delivery %s: %v, %d items", d.ID, err, len(env.Data))
		}
		ids = append(ids, summaryID(t, env.Data[0]))
	}
	slices.Sort(ids)
	return ids
}

// TestDataGet: GET /sleep with to_webhook=false answers the stored sleeps
// in a Terra envelope; with to_webhook=true they are delivered again.
func TestDataGet(t *testing.T) {
	t.Parallel()
	v, err := terraschema.New()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range storetest.Dialects(t) {
		t.Run(storetest.Name(d), func(t *testing.T) {
			e := start(t, d)
			dev := e.newDeveloper()
			rc := newReceiver(t)
			e.addWebhook(dev, rc, []string{"sleep"}, "")
			_, userID := e.connect(dev, "OURA", "data-get", "")
			e.waitIdle()
			pushed := rc.ofType("sleep")
			if len(pushed) != ouraSleeps {
				t.Fatalf("sleep deliveries after the backfill = %d, want %d", len(pushed), ouraSleeps)
			}
			want := sleepIDs(t, pushed)

			path := "/sleep?user_id=" + userID + "&start_date=2024-10-01&end_date=2024-11-30"
			body := e.callJSON(http.MethodGet, path+"&to_webhook=false", dev, nil, http.StatusOK, nil)
			if err := v.Validate("SleepEvent", body); err != nil {
				t.Errorf("GET /sleep answer does not match SleepEvent: %v\n%s", err, abbreviate(body))
			}
			var env envelope
			if err := json.Unmarshal(body, &env); err != nil {
				t.Fatal(err)
			}
			if env.Type != "sleep" || env.User.UserID != userID || env.Version != "2022-03-16" {
				t.Errorf("envelope type %q user %q version %q; want sleep, %s, 2022-03-16", env.Type, env.User.UserID, env.Version, userID)
			}
			var got []string
			for _, item := range env.Data {
				if err := v.Validate("Sleep", item); err != nil {
					t.Errorf("sleep item does not match Sleep: %v", err)
				}
				got = append(got, summaryID(t, item))
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("GET /sleep returned %d sleeps, want the %d delivered ones", len(got), len(want))
			}
			// Only the days asked for: none of the sleeps starts in 2025.
			e.callJSON(http.MethodGet, "/sleep?user_id="+userID+"&start_date=2025-01-01&end_date=2025-01-31&to_webhook=false", dev, nil, http.StatusOK, &env)
			if len(env.Data) != 0 {
				t.Errorf("GET /sleep for January 2025 returned %d sleeps, want 0", len(env.Data))
			}
			if status, _ := e.call(http.MethodGet, "/sleep?user_id="+userID+"&start_date=2024-11-30&end_date=2024-10-01", dev, nil); status != http.StatusBadRequest {
				t.Errorf("end before start: %d, want 400", status)
			}

			// to_webhook=true sends them again, as new deliveries.
			e.callJSON(http.MethodGet, path+"&to_webhook=true", dev, nil, http.StatusOK, nil)
			waitFor(t, "the sleeps to be delivered again", func() bool { return len(rc.ofType("sleep")) == 2*ouraSleeps })
			again := rc.ofType("sleep")[ouraSleeps:]
			if ids := sleepIDs(t, again); !slices.Equal(ids, want) {
				t.Errorf("to_webhook=true delivered %d sleeps, want the %d stored ones", len(ids), len(want))
			}
			for _, d := range again {
				if slices.ContainsFunc(pushed, func(p delivery) bool { return p.ID == d.ID }) {
					t.Errorf("re-sent sleep reuses delivery id %s", d.ID)
				}
				if err := v.ValidateEvent(d.Body); err != nil {
					t.Errorf("re-sent sleep %s does not match SleepEvent: %v", d.ID, err)
				}
			}
			rc.checkSignatures(t)
		})
	}
}

// TestDeauth: DELETE /auth/deauthenticateUser delivers a deauth event,
// /userInfo shows the user inactive, and a later pull does nothing.
func TestDeauth(t *testing.T) {
	t.Parallel()
	v, err := terraschema.New()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range storetest.Dialects(t) {
		t.Run(storetest.Name(d), func(t *testing.T) {
			e := start(t, d)
			dev := e.newDeveloper()
			rc := newReceiver(t)
			e.addWebhook(dev, rc, nil, "")
			_, userID := e.connect(dev, "OURA", "deauth", "")
			e.waitIdle()

			e.callJSON(http.MethodDelete, "/auth/deauthenticateUser?user_id="+userID, dev, nil, http.StatusOK, nil)
			waitFor(t, "the deauth delivery", func() bool { return len(rc.ofType("deauth")) == 1 })
			body := rc.ofType("deauth")[0].Body
			if err := v.ValidateEvent(body); err != nil {
				t.Errorf("deauth body does not match DeauthEvent: %v\n%s", err, body)
			}
			var ev struct {
				User struct {
					UserID string `json:"user_id"`
				} `json:"user"`
			}
			if err := json.Unmarshal(body, &ev); err != nil || ev.User.UserID != userID {
				t.Errorf("deauth event for user %q (%v), want %s", ev.User.UserID, err, userID)
			}
			var info struct {
				IsAuthenticated bool `json:"is_authenticated"`
				User            struct {
					Active *bool `json:"active"`
				} `json:"user"`
			}
			e.callJSON(http.MethodGet, "/userInfo?user_id="+userID, dev, nil, http.StatusOK, &info)
			if info.IsAuthenticated || info.User.Active == nil || *info.User.Active {
				t.Errorf("userInfo after deauth: is_authenticated %v, active %v; want false, false", info.IsAuthenticated, info.User.Active)
			}
			if status, _ := e.call(http.MethodDelete, "/auth/deauthenticateUser?user_id=no-such-user", dev, nil); status != http.StatusNotFound {
				t.Errorf("deauthenticate an unknown user = %d, want 404", status)
			}

			// Change a stored sleep: a pull that ran would put the provider's
			// version back (a version 3 event).
			from, to := date(t, "2024-09-01"), date(t, "2024-12-31")
			rec := e.records(userID, model.TypeSleep, from, to)[0]
			var data map[string]any
			if err := json.Unmarshal(rec.Payload, &data); err != nil {
				t.Fatal(err)
			}
			data["metadata"].(map[string]any)["upload_type"] = 3
			u := e.user(dev, userID)
			if c, err := e.a.Ingest.Apply(e.ctx, u, []model.Record{{Type: model.TypeSleep, Key: rec.Key, Start: rec.Start, End: rec.End, Day: rec.Day, Data: data}}, nil); err != nil || c.Stored != 1 {
				t.Fatalf("apply a change: %+v, %v", c, err)
			}
			e.waitIdle()
			before := len(dataEvents(e.events(dev)))
			if err := e.a.Jobs.Backfill(e.ctx, u); err != nil {
				t.Fatal(err)
			}
			e.waitIdle()
			if after := len(dataEvents(e.events(dev))); after != before {
				t.Errorf("a pull after deauth appended %d data events, want none", after-before)
			}
			for _, r := range e.records(userID, model.TypeSleep, from, to) {
				if r.Key == rec.Key && r.Version != 2 {
					t.Errorf("sleep %s is at version %d after a pull of a deauthenticated user, want 2", r.Key, r.Version)
				}
			}
			rc.checkSignatures(t)
		})
	}
}

// TestReauth: connecting the same Oura account twice keeps its user id and
// sends user_reauth; a different account is a different user. Every body
// delivered matches its Terra schema.
func TestReauth(t *testing.T) {
	t.Parallel()
	v, err := terraschema.New()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range storetest.Dialects(t) {
		t.Run(storetest.Name(d), func(t *testing.T) {
			e := start(t, d)
			dev := e.newDeveloper()
			rc := newReceiver(t)
			e.addWebhook(dev, rc, nil, "")
			announced, first := e.connect(dev, "OURA", "reauth-1", "")
			if announced != first {
				t.Errorf("first connection: authenticateUser announced %s, the callback gave %s", announced, first)
			}
			e.waitIdle()
			_, second := e.connect(dev, "OURA", "reauth-2", "")
			if second != first {
				t.Errorf("the same Oura account connected again got user %s, want %s", second, first)
			}
			e.waitIdle()
			reauths := rc.ofType("user_reauth")
			if len(reauths) != 1 {
				t.Fatalf("user_reauth deliveries = %d, want 1", len(reauths))
			}
			var ev struct {
				NewUser struct {
					UserID string `json:"user_id"`
				} `json:"new_user"`
				OldUser struct {
					UserID string `json:"user_id"`
				} `json:"old_user"`
			}
			if err := json.Unmarshal(reauths[0].Body, &ev); err != nil || ev.NewUser.UserID != first || ev.OldUser.UserID != first {
				t.Errorf("user_reauth new_user %q old_user %q (%v), want %s for both", ev.NewUser.UserID, ev.OldUser.UserID, err, first)
			}
			if n := len(rc.ofType("auth")); n != 2 {
				t.Errorf("auth deliveries = %d, want 2 (one per connection)", n)
			}
			// The second backfill re-read the same data: no new sleeps.
			if n := len(rc.ofType("sleep")); n != ouraSleeps {
				t.Errorf("sleep deliveries = %d, want %d", n, ouraSleeps)
			}

			_, otherAccount := e.connect(dev, "OURA", "reauth-3", "another-oura-account")
			if otherAccount == first {
				t.Errorf("another Oura account got the same user id %s", first)
			}
			e.waitIdle()
			if n := len(rc.ofType("user_reauth")); n != 1 {
				t.Errorf("user_reauth deliveries after a new account = %d, want still 1", n)
			}
			var subs struct {
				Users []struct {
					UserID string `json:"user_id"`
				} `json:"users"`
			}
			e.callJSON(http.MethodGet, "/subscriptions", dev, nil, http.StatusOK, &subs)
			if len(subs.Users) != 2 {
				t.Errorf("subscriptions = %d users, want 2", len(subs.Users))
			}

			last, err := e.a.Store.LastSeq(e.ctx, dev.ID)
			if err != nil {
				t.Fatal(err)
			}
			all := rc.delivered()
			if int64(len(all)) != last {
				t.Errorf("delivered %d distinct events, the log has %d", len(all), last)
			}
			for _, dl := range all {
				if err := v.ValidateEvent(dl.Body); err != nil {
					t.Errorf("%s delivery %s does not match its Terra schema: %v\n%s", dl.Type, dl.ID, err, abbreviate(dl.Body))
				}
			}
			rc.checkSignatures(t)
		})
	}
}
