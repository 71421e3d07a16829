// Package fitbit is a fake of the Fitbit Web API for tests and local runs:
// the OAuth 2.0 authorization code flow with PKCE and rotating refresh
// tokens, the profile, the day summaries, intraday heart rate and steps,
// sleep v1.2 and body logs serving the recorded fixtures of
// internal/sandbox/fixtures/fitbit at their real (2015 and 2016) dates, the
// subscription endpoints, and a notification sender (PushAll) that signs
// like Fitbit.
//
// Endpoints (Fitbit's paths; the authorize page is on www.fitbit.com and
// the rest on api.fitbit.com, both mounted at one base here):
//
//	GET  /oauth2/authorize      consents at once: 302 to redirect_uri?code&state
//	POST /oauth2/token          authorization_code and refresh_token grants, HTTP Basic
//	GET  /1/user/-/profile.json
//	GET  /1/user/-/activities/date/{day}.json
//	GET  /1/user/-/activities/{heart,steps}/date/{day}/1d/1min.json
//	GET  /1.2/user/-/sleep/date/{day}.json
//	GET  /1.2/user/-/sleep/date/{start}/{end}.json         at most 100 days
//	GET  /1/user/-/body/log/{weight,fat}/date/{start}/{end}.json  at most 31 days
//	POST /1/user/-/[{collection}/]apiSubscriptions/{id}.json
//	GET  /1/user/-/[{collection}/]apiSubscriptions.json
//
// Days without a recording are answered the way Fitbit answers a day with
// nothing measured: a summary of zeros with an estimated BMR, empty intraday
// series, no logs. The recorded day summary activities_date_empty.json names
// no date, so it is not served.
//
// Every answer of the API carries Fitbit's rate limit headers
// (Fitbit-Rate-Limit-Limit 150, -Remaining, -Reset in seconds to the next
// full hour); InjectRateLimit makes a chosen request answer 429. Errors have
// Fitbit's shape, {"errors":[{"errorType":...,"message":...}],"success":false}:
// 401 expired_token / invalid_token, 403 insufficient_scope, 400 validation.
package fitbit

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// Defaults for Config. The client credentials are what ProviderConfig
// gives the provider and what PushAll signs with.
const (
	DefaultClientID      = "23SBXF"
	DefaultClientSecret  = "fitbit-sandbox-client-secret"
	DefaultUserID        = "7QSBX9"
	DefaultTimezone      = "America/Los_Angeles"
	DefaultTokenLifetime = 8 * time.Hour // Fitbit's expires_in is 28800
	// RateLimit is Fitbit's hourly quota per user, sent in
	// Fitbit-Rate-Limit-Limit.
	RateLimit = 150
	// codeLifetime is how long an authorization code can be exchanged
	// (Fitbit: 10 minutes).
	codeLifetime = 10 * time.Minute
)

// AllScopes are the scopes the fake knows; Token grants them all.
var AllScopes = []string{"activity", "heartrate", "location", "nutrition", "oxygen_saturation", "profile",
	"respiratory_rate", "settings", "sleep", "social", "temperature", "weight"}

// Config configures the fake. Zero fields take the defaults.
type Config struct {
	// ClientID and ClientSecret are the only client credentials accepted.
	// Default DefaultClientID and DefaultClientSecret.
	ClientID, ClientSecret string
	// UserID is the Fitbit user id (encodedId) of the sandbox user who
	// consents. Default DefaultUserID.
	UserID string
	// Timezone is the IANA zone of the profile. Default DefaultTimezone.
	Timezone string
	// TokenLifetime is how long an access token is accepted. Default
	// DefaultTokenLifetime (8 h).
	TokenLifetime time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// RateLimitOn makes the Nth API request (1-based, counting /1/ and
	// /1.2/ requests) answer 429. Zero: never.
	RateLimitOn int
	// Logger receives one line per refused request. Default: discard.
	Logger *slog.Logger
}

// Server is the fake Fitbit. It is an http.Handler and safe for concurrent
// use.
type Server struct {
	cfg     Config
	log     *slog.Logger
	mux     *http.ServeMux
	data    *recorded
	loadErr error

	mu            sync.Mutex
	codes         map[string]grant
	access        map[string]accessToken
	refresh       map[string]grant
	subscriptions map[string]map[string]string // user → collection ("" for all) → id
	apiRequests   int
	rateLimitAt   int
	hourStart     time.Time
	hourRequests  int
}

// grant is what an authorization code or refresh token stands for.
type grant struct {
	user, clientID, redirectURI, scope, challenge string
	expires                                       time.Time // codes only
}

type accessToken struct {
	user    string
	scope   string
	expires time.Time
}

// New returns a fake Fitbit serving the embedded fixtures. If the fixtures
// cannot be loaded (a broken build), the data endpoints answer 500 and Err
// says why.
func New(cfg Config) *Server {
	cfg.ClientID = cmp.Or(cfg.ClientID, DefaultClientID)
	cfg.ClientSecret = cmp.Or(cfg.ClientSecret, DefaultClientSecret)
	cfg.UserID = cmp.Or(cfg.UserID, DefaultUserID)
	cfg.Timezone = cmp.Or(cfg.Timezone, DefaultTimezone)
	cfg.TokenLifetime = cmp.Or(cfg.TokenLifetime, DefaultTokenLifetime)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		cfg:           cfg,
		log:           log,
		codes:         make(map[string]grant),
		access:        make(map[string]accessToken),
		refresh:       make(map[string]grant),
		subscriptions: make(map[string]map[string]string),
		rateLimitAt:   cfg.RateLimitOn,
	}
	s.data, s.loadErr = loadRecorded()
	s.mux = s.routes()
	return s
}

func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /oauth2/authorize", s.authorize)
	mux.HandleFunc("POST /oauth2/token", s.token)
	mux.HandleFunc("GET /1/user/{user}/profile.json", s.api("profile", s.profile))
	mux.HandleFunc("GET /1/user/{user}/activities/date/{file}", s.api("activity", s.activitiesDay))
	mux.HandleFunc("GET /1/user/{user}/activities/{resource}/date/{date}/1d/{file}", s.api("", s.intraday))
	mux.HandleFunc("GET /1.2/user/{user}/sleep/date/{file}", s.api("sleep", s.sleepDay))
	mux.HandleFunc("GET /1.2/user/{user}/sleep/date/{start}/{file}", s.api("sleep", s.sleepRange))
	mux.HandleFunc("GET /1/user/{user}/body/log/{kind}/date/{start}/{file}", s.api("weight", s.bodyLogs))
	mux.HandleFunc("POST /1/user/{user}/apiSubscriptions/{file}", s.api("", s.subscribe))
	mux.HandleFunc("POST /1/user/{user}/{collection}/apiSubscriptions/{file}", s.api("", s.subscribe))
	mux.HandleFunc("GET /1/user/{user}/apiSubscriptions.json", s.api("", s.listSubscriptions))
	mux.HandleFunc("GET /1/user/{user}/{collection}/apiSubscriptions.json", s.api("", s.listSubscriptions))
	return mux
}

// ServeHTTP serves the fake API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Err reports a failure to load the embedded fixtures.
func (s *Server) Err() error { return s.loadErr }

// Token issues a fresh token pair with every scope for a sandbox user
// (default Config.UserID) without the browser round trip. Its Extra holds
// user_id and scope as the token endpoint's answer would.
func (s *Server) Token(user string) *oauth2.Token {
	s.mu.Lock()
	defer s.mu.Unlock()
	tr := s.issueLocked(grant{user: cmp.Or(user, s.cfg.UserID), clientID: s.cfg.ClientID, scope: joinScopes(AllScopes)})
	tok := &oauth2.Token{
		AccessToken:  tr.AccessToken,
		RefreshToken: tr.RefreshToken,
		TokenType:    "Bearer",
		Expiry:       s.cfg.Now().Add(s.cfg.TokenLifetime),
	}
	return tok.WithExtra(map[string]any{"user_id": tr.UserID, "scope": tr.Scope})
}

// InjectRateLimit makes the nth API request from now (1 = the next one)
// answer 429.
func (s *Server) InjectRateLimit(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rateLimitAt = s.apiRequests + n
}

// APIRequests is the number of API requests (not OAuth) served so far.
func (s *Server) APIRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.apiRequests
}

// Subscriptions returns the subscriptions of user: subscription id by
// collection ("" for all collections).
func (s *Server) Subscriptions(user string) map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]string, len(s.subscriptions[user]))
	for k, v := range s.subscriptions[user] {
		out[k] = v
	}
	return out
}

// randomToken returns 32 random bytes in hex.
func randomToken() string {
	b := make([]byte, 32)
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
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// apiError is one entry of Fitbit's error body.
type apiError struct {
	ErrorType string `json:"errorType"`
	FieldName string `json:"fieldName,omitempty"`
	Message   string `json:"message"`
}

// fail writes Fitbit's error body.
func fail(w http.ResponseWriter, status int, errs ...apiError) {
	writeJSON(w, status, map[string]any{"errors": errs, "success": false})
}
