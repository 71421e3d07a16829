package whoop

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wearbridge/wearbridge/internal/sandbox/fixtures"
)

type page struct {
	Records   []json.RawMessage `json:"records"`
	NextToken *string           `json:"next_token"`
}

func newTest(t *testing.T, cfg Config) (*Server, *httptest.Server, string) {
	t.Helper()
	s := New(cfg)
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return s, ts, s.Token(0).AccessToken
}

func do(t *testing.T, method, u, token string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, body
}

func get(t *testing.T, u, token string) (int, http.Header, []byte) {
	t.Helper()
	return do(t, http.MethodGet, u, token)
}

// all follows nextToken and returns every record and the page count.
func all(t *testing.T, base, token, path string, q url.Values) ([]json.RawMessage, int) {
	t.Helper()
	var items []json.RawMessage
	pages := 0
	for {
		status, _, body := get(t, base+"/developer/v2/"+path+"?"+q.Encode(), token)
		if status != http.StatusOK {
			t.Fatalf("%s: status %d: %s", path, status, body)
		}
		var pg page
		if err := json.Unmarshal(body, &pg); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		pages++
		items = append(items, pg.Records...)
		if pg.NextToken == nil {
			return items, pages
		}
		q.Set("nextToken", *pg.NextToken)
	}
}

func fixtureRecord(t *testing.T, name string) json.RawMessage {
	t.Helper()
	b, err := fs.ReadFile(fixtures.FS, "whoop/"+name)
	if err != nil {
		t.Fatal(err)
	}
	var pg page
	if err := json.Unmarshal(b, &pg); err != nil {
		t.Fatal(err)
	}
	return pg.Records[0]
}

// sameJSON reports whether a and b hold the same JSON value.
func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("%s: %v", a, err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return reflect.DeepEqual(x, y)
}

// TestCollectionsServeFixtures: each collection serves its recorded item
// unchanged, at its real date.
func TestCollectionsServeFixtures(t *testing.T) {
	_, ts, tok := newTest(t, Config{})
	tests := []struct{ path, fixture string }{
		{"cycle", "cycle_collection.json"},
		{"recovery", "recovery_collection.json"},
		{"activity/sleep", "sleep_collection.json"},
	}
	for _, tt := range tests {
		// The recorded items start 2022-04-24T02:25:44.774Z.
		items, pages := all(t, ts.URL, tok, tt.path, url.Values{"start": {"2022-04-24T00:00:00.000Z"}, "end": {"2022-04-25T00:00:00.000Z"}})
		if len(items) != 1 || pages != 1 {
			t.Fatalf("%s: %d items in %d pages, want 1 in 1", tt.path, len(items), pages)
		}
		if !sameJSON(t, items[0], fixtureRecord(t, tt.fixture)) {
			t.Errorf("%s: served %s, not the fixture", tt.path, items[0])
		}
		// A window that does not reach it returns nothing.
		items, _ = all(t, ts.URL, tok, tt.path, url.Values{"start": {"2022-04-25T00:00:00.000Z"}})
		if len(items) != 0 {
			t.Errorf("%s: %d items after the recorded date", tt.path, len(items))
		}
	}
	items, _ := all(t, ts.URL, tok, "activity/workout", url.Values{})
	if len(items) != 1 || !sameJSON(t, items[0], DocumentedWorkout()) {
		t.Errorf("workout collection = %s", items)
	}
}

// TestFilters checks WHOOP's window semantics: start inclusive of items
// still going on, end exclusive.
func TestFilters(t *testing.T) {
	_, ts, tok := newTest(t, Config{})
	tests := []struct {
		start, end string
		n          int
	}{
		{"2022-04-24T05:00:00.000Z", "", 1},                      // during the cycle (02:25-10:25)
		{"2022-04-24T10:25:44.774Z", "", 1},                      // at its end: inclusive
		{"2022-04-24T10:25:44.775Z", "", 0},                      // after its end
		{"", "2022-04-24T02:25:44.774Z", 0},                      // end at its start: exclusive
		{"", "2022-04-24T02:25:44.775Z", 1},                      //
		{"2020-01-01T00:00:00Z", "2030-01-01T00:00:00+01:00", 1}, // offsets accepted
	}
	for _, tt := range tests {
		q := url.Values{}
		if tt.start != "" {
			q.Set("start", tt.start)
		}
		if tt.end != "" {
			q.Set("end", tt.end)
		}
		items, _ := all(t, ts.URL, tok, "cycle", q)
		if len(items) != tt.n {
			t.Errorf("start=%s end=%s: %d items, want %d", tt.start, tt.end, len(items), tt.n)
		}
	}
}

// TestPaging: pages of limit items, newest first, every item once.
func TestPaging(t *testing.T) {
	s, ts, tok := newTest(t, Config{})
	first := time.Date(2022, 5, 1, 2, 0, 0, 0, time.UTC)
	var add []json.RawMessage
	for i := range 12 {
		st := first.AddDate(0, 0, i)
		add = append(add, json.RawMessage(`{"id":`+strconv.Itoa(500+i)+`,"start":"`+st.Format(time.RFC3339)+`","end":"`+st.Add(8*time.Hour).Format(time.RFC3339)+`","timezone_offset":"+00:00","score_state":"PENDING_SCORE"}`))
	}
	if err := s.AddRecords("cycle", add...); err != nil {
		t.Fatal(err)
	}
	items, pages := all(t, ts.URL, tok, "cycle", url.Values{"limit": {"5"}})
	eq(t, "items", len(items), 13)
	eq(t, "pages", pages, 3)
	seen := map[string]bool{}
	var last time.Time
	for i, it := range items {
		var h struct {
			ID    json.Number `json:"id"`
			Start time.Time   `json:"start"`
		}
		if err := json.Unmarshal(it, &h); err != nil {
			t.Fatal(err)
		}
		if seen[h.ID.String()] {
			t.Errorf("item %s twice", h.ID)
		}
		seen[h.ID.String()] = true
		if i > 0 && h.Start.After(last) {
			t.Errorf("item %s out of order", h.ID)
		}
		last = h.Start
	}
	// Default page size 10; more than 25 is refused; a bad token too.
	_, pages = all(t, ts.URL, tok, "cycle", url.Values{})
	eq(t, "default pages", pages, 2)
	status, _, _ := get(t, ts.URL+"/developer/v2/cycle?limit=26", tok)
	eq(t, "limit 26", status, http.StatusBadRequest)
	status, _, _ = get(t, ts.URL+"/developer/v2/cycle?nextToken=garbage", tok)
	eq(t, "bad nextToken", status, http.StatusBadRequest)
	status, _, _ = get(t, ts.URL+"/developer/v2/cycle?start=yesterday", tok)
	eq(t, "bad start", status, http.StatusBadRequest)
}

func TestItems(t *testing.T) {
	_, ts, tok := newTest(t, Config{})
	tests := []struct {
		path    string
		status  int
		fixture string
	}{
		{"cycle/93845", http.StatusOK, "cycle_collection.json"},
		{"cycle/93845/recovery", http.StatusOK, "recovery_collection.json"},
		{"cycle/93845/sleep", http.StatusOK, "sleep_collection.json"},
		{"activity/sleep/ecfc6a15-4661-442f-a9a4-f160dd7afae8", http.StatusOK, "sleep_collection.json"},
		{"activity/workout/ecfc6a15-4661-442f-a9a4-f160dd7afae8", http.StatusOK, ""},
		{"activity/sleep/123e4567-e89b-12d3-a456-426614174000", http.StatusNotFound, ""},
		{"cycle/1", http.StatusNotFound, ""},
		{"cycle/abc", http.StatusBadRequest, ""},
	}
	for _, tt := range tests {
		status, _, body := get(t, ts.URL+"/developer/v2/"+tt.path, tok)
		eq(t, tt.path, status, tt.status)
		if tt.fixture != "" && !sameJSON(t, body, fixtureRecord(t, tt.fixture)) {
			t.Errorf("%s: served %s", tt.path, body)
		}
	}
	status, _, body := get(t, ts.URL+"/developer/v2/user/profile/basic", tok)
	eq(t, "profile", status, http.StatusOK)
	var prof struct {
		UserID int64 `json:"user_id"`
	}
	_ = json.Unmarshal(body, &prof)
	eq(t, "profile user_id", prof.UserID, DefaultUserID)
	status, _, body = get(t, ts.URL+"/developer/v2/user/measurement/body", tok)
	eq(t, "body", status, http.StatusOK)
	if !sameJSON(t, body, DocumentedBodyMeasurement()) {
		t.Errorf("body = %s", body)
	}
}

func TestAuthAndRateLimit(t *testing.T) {
	s, ts, tok := newTest(t, Config{})
	status, _, _ := get(t, ts.URL+"/developer/v2/cycle", "")
	eq(t, "no token", status, http.StatusUnauthorized)
	status, _, _ = get(t, ts.URL+"/developer/v2/cycle", "nope")
	eq(t, "bad token", status, http.StatusUnauthorized)

	status, h, _ := get(t, ts.URL+"/developer/v2/cycle", tok)
	eq(t, "ok", status, http.StatusOK)
	eq(t, "X-RateLimit-Limit", h.Get("X-RateLimit-Limit"), "100, 100;window=60, 10000;window=86400")
	if h.Get("X-RateLimit-Remaining") == "" || h.Get("X-RateLimit-Reset") == "" {
		t.Errorf("rate limit headers missing: %v", h)
	}

	s.InjectRateLimit(1, 42*time.Second)
	status, h, _ = get(t, ts.URL+"/developer/v2/cycle", tok)
	eq(t, "429", status, http.StatusTooManyRequests)
	eq(t, "429 remaining", h.Get("X-RateLimit-Remaining"), "0")
	eq(t, "429 reset", h.Get("X-RateLimit-Reset"), "42")
	status, _, _ = get(t, ts.URL+"/developer/v2/cycle", tok)
	eq(t, "after 429", status, http.StatusOK)

	// Expiry, on the fake's clock.
	now := time.Now()
	s2, ts2, tok2 := newTest(t, Config{TokenLifetime: time.Minute, Now: func() time.Time { return now }})
	now = now.Add(2 * time.Minute)
	status, _, _ = get(t, ts2.URL+"/developer/v2/cycle", tok2)
	eq(t, "expired", status, http.StatusUnauthorized)

	// Revocation forgets the user's tokens.
	tok3 := s2.Token(0).AccessToken
	status, _, _ = do(t, http.MethodDelete, ts2.URL+"/developer/v2/user/access", tok3)
	eq(t, "revoke", status, http.StatusNoContent)
	status, _, _ = get(t, ts2.URL+"/developer/v2/cycle", tok3)
	eq(t, "after revoke", status, http.StatusUnauthorized)
}

// TestTokenEndpoint: form-body client credentials, rotation, reuse refused.
func TestTokenEndpoint(t *testing.T) {
	s, ts, _ := newTest(t, Config{})
	tok := s.Token(0)
	post := func(form url.Values, basic bool) (int, map[string]any) {
		req, _ := http.NewRequest(http.MethodPost, ts.URL+"/oauth/oauth2/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if basic {
			req.SetBasicAuth(DefaultClientID, DefaultClientSecret)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {DefaultClientID}, "client_secret": {DefaultClientSecret}, "scope": {"offline"}}
	status, m := post(refresh, false)
	eq(t, "refresh", status, http.StatusOK)
	if m["refresh_token"] == tok.RefreshToken || m["refresh_token"] == nil || m["access_token"] == nil {
		t.Errorf("refresh answer = %v", m)
	}
	eq(t, "expires_in", m["expires_in"], any(3600.0))
	status, m = post(refresh, false)
	eq(t, "reuse", status, http.StatusBadRequest)
	eq(t, "reuse error", m["error"], any("invalid_grant"))
	status, m = post(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}}, true)
	eq(t, "basic auth", status, http.StatusUnauthorized)
	eq(t, "basic auth error", m["error"], any("invalid_client"))
}

// TestPushAll checks the webhooks against WHOOP's documented signature,
// computed here independently.
func TestPushAll(t *testing.T) {
	type got struct {
		body    []byte
		sig, ts string
	}
	var mu sync.Mutex
	var reqs []got
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		reqs = append(reqs, got{body: b, sig: r.Header.Get("X-WHOOP-Signature"), ts: r.Header.Get("X-WHOOP-Signature-Timestamp")})
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(recv.Close)
	before := time.Now().UnixMilli()
	n, err := PushAll(context.Background(), recv.Client(), recv.URL, "10129")
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "sent", n, 2)
	mu.Lock()
	defer mu.Unlock()
	wantTypes := []string{"sleep.updated", "workout.updated"}
	for i, r := range reqs {
		mac := hmac.New(sha256.New, []byte(DefaultClientSecret))
		mac.Write([]byte(r.ts))
		mac.Write(r.body)
		if want := base64.StdEncoding.EncodeToString(mac.Sum(nil)); r.sig != want {
			t.Errorf("webhook %d: signature %q, want %q", i, r.sig, want)
		}
		var ms int64
		_ = json.Unmarshal([]byte(r.ts), &ms)
		if ms < before || ms > time.Now().UnixMilli() {
			t.Errorf("webhook %d: timestamp %s is not now in ms", i, r.ts)
		}
		var w struct {
			UserID  json.Number `json:"user_id"`
			ID      string      `json:"id"`
			Type    string      `json:"type"`
			TraceID string      `json:"trace_id"`
		}
		dec := json.NewDecoder(bytes.NewReader(r.body))
		dec.UseNumber()
		if err := dec.Decode(&w); err != nil {
			t.Fatal(err)
		}
		eq(t, "user_id", w.UserID.String(), "10129") // an integer, as WHOOP sends it
		eq(t, "type", w.Type, wantTypes[i])
		eq(t, "id", w.ID, "ecfc6a15-4661-442f-a9a4-f160dd7afae8")
		if len(w.TraceID) != 36 {
			t.Errorf("trace_id %q", w.TraceID)
		}
	}

	// A recovery whose sleep is served gets its recovery.updated, naming
	// the sleep.
	s := New(Config{})
	linked := `{"id":"123e4567-e89b-12d3-a456-426614174000","cycle_id":93845,"start":"2022-04-24T02:25:44.774Z","end":"2022-04-24T10:25:44.774Z","timezone_offset":"-05:00","nap":false,"score_state":"PENDING_SCORE"}`
	if err := s.AddRecords("sleep", json.RawMessage(linked)); err != nil {
		t.Fatal(err)
	}
	hooks, err := s.Webhooks("10129")
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, h := range hooks {
		types = append(types, h.Type+" "+h.ID[:8])
	}
	want := []string{"sleep.updated ecfc6a15", "sleep.updated 123e4567", "recovery.updated 123e4567", "workout.updated ecfc6a15"}
	if !reflect.DeepEqual(types, want) {
		t.Errorf("webhooks = %v, want %v", types, want)
	}
}

func TestProviderConfig(t *testing.T) {
	c := ProviderConfig("http://127.0.0.1:9")
	eq(t, "auth", c.AuthURL, "http://127.0.0.1:9/oauth/oauth2/auth")
	eq(t, "token", c.TokenURL, "http://127.0.0.1:9/oauth/oauth2/token")
	eq(t, "api", c.APIBase, "http://127.0.0.1:9/developer")
	eq(t, "client", c.ClientID, DefaultClientID)
	// The backfill reaches the recorded cycle (2022-04-24T02:25:44.774Z).
	if start := time.Now().Add(-c.BackfillDepth); !start.Before(time.Date(2022, 4, 24, 2, 25, 44, 0, time.UTC)) {
		t.Errorf("backfill starts %s, after the recorded data", start)
	}
}

func eq[T comparable](t testing.TB, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}
