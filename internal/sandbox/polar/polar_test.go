package polar

import (
	"bytes"
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
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
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

// call makes one request; auth is "Bearer <token>" or "basic" (the
// default client credentials) or "".
func call(t *testing.T, method, u, auth, body string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case auth == "basic":
		req.SetBasicAuth(DefaultClientID, DefaultClientSecret)
	case auth != "":
		req.Header.Set("Authorization", "Bearer "+auth)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
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

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := fs.ReadFile(fixtures.FS, "polar/"+name)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSpace(b)
}

// registered returns a token of a registered user.
func registered(t *testing.T, s *Server, ts *httptest.Server, user string) string {
	t.Helper()
	at := s.Token(user).AccessToken
	if code, _, b := call(t, http.MethodPost, ts.URL+"/v3/users", at, `{"member-id":"m-`+user+`"}`); code != http.StatusOK {
		t.Fatalf("register: %d %s", code, b)
	}
	return at
}

// TestRecordedDates: the fixtures are served at their own dates, as
// recorded.
func TestRecordedDates(t *testing.T) {
	s, ts := newTest(t, Config{})
	at := registered(t, s, ts, "")
	for _, c := range []struct {
		path, file string
	}{
		{"/v3/users/sleep/2020-01-01", "sleep_get.json"},
		{"/v3/users/nightly-recharge/2020-01-01", "nightly_recharge_get.json"},
		{"/v3/users/continuous-heart-rate/2022-09-12", "continuous_heart_rate.json"},
		{"/v3/exercises/2AC312F", "exercise_get.json"},
		{"/v3/exercises", "exercises_list.json"},
	} {
		code, h, body := call(t, http.MethodGet, ts.URL+c.path, at, "")
		if code != http.StatusOK || !bytes.Equal(body, fixture(t, c.file)) {
			t.Errorf("%s: %d, body is not %s", c.path, code, c.file)
		}
		if h.Get("RateLimit-Usage") == "" || h.Get("RateLimit-Limit") != "520, 5100" || h.Get("RateLimit-Reset") == "" {
			t.Errorf("%s: rate-limit headers %v", c.path, h)
		}
	}
	var nights struct {
		Nights []json.RawMessage `json:"nights"`
	}
	_, _, body := call(t, http.MethodGet, ts.URL+"/v3/users/sleep", at, "")
	if err := json.Unmarshal(body, &nights); err != nil || len(nights.Nights) != 1 || !bytes.Equal(nights.Nights[0], fixture(t, "sleep_get.json")) {
		t.Errorf("sleep list = %s", body)
	}
	var recharges struct {
		Recharges []json.RawMessage `json:"recharges"`
	}
	_, _, body = call(t, http.MethodGet, ts.URL+"/v3/users/nightly-recharge", at, "")
	if err := json.Unmarshal(body, &recharges); err != nil || len(recharges.Recharges) != 1 {
		t.Errorf("recharge list = %s", body)
	}

	for path, want := range map[string]int{
		"/v3/users/sleep/2020-01-02":                 http.StatusNotFound,
		"/v3/users/continuous-heart-rate/2022-09-13": http.StatusNotFound,
		"/v3/users/continuous-heart-rate/12.9.2022":  http.StatusBadRequest,
		"/v3/exercises/NOPE":                         http.StatusNotFound,
	} {
		code, _, body := call(t, http.MethodGet, ts.URL+path, at, "")
		var e struct {
			Status  int    `json:"status"`
			Message string `json:"message"`
		}
		if code != want || json.Unmarshal(body, &e) != nil || e.Status != want || e.Message == "" {
			t.Errorf("%s: %d %s, want %d with Polar's error body", path, code, body, want)
		}
	}
}

func TestAccessRules(t *testing.T) {
	s, ts := newTest(t, Config{})
	at := s.Token("").AccessToken
	if code, _, _ := call(t, http.MethodGet, ts.URL+"/v3/users/sleep", at, ""); code != http.StatusForbidden {
		t.Errorf("unregistered: %d, want 403", code)
	}
	if code, _, _ := call(t, http.MethodPost, ts.URL+"/v3/users", at, `{"member-id":"m1"}`); code != http.StatusOK {
		t.Errorf("register: %d", code)
	}
	if code, _, _ := call(t, http.MethodPost, ts.URL+"/v3/users", at, `{"member-id":"m1"}`); code != http.StatusConflict {
		t.Errorf("register again: %d, want 409", code)
	}
	other := s.Token("2").AccessToken
	if code, _, _ := call(t, http.MethodPost, ts.URL+"/v3/users", other, `{"member-id":"m1"}`); code != http.StatusConflict {
		t.Errorf("duplicated member-id: %d, want 409", code)
	}
	if code, _, _ := call(t, http.MethodPost, ts.URL+"/v3/users/2/activity-transactions", at, ""); code != http.StatusForbidden {
		t.Errorf("another user's path: %d, want 403", code)
	}
	for _, tok := range []string{"", "nonsense"} {
		if code, _, _ := call(t, http.MethodGet, ts.URL+"/v3/users/sleep", tok, ""); code != http.StatusUnauthorized {
			t.Errorf("token %q: %d, want 401", tok, code)
		}
	}
	if code, _, _ := call(t, http.MethodDelete, ts.URL+"/v3/users/1", at, ""); code != http.StatusNoContent {
		t.Errorf("de-register: %d", code)
	}
	if code, _, _ := call(t, http.MethodGet, ts.URL+"/v3/users/sleep", at, ""); code != http.StatusUnauthorized {
		t.Errorf("after de-registration: %d, want 401", code)
	}
}

func TestTokenEndpoint(t *testing.T) {
	c := &clock{t: time.Now()}
	_, ts := newTest(t, Config{Now: c.now})
	authorize := func() string {
		noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := noFollow.Get(ts.URL + AuthorizePath + "?response_type=code&client_id=" + DefaultClientID + "&redirect_uri=http://127.0.0.1:1/cb&state=s1")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, _ := url.Parse(resp.Header.Get("Location"))
		return loc.Query().Get("code")
	}
	exchange := func(code, grant string, basic bool) (int, map[string]any) {
		form := url.Values{"grant_type": {grant}, "code": {code}, "redirect_uri": {"http://127.0.0.1:1/cb"}}
		if !basic {
			form.Set("client_id", DefaultClientID)
			form.Set("client_secret", DefaultClientSecret)
		}
		req, _ := http.NewRequest(http.MethodPost, ts.URL+TokenPath, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if basic {
			req.SetBasicAuth(DefaultClientID, DefaultClientSecret)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	code, tok := exchange(authorize(), "authorization_code", true)
	if code != http.StatusOK || tok["token_type"] != "bearer" || tok["x_user_id"] != float64(1) || tok["expires_in"] != float64(31535999) || tok["refresh_token"] != nil {
		t.Errorf("token answer %d %v", code, tok)
	}
	if code, out := exchange(authorize(), "authorization_code", false); code != http.StatusUnauthorized || out["error"] != "invalid_client" {
		t.Errorf("credentials in the body: %d %v", code, out)
	}
	if code, out := exchange("x", "refresh_token", true); code != http.StatusBadRequest || out["error"] != "unsupported_grant_type" {
		t.Errorf("refresh: %d %v", code, out)
	}
	old := authorize()
	c.add(11 * time.Minute)
	if code, out := exchange(old, "authorization_code", true); code != http.StatusBadRequest || out["error"] != "invalid_grant" {
		t.Errorf("expired code: %d %v", code, out)
	}
}

func TestRateLimitInjection(t *testing.T) {
	s, ts := newTest(t, Config{RateLimitReset: 90 * time.Second})
	at := registered(t, s, ts, "")
	s.InjectRateLimit(2)
	if code, _, _ := call(t, http.MethodGet, ts.URL+"/v3/users/sleep", at, ""); code != http.StatusOK {
		t.Errorf("first: %d", code)
	}
	code, h, _ := call(t, http.MethodGet, ts.URL+"/v3/users/sleep", at, "")
	if code != http.StatusTooManyRequests {
		t.Fatalf("second: %d, want 429", code)
	}
	eq(t, "usage", h.Get("RateLimit-Usage"), "520, 3") // short-term usage at the limit; three requests today
	eq(t, "limit", h.Get("RateLimit-Limit"), "520, 5100")
	if !strings.HasPrefix(h.Get("RateLimit-Reset"), "90, ") {
		t.Errorf("reset = %q", h.Get("RateLimit-Reset"))
	}
	if code, _, _ := call(t, http.MethodGet, ts.URL+"/v3/users/sleep", at, ""); code != http.StatusOK {
		t.Errorf("third: %d", code)
	}
}

func TestTransactionLifecycle(t *testing.T) {
	c := &clock{t: time.Now()}
	sums := []json.RawMessage{json.RawMessage(`{"id":11,"date":"2024-01-01"}`), json.RawMessage(`{"id":12,"date":"2024-01-02"}`)}
	s, ts := newTest(t, Config{ActivitySummaries: sums, Now: c.now})
	at := registered(t, s, ts, "")
	base := ts.URL + "/v3/users/1/activity-transactions"

	code, _, body := call(t, http.MethodPost, base, at, "")
	var created struct {
		ID          int64  `json:"transaction-id"`
		ResourceURI string `json:"resource-uri"`
	}
	if code != http.StatusCreated || json.Unmarshal(body, &created) != nil || created.ID == 0 {
		t.Fatalf("create: %d %s", code, body)
	}
	tx := base + "/" + jsonNumber(created.ID)
	// The transaction holds both: nothing more to offer meanwhile.
	if code, _, _ := call(t, http.MethodPost, base, at, ""); code != http.StatusNoContent {
		t.Errorf("create while open: %d, want 204", code)
	}
	_, _, body = call(t, http.MethodGet, tx, at, "")
	var log struct {
		Links []string `json:"activity-log"`
	}
	if err := json.Unmarshal(body, &log); err != nil || len(log.Links) != 2 || !strings.HasPrefix(log.Links[0], "https://www.polaraccesslink.com/v3/users/1/activity-transactions/") {
		t.Fatalf("log = %s", body)
	}
	u, _ := url.Parse(log.Links[1])
	if code, _, body := call(t, http.MethodGet, ts.URL+u.Path, at, ""); code != http.StatusOK || string(body) != string(sums[1]) {
		t.Errorf("summary: %d %s", code, body)
	}
	// Not committed in time: it expires and is offered again.
	c.add(11 * time.Minute)
	if code, _, _ := call(t, http.MethodPut, tx, at, ""); code != http.StatusNotFound {
		t.Errorf("commit after expiry: %d, want 404", code)
	}
	code, _, body = call(t, http.MethodPost, base, at, "")
	if code != http.StatusCreated || json.Unmarshal(body, &created) != nil {
		t.Fatalf("create again: %d %s", code, body)
	}
	tx = base + "/" + jsonNumber(created.ID)
	if code, _, _ := call(t, http.MethodPut, tx, at, ""); code != http.StatusOK {
		t.Errorf("commit: %d", code)
	}
	eq(t, "pending", s.PendingActivities("1"), 0)
	if code, _, _ := call(t, http.MethodPost, base, at, ""); code != http.StatusNoContent {
		t.Errorf("after commit: %d, want 204", code)
	}
	if code, _, _ := call(t, http.MethodPut, tx, at, ""); code != http.StatusNotFound {
		t.Errorf("commit twice: %d, want 404", code)
	}
}

func jsonNumber(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestWebhookEndpoints(t *testing.T) {
	var got []http.Header
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Header.Clone())
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(recv.Close)
	_, ts := newTest(t, Config{})
	if code, _, _ := call(t, http.MethodPost, ts.URL+"/v3/webhooks", "", `{"events":["EXERCISE"],"url":"`+recv.URL+`"}`); code != http.StatusUnauthorized {
		t.Errorf("no client credentials: %d", code)
	}
	code, _, body := call(t, http.MethodPost, ts.URL+"/v3/webhooks", "basic", `{"events":["EXERCISE","SLEEP"],"url":"`+recv.URL+`"}`)
	var created struct {
		Data struct {
			ID     string `json:"id"`
			Secret string `json:"signature_secret_key"`
		} `json:"data"`
	}
	if code != http.StatusCreated || json.Unmarshal(body, &created) != nil || created.Data.Secret != DefaultWebhookSecret {
		t.Fatalf("create: %d %s", code, body)
	}
	if len(got) != 1 || got[0].Get("Polar-Webhook-Event") != "PING" || got[0].Get("Polar-Webhook-Signature") == "" {
		t.Errorf("ping headers %v", got)
	}
	if code, _, _ := call(t, http.MethodPost, ts.URL+"/v3/webhooks", "basic", `{"events":["EXERCISE"],"url":"`+recv.URL+`"}`); code != http.StatusConflict {
		t.Errorf("second: %d, want 409", code)
	}
	if _, _, body := call(t, http.MethodGet, ts.URL+"/v3/webhooks", "basic", ""); strings.Contains(string(body), DefaultWebhookSecret) || !strings.Contains(string(body), created.Data.ID) {
		t.Errorf("get: %s", body)
	}
	if code, _, _ := call(t, http.MethodDelete, ts.URL+"/v3/webhooks/"+created.Data.ID, "basic", ""); code != http.StatusNoContent {
		t.Errorf("delete: %d", code)
	}
	if code, _, _ := call(t, http.MethodPost, ts.URL+"/v3/webhooks", "basic", `{"events":["NOPE"],"url":"`+recv.URL+`"}`); code != http.StatusBadRequest {
		t.Errorf("unknown event: %d, want 400", code)
	}
}

func TestProviderConfig(t *testing.T) {
	c := ProviderConfig("http://sandbox.test/polar")
	eq(t, "auth", c.AuthURL, "http://sandbox.test/polar/oauth2/authorization")
	eq(t, "token", c.TokenURL, "http://sandbox.test/polar/v2/oauth2/token")
	eq(t, "api", c.APIBase, "http://sandbox.test/polar")
	eq(t, "client", c.ClientID, DefaultClientID)
	eq(t, "secret", c.WebhookSecret, DefaultWebhookSecret)
	// The exercise of 2008-10-13 is within reach.
	if since := time.Now().Add(-c.BackfillDepth); !since.Before(time.Date(2008, 10, 13, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("backfill reaches back to %v only", since)
	}
	eq(t, "history", c.HistoryLimit, -1)
}

func eq[T comparable](t testing.TB, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}
