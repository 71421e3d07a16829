package googlefit

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
	return s, ts, s.Token("").AccessToken
}

func do(t *testing.T, method, u, token, body string) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
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
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

type page struct {
	MinStartTimeNs string            `json:"minStartTimeNs"`
	MaxEndTimeNs   string            `json:"maxEndTimeNs"`
	DataSourceID   string            `json:"dataSourceId"`
	Point          []json.RawMessage `json:"point"`
	NextPageToken  string            `json:"nextPageToken"`
}

// all reads every page of a dataset.
func all(t *testing.T, base, token, source, rng, limit string) ([]json.RawMessage, int) {
	t.Helper()
	var pts []json.RawMessage
	pages := 0
	tok := ""
	for {
		q := url.Values{}
		if limit != "" {
			q.Set("limit", limit)
		}
		if tok != "" {
			q.Set("pageToken", tok)
		}
		status, _, body := do(t, http.MethodGet, base+APIPath+"/users/me/dataSources/"+url.PathEscape(source)+"/datasets/"+rng+"?"+q.Encode(), token, "")
		if status != http.StatusOK {
			t.Fatalf("status %d: %s", status, body)
		}
		var pg page
		if err := json.Unmarshal(body, &pg); err != nil {
			t.Fatal(err)
		}
		pages++
		eq(t, "dataSourceId", pg.DataSourceID, source)
		// Pages run backwards: this page's points end before the last one's.
		pts = append(append([]json.RawMessage(nil), pg.Point...), pts...)
		if pg.NextPageToken == "" {
			return pts, pages
		}
		tok = pg.NextPageToken
	}
}

func eq[T comparable](t testing.TB, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

// fixturePoints returns a fixture's points, compacted as served.
func fixturePoints(t *testing.T, file string) []string {
	t.Helper()
	b, err := fs.ReadFile(fixtures.FS, "google_fit/"+file)
	if err != nil {
		t.Fatal(err)
	}
	var ds struct {
		Point []json.RawMessage `json:"point"`
	}
	if err := json.Unmarshal(b, &ds); err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(ds.Point))
	for i, p := range ds.Point {
		out[i] = string(bytes.TrimSpace(p))
	}
	return out
}

// TestDatasetPaging serves every recorded point once, in the recorded
// (end time) order, at its recorded time, pages running backwards.
func TestDatasetPaging(t *testing.T) {
	_, ts, tok := newTest(t, Config{PageSize: 2})
	// 2015-01-01T00:00Z to 2016-01-01T00:00Z
	whole := "1420070400000000000-1451606400000000000"
	tests := []struct {
		source, file, limit string
		pages               int
	}{
		{srcActivitySegments, "merge_activity_segments.json", "", 2},
		{srcHeartRate, "merge_heart_rate.json", "", 1},
		{srcWeight, "merge_weight.json", "", 2},
		{srcWeight, "merge_weight.json", "1", 3},
	}
	for _, tt := range tests {
		pts, pages := all(t, ts.URL, tok, tt.source, whole, tt.limit)
		want := fixturePoints(t, tt.file)
		eq(t, tt.file+" points", len(pts), len(want))
		eq(t, tt.file+" pages", pages, tt.pages)
		for i := range min(len(pts), len(want)) {
			eq(t, tt.file+" point", string(pts[i]), want[i])
		}
	}
	// Only points overlapping the range: merge_weight.json point[2] runs
	// 1436325420000000000 to 1436325430020000000.
	pts, _ := all(t, ts.URL, tok, srcWeight, "1436325425000000000-1436325425000000000", "")
	eq(t, "overlapping points", len(pts), 1)
	pts, _ = all(t, ts.URL, tok, srcWeight, "1436325431000000000-1436325500000000000", "")
	eq(t, "points after", len(pts), 0)
}

func TestDatasetErrors(t *testing.T) {
	_, ts, tok := newTest(t, Config{})
	base := ts.URL + APIPath + "/users/me/dataSources/"
	tests := []struct {
		name, url string
		status    int
		want      string
	}{
		{"unknown stream", base + "derived:com.google.step_count.delta:com.google.android.gms:estimated_steps/datasets/0-1", 400, "datasource not found: derived:com.google.step_count.delta"},
		{"bad range", base + url.PathEscape(srcWeight) + "/datasets/yesterday", 400, "Invalid dataset id"},
		{"bad token", base + url.PathEscape(srcWeight) + "/datasets/0-1?pageToken=nope", 400, "Invalid page token"},
	}
	for _, tt := range tests {
		status, _, body := do(t, http.MethodGet, tt.url, tok, "")
		eq(t, tt.name+" status", status, tt.status)
		if !strings.Contains(string(body), tt.want) || !strings.Contains(string(body), `"reason":"invalidArgument"`) {
			t.Errorf("%s: body %s", tt.name, body)
		}
	}
}

func TestSleepUser(t *testing.T) {
	s, ts, _ := newTest(t, Config{})
	tok := s.Token(SleepUserID).AccessToken
	pts, _ := all(t, ts.URL, tok, srcActivitySegments, "1420070400000000000-1451606400000000000", "")
	want := fixturePoints(t, "merge_activity_segments_only_sleep.json")
	eq(t, "points", len(pts), 1)
	eq(t, "point", string(pts[0]), want[0])
}

func TestAggregate(t *testing.T) {
	_, ts, tok := newTest(t, Config{})
	u := ts.URL + APIPath + "/users/me/dataset:aggregate"
	// 2015-01-30T00:00Z, two days.
	body := `{"aggregateBy":[{"dataTypeName":"com.google.heart_rate.bpm"},{"dataTypeName":"com.google.step_count.delta"},{"dataSourceId":"` + srcActivitySegments + `"}],
		"bucketByTime":{"durationMillis":"86400000"},"startTimeMillis":"1422576000000","endTimeMillis":1422748800000}`
	status, _, resp := do(t, http.MethodPost, u, tok, body)
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, resp)
	}
	var ar struct {
		Bucket []struct {
			StartTimeMillis string `json:"startTimeMillis"`
			EndTimeMillis   string `json:"endTimeMillis"`
			Dataset         []struct {
				DataSourceID string `json:"dataSourceId"`
				Point        []struct {
					DataTypeName string `json:"dataTypeName"`
					Value        []struct {
						FpVal *float64 `json:"fpVal"`
					} `json:"value"`
				} `json:"point"`
			} `json:"dataset"`
		} `json:"bucket"`
	}
	if err := json.Unmarshal(resp, &ar); err != nil {
		t.Fatal(err)
	}
	eq(t, "buckets", len(ar.Bucket), 2)
	eq(t, "bucket 0 start", ar.Bucket[0].StartTimeMillis, "1422576000000")
	eq(t, "bucket 1 end", ar.Bucket[1].EndTimeMillis, "1422748800000")
	eq(t, "datasets", len(ar.Bucket[0].Dataset), 3)
	hr := ar.Bucket[0].Dataset[0]
	eq(t, "hr source", hr.DataSourceID, "derived:com.google.heart_rate.summary:com.google.android.gms:aggregated")
	eq(t, "hr points", len(hr.Point), 1)
	// merge_heart_rate.json point[0]: 54 bpm on 2015-01-30, the only one.
	for i, want := range []float64{54, 54, 54} {
		eq(t, "hr value", *hr.Point[0].Value[i].FpVal, want)
	}
	eq(t, "no steps", len(ar.Bucket[0].Dataset[1].Point), 0)
	eq(t, "no activity", len(ar.Bucket[0].Dataset[2].Point), 0)
	eq(t, "next day empty", len(ar.Bucket[1].Dataset[0].Point), 0)

	bad := []struct {
		name, body, want string
	}{
		{"no aggregateBy", `{"bucketByTime":{"durationMillis":"1"},"startTimeMillis":"0","endTimeMillis":"10"}`, "Require at least one aggregateby"},
		{"too long", `{"aggregateBy":[{"dataTypeName":"com.google.weight"}],"bucketByTime":{"durationMillis":"86400000"},"startTimeMillis":"0","endTimeMillis":"8640000000"}`, "aggregate duration too large"},
		{"two strategies", `{"aggregateBy":[{"dataTypeName":"com.google.weight"}],"bucketByTime":{"durationMillis":"1"},"bucketBySession":{},"startTimeMillis":"0","endTimeMillis":"10"}`, "exactly one bucketing strategy"},
		{"unknown source", `{"aggregateBy":[{"dataSourceId":"raw:x:y:z"}],"bucketByTime":{"durationMillis":"1"},"startTimeMillis":"0","endTimeMillis":"10"}`, "datasource not found"},
	}
	for _, tt := range bad {
		status, _, resp := do(t, http.MethodPost, u, tok, tt.body)
		eq(t, tt.name+" status", status, http.StatusBadRequest)
		if !strings.Contains(string(resp), tt.want) {
			t.Errorf("%s: %s", tt.name, resp)
		}
	}
	status, _, resp = do(t, http.MethodPost, u, tok, `{"aggregateBy":[{"dataTypeName":"com.google.step_count.delta"}],"bucketBySession":{"minDurationMillis":"0"},"startTimeMillis":"0","endTimeMillis":"10"}`)
	eq(t, "by session", status, http.StatusOK)
	eq(t, "by session body", string(resp), `{"bucket":[]}`)
}

func TestSessions(t *testing.T) {
	_, ts, tok := newTest(t, Config{})
	u := ts.URL + APIPath + "/users/me/sessions"
	status, _, body := do(t, http.MethodGet, u+"?startTime=2015-01-01T00:00:00Z&endTime=2015-02-01T00:00:00Z&activityType=72", tok, "")
	eq(t, "status", status, http.StatusOK)
	eq(t, "body", string(body), `{"deletedSession":[],"session":[]}`)
	status, _, _ = do(t, http.MethodGet, u+"?startTime=yesterday", tok, "")
	eq(t, "bad time", status, http.StatusBadRequest)
}

// TestTokens: refresh tokens only with access_type=offline, and they are
// not rotated.
func TestTokens(t *testing.T) {
	_, ts, _ := newTest(t, Config{ClientID: "c", ClientSecret: "s"})
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	code := func(extra url.Values) string {
		q := url.Values{"response_type": {"code"}, "client_id": {"c"}, "redirect_uri": {"http://127.0.0.1:1/cb"}, "scope": {"openid"}}
		for k, v := range extra {
			q[k] = v
		}
		resp, err := noFollow.Get(ts.URL + AuthorizePath + "?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, err := url.Parse(resp.Header.Get("Location"))
		if err != nil {
			t.Fatal(err)
		}
		return loc.Query().Get("code")
	}
	token := func(form url.Values) (int, map[string]any) {
		resp, err := http.PostForm(ts.URL+TokenPath, form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, m
	}
	exchange := func(c string) map[string]any {
		status, m := token(url.Values{"grant_type": {"authorization_code"}, "code": {c}, "redirect_uri": {"http://127.0.0.1:1/cb"}, "client_id": {"c"}, "client_secret": {"s"}})
		eq(t, "exchange status", status, http.StatusOK)
		return m
	}
	online := exchange(code(nil))
	if _, ok := online["refresh_token"]; ok {
		t.Error("refresh token without access_type=offline")
	}
	eq(t, "expires_in", online["expires_in"].(float64), 3599)
	offline := exchange(code(url.Values{"access_type": {"offline"}}))
	rt, _ := offline["refresh_token"].(string)
	if rt == "" {
		t.Fatal("no refresh token with access_type=offline")
	}
	for i := range 2 {
		status, m := token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {"c"}, "client_secret": {"s"}})
		eq(t, "refresh status", status, http.StatusOK)
		if _, ok := m["refresh_token"]; ok {
			t.Errorf("refresh %d rotated the refresh token", i)
		}
	}
	status, m := token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"1//made-up"}, "client_id": {"c"}, "client_secret": {"s"}})
	eq(t, "unknown refresh token", status, http.StatusBadRequest)
	eq(t, "error", m["error"].(string), "invalid_grant")

	// Revoked, the refresh token is gone.
	resp, err := http.PostForm(ts.URL+RevokePath, url.Values{"token": {rt}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	eq(t, "revoke", resp.StatusCode, http.StatusOK)
	status, _ = token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {"c"}, "client_secret": {"s"}})
	eq(t, "revoked refresh token", status, http.StatusBadRequest)
}

func TestAPIErrors(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	s, ts, tok := newTest(t, Config{Now: func() time.Time { return now }, TokenLifetime: time.Hour})
	u := ts.URL + UserInfoPath
	status, _, body := do(t, http.MethodGet, u, tok, "")
	eq(t, "userinfo", status, http.StatusOK)
	eq(t, "userinfo body", string(body), `{"sub":"`+DefaultUserID+`"}`)

	status, _, body = do(t, http.MethodGet, u, "wrong", "")
	eq(t, "bad token", status, http.StatusUnauthorized)
	if !strings.Contains(string(body), `"reason":"authError"`) || !strings.Contains(string(body), `"status":"UNAUTHENTICATED"`) {
		t.Errorf("401 body %s", body)
	}

	s.InjectRateLimit(1, 0)
	status, hdr, body := do(t, http.MethodGet, u, tok, "")
	eq(t, "rate limited", status, http.StatusTooManyRequests)
	eq(t, "no Retry-After", hdr.Get("Retry-After"), "")
	if !strings.Contains(string(body), `"reason":"rateLimitExceeded"`) || !strings.Contains(string(body), "RESOURCE_EXHAUSTED") {
		t.Errorf("429 body %s", body)
	}
	s.InjectRateLimit(2, 90*time.Second)
	status, _, _ = do(t, http.MethodGet, u, tok, "")
	eq(t, "before the injected one", status, http.StatusOK)
	status, hdr, _ = do(t, http.MethodGet, u, tok, "")
	eq(t, "injected", status, http.StatusTooManyRequests)
	eq(t, "Retry-After", hdr.Get("Retry-After"), "90")
	eq(t, "requests", s.APIRequests(), 5)
}

func TestRateLimit403(t *testing.T) {
	_, ts, tok := newTest(t, Config{RateLimitOn: 1, RateLimitStatus: http.StatusForbidden})
	status, _, body := do(t, http.MethodGet, ts.URL+UserInfoPath, tok, "")
	eq(t, "status", status, http.StatusForbidden)
	if !strings.Contains(string(body), `"reason":"rateLimitExceeded"`) {
		t.Errorf("body %s", body)
	}
}

func TestProviderConfig(t *testing.T) {
	cfg := ProviderConfig("http://127.0.0.1:9/sandbox/google/")
	eq(t, "AuthURL", cfg.AuthURL, "http://127.0.0.1:9/sandbox/google/o/oauth2/v2/auth")
	eq(t, "TokenURL", cfg.TokenURL, "http://127.0.0.1:9/sandbox/google/token")
	eq(t, "UserInfoURL", cfg.UserInfoURL, "http://127.0.0.1:9/sandbox/google/v1/userinfo")
	eq(t, "APIBase", cfg.APIBase, "http://127.0.0.1:9/sandbox/google/fitness/v1")
	eq(t, "ClientID", cfg.ClientID, SandboxClientID)
	// The backfill reaches the first recorded day (2015-01-01).
	if time.Now().Add(-cfg.BackfillDepth).After(time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("BackfillDepth %v does not reach 2015-01-01", cfg.BackfillDepth)
	}
}
