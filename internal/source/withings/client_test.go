package withings

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/wearbridge/wearbridge/internal/model"
)

// staticServer answers each action with a handler; other actions get an
// empty list.
func staticServer(t *testing.T, actions map[string]http.HandlerFunc) *Provider {
	t.Helper()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			t.Error(err)
		}
		if h, ok := actions[r.Form.Get("action")]; ok {
			h(w, r)
			return
		}
		serve(http.StatusOK, `{"status":0,"body":{"series":[],"activities":[],"measuregrps":[],"more":false,"offset":0}}`)(w, r)
	}))
	t.Cleanup(ts.Close)
	return New(Config{APIBase: ts.URL, TokenURL: ts.URL + "/v2/oauth2", ClientID: "c", ClientSecret: "s"})
}

func serve(status int, body string, header ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}
}

func day0(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// TestPullStatuses: Withings' errors come as HTTP 200 with a status.
func TestPullStatuses(t *testing.T) {
	tests := []struct {
		name      string
		h         http.HandlerFunc
		unauth    bool
		rateLimit time.Duration
		apiStatus int
	}{
		{name: "401 invalid token", h: serve(http.StatusOK, `{"status":401,"body":{},"error":"XRequestID: Not provided invalid_token: The access token provided is invalid"}`), unauth: true, apiStatus: 401},
		{name: "100 authentication failed", h: serve(http.StatusOK, `{"status":100,"body":{}}`), unauth: true, apiStatus: 100},
		{name: "601 too many requests", h: serve(http.StatusOK, `{"status":601,"body":{},"error":"Too Many Requests"}`), rateLimit: time.Minute},
		{name: "http 429 with Retry-After", h: serve(http.StatusTooManyRequests, `{}`, "Retry-After", "17"), rateLimit: 17 * time.Second},
		{name: "http 401", h: serve(http.StatusUnauthorized, `unauthorized`), unauth: true},
		{name: "503 invalid params", h: serve(http.StatusOK, `{"status":503,"body":{},"error":"Invalid Params"}`), apiStatus: 503},
		{name: "http 502", h: serve(http.StatusBadGateway, `<html>bad gateway</html>`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := staticServer(t, map[string]http.HandlerFunc{"getsummary": tt.h})
			err := p.Pull(context.Background(), http.DefaultClient, model.TypeSleep, day0(2017, 9, 1), day0(2017, 9, 5), &MemSink{})
			if err == nil {
				t.Fatal("no error")
			}
			Eq(t, "ErrUnauthorized", errors.Is(err, ErrUnauthorized), tt.unauth)
			var rl *RateLimitError
			if tt.rateLimit > 0 {
				if !errors.As(err, &rl) {
					t.Fatalf("err = %v, want a RateLimitError", err)
				}
				Eq(t, "RetryAfter", rl.RetryAfter, tt.rateLimit)
				Eq(t, "provider", rl.Provider, "WITHINGS")
				return
			}
			var apiErr *APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("err = %v, want an APIError", err)
			}
			Eq(t, "status", apiErr.Status, tt.apiStatus)
			if !strings.Contains(err.Error(), "getsummary") {
				t.Errorf("error %q does not say which call", err)
			}
		})
	}
}

// TestPullMalformedPage: a page that is not a Withings answer is a
// Problem with its body, and the other lists still land.
func TestPullMalformedPage(t *testing.T) {
	garbage := `<html><body>502 Bad Gateway</body></html>`
	day := `{"date":"2015-06-19","timezone":"America/Los_Angeles","steps":2600}`
	tests := []struct {
		name, page string
	}{
		{"not json", garbage},
		{"no status", `{"body":{"activities":[]}}`},
		{"no list", `{"status":0,"body":{"more":false}}`},
		{"list is an object", `{"status":0,"body":{"activities":{"a":1}}}`},
		{"more is a string", `{"status":0,"body":{"activities":[` + day + `],"more":"maybe","offset":1}}`},
		{"more without an offset", `{"status":0,"body":{"activities":[` + day + `],"more":true}}`},
		{"offset going back", `{"status":0,"body":{"activities":[` + day + `],"more":true,"offset":0}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := staticServer(t, map[string]http.HandlerFunc{"getactivity": serve(http.StatusOK, tt.page)})
			var sink MemSink
			if err := p.Pull(context.Background(), http.DefaultClient, model.TypeDaily, day0(2015, 6, 19), day0(2015, 6, 20), &sink); err != nil {
				t.Fatal(err)
			}
			Eq(t, "problems", len(sink.Probs), 1)
			Eq(t, "problem type", sink.Probs[0].Type, model.TypeDaily)
			if !strings.Contains(sink.Probs[0].Err, "not read") && !strings.Contains(sink.Probs[0].Err, "getactivity") {
				t.Errorf("problem %q does not say what was lost", sink.Probs[0].Err)
			}
			if len(sink.Probs[0].Raw) == 0 {
				t.Error("problem has no raw body")
			}
			if tt.page == garbage && string(sink.Probs[0].Raw) != garbage {
				t.Errorf("raw = %q, want the page as received", sink.Probs[0].Raw)
			}
		})
	}
	// An unreadable intraday answer: the day still lands, without samples,
	// and the loss is reported.
	p := staticServer(t, map[string]http.HandlerFunc{
		"getactivity":         serve(http.StatusOK, `{"status":0,"body":{"activities":[`+day+`],"more":false,"offset":0}}`),
		"getintradayactivity": serve(http.StatusOK, garbage),
	})
	var sink MemSink
	if err := p.Pull(context.Background(), http.DefaultClient, model.TypeDaily, day0(2015, 6, 19), day0(2015, 6, 20), &sink); err != nil {
		t.Fatal(err)
	}
	Eq(t, "records", len(sink.Recs), 1)
	Eq(t, "problems", len(sink.Probs), 1)
	Eq(t, "raw", string(sink.Probs[0].Raw), garbage)
}

// TestPullBadItem: one item that cannot be mapped is a Problem with that
// item; the others on the page land.
func TestPullBadItem(t *testing.T) {
	page := `{"status":0,"body":{"series":[
		{"id":1,"category":1,"timezone":"Europe/Paris","startdate":1594245600,"enddate":1594249200,"date":"2020-07-09","data":{}},
		{"id":2,"category":1,"timezone":"Europe/Paris","startdate":1594245700,"enddate":1594245600,"date":"2020-07-09","data":{}},
		{"id":3,"category":1,"timezone":"Europe/Paris","startdate":1594245800,"enddate":1594249200,"date":"2020-07-09","data":{}},
		{"id":4,"category":1,"timezone":"Europe/Paris","startdate":0,"enddate":1594249200,"date":"2020-07-09","data":{}}
	],"more":false,"offset":0}}`
	p := staticServer(t, map[string]http.HandlerFunc{"getworkouts": serve(http.StatusOK, page)})
	var sink MemSink
	if err := p.Pull(context.Background(), http.DefaultClient, model.TypeActivity, day0(2020, 7, 8), day0(2020, 7, 10), &sink); err != nil {
		t.Fatal(err)
	}
	Eq(t, "records", len(sink.Recs), 2)
	// id 2 ends before it starts; id 4 has no plausible startdate: neither
	// is dropped silently.
	Eq(t, "problems", len(sink.Probs), 2)
	for i, id := range []string{`"id":2`, `"id":4`} {
		if i < len(sink.Probs) && !strings.Contains(string(sink.Probs[i].Raw), id) {
			t.Errorf("problem raw = %s, want the item with %s", sink.Probs[i].Raw, id)
		}
	}
}

// TestPullQuery checks the parameters sent for each type, and that items
// outside the window are not emitted.
func TestPullQuery(t *testing.T) {
	var mu sync.Mutex
	got := map[string]url.Values{}
	rec := func(body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			got[r.Form.Get("action")] = r.PostForm
			mu.Unlock()
			serve(http.StatusOK, body)(w, r)
		}
	}
	// Two sleeps: one starting in the window, one the evening before.
	sleeps := `{"status":0,"body":{"series":[
		{"id":1,"timezone":"UTC","startdate":1504220400,"enddate":1504245600,"date":"2017-09-01","data":{}},
		{"id":2,"timezone":"UTC","startdate":1504306800,"enddate":1504332000,"date":"2017-09-02","data":{}}
	],"more":false,"offset":0}}`
	p := staticServer(t, map[string]http.HandlerFunc{
		"getsummary": rec(sleeps),
		"getmeas":    rec(`{"status":0,"body":{"measuregrps":[],"more":0,"offset":0}}`),
	})
	start, end := time.Date(2017, 9, 1, 12, 0, 0, 0, time.UTC), time.Date(2017, 9, 2, 12, 0, 0, 0, time.UTC)
	var sink MemSink
	for _, typ := range []model.DataType{model.TypeSleep, model.TypeBody} {
		if err := p.Pull(context.Background(), http.DefaultClient, typ, start, end, &sink); err != nil {
			t.Fatal(err)
		}
	}
	Eq(t, "sleep startdateymd", got["getsummary"].Get("startdateymd"), "2017-08-31")
	Eq(t, "sleep enddateymd", got["getsummary"].Get("enddateymd"), "2017-09-03")
	if !strings.Contains(got["getsummary"].Get("data_fields"), "total_sleep_time") {
		t.Error("getsummary asked without data_fields")
	}
	Eq(t, "getmeas category", got["getmeas"].Get("category"), "1")
	Eq(t, "getmeas startdate", got["getmeas"].Get("startdate"), "1504267200")
	Eq(t, "getmeas enddate", got["getmeas"].Get("enddate"), "1504353600")
	// 1504220400 is 2017-08-31T23:00Z, before the window; 1504306800 is in it.
	Eq(t, "records", len(sink.Recs), 1)
	Eq(t, "record", sink.Recs[0].Key, "2")
}

// TestPullDuplicates: the same item listed twice lands once per batch.
func TestPullDuplicates(t *testing.T) {
	w := `{"id":7,"category":1,"timezone":"UTC","startdate":1594245600,"enddate":1594249200,"date":"2020-07-08","data":{}}`
	p := staticServer(t, map[string]http.HandlerFunc{"getworkouts": serve(http.StatusOK, `{"status":0,"body":{"series":[`+w+`,`+w+`],"more":false,"offset":0}}`)})
	var sink MemSink
	if err := p.Pull(context.Background(), http.DefaultClient, model.TypeActivity, day0(2020, 7, 8), day0(2020, 7, 9), &sink); err != nil {
		t.Fatal(err)
	}
	Eq(t, "records", len(sink.Recs), 1)
}

func TestPullUnsupportedType(t *testing.T) {
	if err := New(Config{}).Pull(context.Background(), http.DefaultClient, model.TypeNutrition, day0(2024, 1, 1), day0(2024, 1, 2), &MemSink{}); err == nil {
		t.Error("no error for nutrition")
	}
}

// TestPullStopsPagingForever stops a server that always says more.
func TestPullStopsPagingForever(t *testing.T) {
	n := 0
	var mu sync.Mutex
	p := staticServer(t, map[string]http.HandlerFunc{"getmeas": func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		off := n * 10
		mu.Unlock()
		serve(http.StatusOK, `{"status":0,"body":{"measuregrps":[],"more":1,"offset":`+strconv.Itoa(off)+`}}`)(w, r)
	}})
	p.cfg.MaxPages = 5
	var sink MemSink
	if err := p.Pull(context.Background(), http.DefaultClient, model.TypeBody, day0(2024, 1, 1), day0(2024, 1, 2), &sink); err != nil {
		t.Fatal(err)
	}
	Eq(t, "pages", n, 5)
	Eq(t, "problems", len(sink.Probs), 1)
}

// TestRequestTokenErrors: the token endpoint's wrapped errors.
func TestRequestTokenErrors(t *testing.T) {
	tests := []struct {
		name       string
		h          http.HandlerFunc
		grant      bool // an oauth2.RetrieveError with invalid_grant
		rateLimit  bool
		wantSubstr string
	}{
		{name: "used code", h: serve(http.StatusOK, `{"status":503,"body":{},"error":"Invalid Params: invalid code"}`), grant: true},
		{name: "bad token", h: serve(http.StatusOK, `{"status":401,"body":{}}`), grant: true},
		{name: "rate limited", h: serve(http.StatusOK, `{"status":601,"body":{}}`), rateLimit: true},
		{name: "server error", h: serve(http.StatusOK, `{"status":2555,"body":{},"error":"An error occurred"}`), wantSubstr: "2555"},
		{name: "not an envelope", h: serve(http.StatusOK, `<html></html>`), wantSubstr: "envelope"},
		{name: "no userid", h: serve(http.StatusOK, `{"status":0,"body":{"access_token":"a","refresh_token":"r","expires_in":10800}}`), wantSubstr: "userid"},
		{name: "http 500", h: serve(http.StatusInternalServerError, `oops`), wantSubstr: "500"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := httptest.NewServer(tt.h)
			t.Cleanup(ts.Close)
			p := New(Config{TokenURL: ts.URL})
			_, err := p.ExchangeCode(context.Background(), nil, p.OAuthConfig(), "code", "")
			if err == nil {
				t.Fatal("no error")
			}
			var re *oauth2.RetrieveError
			Eq(t, "invalid_grant", errors.As(err, &re) && re.ErrorCode == "invalid_grant", tt.grant)
			var rl *RateLimitError
			Eq(t, "rate limit", errors.As(err, &rl), tt.rateLimit)
			if tt.wantSubstr != "" && !strings.Contains(err.Error(), tt.wantSubstr) {
				t.Errorf("err = %v, want %q in it", err, tt.wantSubstr)
			}
		})
	}
}

// TestRequestTokenForm checks what is sent and read: the form of
// Withings' requesttoken, and userid / expires_in given as strings.
func TestRequestTokenForm(t *testing.T) {
	var form url.Values
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		form = r.PostForm
		serve(http.StatusOK, `{"status":0,"body":{"userid":"363","access_token":"a","refresh_token":"r","expires_in":"10800","scope":"user.metrics,user.activity","csrf_token":"x","token_type":"Bearer"}}`)(w, r)
	}))
	t.Cleanup(ts.Close)
	now := time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC)
	p := New(Config{ClientID: "cid", ClientSecret: "sec", TokenURL: ts.URL, Now: func() time.Time { return now }})
	cfg := p.OAuthConfig()
	cfg.RedirectURL = "https://example.org/callback"
	tok, err := p.RefreshToken(context.Background(), nil, cfg, &oauth2.Token{RefreshToken: "old"})
	if err != nil {
		t.Fatal(err)
	}
	Eq(t, "action", form.Get("action"), "requesttoken")
	Eq(t, "grant_type", form.Get("grant_type"), "refresh_token")
	Eq(t, "client_id", form.Get("client_id"), "cid")
	Eq(t, "client_secret", form.Get("client_secret"), "sec")
	Eq(t, "refresh_token", form.Get("refresh_token"), "old")
	Eq(t, "expiry", tok.Expiry, now.Add(3*time.Hour))
	id, err := p.Identify(context.Background(), nil, tok)
	if err != nil {
		t.Fatal(err)
	}
	Eq(t, "userid", id.UserID, "363")
	Eq(t, "scopes", id.Scopes, "user.metrics,user.activity")

	if _, err := p.RefreshToken(context.Background(), nil, cfg, &oauth2.Token{}); err == nil {
		t.Error("refresh without a refresh token")
	}
	if _, err := p.Identify(context.Background(), nil, &oauth2.Token{AccessToken: "x"}); err == nil {
		t.Error("Identify without a userid")
	}
}

func TestDefaults(t *testing.T) {
	p := New(Config{ClientID: "id", ClientSecret: "secret"})
	Eq(t, "Name", p.Name(), "WITHINGS")
	Eq(t, "UsePKCE", p.UsePKCE(), false)
	cfg := p.OAuthConfig()
	Eq(t, "AuthURL", cfg.Endpoint.AuthURL, "https://account.withings.com/oauth2_user/authorize2")
	Eq(t, "TokenURL", cfg.Endpoint.TokenURL, "https://wbsapi.withings.net/v2/oauth2")
	Eq(t, "scopes", strings.Join(cfg.Scopes, " "), "user.metrics,user.activity")
	cfg.RedirectURL = "https://example.org/cb"
	u, err := url.Parse(cfg.AuthCodeURL("st"))
	if err != nil {
		t.Fatal(err)
	}
	Eq(t, "scope in the URL", u.Query().Get("scope"), "user.metrics,user.activity")
	Eq(t, "BackfillDepth", p.BackfillDepth(), 28*24*time.Hour)
	n, per := p.RequestBudget()
	Eq(t, "budget", n, 120)
	Eq(t, "per", per, time.Minute)
	Eq(t, "PullTypes", len(p.PullTypes()), 4)
}
