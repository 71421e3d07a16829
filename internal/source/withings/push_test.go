package withings

import (
	"bytes"
	"context"
	"errors"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
	"github.com/wearbridge/wearbridge/internal/source"
)

func notifyRequest(target, body string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, target, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

func parse(t *testing.T, p *Provider, target, body string) source.PushBatch {
	t.Helper()
	batches, err := p.ParsePush(context.Background(), notifyRequest(target, body), []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(batches) != 1 {
		t.Fatalf("batches = %d, want 1", len(batches))
	}
	return batches[0]
}

func TestParsePushPulls(t *testing.T) {
	unix := func(s int64) time.Time { return time.Unix(s, 0).UTC() }
	tests := []struct {
		name     string
		body     string
		pulls    []source.PullRequest
		revoked  bool
		problems int
	}{
		{
			// The documented example payload.
			name: "weight", body: "userid=12345&appli=1&startdate=1530576000&enddate=1530698753",
			pulls: []source.PullRequest{{Type: model.TypeBody, Start: unix(1530576000), End: unix(1530698754)}},
		},
		{
			name: "blood pressure", body: "userid=12345&appli=4&startdate=1433052383&enddate=1433052383",
			pulls: []source.PullRequest{{Type: model.TypeBody, Start: unix(1433052383), End: unix(1433052384)}},
		},
		{
			name: "activity with a range", body: "userid=12345&appli=16&startdate=1693336011&enddate=1693336513",
			pulls: []source.PullRequest{
				{Type: model.TypeActivity, Start: unix(1693336011), End: unix(1693336514)},
				{Type: model.TypeDaily, Start: unix(1693336011), End: unix(1693336514)},
			},
		},
		{
			// A day seen from every zone: 2015-06-19T00:00Z - 14 h to 2015-06-20T00:00Z + 12 h.
			name: "activity with a date", body: "userid=12345&appli=16&date=2015-06-19",
			pulls: []source.PullRequest{
				{Type: model.TypeActivity, Start: time.Date(2015, 6, 18, 10, 0, 0, 0, time.UTC), End: time.Date(2015, 6, 20, 12, 0, 0, 0, time.UTC)},
				{Type: model.TypeDaily, Start: time.Date(2015, 6, 18, 10, 0, 0, 0, time.UTC), End: time.Date(2015, 6, 20, 12, 0, 0, 0, time.UTC)},
			},
		},
		{
			name: "sleep", body: "userid=12345&appli=44&startdate=1504307700&enddate=1504319100",
			pulls: []source.PullRequest{{Type: model.TypeSleep, Start: unix(1504307700), End: unix(1504319101)}},
		},
		{name: "unlink", body: "userid=12345&appli=46&action=unlink", revoked: true},
		{name: "delete", body: "userid=12345&appli=46&action=delete", revoked: true},
		{name: "profile update", body: "userid=12345&appli=46&action=update"},
		{name: "unknown user action", body: "userid=12345&appli=46&action=dance", problems: 1},
		{name: "bed in", body: "userid=12345&appli=50&date=2023-01-01&deviceid=abc"},
		{name: "bed out", body: "userid=12345&appli=51&startdate=1672531200&enddate=1672531200"},
		{name: "unknown appli", body: "userid=12345&appli=77&startdate=1672531200&enddate=1672531200", problems: 1},
		{name: "data without a range", body: "userid=12345&appli=44", problems: 1},
		{name: "extra parameters are fine", body: "foo=bar&userid=12345&appli=1&startdate=1530576000&enddate=1530698753&deviceid=x",
			pulls: []source.PullRequest{{Type: model.TypeBody, Start: unix(1530576000), End: unix(1530698754)}}},
	}
	p := New(Config{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := parse(t, p, "/push/withings", tt.body)
			Eq(t, "user", b.ProviderUserID, "12345")
			Eq(t, "revoked", b.Revoked, tt.revoked)
			Eq(t, "problems", len(b.Problems), tt.problems)
			for _, pr := range b.Problems {
				Eq(t, "problem raw", string(pr.Raw), tt.body)
			}
			Eq(t, "pulls", len(b.Pulls), len(tt.pulls))
			for i := range min(len(b.Pulls), len(tt.pulls)) {
				got, want := b.Pulls[i], tt.pulls[i]
				if got.Type != want.Type || !got.Start.Equal(want.Start) || !got.End.Equal(want.End) || got.ItemID != "" {
					t.Errorf("pull %d = %+v, want %+v", i, got, want)
				}
			}
			if len(b.Records) != 0 {
				t.Error("a notification carries no records")
			}
		})
	}
}

func TestParsePushRejectsBadBodies(t *testing.T) {
	tests := []struct{ name, body string }{
		{"empty", ""},
		{"json", `{"userid":12345,"appli":1}`},
		{"no userid", "appli=1&startdate=1&enddate=2"},
		{"userid not a number", "userid=alice&appli=1"},
		{"userid twice", "userid=1&userid=2&appli=1"},
		{"no appli", "userid=12345&startdate=1&enddate=2"},
		{"appli not a number", "userid=12345&appli=weight"},
		{"startdate not a number", "userid=12345&appli=1&startdate=yesterday"},
		{"enddate before startdate", "userid=12345&appli=1&startdate=1530698753&enddate=1530576000"},
		{"bad date", "userid=12345&appli=16&date=19/06/2015"},
		{"bad escape", "userid=%zz&appli=1"},
	}
	p := New(Config{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := p.ParsePush(context.Background(), notifyRequest("/push/withings", tt.body), []byte(tt.body))
			if !errors.Is(err, source.ErrBadPush) {
				t.Fatalf("err = %v, want ErrBadPush", err)
			}
			if got != nil {
				t.Errorf("batches = %+v, want none", got)
			}
		})
	}
}

// TestParsePushToken: with a NotifyToken, only notifications to the
// callback URL carrying it are accepted.
func TestParsePushToken(t *testing.T) {
	const body = "userid=12345&appli=1&startdate=1530576000&enddate=1530698753"
	p := New(Config{NotifyToken: "s3cret"})
	tests := []struct {
		target string
		ok     bool
	}{
		{"/push/withings?token=s3cret", true},
		{"/push/withings?token=guess", false},
		{"/push/withings", false},
		{"/push/withings?token=s3cret&token=x", true}, // the first value counts
	}
	for _, tt := range tests {
		_, err := p.ParsePush(context.Background(), notifyRequest(tt.target, body), []byte(body))
		if got := err == nil; got != tt.ok {
			t.Errorf("%s: err = %v, want ok=%v", tt.target, err, tt.ok)
		}
		if err != nil && !errors.Is(err, source.ErrBadPush) {
			t.Errorf("%s: err %v is not ErrBadPush", tt.target, err)
		}
	}
	if _, err := p.ParsePush(context.Background(), nil, []byte(body)); !errors.Is(err, source.ErrBadPush) {
		t.Errorf("nil request: err = %v, want ErrBadPush", err)
	}
}

func TestParsePushMultipart(t *testing.T) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, kv := range [][2]string{{"userid", "12345"}, {"appli", "44"}, {"startdate", "1504307700"}, {"enddate", "1504319100"}} {
		if err := mw.WriteField(kv[0], kv[1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, "/push/withings", bytes.NewReader(buf.Bytes()))
	r.Header.Set("Content-Type", mw.FormDataContentType())
	batches, err := New(Config{}).ParsePush(context.Background(), r, buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	Eq(t, "pulls", len(batches[0].Pulls), 1)
	Eq(t, "type", batches[0].Pulls[0].Type, model.TypeSleep)
}

func TestVerifySubscription(t *testing.T) {
	tests := []struct {
		name, token, target, method string
		want                        int
	}{
		{"HEAD, no token configured", "", "/push/withings", http.MethodHead, http.StatusOK},
		{"GET, no token configured", "", "/push/withings", http.MethodGet, http.StatusOK},
		{"HEAD with the token", "s3cret", "/push/withings?token=s3cret", http.MethodHead, http.StatusOK},
		{"HEAD without the token", "s3cret", "/push/withings", http.MethodHead, http.StatusForbidden},
		{"GET with a wrong token", "s3cret", "/push/withings?token=nope", http.MethodGet, http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			New(Config{NotifyToken: tt.token}).VerifySubscription(w, httptest.NewRequest(tt.method, tt.target, nil))
			Eq(t, "status", w.Code, tt.want)
		})
	}
}

// FuzzParsePush: no body makes ParsePush panic, every error is
// ErrBadPush, and every pull is a forward window of a pulled type.
func FuzzParsePush(f *testing.F) {
	for _, s := range []string{
		"userid=12345&appli=1&startdate=1530576000&enddate=1530698753",
		"userid=12345&appli=16&date=2015-06-19",
		"userid=12345&appli=46&action=unlink",
		"userid=12345&appli=44&startdate=99999999999&enddate=99999999999",
		"userid=1&appli=-1&startdate=1&enddate=1",
		"userid=12345&appli=999999999999999999999",
		"%",
		"",
	} {
		f.Add(s)
	}
	p := New(Config{})
	types := map[model.DataType]bool{}
	for _, t := range p.PullTypes() {
		types[t] = true
	}
	f.Fuzz(func(t *testing.T, body string) {
		batches, err := p.ParsePush(context.Background(), notifyRequest("/push/withings", body), []byte(body))
		if err != nil {
			if !errors.Is(err, source.ErrBadPush) {
				t.Fatalf("error %v does not wrap ErrBadPush", err)
			}
			return
		}
		for _, b := range batches {
			if b.ProviderUserID == "" {
				t.Fatal("batch without a user")
			}
			for _, pr := range b.Pulls {
				if !types[pr.Type] || !pr.End.After(pr.Start) {
					t.Fatalf("bad pull %+v", pr)
				}
			}
		}
	})
}
