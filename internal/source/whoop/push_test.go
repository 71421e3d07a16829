package whoop

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
	"github.com/wearbridge/wearbridge/internal/source"
)

const testSecret = "client-secret"

// testNow is the clock of the push tests.
var testNow = time.Date(2025, 5, 26, 6, 34, 1, 0, time.UTC)

// signed builds a webhook request the way WHOOP documents it:
// X-WHOOP-Signature = base64(HMAC-SHA256(secret, timestamp + body)).
func signed(secret string, at time.Time, body string) *http.Request {
	ts := strconv.FormatInt(at.UnixMilli(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + body))
	r := httptest.NewRequest(http.MethodPost, "/push/whoop", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("X-WHOOP-Signature-Timestamp", ts)
	r.Header.Set("X-WHOOP-Signature", base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	return r
}

func pushProvider() *Provider {
	return New(Config{ClientID: "id", ClientSecret: testSecret, Now: func() time.Time { return testNow }})
}

func TestParsePushEvents(t *testing.T) {
	const sleepID = "ecfc6a15-4661-442f-a9a4-f160dd7afae8"
	tests := []struct {
		name     string
		body     string
		pulls    []source.PullRequest
		problems int
	}{
		{
			// The documented v2 example (developer.whoop.com webhooks page).
			name:  "sleep.updated",
			body:  `{"user_id":10129,"id":"` + sleepID + `","type":"sleep.updated","trace_id":"e369c784-5100-49e8-8098-75d35c47b31b"}`,
			pulls: []source.PullRequest{{Type: model.TypeSleep, ItemID: sleepID}},
		},
		{
			name: "recovery.updated names the sleep; the daily is fetched through it",
			body: `{"user_id":10129,"id":"` + sleepID + `","type":"recovery.updated","trace_id":"t"}`,
			pulls: []source.PullRequest{
				{Type: model.TypeSleep, ItemID: sleepID},
				{Type: model.TypeDaily, ItemID: sleepID},
			},
		},
		{
			name:  "workout.updated",
			body:  `{"user_id":10129,"id":"` + sleepID + `","type":"workout.updated","trace_id":"t","extra":{"unknown":true}}`,
			pulls: []source.PullRequest{{Type: model.TypeActivity, ItemID: sleepID}},
		},
		{name: "sleep.deleted is reported", body: `{"user_id":10129,"id":"` + sleepID + `","type":"sleep.deleted","trace_id":"t"}`, problems: 1},
		{name: "workout.deleted is reported", body: `{"user_id":10129,"id":"` + sleepID + `","type":"workout.deleted","trace_id":"t"}`, problems: 1},
		{name: "unknown type", body: `{"user_id":10129,"id":"` + sleepID + `","type":"cycle.updated","trace_id":"t"}`, problems: 1},
		{name: "v1 model integer id", body: `{"user_id":10129,"id":10235,"type":"workout.updated","trace_id":"t"}`, problems: 1},
		{name: "string user id", body: `{"user_id":"10129","id":"` + sleepID + `","type":"sleep.updated"}`, pulls: []source.PullRequest{{Type: model.TypeSleep, ItemID: sleepID}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := pushProvider()
			batches, err := p.ParsePush(context.Background(), signed(testSecret, testNow.Add(-3*time.Second), tt.body), []byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if len(batches) != 1 {
				t.Fatalf("%d batches, want 1", len(batches))
			}
			b := batches[0]
			eq(t, "provider user id", b.ProviderUserID, "10129")
			if !reflect.DeepEqual(b.Pulls, tt.pulls) {
				t.Errorf("pulls = %+v, want %+v", b.Pulls, tt.pulls)
			}
			eq(t, "problems", len(b.Problems), tt.problems)
			for _, pr := range b.Problems {
				if string(pr.Raw) != tt.body {
					t.Errorf("problem raw = %s, want the webhook body", pr.Raw)
				}
			}
			eq(t, "records", len(b.Records), 0)
			eq(t, "revoked", b.Revoked, false)
		})
	}
}

func TestParsePushRefused(t *testing.T) {
	const body = `{"user_id":10129,"id":"ecfc6a15-4661-442f-a9a4-f160dd7afae8","type":"sleep.updated","trace_id":"t"}`
	ok := func() *http.Request { return signed(testSecret, testNow, body) }
	tests := []struct {
		name string
		req  *http.Request
		body string
		cfg  func(*Config)
	}{
		{name: "wrong secret", req: signed("guess", testNow, body), body: body},
		{name: "body changed after signing", req: ok(), body: strings.Replace(body, "10129", "10130", 1)},
		{name: "timestamp changed after signing", req: func() *http.Request {
			r := ok()
			r.Header.Set("X-WHOOP-Signature-Timestamp", strconv.FormatInt(testNow.UnixMilli()+1, 10))
			return r
		}(), body: body},
		{name: "stale", req: signed(testSecret, testNow.Add(-6*time.Minute), body), body: body},
		{name: "from the future", req: signed(testSecret, testNow.Add(6*time.Minute), body), body: body},
		{name: "no signature", req: func() *http.Request { r := ok(); r.Header.Del("X-WHOOP-Signature"); return r }(), body: body},
		{name: "no timestamp", req: func() *http.Request { r := ok(); r.Header.Del("X-WHOOP-Signature-Timestamp"); return r }(), body: body},
		{name: "signature not base64", req: func() *http.Request { r := ok(); r.Header.Set("X-WHOOP-Signature", "%%%"); return r }(), body: body},
		{name: "no request", req: nil, body: body},
		{name: "no secret configured", req: ok(), body: body, cfg: func(c *Config) { c.ClientSecret = "" }},
		{name: "signed but not JSON", req: signed(testSecret, testNow, "not json"), body: "not json"},
		{name: "signed JSON array", req: signed(testSecret, testNow, "[]"), body: "[]"},
		{name: "signed without user_id", req: signed(testSecret, testNow, `{"id":"x","type":"sleep.updated"}`), body: `{"id":"x","type":"sleep.updated"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{ClientSecret: testSecret, Now: func() time.Time { return testNow }}
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			batches, err := New(cfg).ParsePush(context.Background(), tt.req, []byte(tt.body))
			if !errors.Is(err, source.ErrBadPush) {
				t.Fatalf("err = %v, want ErrBadPush", err)
			}
			if batches != nil {
				t.Errorf("batches = %+v, want none", batches)
			}
		})
	}
}

// TestParsePushTolerance accepts a webhook just inside the window and an
// unpadded signature, and a WebhookSecret distinct from the client secret.
func TestParsePushTolerance(t *testing.T) {
	const body = `{"user_id":1,"id":"a","type":"sleep.updated"}`
	p := New(Config{ClientSecret: "other", WebhookSecret: testSecret, WebhookTolerance: time.Minute, Now: func() time.Time { return testNow }})
	if _, err := p.ParsePush(context.Background(), signed(testSecret, testNow.Add(-59*time.Second), body), []byte(body)); err != nil {
		t.Errorf("inside tolerance: %v", err)
	}
	if _, err := p.ParsePush(context.Background(), signed(testSecret, testNow.Add(-61*time.Second), body), []byte(body)); !errors.Is(err, source.ErrBadPush) {
		t.Errorf("outside tolerance: err = %v", err)
	}
	r := signed(testSecret, testNow, body)
	r.Header.Set("X-WHOOP-Signature", strings.TrimRight(r.Header.Get("X-WHOOP-Signature"), "="))
	if _, err := p.ParsePush(context.Background(), r, []byte(body)); err != nil {
		t.Errorf("unpadded base64: %v", err)
	}
}

// FuzzParsePush feeds signed arbitrary bodies: ParsePush must not panic,
// and either refuses with ErrBadPush or returns one batch with a user.
func FuzzParsePush(f *testing.F) {
	f.Add(`{"user_id":10129,"id":"ecfc6a15-4661-442f-a9a4-f160dd7afae8","type":"sleep.updated","trace_id":"e369c784-5100-49e8-8098-75d35c47b31b"}`)
	f.Add(`{"user_id":10129,"id":10235,"type":"workout.updated","trace_id":"d3709ee7-104e-4f70-a928-2932964b017b"}`)
	f.Add(`{"user_id":"x","id":null,"type":"recovery.deleted"}`)
	f.Add(`{"user_id":1e3,"id":"","type":""}`)
	f.Add(`[]`)
	p := pushProvider()
	f.Fuzz(func(t *testing.T, body string) {
		batches, err := p.ParsePush(context.Background(), signed(testSecret, testNow, body), []byte(body))
		if err != nil {
			if !errors.Is(err, source.ErrBadPush) {
				t.Fatalf("err = %v, not ErrBadPush", err)
			}
			return
		}
		if len(batches) != 1 || batches[0].ProviderUserID == "" {
			t.Fatalf("batches = %+v", batches)
		}
		for _, pr := range batches[0].Pulls {
			if pr.ItemID == "" {
				t.Fatalf("pull without an item id: %+v", pr)
			}
		}
	})
}
