package e2e_test

import (
	"encoding/json"
	"io/fs"
	"net/http"
	"strings"
	"testing"

	"github.com/wearbridge/wearbridge/internal/model"
	"github.com/wearbridge/wearbridge/internal/sandbox/fixtures"
	"github.com/wearbridge/wearbridge/internal/store/storetest"
)

// The recorded Garmin sleep push (internal/sandbox/fixtures/garmin/
// push_sleeps.json): one summary of userId "someUser", summaryId
// "13896337", startTimeInSeconds 1593788400 (2020-07-03T15:00:00Z).
const (
	garminSleepFile = "garmin/push_sleeps.json"
	garminSleepKey  = "13896337"
)

// TestAPIBadInput: what the API refuses, and that a refused request
// writes nothing.
func TestAPIBadInput(t *testing.T) {
	t.Parallel()
	for _, d := range storetest.Dialects(t) {
		t.Run(storetest.Name(d), func(t *testing.T) {
			e := start(t, d)
			dev := e.newDeveloper()
			other := e.newDeveloper()
			_, garminID := e.connect(dev, "GARMIN", "garmin-ref", "")

			t.Run("unknown provider", func(t *testing.T) {
				var out struct{ Message string }
				e.callJSON(http.MethodPost, "/auth/authenticateUser?resource=NOPE", dev, nil, http.StatusBadRequest, &out)
				for _, want := range []string{"NOPE", "OURA", "GARMIN"} {
					if !strings.Contains(out.Message, want) {
						t.Errorf("message %q does not name %s", out.Message, want)
					}
				}
				e.callJSON(http.MethodPost, "/auth/authenticateUser", dev, nil, http.StatusBadRequest, &out)
				if !strings.Contains(out.Message, "OURA") || !strings.Contains(out.Message, "GARMIN") {
					t.Errorf("missing resource: message %q does not list the providers", out.Message)
				}
			})

			t.Run("credentials", func(t *testing.T) {
				for _, c := range []struct {
					name string
					as   developer
				}{
					{"none", developer{}},
					{"missing key", developer{ID: dev.ID}},
					{"missing dev-id", developer{APIKey: dev.APIKey}},
					{"wrong key", developer{ID: dev.ID, APIKey: dev.APIKey + "x"}},
					{"another developer's key", developer{ID: dev.ID, APIKey: other.APIKey}},
					{"unknown developer", developer{ID: "wearbridge-dev-nobody", APIKey: dev.APIKey}},
				} {
					for _, path := range []string{"/userInfo?user_id=" + garminID, "/subscriptions", "/deadLetters", "/v2/userInfo?user_id=" + garminID} {
						if status, body := e.call(http.MethodGet, path, c.as, nil); status != http.StatusUnauthorized {
							t.Errorf("%s: GET %s = %d %s, want 401", c.name, path, status, body)
						}
					}
					if status, _ := e.call(http.MethodPost, "/auth/authenticateUser?resource=OURA", c.as, nil); status != http.StatusUnauthorized {
						t.Errorf("%s: POST /auth/authenticateUser = %d, want 401", c.name, status)
					}
				}
			})

			t.Run("another developer's user", func(t *testing.T) {
				for _, path := range []string{
					"/userInfo?user_id=" + garminID,
					"/sleep?user_id=" + garminID + "&start_date=2020-07-01&to_webhook=false",
				} {
					if status, body := e.call(http.MethodGet, path, other, nil); status != http.StatusNotFound {
						t.Errorf("other developer: GET %s = %d %s, want 404", path, status, body)
					}
				}
				if status, _ := e.call(http.MethodDelete, "/auth/deauthenticateUser?user_id="+garminID, other, nil); status != http.StatusNotFound {
					t.Errorf("other developer: deauthenticate = %d, want 404", status)
				}
				var info struct {
					IsAuthenticated bool `json:"is_authenticated"`
					User            struct {
						UserID   string `json:"user_id"`
						Provider string `json:"provider"`
					} `json:"user"`
				}
				e.callJSON(http.MethodGet, "/userInfo?user_id="+garminID, dev, nil, http.StatusOK, &info)
				if !info.IsAuthenticated || info.User.UserID != garminID || info.User.Provider != "GARMIN" {
					t.Errorf("owner: userInfo = %+v, want the active GARMIN user %s", info, garminID)
				}
			})

			t.Run("garmin push", func(t *testing.T) {
				before, err := e.a.Store.LastSeq(e.ctx, dev.ID)
				if err != nil {
					t.Fatal(err)
				}
				pushPath := strings.TrimPrefix(e.a.PushURL("GARMIN"), e.base)
				// Without the push token (or with a wrong one) nothing is
				// even parsed: Garmin signs nothing.
				for _, path := range []string{"/push/garmin", "/push/garmin?push_token=wrong"} {
					if status, out := e.call(http.MethodPost, path, developer{}, `{"dailies":[]}`); status != http.StatusUnauthorized {
						t.Errorf("push to %s = %d %s, want 401", path, status, out)
					}
				}
				for _, body := range []string{"this is not JSON", `["a list"]`, "null", `{"sleeps": [`} {
					if status, out := e.call(http.MethodPost, pushPath, developer{}, body); status != http.StatusBadRequest {
						t.Errorf("push %q = %d %s, want 400", body, status, out)
					}
				}
				if after, _ := e.a.Store.LastSeq(e.ctx, dev.ID); after != before {
					t.Errorf("a refused push appended %d events", after-before)
				}
				wide0, wide1 := date(t, "1970-01-02"), date(t, "2100-01-01")
				for _, typ := range model.DataTypes {
					if n := len(e.records(garminID, typ, wide0, wide1)); n != 0 {
						t.Errorf("a refused push stored %d %s records", n, typ)
					}
				}
				if ps, err := e.a.Store.Problems(e.ctx, dev.ID, garminID, 10); err != nil || len(ps) != 0 {
					t.Errorf("a refused push recorded problems %v, %v", ps, err)
				}
				if status, _ := e.call(http.MethodPost, "/push/nope?push_token=x", developer{}, "{}"); status != http.StatusNotFound {
					t.Errorf("push to an unknown provider = %d, want 404", status)
				}

				body, err := fs.ReadFile(fixtures.FS, garminSleepFile)
				if err != nil {
					t.Fatal(err)
				}
				var out struct {
					Stored int `json:"stored"`
				}
				e.callJSON(http.MethodPost, pushPath, developer{}, body, http.StatusOK, &out)
				if out.Stored != 1 {
					t.Errorf("stored = %d, want 1", out.Stored)
				}
				recs := e.records(garminID, model.TypeSleep, date(t, "2020-07-01"), date(t, "2020-08-01"))
				if len(recs) != 1 || recs[0].Key != garminSleepKey {
					t.Fatalf("garmin sleeps = %+v, want one with key %s", recs, garminSleepKey)
				}
				evs := dataEvents(e.events(dev))
				if len(evs) != 1 || evs[0].Type != "sleep" || evs[0].RecordKey != garminSleepKey || evs[0].UserID != garminID {
					t.Errorf("data events after the push = %+v, want one sleep event for %s", countTypes(evs), garminSleepKey)
				}
				// The same push again is a duplicate: 200, nothing new.
				e.callJSON(http.MethodPost, pushPath, developer{}, body, http.StatusOK, &out)
				if out.Stored != 0 || len(dataEvents(e.events(dev))) != 1 {
					t.Errorf("the same push again stored %d records", out.Stored)
				}
			})

			t.Run("v2 prefix", func(t *testing.T) {
				var info struct {
					User struct {
						UserID string `json:"user_id"`
					} `json:"user"`
				}
				e.callJSON(http.MethodGet, "/v2/userInfo?user_id="+garminID, dev, nil, http.StatusOK, &info)
				if info.User.UserID != garminID {
					t.Errorf("/v2/userInfo user = %q, want %s", info.User.UserID, garminID)
				}
				var data struct {
					Type string            `json:"type"`
					Data []json.RawMessage `json:"data"`
				}
				e.callJSON(http.MethodGet, "/v2/sleep?user_id="+garminID+"&start_date=2020-07-01&end_date=2020-07-31&to_webhook=false", dev, nil, http.StatusOK, &data)
				if data.Type != "sleep" || len(data.Data) != 1 {
					t.Errorf("/v2/sleep: type %q, %d records; want sleep, 1", data.Type, len(data.Data))
				}
				if status, _ := e.call(http.MethodGet, "/v2/subscriptions", dev, nil); status != http.StatusOK {
					t.Errorf("/v2/subscriptions = %d, want 200", status)
				}
			})
		})
	}
}
