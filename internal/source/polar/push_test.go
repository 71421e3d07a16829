package polar

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wearbridge/wearbridge/internal/model"
	"github.com/wearbridge/wearbridge/internal/source"
)

const testSecret = "abe1f3ae-fd33-11e8-8eb2-f2801f1b9fd1" // the documented example key

// signed builds a delivery signed with key (hex HMAC-SHA256 of the body).
func signed(body, key string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/push/polar", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	if key != "" {
		mac := hmac.New(sha256.New, []byte(key))
		mac.Write([]byte(body))
		r.Header.Set("Polar-Webhook-Signature", hex.EncodeToString(mac.Sum(nil)))
	}
	return r
}

func parse(t *testing.T, p *Provider, r *http.Request, body string) ([]source.PushBatch, error) {
	t.Helper()
	return p.ParsePush(context.Background(), r, []byte(body))
}

// TestParsePushEvents turns the documented payloads into pulls.
func TestParsePushEvents(t *testing.T) {
	p := New(Config{WebhookSecret: testSecret})
	tests := []struct {
		name, body string
		want       source.PullRequest
	}{
		{"exercise", `{"event":"EXERCISE","user_id":475,"entity_id":"aQlC83","timestamp":"2018-05-15T14:22:24Z","url":"https://www.polaraccesslink.com/v3/exercises/aQlC83"}`,
			source.PullRequest{Type: model.TypeActivity, ItemID: "aQlC83"}},
		{"sleep", `{"event":"SLEEP","user_id":475,"date":"2019-12-31","timestamp":"2018-05-15T14:22:24Z","url":"https://www.polaraccesslink.com/v3/users/sleep/2019-12-31"}`,
			source.PullRequest{Type: model.TypeSleep, Start: utc(2019, 12, 31), End: utc(2020, 1, 1)}},
		{"heart rate", `{"event":"CONTINUOUS_HEART_RATE","user_id":475,"date":"2022-09-30","timestamp":"2018-05-15T14:22:24Z"}`,
			source.PullRequest{Type: model.TypeDaily, Start: utc(2022, 9, 30), End: utc(2022, 10, 1)}},
		{"activity summary", `{"event":"ACTIVITY_SUMMARY","user_id":"475","date":"2022-09-30","timestamp":"2022-10-02T14:22:24Z"}`,
			source.PullRequest{Type: model.TypeDaily, Start: utc(2022, 9, 30), End: utc(2022, 10, 1)}},
		{"sleep dated by entity_id", `{"event":"SLEEP","user_id":475,"entity_id":"2019-12-31"}`,
			source.PullRequest{Type: model.TypeSleep, Start: utc(2019, 12, 31), End: utc(2020, 1, 1)}},
		{"activity dated by timestamp", `{"event":"ACTIVITY_SUMMARY","user_id":475,"timestamp":"2022-10-02T14:22:24Z"}`,
			source.PullRequest{Type: model.TypeDaily, Start: utc(2022, 10, 2), End: utc(2022, 10, 3)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bs, err := parse(t, p, signed(tt.body, testSecret), tt.body)
			if err != nil {
				t.Fatal(err)
			}
			eq(t, "batches", len(bs), 1)
			eq(t, "user", bs[0].ProviderUserID, "475") // user_id
			eq(t, "pulls", len(bs[0].Pulls), 1)
			got := bs[0].Pulls[0]
			if got.Type != tt.want.Type || got.ItemID != tt.want.ItemID || !got.Start.Equal(tt.want.Start) || !got.End.Equal(tt.want.End) {
				t.Errorf("pull = %+v, want %+v", got, tt.want)
			}
			eq(t, "problems", len(bs[0].Problems), 0)
		})
	}
}

// TestParsePushNotRead: SleepWise and unknown events, and events without
// what they need, are problems of the user.
func TestParsePushNotRead(t *testing.T) {
	p := New(Config{WebhookSecret: testSecret})
	for _, body := range []string{
		`{"event":"SLEEP_WISE_ALERTNESS","user_id":475,"from":"2022-09-30","to":"2022-10-02"}`,
		`{"event":"SLEEP_WISE_CIRCADIAN_BEDTIME","user_id":475,"from":"2022-09-30","to":"2022-10-02"}`,
		`{"event":"BODY_TEMPERATURE","user_id":475}`,
		`{"event":"EXERCISE","user_id":475}`,
		`{"event":"SLEEP","user_id":475}`,
	} {
		bs, err := parse(t, p, signed(body, testSecret), body)
		if err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		if len(bs) != 1 || len(bs[0].Pulls) != 0 || len(bs[0].Problems) != 1 || string(bs[0].Problems[0].Raw) != body {
			t.Errorf("%s: batches %+v, want one problem with the body", body, bs)
		}
	}
}

// TestParsePushSignature: only deliveries signed with the webhook's key are
// accepted; the PING of a webhook's creation is accepted unsigned.
func TestParsePushSignature(t *testing.T) {
	body := `{"event":"EXERCISE","user_id":475,"entity_id":"aQlC83","timestamp":"2018-05-15T14:22:24Z"}`
	p := New(Config{WebhookSecret: testSecret})

	upper := signed(body, testSecret)
	upper.Header.Set("Polar-Webhook-Signature", strings.ToUpper(upper.Header.Get("Polar-Webhook-Signature")))
	if _, err := parse(t, p, upper, body); err != nil {
		t.Errorf("upper-case hex: %v", err)
	}

	tampered := signed(body, testSecret)
	for name, c := range map[string]struct {
		p    *Provider
		r    *http.Request
		body string
	}{
		"wrong key":     {p, signed(body, "another-key"), body},
		"no signature":  {p, signed(body, ""), body},
		"not hex":       {p, func() *http.Request { r := signed(body, ""); r.Header.Set("Polar-Webhook-Signature", "zz"); return r }(), body},
		"tampered body": {p, tampered, strings.Replace(body, "aQlC83", "aQlC84", 1)},
		"no secret set": {New(Config{}), signed(body, testSecret), body},
		"no request":    {p, nil, body},
		"not json":      {p, signed("hello", testSecret), "hello"},
		"json array":    {p, signed(`[1]`, testSecret), `[1]`},
		"null":          {p, signed(`null`, testSecret), `null`},
		"no user_id":    {p, signed(`{"event":"EXERCISE","entity_id":"x"}`, testSecret), `{"event":"EXERCISE","entity_id":"x"}`},
		"bad user_id":   {p, signed(`{"event":"EXERCISE","user_id":"me","entity_id":"x"}`, testSecret), `{"event":"EXERCISE","user_id":"me","entity_id":"x"}`},
	} {
		t.Run(name, func(t *testing.T) {
			bs, err := c.p.ParsePush(context.Background(), c.r, []byte(c.body))
			if !errors.Is(err, source.ErrBadPush) || bs != nil {
				t.Errorf("batches %v, err = %v; want ErrBadPush", bs, err)
			}
		})
	}

	ping := `{"timestamp":"2019-01-11T08:25:10.02Z","event":"PING"}`
	for _, prov := range []*Provider{p, New(Config{})} {
		bs, err := prov.ParsePush(context.Background(), signed(ping, "unknown-yet"), []byte(ping))
		if err != nil || len(bs) != 0 {
			t.Errorf("PING: batches %v, err %v; want accepted with nothing to do", bs, err)
		}
	}
}
