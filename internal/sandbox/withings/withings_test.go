package withings

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// answer is a Withings envelope.
type answer struct {
	Status int             `json:"status"`
	Body   json.RawMessage `json:"body"`
	Error  string          `json:"error"`
}

func newTest(t *testing.T, cfg Config) (*Server, *httptest.Server) {
	t.Helper()
	s := New(cfg)
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return s, ts
}

// post sends form to path with an optional bearer token and decodes the
// envelope; every Withings answer is HTTP 200.
func post(t *testing.T, base, path, token string, form url.Values) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: http %d", path, resp.StatusCode)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var a answer
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatalf("%s: %v: %s", path, err, b)
	}
	return a
}

func eq[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

// all pages a list through more/offset and returns every item.
func all(t *testing.T, base, path, token, key string, q url.Values) ([]json.RawMessage, int) {
	t.Helper()
	var items []json.RawMessage
	for pages := 1; ; pages++ {
		a := post(t, base, path, token, q)
		if a.Status != 0 {
			t.Fatalf("%s: status %d %s", q.Get("action"), a.Status, a.Error)
		}
		var body map[string]json.RawMessage
		if err := json.Unmarshal(a.Body, &body); err != nil {
			t.Fatal(err)
		}
		var page []json.RawMessage
		if err := json.Unmarshal(body[key], &page); err != nil {
			t.Fatal(err)
		}
		items = append(items, page...)
		var more any
		_ = json.Unmarshal(body["more"], &more)
		if more == false || more == float64(0) {
			return items, pages
		}
		q.Set("offset", strings.TrimSpace(string(body["offset"])))
	}
}

// TestDataServices pages every service over the whole recorded range:
// every recorded item comes once, in pages of PageSize.
func TestDataServices(t *testing.T) {
	s, ts := newTest(t, Config{PageSize: 10})
	tok := s.Token().AccessToken
	ids := func(items []json.RawMessage, field string) map[string]int {
		m := map[string]int{}
		for _, it := range items {
			var h map[string]json.RawMessage
			if err := json.Unmarshal(it, &h); err != nil {
				t.Fatal(err)
			}
			m[string(h[field])]++
		}
		return m
	}
	// 5 groups in measure_getmeas_body.json + 34 in measuregrps_list.json.
	groups, pages := all(t, ts.URL, "/measure", tok, "measuregrps", url.Values{"action": {"getmeas"}, "category": {"1"}})
	eq(t, "measure groups", len(groups), 39)
	eq(t, "getmeas pages", pages, 4)
	eq(t, "distinct grpids", len(ids(groups, "grpid")), 39)

	acts, _ := all(t, ts.URL, "/v2/measure", tok, "activities", url.Values{"action": {"getactivity"}, "startdateymd": {"2015-01-01"}, "enddateymd": {"2015-12-31"}})
	eq(t, "activity days", len(acts), 4)

	works, pages := all(t, ts.URL, "/v2/measure", tok, "series", url.Values{"action": {"getworkouts"}, "startdateymd": {"2023-08-01"}, "enddateymd": {"2023-10-31"}})
	eq(t, "workouts (one listed twice)", len(works), 11)
	eq(t, "getworkouts pages", pages, 2)
	eq(t, "distinct workout ids", len(ids(works, "id")), 10)

	sleeps, _ := all(t, ts.URL, "/v2/sleep", tok, "series", url.Values{"action": {"getsummary"}, "startdateymd": {"2017-09-02"}, "enddateymd": {"2017-09-02"}})
	eq(t, "sleeps on 2017-09-02", len(sleeps), 1)

	// getmeas filters by epoch date, both ends included.
	one, _ := all(t, ts.URL, "/measure", tok, "measuregrps", url.Values{"action": {"getmeas"}, "startdate": {"1433052383"}, "enddate": {"1433052383"}})
	eq(t, "groups at 1433052383", len(one), 1)
	// meastypes keeps only those measures.
	bp, _ := all(t, ts.URL, "/measure", tok, "measuregrps", url.Values{"action": {"getmeas"}, "meastypes": {"9,10"}})
	eq(t, "groups with blood pressure", len(bp), 1)
	if strings.Contains(string(bp[0]), `"type":1,`) || strings.Contains(string(bp[0]), `"type": 1,`) {
		t.Errorf("weight kept in a meastypes=9,10 answer: %s", bp[0])
	}
}

func TestIntraday(t *testing.T) {
	s, ts := newTest(t, Config{})
	tok := s.Token().AccessToken
	series := func(q url.Values) string {
		q.Set("action", "getintradayactivity")
		a := post(t, ts.URL, "/v2/measure", tok, q)
		eq(t, "status", a.Status, 0)
		var b struct {
			Series json.RawMessage `json:"series"`
		}
		if err := json.Unmarshal(a.Body, &b); err != nil {
			t.Fatal(err)
		}
		return string(b.Series)
	}
	// 2015-06-19 in Los Angeles: 1434697200 .. 1434783599. All six entries.
	got := series(url.Values{"startdate": {"1434697200"}, "enddate": {"1434783599"}})
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(got), &m); err != nil {
		t.Fatal(err)
	}
	eq(t, "entries", len(m), 6)
	// Nothing on 2015-06-18: Withings writes an empty series as [].
	eq(t, "empty", series(url.Values{"startdate": {"1434610800"}, "enddate": {"1434697199"}}), "[]")
	// More than 24 h asked: only the first 24 h come back.
	eq(t, "first 24 h only", series(url.Values{"startdate": {"1434672000"}, "enddate": {"1434900000"}}), "[]")
}

// TestTokenRotation: a refresh token works until the new access token is
// used, then never again; a code works once; a wrong secret is refused.
func TestTokenRotation(t *testing.T) {
	s, ts := newTest(t, Config{})
	tok := s.Token()
	refresh := func(rt string) answer {
		return post(t, ts.URL, TokenPath, "", url.Values{
			"action": {"requesttoken"}, "grant_type": {"refresh_token"},
			"client_id": {DefaultClientID}, "client_secret": {DefaultClientSecret}, "refresh_token": {rt},
		})
	}
	a := refresh(tok.RefreshToken)
	eq(t, "refresh status", a.Status, 0)
	var b struct {
		UserID       json.Number `json:"userid"`
		AccessToken  string      `json:"access_token"`
		RefreshToken string      `json:"refresh_token"`
		ExpiresIn    int         `json:"expires_in"`
		Scope        string      `json:"scope"`
		TokenType    string      `json:"token_type"`
	}
	if err := json.Unmarshal(a.Body, &b); err != nil {
		t.Fatal(err)
	}
	eq(t, "userid", b.UserID.String(), DefaultUserID)
	eq(t, "expires_in", b.ExpiresIn, 10800)
	eq(t, "token_type", b.TokenType, "Bearer")
	if b.RefreshToken == tok.RefreshToken || b.AccessToken == tok.AccessToken {
		t.Fatal("no rotation")
	}
	// Before the new access token is used, the old refresh token still works
	// (Withings' safety net)...
	a2 := refresh(tok.RefreshToken)
	eq(t, "old refresh token before use", a2.Status, 0)
	var b2 struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.Unmarshal(a2.Body, &b2)
	// ...once a new access token is used, it is gone.
	eq(t, "api call", post(t, ts.URL, "/v2/sleep", b2.AccessToken, url.Values{"action": {"getsummary"}, "startdateymd": {"2017-09-01"}, "enddateymd": {"2017-09-05"}}).Status, 0)
	eq(t, "old refresh token after use", refresh(tok.RefreshToken).Status, 503)
	// The new refresh tokens still work.
	eq(t, "new refresh token", refresh(b.RefreshToken).Status, 0)

	wrong := post(t, ts.URL, TokenPath, "", url.Values{
		"action": {"requesttoken"}, "grant_type": {"refresh_token"},
		"client_id": {DefaultClientID}, "client_secret": {"guess"}, "refresh_token": {b.RefreshToken},
	})
	eq(t, "wrong secret", wrong.Status, 503)
}

func TestRefreshGraceExpires(t *testing.T) {
	now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s, ts := newTest(t, Config{Now: clock})
	tok := s.Token()
	form := url.Values{"action": {"requesttoken"}, "grant_type": {"refresh_token"}, "client_id": {DefaultClientID}, "client_secret": {DefaultClientSecret}, "refresh_token": {tok.RefreshToken}}
	eq(t, "first refresh", post(t, ts.URL, TokenPath, "", form).Status, 0)
	mu.Lock()
	now = now.Add(8*time.Hour + time.Second)
	mu.Unlock()
	eq(t, "after 8 h", post(t, ts.URL, TokenPath, "", form).Status, 503)
}

func TestAuthorize(t *testing.T) {
	_, ts := newTest(t, Config{})
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	good := url.Values{"response_type": {"code"}, "client_id": {DefaultClientID}, "state": {"st"}, "scope": {"user.metrics,user.activity"}, "redirect_uri": {"http://127.0.0.1:1/cb?x=1"}}
	tests := []struct {
		name   string
		change func(url.Values)
		want   int
	}{
		{"ok", func(url.Values) {}, http.StatusFound},
		{"no state", func(v url.Values) { v.Del("state") }, http.StatusBadRequest},
		{"space-separated scopes", func(v url.Values) { v.Set("scope", "user.metrics user.activity") }, http.StatusBadRequest},
		{"wrong client", func(v url.Values) { v.Set("client_id", "x") }, http.StatusBadRequest},
		{"token flow", func(v url.Values) { v.Set("response_type", "token") }, http.StatusBadRequest},
		{"relative redirect", func(v url.Values) { v.Set("redirect_uri", "/cb") }, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := url.Values{}
			for k, v := range good {
				q[k] = append([]string(nil), v...)
			}
			tt.change(q)
			resp, err := noFollow.Get(ts.URL + AuthorizePath + "?" + q.Encode())
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			eq(t, "status", resp.StatusCode, tt.want)
			if tt.want == http.StatusFound {
				loc, err := url.Parse(resp.Header.Get("Location"))
				if err != nil {
					t.Fatal(err)
				}
				eq(t, "state", loc.Query().Get("state"), "st")
				eq(t, "kept query", loc.Query().Get("x"), "1")
				if loc.Query().Get("code") == "" {
					t.Error("no code")
				}
			}
		})
	}
}

// TestErrorsAsWithings: bad tokens get status 401, the Nth request 601.
func TestErrorsAsWithings(t *testing.T) {
	s, ts := newTest(t, Config{})
	q := url.Values{"action": {"getmeas"}}
	a := post(t, ts.URL, "/measure", "nope", q)
	eq(t, "unknown token", a.Status, 401)
	if !strings.Contains(a.Error, "invalid_token") {
		t.Errorf("error = %q", a.Error)
	}
	eq(t, "no token", post(t, ts.URL, "/measure", "", q).Status, 401)
	tok := s.Token().AccessToken
	s.InjectRateLimit(2)
	eq(t, "first", post(t, ts.URL, "/measure", tok, q).Status, 0)
	eq(t, "second", post(t, ts.URL, "/measure", tok, q).Status, 601)
	eq(t, "third", post(t, ts.URL, "/measure", tok, q).Status, 0)
	eq(t, "unknown action", post(t, ts.URL, "/measure", tok, url.Values{"action": {"dance"}}).Status, 2554)
	eq(t, "missing days", post(t, ts.URL, "/v2/sleep", tok, url.Values{"action": {"getsummary"}}).Status, 503)
	eq(t, "api requests", s.APIRequests(), 7)

	now := time.Now()
	var mu sync.Mutex
	expired, ets := newTest(t, Config{Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now }})
	old := expired.Token().AccessToken
	mu.Lock()
	now = now.Add(3*time.Hour + time.Second) // expires_in is 10800 s
	mu.Unlock()
	eq(t, "expired token", post(t, ets.URL, "/measure", old, q).Status, 401)
}

// TestNotifySubscribe: subscribe checks the callback URL with HEAD.
func TestNotifySubscribe(t *testing.T) {
	var mu sync.Mutex
	var methods []string
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		methods = append(methods, r.Method)
		mu.Unlock()
		if r.URL.Query().Get("token") != "ok" {
			w.WriteHeader(http.StatusForbidden)
		}
	}))
	t.Cleanup(cb.Close)
	s, ts := newTest(t, Config{})
	tok := s.Token().AccessToken
	sub := func(callback string, appli string) int {
		return post(t, ts.URL, "/notify", tok, url.Values{"action": {"subscribe"}, "callbackurl": {callback}, "appli": {appli}}).Status
	}
	eq(t, "good callback", sub(cb.URL+"/push/withings?token=ok", "44"), 0)
	eq(t, "refused callback", sub(cb.URL+"/push/withings", "1"), 293)
	eq(t, "no appli", sub(cb.URL+"/push/withings?token=ok", ""), 503)
	eq(t, "HEAD requests", strings.Join(methods, ","), "HEAD,HEAD")
	subs := s.Subscriptions()
	eq(t, "subscriptions", len(subs), 1)
	eq(t, "appli", subs[0].Appli, 44)
	list := post(t, ts.URL, "/notify", tok, url.Values{"action": {"list"}})
	if !strings.Contains(string(list.Body), `"appli":44`) {
		t.Errorf("list = %s", list.Body)
	}
	eq(t, "revoke", post(t, ts.URL, "/notify", tok, url.Values{"action": {"revoke"}, "callbackurl": {cb.URL + "/push/withings?token=ok"}, "appli": {"44"}}).Status, 0)
	eq(t, "after revoke", len(s.Subscriptions()), 0)
}

// TestNotifications: one notification per measure category and UTC day
// (25), per activity day (4), per distinct workout (10; the recording
// lists one twice) and per sleep (2).
func TestNotifications(t *testing.T) {
	notes, err := Notifications("42")
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "notifications", len(notes), 41)
	count := map[string]int{}
	for _, n := range notes {
		eq(t, "userid", n.Get("userid"), "42")
		count[n.Get("appli")]++
	}
	eq(t, "appli 16", count["16"], 14)
	eq(t, "appli 44", count["44"], 2)
	eq(t, "appli 1 + 4", count["1"]+count["4"], 25)
	// The oldest are the activity day 2015-02-21 (activity_getactivity.json)
	// and the height and temperature group of 2015-02-23 (date 1424719489),
	// appli 1.
	eq(t, "first", notes[0].Encode(), "appli=16&date=2015-02-21&userid=42")
	eq(t, "second", notes[1].Encode(), "appli=1&enddate=1424719489&startdate=1424719489&userid=42")
	// Activity days come with a date only.
	for _, n := range notes {
		if n.Get("date") == "2015-06-19" {
			eq(t, "activity day appli", n.Get("appli"), "16")
			eq(t, "no startdate", n.Get("startdate"), "")
		}
	}
}

func TestPushAll(t *testing.T) {
	var mu sync.Mutex
	var bodies []url.Values
	fail := 0
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			t.Errorf("content type %q", r.Header.Get("Content-Type"))
		}
		if fail > 0 && len(bodies) == fail {
			http.Error(w, "nope", http.StatusBadRequest)
			return
		}
		if err := r.ParseForm(); err != nil {
			t.Error(err)
		}
		bodies = append(bodies, r.PostForm)
	}))
	t.Cleanup(recv.Close)
	n, err := PushAll(context.Background(), recv.Client(), recv.URL+"/push/withings", "42")
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "sent", n, 41)
	eq(t, "received", len(bodies), 41)

	mu.Lock()
	bodies, fail = nil, 3
	mu.Unlock()
	n, err = PushAll(context.Background(), recv.Client(), recv.URL+"/push/withings", "42")
	if err == nil || !strings.Contains(err.Error(), "400") {
		t.Errorf("err = %v, want the refusal", err)
	}
	eq(t, "accepted before the refusal", n, 3)
}

func TestProviderConfig(t *testing.T) {
	c := ProviderConfig("http://127.0.0.1:9")
	eq(t, "token URL", c.TokenURL, "http://127.0.0.1:9/v2/oauth2")
	eq(t, "auth URL", c.AuthURL, "http://127.0.0.1:9/oauth2_user/authorize2")
	eq(t, "client", c.ClientID, DefaultClientID)
	if c.BackfillDepth < time.Since(FirstRecordedDay) {
		t.Errorf("backfill %v does not reach %v", c.BackfillDepth, FirstRecordedDay)
	}
}
