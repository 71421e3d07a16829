package fitbit

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wearbridge/wearbridge/internal/sandbox/fixtures"
	fitbitsource "github.com/wearbridge/wearbridge/internal/source/fitbit"
)

func newTest(t *testing.T, cfg Config) (*Server, string, string) {
	t.Helper()
	s := New(cfg)
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return s, ts.URL, s.Token("").AccessToken
}

func do(t *testing.T, method, u, token string, body io.Reader, header ...string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

func get(t *testing.T, u, token string) (int, http.Header, []byte) {
	t.Helper()
	return do(t, http.MethodGet, u, token, nil)
}

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := fs.ReadFile(fixtures.FS, "fitbit/"+name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func eq[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

// errorType reads the first errorType of a Fitbit error body.
func errorType(t *testing.T, body []byte) string {
	t.Helper()
	var e struct {
		Errors []struct {
			ErrorType string `json:"errorType"`
		} `json:"errors"`
		Success *bool `json:"success"`
	}
	if err := json.Unmarshal(body, &e); err != nil || len(e.Errors) == 0 || e.Success == nil || *e.Success {
		t.Fatalf("not a Fitbit error body: %s", body)
	}
	return e.Errors[0].ErrorType
}

// TestRecordedDays serves each fixture byte for byte at its real date.
func TestRecordedDays(t *testing.T) {
	_, base, tok := newTest(t, Config{})
	tests := []struct {
		path, file string
	}{
		// activities[].startDate is 2015-06-23.
		{"/1/user/-/activities/date/2015-06-23.json", "activities_date_multiple.json"},
		// activities-heart[0].dateTime and activities-steps[0].dateTime.
		{"/1/user/-/activities/heart/date/2015-08-21/1d/1min.json", "heart_1d_1min_intraday.json"},
		{"/1/user/-/activities/steps/date/2015-08-21/1d/1min.json", "steps_1d_1min_intraday.json"},
		// Both sleep logs have dateOfSleep 2016-12-13.
		{"/1.2/user/-/sleep/date/2016-12-13.json", "sleep_v1.2_classic_by_date.json"},
	}
	for _, tt := range tests {
		status, h, body := get(t, base+tt.path, tok)
		eq(t, tt.path+" status", status, http.StatusOK)
		if !bytes.Equal(body, fixture(t, tt.file)) {
			t.Errorf("%s: body is not %s", tt.path, tt.file)
		}
		eq(t, "limit header", h.Get("Fitbit-Rate-Limit-Limit"), "150")
	}

	// A day without a recording: nothing measured.
	status, _, body := get(t, base+"/1/user/-/activities/date/2015-06-24.json", tok)
	eq(t, "status", status, http.StatusOK)
	var day struct {
		Activities []json.RawMessage `json:"activities"`
		Summary    struct {
			Steps            *int `json:"steps"`
			SedentaryMinutes *int `json:"sedentaryMinutes"`
		} `json:"summary"`
	}
	if err := json.Unmarshal(body, &day); err != nil || day.Summary.Steps == nil || *day.Summary.Steps != 0 || len(day.Activities) != 0 || *day.Summary.SedentaryMinutes != 1440 {
		t.Errorf("empty day = %s (%v)", body, err)
	}
	status, _, body = get(t, base+"/1/user/-/activities/heart/date/2015-08-22/1d/1min.json", tok)
	eq(t, "heart status", status, http.StatusOK)
	if !strings.Contains(string(body), `"dataset":[]`) {
		t.Errorf("empty heart day = %s", body)
	}
}

func TestRanges(t *testing.T) {
	_, base, tok := newTest(t, Config{})
	count := func(path, key string) int {
		t.Helper()
		status, _, body := get(t, base+path, tok)
		if status != http.StatusOK {
			t.Fatalf("%s: %d %s", path, status, body)
		}
		var v map[string][]json.RawMessage
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatal(err)
		}
		return len(v[key])
	}
	// Sleep logs by dateOfSleep (2016-12-13), inclusive at both ends.
	eq(t, "sleep on the day", count("/1.2/user/-/sleep/date/2016-12-13/2016-12-13.json", "sleep"), 2)
	eq(t, "sleep ending the day before", count("/1.2/user/-/sleep/date/2016-12-01/2016-12-12.json", "sleep"), 0)
	eq(t, "sleep from the day", count("/1.2/user/-/sleep/date/2016-12-13/2017-01-31.json", "sleep"), 2)
	// Weight logs dated 2015-05-13, -14, -22 and -24.
	eq(t, "weight, May", count("/1/user/-/body/log/weight/date/2015-05-01/2015-05-31.json", "weight"), 4)
	eq(t, "weight, 14th to 22nd", count("/1/user/-/body/log/weight/date/2015-05-14/2015-05-22.json", "weight"), 2)
	eq(t, "fat", count("/1/user/-/body/log/fat/date/2015-05-01/2015-05-31.json", "fat"), 0)

	for _, tt := range []struct{ path, field string }{
		{"/1.2/user/-/sleep/date/2016-01-01/2016-04-10.json", "endDate"},         // 101 days
		{"/1/user/-/body/log/weight/date/2015-05-01/2015-06-01.json", "endDate"}, // 32 days
		{"/1.2/user/-/sleep/date/2016-12-13/2016-12-12.json", "endDate"},         // backwards
		{"/1/user/-/activities/date/2015-13-01.json", "date"},
		{"/1/user/-/activities/heart/date/2015-08-21/1d/1sec.json", "detail-level"},
	} {
		status, _, body := get(t, base+tt.path, tok)
		eq(t, tt.path, status, http.StatusBadRequest)
		eq(t, tt.path+" errorType", errorType(t, body), "validation")
	}
	// 100 and 31 days are allowed.
	eq(t, "100 days", count("/1.2/user/-/sleep/date/2016-01-01/2016-04-09.json", "sleep"), 0)
	eq(t, "31 days", count("/1/user/-/body/log/weight/date/2015-05-01/2015-05-31.json", "weight"), 4)
}

func TestAuthErrors(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s, base, tok := newTest(t, Config{TokenLifetime: time.Hour, Now: clock})
	path := base + "/1/user/-/profile.json"

	status, h, body := get(t, path, "")
	eq(t, "no token", status, http.StatusUnauthorized)
	eq(t, "no token type", errorType(t, body), "invalid_client")
	eq(t, "WWW-Authenticate", h.Get("WWW-Authenticate"), `Bearer realm="api.fitbit.com"`)
	status, _, body = get(t, path, "not-a-token")
	eq(t, "bad token", status, http.StatusUnauthorized)
	eq(t, "bad token type", errorType(t, body), "invalid_token")
	status, _, body = get(t, base+"/1/user/SOMEONE/profile.json", tok)
	eq(t, "another user", status, http.StatusForbidden)
	eq(t, "another user type", errorType(t, body), "insufficient_permissions")

	// A token without the sleep scope.
	s.mu.Lock()
	tr := s.issueLocked(grant{user: s.cfg.UserID, clientID: s.cfg.ClientID, scope: "activity profile"})
	s.mu.Unlock()
	status, _, body = get(t, base+"/1.2/user/-/sleep/date/2016-12-13.json", tr.AccessToken)
	eq(t, "missing scope", status, http.StatusForbidden)
	eq(t, "missing scope type", errorType(t, body), "insufficient_scope")
	status, _, _ = get(t, base+"/1/user/-/activities/heart/date/2015-08-21/1d/1min.json", tr.AccessToken)
	eq(t, "missing heartrate scope", status, http.StatusForbidden)

	mu.Lock()
	now = now.Add(2 * time.Hour)
	mu.Unlock()
	status, _, body = get(t, path, tok)
	eq(t, "expired", status, http.StatusUnauthorized)
	eq(t, "expired type", errorType(t, body), "expired_token")
}

func TestRateLimit(t *testing.T) {
	now := time.Date(2026, 12, 3, 17, 59, 15, 0, time.UTC)
	s, base, tok := newTest(t, Config{Now: func() time.Time { return now }, RateLimitOn: 2})
	path := base + "/1/user/-/profile.json"
	status, h, _ := get(t, path, tok)
	eq(t, "first", status, http.StatusOK)
	eq(t, "remaining", h.Get("Fitbit-Rate-Limit-Remaining"), "149")
	eq(t, "reset (45 s to 18:00)", h.Get("Fitbit-Rate-Limit-Reset"), "45")
	status, h, body := get(t, path, tok)
	eq(t, "second", status, http.StatusTooManyRequests)
	eq(t, "429 remaining", h.Get("Fitbit-Rate-Limit-Remaining"), "0")
	eq(t, "429 reset", h.Get("Fitbit-Rate-Limit-Reset"), "45")
	eq(t, "429 type", errorType(t, body), "system")
	status, _, _ = get(t, path, tok)
	eq(t, "third", status, http.StatusOK)
	s.InjectRateLimit(1)
	status, _, _ = get(t, path, tok)
	eq(t, "injected", status, http.StatusTooManyRequests)
	eq(t, "requests", s.APIRequests(), 4)
}

func TestTokenEndpoint(t *testing.T) {
	_, base, _ := newTest(t, Config{})
	form := func(v url.Values) io.Reader { return strings.NewReader(v.Encode()) }
	ct := []string{"Content-Type", "application/x-www-form-urlencoded"}

	// Client credentials only in the body, as a "client" app would send
	// them, are refused: this fake is a "server" app.
	status, _, body := do(t, http.MethodPost, base+"/oauth2/token", "", form(url.Values{
		"grant_type": {"refresh_token"}, "refresh_token": {"x"}, "client_id": {DefaultClientID}, "client_secret": {DefaultClientSecret}}), ct...)
	eq(t, "no basic auth", status, http.StatusUnauthorized)
	eq(t, "no basic auth type", errorType(t, body), "invalid_client")

	req, _ := http.NewRequest(http.MethodPost, base+"/oauth2/token", form(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"unknown"}}))
	req.Header.Set(ct[0], ct[1])
	req.SetBasicAuth(DefaultClientID, DefaultClientSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	eq(t, "unknown refresh token", resp.StatusCode, http.StatusBadRequest)
	eq(t, "unknown refresh token type", errorType(t, body), "invalid_grant")

	// The authorize page checks the PKCE challenge it is given.
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tt := range []struct {
		q    url.Values
		want int
	}{
		{url.Values{"response_type": {"code"}, "client_id": {DefaultClientID}, "redirect_uri": {"http://x/cb"}, "scope": {"sleep"}}, http.StatusFound},
		{url.Values{"response_type": {"code"}, "client_id": {DefaultClientID}, "redirect_uri": {"http://x/cb"}, "scope": {"sleep"}, "code_challenge": {"short"}, "code_challenge_method": {"S256"}}, http.StatusBadRequest},
		{url.Values{"response_type": {"code"}, "client_id": {DefaultClientID}, "redirect_uri": {"http://x/cb"}, "scope": {"sleep"}, "code_challenge": {strings.Repeat("a", 43)}, "code_challenge_method": {"plain"}}, http.StatusBadRequest},
		{url.Values{"response_type": {"code"}, "client_id": {"OTHER"}, "redirect_uri": {"http://x/cb"}, "scope": {"sleep"}}, http.StatusBadRequest},
		{url.Values{"response_type": {"code"}, "client_id": {DefaultClientID}, "redirect_uri": {"http://x/cb"}}, http.StatusBadRequest},
		{url.Values{"response_type": {"token"}, "client_id": {DefaultClientID}, "redirect_uri": {"http://x/cb"}, "scope": {"sleep"}}, http.StatusBadRequest},
	} {
		resp, err := noFollow.Get(base + "/oauth2/authorize?" + tt.q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		eq(t, tt.q.Encode(), resp.StatusCode, tt.want)
	}
}

func TestSubscriptions(t *testing.T) {
	s, base, tok := newTest(t, Config{})
	post := func(path string) int {
		status, _, _ := do(t, http.MethodPost, base+path, tok, nil)
		return status
	}
	eq(t, "new", post("/1/user/-/apiSubscriptions/sub-1.json"), http.StatusCreated)
	eq(t, "again", post("/1/user/-/apiSubscriptions/sub-1.json"), http.StatusOK)
	eq(t, "another id", post("/1/user/-/apiSubscriptions/sub-2.json"), http.StatusConflict)
	eq(t, "sleep only", post("/1/user/-/sleep/apiSubscriptions/sub-3.json"), http.StatusCreated)
	eq(t, "bad collection", post("/1/user/-/heart/apiSubscriptions/sub-4.json"), http.StatusBadRequest)
	subs := s.Subscriptions(DefaultUserID)
	eq(t, "all", subs[""], "sub-1")
	eq(t, "sleep", subs["sleep"], "sub-3")
	_, _, body := get(t, base+"/1/user/-/apiSubscriptions.json", tok)
	var list struct {
		APISubscriptions []map[string]string `json:"apiSubscriptions"`
	}
	if err := json.Unmarshal(body, &list); err != nil || len(list.APISubscriptions) != 2 {
		t.Errorf("list = %s (%v)", body, err)
	}
}

func TestProviderConfig(t *testing.T) {
	cfg := ProviderConfig("http://127.0.0.1:8080/fitbit/")
	eq(t, "client id", cfg.ClientID, DefaultClientID)
	eq(t, "client secret", cfg.ClientSecret, DefaultClientSecret)
	eq(t, "auth", cfg.AuthURL, "http://127.0.0.1:8080/fitbit/oauth2/authorize")
	eq(t, "token", cfg.TokenURL, "http://127.0.0.1:8080/fitbit/oauth2/token")
	eq(t, "api", cfg.APIBase, "http://127.0.0.1:8080/fitbit")
	// The first recorded day is body_log_weight.json's 2015-05-13.
	first := time.Date(2015, 5, 13, 0, 0, 0, 0, time.UTC)
	if since := time.Since(first); cfg.BackfillDepth < since+24*time.Hour || cfg.BackfillDepth > since+72*time.Hour {
		t.Errorf("BackfillDepth %v does not reach %v", cfg.BackfillDepth, first)
	}
	days, err := RecordedDays()
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "activities days", strings.Join(days["activities"], " "), "2015-06-23 2015-08-21")
	eq(t, "sleep days", strings.Join(days["sleep"], " "), "2016-12-13")
	eq(t, "body days", strings.Join(days["body"], " "), "2015-05-13 2015-05-14 2015-05-22 2015-05-24")
}

// TestPushAll checks what PushAll sends: one signed array per collection.
func TestPushAll(t *testing.T) {
	type post struct {
		sig  string
		body []byte
	}
	var mu sync.Mutex
	var got []post
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		got = append(got, post{r.Header.Get("X-Fitbit-Signature"), b})
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(ts.Close)
	n, err := PushAll(context.Background(), ts.Client(), ts.URL, "USER01")
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "posts", n, 3)
	mu.Lock()
	defer mu.Unlock()
	p := fitbitsource.New(fitbitsource.Config{ClientSecret: DefaultClientSecret})
	collections := map[string]int{}
	for _, g := range got {
		var list []fitbitsource.Notification
		if err := json.Unmarshal(g.body, &list); err != nil {
			t.Fatal(err)
		}
		for _, nt := range list {
			collections[nt.CollectionType]++
			eq(t, "owner", nt.OwnerID, "USER01")
			eq(t, "owner type", nt.OwnerType, "user")
		}
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(g.body))
		req.Header.Set("X-Fitbit-Signature", g.sig)
		if _, err := p.ParsePush(context.Background(), req, g.body); err != nil {
			t.Errorf("signature refused: %v", err)
		}
	}
	eq(t, "activities", collections["activities"], 2)
	eq(t, "body", collections["body"], 4)
	eq(t, "sleep", collections["sleep"], 1)

	// A refusing receiver stops PushAll with its answer.
	refuse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "bad signature", http.StatusBadRequest)
	}))
	t.Cleanup(refuse.Close)
	if n, err := PushAll(context.Background(), nil, refuse.URL, "USER01"); err == nil || n != 0 || !strings.Contains(err.Error(), "bad signature") {
		t.Errorf("PushAll to a refusing receiver = %d, %v", n, err)
	}
}
