package e2e_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wearbridge/wearbridge/internal/app"
	"github.com/wearbridge/wearbridge/internal/store"

	"github.com/wearbridge/wearbridge/internal/store/storetest"
)

// TestForgedPushesAreRefused sends, without the push token, what would
// disconnect a Strava or Withings user or overwrite a Garmin record:
// nothing is parsed and nothing changes.
func TestForgedPushesAreRefused(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(storetest.Name(d), func(t *testing.T) {
			e := start(t, d)
			dev := e.newDeveloper()
			_, stravaID := e.connect(dev, "STRAVA", "victim", "")
			before := len(e.events(dev))
			u := e.user(dev, stravaID)
			forged := []struct{ provider, body string }{
				{"strava", `{"object_type":"athlete","aspect_type":"update","owner_id":` + u.ProviderUserID + `,"object_id":` + u.ProviderUserID + `,"updates":{"authorized":"false"}}`},
				{"withings", `userid=31415926&appli=46&action=unlink`},
				{"garmin", `{"dailies":[{"userId":"someUser","summaryId":"x","startTimeInSeconds":1593788400,"startTimeOffsetInSeconds":3600,"durationInSeconds":86400,"steps":999999999}]}`},
			}
			for _, f := range forged {
				for _, q := range []string{"", "?push_token=", "?push_token=guess"} {
					if status, out := e.call(http.MethodPost, "/push/"+f.provider+q, developer{}, f.body); status != http.StatusUnauthorized {
						t.Errorf("forged %s push%s = %d %s, want 401", f.provider, q, status, out)
					}
				}
			}
			if !e.user(dev, stravaID).Active {
				t.Fatal("a forged push deactivated the Strava user")
			}
			if n := len(e.events(dev)); n != before {
				t.Errorf("forged pushes appended %d events", n-before)
			}
			// Every provider has its own token.
			garminToken := e.a.PushURL("GARMIN")[strings.Index(e.a.PushURL("GARMIN"), "push_token="):]
			if status, _ := e.call(http.MethodPost, "/push/strava?"+garminToken, developer{}, forged[0].body); status != http.StatusUnauthorized {
				t.Errorf("Garmin's token opened Strava's push endpoint: %d", status)
			}
		})
	}
}

// TestNULAndOverflowInputs are answered 400 on every database (PostgreSQL
// refuses NUL characters, and huge pages overflowed).
func TestNULAndOverflowInputs(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(storetest.Name(d), func(t *testing.T) {
			e := start(t, d)
			dev := e.newDeveloper()
			for _, c := range []struct {
				method, path string
				body         any
			}{
				{http.MethodGet, "/userInfo?user_id=a%00b", nil},
				{http.MethodGet, "/problems?user_id=a%00b", nil},
				{http.MethodGet, "/destinations/a%00b", nil},
				{http.MethodGet, "/deadLetters?destination_id=a%00b", nil},
				{http.MethodGet, "/sleep?user_id=a%00b&start_date=2024-01-01", nil},
				{http.MethodGet, "/auth/callback/oura?state=a%00b&code=x", nil},
				{http.MethodGet, "/subscriptions?page=9223372036854775807", nil},
				{http.MethodGet, "/sleep?user_id=x&start_date=0&end_date=9300000000000000", nil},
				{http.MethodPost, "/auth/authenticateUser?resource=OURA", `{"reference_id":"a\u0000b"}`},
				{http.MethodPost, "/auth/authenticateUser?resource=OURA", `{"auth_success_redirect_url":"http:///\\evil.com"}`},
				{http.MethodPost, "/auth/authenticateUser?resource=OURA", `{"auth_success_redirect_url":"javascript:alert(1)"}`},
			} {
				status, out := e.call(c.method, c.path, dev, c.body)
				if status != http.StatusBadRequest && status != http.StatusNotFound {
					t.Errorf("%s %s = %d %s, want 400 or 404", c.method, c.path, status, out)
				}
				if strings.Contains(string(out), "ERROR") || strings.Contains(string(out), "SQLSTATE") {
					t.Errorf("%s %s leaks a database error: %s", c.method, c.path, out)
				}
			}
			// A Garmin push with a NUL in its user id is refused or ignored,
			// never a 500.
			path := strings.TrimPrefix(e.a.PushURL("GARMIN"), e.base)
			body := `{"dailies":[{"userId":"some\u0000User","summaryId":"a\u0000","startTimeInSeconds":1593788400,"startTimeOffsetInSeconds":3600,"durationInSeconds":86400,"steps":7}]}`
			if status, out := e.call(http.MethodPost, path, developer{}, body); status >= 500 {
				t.Errorf("push with NUL = %d %s", status, out)
			}
		})
	}
}

// TestUnopenableDestinationShowsItsError: a destination the server cannot
// open (here a loopback webhook on a server that refuses private targets,
// as when `dev create --allow-private-webhooks` ran against a server started
// without the flag) says so in GET /destinations/{id}.
func TestUnopenableDestinationShowsItsError(t *testing.T) {
	e := start(t, "sqlite", func(c *app.Config) { c.AllowPrivateWebhooks = false })
	dev := e.newDeveloper()
	d, err := e.a.Store.Developer(e.ctx, dev.ID)
	if err != nil {
		t.Fatal(err)
	}
	dst, err := e.a.Store.CreateDestination(e.ctx, store.Destination{DeveloperID: d.ID, Kind: "webhook",
		Settings: json.RawMessage(`{"url":"http://127.0.0.1:9/hook"}`), Secret: "s", Enabled: true}, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.a.Deliverer.Sync(e.ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var out struct {
			Destination struct {
				Status string `json:"status"`
				Error  string `json:"error"`
			} `json:"destination"`
		}
		e.callJSON(http.MethodGet, "/destinations/"+dst.ID, dev, nil, http.StatusOK, &out)
		if out.Destination.Status == "error" {
			if !strings.Contains(out.Destination.Error, "allow-private-webhooks") {
				t.Errorf("error %q does not say what to do", out.Destination.Error)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("status = %q, want error", out.Destination.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
