package oura

import (
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wearbridge/wearbridge/internal/sandbox/fixtures"
)

type page struct {
	Data      []json.RawMessage `json:"data"`
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
	return s, ts, s.Token("").AccessToken
}

func get(t *testing.T, u, token string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
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

// all follows next_token and returns every item.
func all(t *testing.T, base, token, coll string, q url.Values) ([]json.RawMessage, int) {
	t.Helper()
	var items []json.RawMessage
	pages := 0
	for {
		status, _, body := get(t, base+"/v2/usercollection/"+coll+"?"+q.Encode(), token)
		if status != http.StatusOK {
			t.Fatalf("%s: status %d: %s", coll, status, body)
		}
		var pg page
		if err := json.Unmarshal(body, &pg); err != nil {
			t.Fatalf("%s: %v", coll, err)
		}
		pages++
		items = append(items, pg.Data...)
		if pg.NextToken == nil {
			return items, pages
		}
		q = url.Values{"next_token": {*pg.NextToken}}
	}
}

func fixtureBytes(t *testing.T, name string) []byte {
	t.Helper()
	b, err := fs.ReadFile(fixtures.FS, "oura/"+name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPaging serves every recorded document once, 3 to a page, in
// recorded order.
func TestPaging(t *testing.T) {
	_, ts, tok := newTest(t, Config{PageSize: 3})
	days := url.Values{"start_date": {"2024-01-01"}, "end_date": {"2024-12-31"}}
	tests := []struct {
		coll  string
		q     url.Values
		n     int // documents in the fixture
		pages int
	}{
		{"sleep", days, 48, 16},
		{"daily_sleep", days, 2, 1},
		{"daily_readiness", days, 2, 1},
		{"daily_spo2", days, 2, 1},
		{"daily_activity", days, 1, 1},
		{"session", days, 1, 1},
		{"workout", days, 0, 1},
		{"heartrate", url.Values{"start_datetime": {"2024-12-01T00:00:00Z"}, "end_datetime": {"2025-01-01T00:00:00Z"}}, 1101, 367},
	}
	for _, tt := range tests {
		t.Run(tt.coll, func(t *testing.T) {
			items, pages := all(t, ts.URL, tok, tt.coll, tt.q)
			if len(items) != tt.n || pages != tt.pages {
				t.Fatalf("%d items in %d pages, want %d in %d", len(items), pages, tt.n, tt.pages)
			}
			if tt.n == 0 {
				return
			}
			var want []json.RawMessage
			if tt.coll == "daily_activity" {
				want = []json.RawMessage{fixtureBytes(t, "daily_activity_single.json")}
			} else {
				file := map[string]string{
					"sleep": "sleep_2024-10-09_11-03.json", "daily_sleep": "daily_sleep_2024-11-11_12.json",
					"daily_readiness": "daily_readiness_2024-11-11_12.json", "daily_spo2": "daily_spo2_2024-11-11_12.json",
					"session": "session_2024-10-09_11-03.json", "heartrate": "heartrate_page.json",
				}[tt.coll]
				var pg page
				if err := json.Unmarshal(fixtureBytes(t, file), &pg); err != nil {
					t.Fatal(err)
				}
				want = pg.Data
			}
			for i := range want {
				if strings.TrimSpace(string(items[i])) != strings.TrimSpace(string(want[i])) {
					t.Fatalf("item %d differs from the recording", i)
				}
			}
		})
	}
}

func TestFilters(t *testing.T) {
	_, ts, tok := newTest(t, Config{PageSize: 100})
	tests := []struct {
		name, coll string
		q          url.Values
		n          int
	}{
		// sleep days 2024-10-10: 96e7772a and c45e23d6 (inclusive bounds)
		{"one day", "sleep", url.Values{"start_date": {"2024-10-10"}, "end_date": {"2024-10-10"}}, 2},
		{"datetime as date", "sleep", url.Values{"start_date": {"2024-10-10T00:00:00+02:00"}, "end_date": {"2024-10-10T23:00:00+02:00"}}, 2},
		{"readiness 2024-11-12", "daily_readiness", url.Values{"start_date": {"2024-11-12"}, "end_date": {"2024-11-30"}}, 1},
		// 191 rows on 2024-12-14 (UTC)
		{"heartrate day", "heartrate", url.Values{"start_datetime": {"2024-12-14T00:00:00Z"}, "end_datetime": {"2024-12-15T00:00:00Z"}}, 191},
		// same instant in +01:00
		{"heartrate offset", "heartrate", url.Values{"start_datetime": {"2024-12-14T01:00:00+01:00"}, "end_datetime": {"2024-12-15T01:00:00+01:00"}}, 191},
		// default range is the day before today: nothing from 2024
		{"default range", "sleep", url.Values{}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			items, _ := all(t, ts.URL, tok, tt.coll, tt.q)
			if len(items) != tt.n {
				t.Errorf("%d items, want %d", len(items), tt.n)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	s, ts, tok := newTest(t, Config{TokenLifetime: time.Minute, Now: func() time.Time { return now }})
	expired := s.Token("").AccessToken
	now = now.Add(2 * time.Minute)
	tok = s.Token("").AccessToken

	tests := []struct {
		name, path, token string
		status            int
		body              string // exact JSON, or "" to skip
	}{
		{"no token", "/v2/usercollection/sleep", "", 401, ""},
		{"unknown token", "/v2/usercollection/sleep", "nope", 401, ""},
		{"expired token", "/v2/usercollection/sleep", expired, 401, ""},
		{"start after end", "/v2/usercollection/sleep?start_date=2025-11-11&end_date=2025-11-10", tok, 422, string(fixtureBytes(t, "error_422_start_after_end.json"))},
		{"bad date", "/v2/usercollection/daily_sleep?start_date=yesterday", tok, 422, `{"detail":[{"type":"date_from_datetime_parsing","loc":["query","start_date"],"msg":"Input should be a valid date or datetime","input":"yesterday"}]}`},
		{"bad datetime", "/v2/usercollection/heartrate?start_datetime=2024-12-14", tok, 422, ""},
		{"bad next_token", "/v2/usercollection/sleep?next_token=zzz", tok, 400, ""},
		{"token of another collection", "/v2/usercollection/sleep?next_token=" + cursor{Collection: "session"}.token(), tok, 400, ""},
		{"unknown collection", "/v2/usercollection/steps", tok, 404, ""},
		{"unknown document", "/v2/usercollection/sleep/nope", tok, 404, string(fixtureBytes(t, "error_404_not_found.json"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, body := get(t, ts.URL+tt.path, tt.token)
			if status != tt.status {
				t.Fatalf("status %d, want %d: %s", status, tt.status, body)
			}
			var got map[string]any
			if err := json.Unmarshal(body, &got); err != nil || got["detail"] == nil {
				t.Errorf("body %s has no detail", body)
			}
			if tt.body != "" {
				var want any
				if err := json.Unmarshal([]byte(tt.body), &want); err != nil {
					t.Fatal(err)
				}
				var gotAny any
				_ = json.Unmarshal(body, &gotAny)
				if !reflect.DeepEqual(gotAny, want) {
					t.Errorf("body %s, want %s", body, tt.body)
				}
			}
		})
	}
}

func TestDocuments(t *testing.T) {
	_, ts, tok := newTest(t, Config{UserID: "bob"})
	status, _, body := get(t, ts.URL+"/v2/usercollection/daily_activity/3e8de08b-9fa1-4fb0-8edc-0ccf097f6693", tok)
	if status != 200 || string(body) != string(fixtureBytes(t, "daily_activity_single.json")) {
		t.Errorf("single daily_activity: status %d, body is not the recording", status)
	}
	status, _, body = get(t, ts.URL+"/v2/usercollection/sleep/96e7772a-64a7-4342-9c5f-3e5ed9e64d6d", tok)
	if status != 200 || !strings.Contains(string(body), `"average_hrv": 38`) {
		t.Errorf("single sleep: status %d: %.80s", status, body)
	}
	status, _, body = get(t, ts.URL+"/v2/usercollection/personal_info", tok)
	var info struct {
		ID string `json:"id"`
	}
	if status != 200 || json.Unmarshal(body, &info) != nil || info.ID != "bob" {
		t.Errorf("personal_info: status %d: %s", status, body)
	}
}

func TestRateLimit(t *testing.T) {
	s, ts, tok := newTest(t, Config{RateLimitOn: 2, RetryAfter: 42 * time.Second})
	u := ts.URL + "/v2/usercollection/workout?start_date=2024-01-01&end_date=2024-01-02"
	for i, want := range []int{200, 429, 200} {
		status, h, _ := get(t, u, tok)
		if status != want {
			t.Fatalf("request %d: status %d, want %d", i+1, status, want)
		}
		if status == 429 && h.Get("Retry-After") != "42" {
			t.Errorf("Retry-After %q, want 42", h.Get("Retry-After"))
		}
	}
	s.InjectRateLimit(1, 5*time.Second)
	status, h, _ := get(t, u, tok)
	if status != 429 || h.Get("Retry-After") != "5" {
		t.Errorf("injected: status %d, Retry-After %q", status, h.Get("Retry-After"))
	}
	if s.APIRequests() != 4 {
		t.Errorf("APIRequests = %d, want 4", s.APIRequests())
	}
}

func TestOAuthEndpoints(t *testing.T) {
	_, ts, _ := newTest(t, Config{ClientID: "c", ClientSecret: "s"})
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	authorize := func(q string) *http.Response {
		resp, err := noFollow.Get(ts.URL + "/oauth/authorize?" + q)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for name, q := range map[string]string{
		"no response_type": "client_id=c&redirect_uri=http://x/cb",
		"wrong client":     "response_type=code&client_id=d&redirect_uri=http://x/cb",
		"relative uri":     "response_type=code&client_id=c&redirect_uri=/cb",
	} {
		if resp := authorize(q); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", name, resp.StatusCode)
		}
	}
	resp := authorize("response_type=code&client_id=c&redirect_uri=" + url.QueryEscape("http://x/cb?keep=1") + "&state=st&user=carol")
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || loc.Query().Get("keep") != "1" || loc.Query().Get("state") != "st" {
		t.Fatalf("authorize: %d %s", resp.StatusCode, loc)
	}
	code := loc.Query().Get("code")

	token := func(form url.Values) (int, map[string]any) {
		resp, err := http.PostForm(ts.URL+"/oauth/token", form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	base := url.Values{"client_id": {"c"}, "client_secret": {"s"}}
	with := func(kv ...string) url.Values {
		f := url.Values{}
		for k, v := range base {
			f[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			f.Set(kv[i], kv[i+1])
		}
		return f
	}
	if st, m := token(with("grant_type", "password")); st != 400 || m["error"] != "unsupported_grant_type" {
		t.Errorf("password grant: %d %v", st, m)
	}
	if st, m := token(with("grant_type", "authorization_code", "code", code, "redirect_uri", "http://other/cb")); st != 400 || m["error"] != "invalid_grant" {
		t.Errorf("wrong redirect_uri: %d %v", st, m)
	}
	// The failed attempt used the code up.
	if st, m := token(with("grant_type", "authorization_code", "code", code, "redirect_uri", "http://x/cb?keep=1")); st != 400 || m["error"] != "invalid_grant" {
		t.Errorf("used code: %d %v", st, m)
	}
	if st, m := token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}, "client_id": {"c"}, "client_secret": {"no"}}); st != 401 || m["error"] != "invalid_client" {
		t.Errorf("bad secret: %d %v", st, m)
	}

	resp = authorize("response_type=code&client_id=c&redirect_uri=http://x/cb&user=carol")
	loc, _ = url.Parse(resp.Header.Get("Location"))
	st, m := token(with("grant_type", "authorization_code", "code", loc.Query().Get("code"), "redirect_uri", "http://x/cb"))
	if st != 200 || m["token_type"] != "bearer" || m["expires_in"] != float64(3600) || m["access_token"] == "" || m["refresh_token"] == "" {
		t.Fatalf("exchange: %d %v", st, m)
	}
	status, _, body := get(t, ts.URL+"/v2/usercollection/personal_info", m["access_token"].(string))
	if status != 200 || !strings.Contains(string(body), `"id":"carol"`) {
		t.Errorf("personal_info for carol: %d %s", status, body)
	}

	// Rotation: refresh once, then the old refresh token is refused.
	rt := m["refresh_token"].(string)
	st, m2 := token(with("grant_type", "refresh_token", "refresh_token", rt))
	if st != 200 || m2["refresh_token"] == rt {
		t.Fatalf("refresh: %d %v", st, m2)
	}
	if st, m3 := token(with("grant_type", "refresh_token", "refresh_token", rt)); st != 400 || m3["error"] != "invalid_grant" {
		t.Errorf("reused refresh token: %d %v", st, m3)
	}

	// Revoke.
	at := m2["access_token"].(string)
	if status, _, _ := get(t, ts.URL+"/oauth/revoke?access_token="+at, ""); status != 200 {
		t.Errorf("revoke: %d", status)
	}
	if status, _, _ := get(t, ts.URL+"/v2/usercollection/personal_info", at); status != 401 {
		t.Errorf("revoked token: %d, want 401", status)
	}
}
