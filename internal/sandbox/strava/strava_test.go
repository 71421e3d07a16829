package strava

import (
	"bytes"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wearbridge/wearbridge/internal/sandbox/fixtures"
)

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

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := fs.ReadFile(fixtures.FS, "strava/"+name)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSpace(b)
}

func eq[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func ids(t *testing.T, body []byte) []int64 {
	t.Helper()
	var items []struct {
		ID int64 `json:"id"`
	}
	if err := json.Unmarshal(body, &items); err != nil {
		t.Fatalf("not a list: %v: %.200s", err, body)
	}
	out := make([]int64, len(items))
	for i, it := range items {
		out[i] = it.ID
	}
	return out
}

// TestPaging serves every recorded activity once, newest first, and the
// list items byte for byte as recorded.
func TestPaging(t *testing.T) {
	_, ts, tok := newTest(t, Config{})
	var all []json.RawMessage
	pages := 0
	for page := 1; ; page++ {
		status, _, body := get(t, ts.URL+"/api/v3/athlete/activities?per_page=7&page="+itoa(int64(page)), tok)
		eq(t, "status", status, http.StatusOK)
		var items []json.RawMessage
		if err := json.Unmarshal(body, &items); err != nil {
			t.Fatal(err)
		}
		pages++
		if len(items) == 0 {
			break
		}
		all = append(all, items...)
	}
	// 30 list items + the two detailed recordings, 7 a page: 5 pages and
	// an empty one.
	eq(t, "activities", len(all), 32)
	eq(t, "pages", pages, 6)
	var recorded []json.RawMessage
	if err := json.Unmarshal(fixture(t, "athlete_activities_page1.json"), &recorded); err != nil {
		t.Fatal(err)
	}
	// The recorded page is newest first, 2025-10-18 to 2025-09-04; then
	// the marathon (2018-11-04) and activity 99895560 (2013-12-12).
	for i, it := range recorded {
		if !bytes.Equal(bytes.TrimSpace(all[i]), bytes.TrimSpace(it)) {
			t.Fatalf("item %d differs from the recording", i)
		}
	}
	eq(t, "31st", string(all[30]), string(fixture(t, "activity_1946417534.json")))
	eq(t, "32nd", string(all[31]), string(fixture(t, "activity_detailed.json")))

	// per_page defaults to 30 and is capped at 200.
	_, _, body := get(t, ts.URL+"/api/v3/athlete/activities", tok)
	eq(t, "default page", len(ids(t, body)), 30)
	_, _, body = get(t, ts.URL+"/api/v3/athlete/activities?page=2", tok)
	eq(t, "second default page", len(ids(t, body)), 2)
	_, _, body = get(t, ts.URL+"/api/v3/athlete/activities?per_page=500", tok)
	eq(t, "capped page", len(ids(t, body)), 32)
}

func TestListFilters(t *testing.T) {
	now := time.Date(2025, 11, 1, 0, 0, 0, 0, time.UTC)
	_, ts, tok := newTest(t, Config{Now: func() time.Time { return now }})
	tests := []struct {
		query  string
		status int
		ids    []int64
		body   string
	}{
		// 15878564739 starts 2025-09-20T13:26:09Z = 1758374769, 15889469592
		// 2025-09-21T13:25:01Z = 1758461101, 15910796839 2025-09-23T14:02:59Z
		// = 1758636179. after and before are exclusive.
		{"after=1758374768&before=1758636179", 200, []int64{15889469592, 15878564739}, ""},
		{"after=1758374769&before=1758636180", 200, []int64{15910796839, 15889469592}, ""},
		{"before=1386877002", 200, []int64{99895560}, ""}, // 2013-12-12T19:36:41Z + 1 s
		{"after=1762000000000", 400, nil, `{"errors":[{"resource":"Application","field":"after","code":"future"}],"message":"Bad Request"}`},
		{"page=abc", 400, nil, `{"errors":[{"resource":"Application","field":"page","code":"invalid"}],"message":"Bad Request"}`},
	}
	for _, tt := range tests {
		status, _, body := get(t, ts.URL+"/api/v3/athlete/activities?"+tt.query, tok)
		eq(t, tt.query+" status", status, tt.status)
		if tt.body != "" {
			eq(t, tt.query+" body", string(body), tt.body)
			continue
		}
		got := ids(t, body)
		if len(got) != len(tt.ids) {
			t.Errorf("%s: ids %v, want %v", tt.query, got, tt.ids)
			continue
		}
		for i := range got {
			eq(t, tt.query+" id", got[i], tt.ids[i])
		}
	}
}

func TestActivityEndpoints(t *testing.T) {
	_, ts, tok := newTest(t, Config{})
	api := ts.URL + "/api/v3/activities/"
	notFound := `{"errors":[{"resource":"Activity","field":"id","code":"invalid"}],"message":"Record Not Found"}`
	var page []json.RawMessage
	if err := json.Unmarshal(fixture(t, "athlete_activities_page1.json"), &page); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path   string
		status int
		body   string
	}{
		{"1946417534", 200, string(fixture(t, "activity_1946417534.json"))},
		{"99895560", 200, string(fixture(t, "activity_detailed.json"))},
		{"16181809559", 200, string(bytes.TrimSpace(page[0]))}, // no detail recorded: the list item
		{"42", 404, notFound},
		{"abc", 404, notFound},
		{"15605032352/laps", 200, string(fixture(t, "activity_laps.json"))},
		{"99895560/laps", 200, "[]"},
		{"16181809559/laps", 200, "[]"},
		{"42/laps", 404, notFound},
		{"1946417534/streams?keys=time,latlng,distance&key_by_type=true", 200, ""},
		{"1946417534/streams?key_by_type=true", 200, string(fixture(t, "activity_streams_1946417534.json"))},
		{"99895560/streams?keys=time&key_by_type=true", 200, "{}"},
		{"99895560/streams?keys=time", 200, "[]"},
		{"42/streams?keys=time&key_by_type=true", 404, notFound},
	}
	for _, tt := range tests {
		status, _, body := get(t, api+tt.path, tok)
		eq(t, tt.path+" status", status, tt.status)
		if tt.body != "" {
			eq(t, tt.path+" body", string(body), tt.body)
		}
	}

	// The marathon's laps are its detail's own: one lap, id 6270116916.
	_, _, body := get(t, api+"1946417534/laps", tok)
	if got := ids(t, body); len(got) != 1 || got[0] != 6270116916 {
		t.Errorf("marathon laps = %v", got)
	}

	// Streams filtered by keys: the recording only has distance (its
	// series_type, always given), 13129 points.
	for _, q := range []string{"keys=time,heartrate&key_by_type=true", "keys=time,latlng,distance&key_by_type=true"} {
		_, _, body = get(t, api+"1946417534/streams?"+q, tok)
		var ss map[string]struct {
			Data []float64 `json:"data"`
		}
		if err := json.Unmarshal(body, &ss); err != nil {
			t.Fatal(err)
		}
		if len(ss) != 1 || len(ss["distance"].Data) != 13129 {
			t.Errorf("%s: streams %d, distance %d", q, len(ss), len(ss["distance"].Data))
		}
	}
	_, _, body = get(t, api+"1946417534/streams?keys=distance", tok)
	var list []struct {
		Type string    `json:"type"`
		Data []float64 `json:"data"`
	}
	if err := json.Unmarshal(body, &list); err != nil || len(list) != 1 || list[0].Type != "distance" || list[0].Data[13128] != 42268.1 {
		t.Errorf("list form: %v %.100s", err, body)
	}
}

func TestAuth(t *testing.T) {
	now := time.Date(2025, 11, 1, 10, 0, 0, 0, time.UTC)
	clock := now
	s, ts, tok := newTest(t, Config{TokenLifetime: time.Hour, Now: func() time.Time { return clock }})
	invalid := `{"errors":[{"resource":"Athlete","field":"access_token","code":"invalid"}],"message":"Authorization Error"}`
	status, _, body := get(t, ts.URL+"/api/v3/athlete/activities", "")
	eq(t, "no token", status, http.StatusUnauthorized)
	eq(t, "no token body", string(body), invalid)
	status, _, _ = get(t, ts.URL+"/api/v3/athlete/activities", "made-up")
	eq(t, "unknown token", status, http.StatusUnauthorized)
	status, _, body = get(t, ts.URL+"/api/v3/athlete", tok)
	eq(t, "athlete", status, http.StatusOK)
	eq(t, "athlete body", string(body), `{"id":26462176,"resource_state":1}`)

	readOnly := s.TokenWithScope(1513, "read").AccessToken
	status, _, body = get(t, ts.URL+"/api/v3/activities/1946417534", readOnly)
	eq(t, "read scope", status, http.StatusUnauthorized)
	eq(t, "read scope body", string(body), `{"errors":[{"resource":"AccessToken","field":"activity:read_permission","code":"missing"}],"message":"Authorization Error"}`)
	_, _, body = get(t, ts.URL+"/api/v3/athlete", readOnly)
	eq(t, "other athlete", string(body), `{"id":1513,"resource_state":1}`)

	clock = now.Add(time.Hour)
	status, _, body = get(t, ts.URL+"/api/v3/athlete", tok)
	eq(t, "expired", status, http.StatusUnauthorized)
	eq(t, "expired body", string(body), invalid)
}

func TestRateLimits(t *testing.T) {
	now := time.Date(2025, 11, 1, 10, 7, 30, 0, time.UTC)
	s, ts, tok := newTest(t, Config{Now: func() time.Time { return now }})
	for range 2 {
		get(t, ts.URL+"/api/v3/athlete", tok)
	}
	status, h, _ := get(t, ts.URL+"/api/v3/athlete", tok)
	eq(t, "status", status, http.StatusOK)
	eq(t, "limit", h.Get("X-RateLimit-Limit"), "200,2000")
	eq(t, "usage", h.Get("X-RateLimit-Usage"), "3,3")
	eq(t, "read limit", h.Get("X-ReadRateLimit-Limit"), "100,1000")
	eq(t, "read usage", h.Get("X-ReadRateLimit-Usage"), "3,3")
	eq(t, "date", h.Get("Date"), "Sat, 01 Nov 2025 10:07:30 GMT")

	// The recorded 429 body (activity_ratelimit_429.vcr.yml, response body
	// string), the short window reported used up.
	s.InjectRateLimit(1, false)
	status, h, body := get(t, ts.URL+"/api/v3/activities/1946417534", tok)
	eq(t, "status", status, http.StatusTooManyRequests)
	eq(t, "body", string(body), `{"errors":"Rate Limit Exceeded","status":429,"message":"Too Many Requests"}`)
	eq(t, "read usage", h.Get("X-ReadRateLimit-Usage"), "100,4")
	s.InjectRateLimit(1, true)
	_, h, _ = get(t, ts.URL+"/api/v3/activities/1946417534", tok)
	eq(t, "daily read usage", h.Get("X-ReadRateLimit-Usage"), "5,1000")
	status, _, _ = get(t, ts.URL+"/api/v3/activities/1946417534", tok)
	eq(t, "after the injected one", status, http.StatusOK)
	eq(t, "requests", s.APIRequests(), 6)

	// Enforced limits: the third request of the quarter hour is refused.
	_, ts2, tok2 := newTest(t, Config{Now: func() time.Time { return now }, ReadLimits: [2]int{2, 1000}, EnforceRateLimits: true})
	for i, want := range []int{200, 200, 429} {
		status, _, _ := get(t, ts2.URL+"/api/v3/athlete", tok2)
		eq(t, "enforced request "+itoa(int64(i+1)), status, want)
	}
}

func TestAuthorizeRefusals(t *testing.T) {
	_, ts, _ := newTest(t, Config{})
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	base := url.Values{
		"client_id": {DefaultClientID}, "redirect_uri": {"http://127.0.0.1:1/cb"},
		"response_type": {"code"}, "approval_prompt": {"auto"}, "scope": {"read,activity:read_all"}, "state": {"s"},
	}
	tests := []struct {
		name, key, value string
		status           int
		field            string
	}{
		{"ok", "", "", http.StatusFound, ""},
		{"no scope: read", "scope", "", http.StatusFound, ""},
		{"space-separated scope", "scope", "read activity:read_all", http.StatusBadRequest, "scope"},
		{"unknown scope", "scope", "read,activity:everything", http.StatusBadRequest, "scope"},
		{"bad approval_prompt", "approval_prompt", "sometimes", http.StatusBadRequest, "approval_prompt"},
		{"other client", "client_id", "someone", http.StatusBadRequest, "client_id"},
		{"relative redirect", "redirect_uri", "/cb", http.StatusBadRequest, "redirect_uri"},
		{"token flow", "response_type", "token", http.StatusBadRequest, "response_type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := url.Values{}
			for k, v := range base {
				q[k] = v
			}
			if tt.key != "" {
				q.Set(tt.key, tt.value)
			}
			resp, err := noFollow.Get(ts.URL + "/oauth/authorize?" + q.Encode())
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			eq(t, "status", resp.StatusCode, tt.status)
			if tt.field != "" && !strings.Contains(string(body), `"field":"`+tt.field+`"`) {
				t.Errorf("body %s does not name %s", body, tt.field)
			}
			if tt.status == http.StatusFound {
				loc, _ := url.Parse(resp.Header.Get("Location"))
				want := q.Get("scope")
				if want == "" {
					want = "read"
				}
				eq(t, "scope", loc.Query().Get("scope"), want)
			}
		})
	}
}

func TestTokenFaults(t *testing.T) {
	_, ts, _ := newTest(t, Config{})
	tests := []struct {
		name string
		form url.Values
		body string
	}{
		{"other client", url.Values{"client_id": {"x"}, "client_secret": {DefaultClientSecret}, "grant_type": {"authorization_code"}, "code": {"c"}},
			`{"errors":[{"resource":"Application","field":"client_id","code":"invalid"}],"message":"Bad Request"}`},
		{"bad secret", url.Values{"client_id": {DefaultClientID}, "client_secret": {"x"}, "grant_type": {"authorization_code"}, "code": {"c"}},
			`{"errors":[{"resource":"Application","field":"client_secret","code":"invalid"}],"message":"Bad Request"}`},
		{"bad code", url.Values{"client_id": {DefaultClientID}, "client_secret": {DefaultClientSecret}, "grant_type": {"authorization_code"}, "code": {"c"}},
			`{"errors":[{"resource":"AuthorizationCode","field":"code","code":"invalid"}],"message":"Bad Request"}`},
		{"bad refresh token", url.Values{"client_id": {DefaultClientID}, "client_secret": {DefaultClientSecret}, "grant_type": {"refresh_token"}, "refresh_token": {"r"}},
			`{"errors":[{"resource":"RefreshToken","field":"refresh_token","code":"invalid"}],"message":"Bad Request"}`},
		{"bad grant", url.Values{"client_id": {DefaultClientID}, "client_secret": {DefaultClientSecret}, "grant_type": {"password"}},
			`{"errors":[{"resource":"Application","field":"grant_type","code":"invalid"}],"message":"Bad Request"}`},
	}
	for _, tt := range tests {
		resp, err := http.PostForm(ts.URL+"/oauth/token", tt.form)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		eq(t, tt.name+" status", resp.StatusCode, http.StatusBadRequest)
		eq(t, tt.name+" body", string(body), tt.body)
	}
}

func TestProviderConfigAndIDs(t *testing.T) {
	s := New(Config{})
	pc := ProviderConfig("http://fake")
	eq(t, "client", pc.ClientID, DefaultClientID)
	eq(t, "secret", pc.ClientSecret, DefaultClientSecret)
	eq(t, "api", pc.APIBase, "http://fake/api/v3")
	eq(t, "token", pc.TokenURL, "http://fake/oauth/token")
	eq(t, "verify token", pc.VerifyToken, VerifyToken)
	// The oldest recording starts 2013-12-12T19:36:41Z.
	if oldest := time.Now().Add(-pc.BackfillDepth); !oldest.Before(time.Date(2013, 12, 12, 19, 36, 41, 0, time.UTC)) {
		t.Errorf("backfill reaches back to %s only", oldest)
	}
	got := s.ActivityIDs()
	eq(t, "activities", len(got), 32)
	// oldest first: 99895560 (2013), 1946417534 (2018), then the oldest
	// list item, 15696417447 (2025-09-04), ... the newest, 16181809559.
	eq(t, "first", got[0], 99895560)
	eq(t, "second", got[1], 1946417534)
	eq(t, "third", got[2], 15696417447)
	eq(t, "last", got[31], 16181809559)
}
