// Package strava is a fake Strava API v3 for tests and local runs: the
// OAuth 2.0 web flow with Strava's token endpoint (client credentials in
// the body, the athlete in the code exchange's answer, rotating refresh
// tokens, Strava-shaped faults), the athlete's activity list with
// page/per_page paging, the detailed activity, its laps and streams, all
// serving the recorded fixtures of internal/sandbox/fixtures/strava at
// their real dates (2013 to 2025), and Strava's rate-limit headers.
//
// Endpoints (the real paths, under the mount point):
//
//	GET  /oauth/authorize                   consents at once: 302 to redirect_uri?state&code&scope
//	POST /oauth/token                       authorization_code and refresh_token grants
//	POST /api/v3/oauth/token                the same (Strava documents both)
//	POST /oauth/deauthorize                 ?access_token=...: revokes the whole grant
//	GET  /api/v3/athlete                    the token's athlete
//	GET  /api/v3/athlete/activities         ?before&after&page&per_page
//	GET  /api/v3/activities/{id}
//	GET  /api/v3/activities/{id}/laps
//	GET  /api/v3/activities/{id}/streams    ?keys&key_by_type
//
// What is served: the 30 recorded SummaryActivities of
// athlete_activities_page1.json and the two recorded DetailedActivities
// (activity_1946417534.json, activity_detailed.json) form the list, newest
// first. GET /activities/{id} answers the detailed recording where there is
// one and the list item (a summary, resource_state 2) otherwise, as no
// detail was recorded for those. Laps: activity_laps.json for its activity
// (15605032352, which has no other recording), the detailed activity's own
// laps, or []. Streams: activity_streams_1946417534.json for that activity
// (recorded without keys=, it holds the distance stream only, so the
// provider gets no time stream for it), {} for the others. Every sandbox
// athlete sees the same data. Athletes are identified by id only: there is
// no recorded athlete profile, so /athlete and the token response's
// athlete are the meta representation {"id", "resource_state": 1}.
//
// Refresh tokens rotate: every refresh answers a new refresh token, and a
// refresh token stays valid until a newer one of the same grant has been
// used (Strava's documented behaviour), after which it is refused.
package strava

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/oauth2"

	stravasrc "github.com/wearbridge/wearbridge/internal/source/strava"
)

// Defaults for Config, and the fake's fixed credentials.
const (
	// DefaultClientID and DefaultClientSecret are the client credentials
	// the fake accepts unless Config says otherwise.
	DefaultClientID     = "wearbridge-sandbox"
	DefaultClientSecret = "wearbridge-sandbox-secret"
	// DefaultAthleteID is the athlete who consents when authorize gets no
	// "user" parameter: the athlete of the recorded activity list.
	DefaultAthleteID int64 = 26462176
	// DefaultTokenLifetime is Strava's access-token lifetime.
	DefaultTokenLifetime = 6 * time.Hour
	// VerifyToken is the verify_token of the fake's push subscription;
	// PushAll sends it in the validation handshake.
	VerifyToken = "wearbridge-sandbox-verify-token"
	// SubscriptionID is the id of the fake's push subscription; PushAll's
	// events carry it.
	SubscriptionID int64 = 218400
	// codeLifetime is how long an authorization code can be exchanged.
	codeLifetime = 10 * time.Minute
	// defaultPerPage and maxPerPage are Strava's per_page default and cap.
	defaultPerPage = 30
	maxPerPage     = 200
)

// firstRecordedDay is the day of the oldest recorded activity
// (activity_detailed.json: start_date 2013-12-12T19:36:41Z).
var firstRecordedDay = time.Date(2013, time.December, 12, 0, 0, 0, 0, time.UTC)

// Strava's documented default limits: the overall limit (X-RateLimit-*) and
// the "non-upload" read limit (X-ReadRateLimit-*), per 15 minutes and per
// day.
var (
	defaultLimits     = [2]int{200, 2000}
	defaultReadLimits = [2]int{100, 1000}
)

// Config configures the fake. Zero fields take the defaults.
type Config struct {
	// ClientID and ClientSecret are the only client credentials accepted.
	// Default DefaultClientID and DefaultClientSecret.
	ClientID, ClientSecret string
	// AthleteID is the athlete who consents when authorize gets no "user"
	// parameter. Default DefaultAthleteID.
	AthleteID int64
	// TokenLifetime is how long an access token is accepted. Default
	// DefaultTokenLifetime (6 h).
	TokenLifetime time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Limits and ReadLimits are the 15-minute and daily limits reported in
	// X-RateLimit-Limit and X-ReadRateLimit-Limit. Default 200,2000 and
	// 100,1000 (Strava's documented defaults).
	Limits, ReadLimits [2]int
	// EnforceRateLimits answers 429 once a read limit is used up, as
	// Strava does. Default off: usage is only reported.
	EnforceRateLimits bool
	// RateLimitOn makes the Nth API request (1-based, counting /api/v3/
	// requests only) answer 429. Zero: never.
	RateLimitOn int
	// RateLimitDaily makes the injected 429 report the daily limit used up
	// (its reset is the next UTC midnight) instead of the 15-minute one.
	RateLimitDaily bool
	// Logger receives one line per refused request. Default: discard.
	Logger *slog.Logger
}

// Server is the fake Strava. It is an http.Handler and safe for concurrent
// use.
type Server struct {
	cfg     Config
	log     *slog.Logger
	mux     *http.ServeMux
	data    *recordings
	loadErr error

	mu          sync.Mutex
	codes       map[string]codeGrant
	grants      map[string]*grant
	access      map[string]accessToken
	refresh     map[string]refreshToken
	apiRequests int
	rateLimitAt int
	limitDaily  bool
	usage       usage
}

// New returns a fake Strava serving the embedded fixtures.
//
// If the fixtures cannot be loaded (a broken build), the data endpoints
// answer 500 and Err says why.
func New(cfg Config) *Server {
	cfg.ClientID = cmp.Or(cfg.ClientID, DefaultClientID)
	cfg.ClientSecret = cmp.Or(cfg.ClientSecret, DefaultClientSecret)
	cfg.AthleteID = cmp.Or(cfg.AthleteID, DefaultAthleteID)
	cfg.TokenLifetime = cmp.Or(cfg.TokenLifetime, DefaultTokenLifetime)
	if cfg.Limits == [2]int{} {
		cfg.Limits = defaultLimits
	}
	if cfg.ReadLimits == [2]int{} {
		cfg.ReadLimits = defaultReadLimits
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		cfg:         cfg,
		log:         log,
		codes:       make(map[string]codeGrant),
		grants:      make(map[string]*grant),
		access:      make(map[string]accessToken),
		refresh:     make(map[string]refreshToken),
		rateLimitAt: cfg.RateLimitOn,
		limitDaily:  cfg.RateLimitDaily,
	}
	s.data, s.loadErr = loadRecordings()
	s.mux = s.routes()
	return s
}

func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /oauth/authorize", s.authorize)
	mux.HandleFunc("POST /oauth/token", s.token)
	mux.HandleFunc("POST /api/v3/oauth/token", s.token)
	mux.HandleFunc("POST /oauth/deauthorize", s.deauthorize)
	mux.HandleFunc("GET /api/v3/athlete", s.api(false, s.athlete))
	mux.HandleFunc("GET /api/v3/athlete/activities", s.api(true, s.listActivities))
	mux.HandleFunc("GET /api/v3/activities/{id}", s.api(true, s.activity))
	mux.HandleFunc("GET /api/v3/activities/{id}/laps", s.api(true, s.laps))
	mux.HandleFunc("GET /api/v3/activities/{id}/streams", s.api(true, s.streams))
	return mux
}

// ServeHTTP serves the fake API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Err reports a failure to load the embedded fixtures.
func (s *Server) Err() error { return s.loadErr }

// Token issues a fresh token pair with the full scope for a sandbox
// athlete (0: Config.AthleteID) without the browser round trip.
func (s *Server) Token(athleteID int64) *oauth2.Token {
	return s.TokenWithScope(athleteID, "read,read_all,profile:read_all,activity:read_all")
}

// TokenWithScope is Token with the given comma-separated scope.
func (s *Server) TokenWithScope(athleteID int64, scope string) *oauth2.Token {
	s.mu.Lock()
	defer s.mu.Unlock()
	tr := s.newGrantLocked(cmp.Or(athleteID, s.cfg.AthleteID), s.cfg.ClientID, scope)
	return &oauth2.Token{
		AccessToken:  tr.AccessToken,
		RefreshToken: tr.RefreshToken,
		TokenType:    "Bearer",
		Expiry:       time.Unix(tr.ExpiresAt, 0),
	}
}

// InjectRateLimit makes the nth API request from now (1 = the next one)
// answer 429, reporting the daily limit used up when daily is set and the
// 15-minute one otherwise.
func (s *Server) InjectRateLimit(n int, daily bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rateLimitAt = s.apiRequests + n
	s.limitDaily = daily
}

// APIRequests is the number of /api/v3/ requests served so far.
func (s *Server) APIRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.apiRequests
}

// ActivityIDs returns the ids of the activities the fake serves, oldest
// first: the ones PushAll announces.
func (s *Server) ActivityIDs() []int64 {
	if s.data == nil {
		return nil
	}
	out := make([]int64, 0, len(s.data.list))
	for i := len(s.data.list) - 1; i >= 0; i-- {
		out = append(out, s.data.list[i].id)
	}
	return out
}

// ProviderConfig returns the provider settings for a fake mounted at base
// (a URL without a trailing slash) with the default Config: its client
// credentials, endpoints, push subscription, a backfill reaching the oldest
// recording (2013-12-12) and no request spacing.
func ProviderConfig(base string) stravasrc.Config {
	return stravasrc.Config{
		ClientID:       DefaultClientID,
		ClientSecret:   DefaultClientSecret,
		AuthURL:        base + "/oauth/authorize",
		TokenURL:       base + "/oauth/token",
		APIBase:        base + "/api/v3",
		VerifyToken:    VerifyToken,
		SubscriptionID: SubscriptionID,
		BackfillDepth:  time.Since(firstRecordedDay) + 24*time.Hour,
		RequestBudget:  -1,
	}
}

// randomToken returns 20 random bytes in hex, like Strava's 40-character
// tokens.
func randomToken() string {
	b := make([]byte, 20)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// writeJSON writes v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	writeRaw(w, status, body)
}

// writeRaw writes a JSON body as is.
func writeRaw(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// faultError is one entry of a Strava fault.
type faultError struct {
	Resource string `json:"resource"`
	Field    string `json:"field"`
	Code     string `json:"code"`
}

// fault writes Strava's error body {"message": ..., "errors": [...]}.
func fault(w http.ResponseWriter, status int, message, resource, field, code string) {
	writeJSON(w, status, map[string]any{
		"message": message,
		"errors":  []faultError{{Resource: resource, Field: field, Code: code}},
	})
}

// itoa formats an id.
func itoa(n int64) string { return strconv.FormatInt(n, 10) }
