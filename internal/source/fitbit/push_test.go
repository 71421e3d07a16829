package fitbit

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
	"github.com/wearbridge/wearbridge/internal/source"
)

const pushSecret = "s3cret"

// pushRequest builds a notification POST signed with secret ("" sends no
// signature).
func pushRequest(body, secret string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/push/fitbit", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	if secret != "" {
		r.Header.Set(SignatureHeader, Sign([]byte(body), secret))
	}
	return r
}

// TestSign checks the signature against one computed by hand from
// Fitbit's recipe: base64(HMAC-SHA1(body, secret + "&")), here with
// `openssl dgst -sha1 -hmac 's3cret&' -binary | base64` of the body.
func TestSign(t *testing.T) {
	body := `[{"collectionType":"sleep","date":"2016-12-13","ownerId":"ABC123","ownerType":"user","subscriptionId":"ABC123"}]`
	got := Sign([]byte(body), pushSecret)
	eq(t, "signature", got, "FHmoeew+hmnHeQpLeQ/pYr8cbDs=")
	// The same body under another secret, or another body, signs
	// differently.
	if Sign([]byte(body), "other") == got || Sign([]byte(body+" "), pushSecret) == got {
		t.Error("signature does not depend on secret and body")
	}
}

func TestParsePushSignature(t *testing.T) {
	body := `[{"collectionType":"sleep","date":"2016-12-13","ownerId":"ABC123","ownerType":"user","subscriptionId":"ABC123"}]`
	tests := []struct {
		name    string
		cfg     Config
		req     *http.Request
		wantErr bool
	}{
		{"right", Config{ClientSecret: pushSecret}, pushRequest(body, pushSecret), false},
		{"wrong secret", Config{ClientSecret: pushSecret}, pushRequest(body, "guess"), true},
		{"no header", Config{ClientSecret: pushSecret}, pushRequest(body, ""), true},
		{"not base64", Config{ClientSecret: pushSecret}, func() *http.Request {
			r := pushRequest(body, "")
			r.Header.Set(SignatureHeader, "!!!")
			return r
		}(), true},
		{"no secret configured", Config{}, pushRequest(body, pushSecret), true},
		{"no request", Config{ClientSecret: pushSecret}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg).ParsePush(context.Background(), tt.req, []byte(body))
			if tt.wantErr != (err != nil) {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, source.ErrBadPush) {
				t.Errorf("err = %v, want ErrBadPush", err)
			}
		})
	}
	// A body changed after signing is refused.
	r := pushRequest(body, pushSecret)
	tampered := strings.Replace(body, "ABC123", "XYZ789", 1)
	if _, err := New(Config{ClientSecret: pushSecret}).ParsePush(context.Background(), r, []byte(tampered)); !errors.Is(err, source.ErrBadPush) {
		t.Errorf("tampered body: err = %v, want ErrBadPush", err)
	}
}

func TestParsePush(t *testing.T) {
	body := `[
		{"collectionType":"activities","date":"2015-06-23","ownerId":"ABC123","ownerType":"user","subscriptionId":"ABC123"},
		{"collectionType":"activities","date":"2015-06-23","ownerId":"ABC123","ownerType":"user","subscriptionId":"ABC123"},
		{"collectionType":"sleep","date":"2016-12-13","ownerId":"ABC123","ownerType":"user","subscriptionId":"ABC123"},
		{"collectionType":"body","date":"2015-05-13","ownerId":"XYZ789","ownerType":"user","subscriptionId":"XYZ789"},
		{"collectionType":"foods","date":"2015-05-13","ownerId":"XYZ789","ownerType":"user","subscriptionId":"XYZ789"},
		{"collectionType":"userRevokedAccess","date":"2020-06","ownerId":"REV001","ownerType":"user","subscriptionId":"REV-1"},
		{"collectionType":"deleteUser","date":"2021-10-11","ownerId":"DEL001","ownerType":"user","subscriptionId":"391303303"},
		{"collectionType":"heartrate","date":"2015-05-13","ownerId":"XYZ789","ownerType":"user","subscriptionId":"XYZ789"},
		{"collectionType":"sleep","date":"yesterday","ownerId":"XYZ789","ownerType":"user","subscriptionId":"XYZ789"},
		{"collectionType":"sleep","date":"2016-12-13","ownerType":"user"},
		{"collectionType":"sleep","date":"2016-12-13","ownerId":"ABC123","ownerType":"group"},
		42
	]`
	batches, err := New(Config{ClientSecret: pushSecret}).ParsePush(context.Background(), pushRequest(body, pushSecret), []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]source.PushBatch{}
	for _, b := range batches {
		by[b.ProviderUserID] = b
	}
	eq(t, "batches", len(batches), 5)

	d := func(y int, m time.Month, day, h int) time.Time { return time.Date(y, m, day, h, 0, 0, 0, time.UTC) }
	type pull struct {
		typ        model.DataType
		start, end time.Time
	}
	check := func(owner string, want []pull, problems int, revoked bool) {
		t.Helper()
		b := by[owner]
		eq(t, owner+" pulls", len(b.Pulls), len(want))
		for i, w := range want {
			if i < len(b.Pulls) {
				got := b.Pulls[i]
				if got.Type != w.typ || !got.Start.Equal(w.start) || !got.End.Equal(w.end) || got.ItemID != "" {
					t.Errorf("%s pull %d = %+v, want %+v", owner, i, got, w)
				}
			}
		}
		eq(t, owner+" problems", len(b.Problems), problems)
		eq(t, owner+" revoked", b.Revoked, revoked)
	}
	// Activities twice asks once for activity and daily; the day is the
	// hours of 2015-06-23 that are that day from UTC-10 to UTC+10.
	check("ABC123", []pull{
		{model.TypeActivity, d(2015, 6, 23, 10), d(2015, 6, 23, 14)},
		{model.TypeDaily, d(2015, 6, 23, 10), d(2015, 6, 23, 14)},
		{model.TypeSleep, d(2016, 12, 13, 10), d(2016, 12, 13, 14)},
	}, 1, false) // ownerType group
	// body asks for body; foods for nothing; heartrate and a bad date
	// are problems.
	check("XYZ789", []pull{{model.TypeBody, d(2015, 5, 13, 10), d(2015, 5, 13, 14)}}, 2, false)
	check("REV001", nil, 0, true)
	check("DEL001", nil, 0, true)
	// No ownerId, and not an object.
	check("", nil, 2, false)
	for _, b := range batches {
		for _, p := range b.Problems {
			if len(p.Raw) == 0 {
				t.Errorf("problem %q has no raw notification", p.Err)
			}
		}
	}

	for _, bad := range []string{`{"collectionType":"sleep"}`, `null`, `not json`, ``} {
		if _, err := New(Config{ClientSecret: pushSecret}).ParsePush(context.Background(), pushRequest(bad, pushSecret), []byte(bad)); !errors.Is(err, source.ErrBadPush) {
			t.Errorf("%q: err = %v, want ErrBadPush", bad, err)
		}
	}
	empty, err := New(Config{ClientSecret: pushSecret}).ParsePush(context.Background(), pushRequest(`[]`, pushSecret), []byte(`[]`))
	if err != nil || len(empty) != 0 {
		t.Errorf("empty array: %v, %v", empty, err)
	}
}

func TestVerifySubscription(t *testing.T) {
	tests := []struct {
		name, code, query string
		want              int
	}{
		{"right code", "abc123", "verify=abc123", http.StatusNoContent},
		{"wrong code", "abc123", "verify=wrong", http.StatusNotFound},
		{"no code", "abc123", "", http.StatusNotFound},
		{"none configured", "", "verify=", http.StatusNotFound},
		{"none configured, a code sent", "", "verify=abc123", http.StatusNotFound},
	}
	for _, tt := range tests {
		p := New(Config{SubscriberVerificationCode: tt.code})
		w := httptest.NewRecorder()
		p.VerifySubscription(w, httptest.NewRequest(http.MethodGet, "/push/fitbit?"+tt.query, nil))
		eq(t, tt.name, w.Code, tt.want)
		eq(t, tt.name+" body", w.Body.Len(), 0)
	}
}

// FuzzParsePush feeds arbitrary signed bodies to ParsePush: it must not
// panic, and must either refuse the body with ErrBadPush or return
// batches whose pull windows are well formed.
func FuzzParsePush(f *testing.F) {
	f.Add([]byte(`[{"collectionType":"activities","date":"2015-06-23","ownerId":"ABC123","ownerType":"user","subscriptionId":"1"}]`))
	f.Add([]byte(`[{"collectionType":"userRevokedAccess","date":"2020-06","ownerId":"user","subscriptionId":"1234"}]`))
	f.Add([]byte(`[{},1,"x",null,[]]`))
	f.Add([]byte(`{"collectionType":"sleep"}`))
	p := New(Config{ClientSecret: pushSecret})
	f.Fuzz(func(t *testing.T, body []byte) {
		batches, err := p.ParsePush(context.Background(), pushRequest(string(body), pushSecret), body)
		if err != nil {
			if !errors.Is(err, source.ErrBadPush) {
				t.Fatalf("err = %v, not ErrBadPush", err)
			}
			return
		}
		for _, b := range batches {
			for _, pr := range b.Pulls {
				if !pr.End.After(pr.Start) || b.ProviderUserID == "" {
					t.Fatalf("bad pull %+v for %q", pr, b.ProviderUserID)
				}
			}
		}
	})
}
