// Package whoop is a fake WHOOP Developer API v2 for tests and local runs:
// the OAuth 2.0 authorization-code flow (client credentials in the form
// body, refresh tokens only with the "offline" scope, rotated on every
// refresh), the v2 collections and single items serving the recorded
// fixtures of internal/sandbox/fixtures/whoop at their real (2022) dates
// with WHOOP's nextToken paging, the X-RateLimit-* headers, and signed
// webhooks (PushAll).
//
// Endpoints (the real paths, relative to where the fake is mounted):
//
//	GET    /oauth/oauth2/auth                      consents at once: 302 to redirect_uri?code&state&scope
//	POST   /oauth/oauth2/token                     authorization_code and refresh_token grants
//	GET    /developer/v2/user/profile/basic
//	GET    /developer/v2/user/measurement/body
//	DELETE /developer/v2/user/access               revokes the user's tokens
//	GET    /developer/v2/cycle                     ?start&end&limit&nextToken
//	GET    /developer/v2/cycle/{cycleId}
//	GET    /developer/v2/cycle/{cycleId}/recovery
//	GET    /developer/v2/cycle/{cycleId}/sleep
//	GET    /developer/v2/recovery                  ?start&end&limit&nextToken
//	GET    /developer/v2/activity/sleep            ?start&end&limit&nextToken
//	GET    /developer/v2/activity/sleep/{sleepId}
//	GET    /developer/v2/activity/workout          ?start&end&limit&nextToken
//	GET    /developer/v2/activity/workout/{workoutId}
//
// Every sandbox user sees the same recorded data. The authorize endpoint
// takes a non-standard "user" parameter (an integer) to pick which sandbox
// user consents (default Config.UserID); the profile's user_id is that
// user.
//
// The shared fixtures hold cycles, recoveries and sleeps. WHOOP's workout
// and body measurement have no fixture file; the fake serves the v2 API
// reference's documented examples for them (see examples.go), assembled the
// way the fixtures were.
package whoop

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

	whoopsrc "github.com/wearbridge/wearbridge/internal/source/whoop"
)

// Defaults for Config.
const (
	// DefaultClientID and DefaultClientSecret are the sandbox app's
	// credentials; the secret also signs the webhooks.
	DefaultClientID     = "whoop-sandbox-client"
	DefaultClientSecret = "whoop-sandbox-secret"
	// DefaultUserID is the user id of the recorded fixtures.
	DefaultUserID int64 = 10129
	// DefaultPageSize is WHOOP's default page size when no limit is given.
	DefaultPageSize = 10
	// MaxPageSize is the largest limit WHOOP accepts.
	MaxPageSize          = 25
	DefaultTokenLifetime = time.Hour
	DefaultRetryAfter    = 60 * time.Second
	// codeLifetime is how long an authorization code can be exchanged.
	codeLifetime = 10 * time.Minute
	// minStateLength is the shortest state the fake accepts. WHOOP's
	// /oauth/oauth2/{auth,token} paths are ORY Hydra's, and Hydra refuses a
	// state under 8 characters (invalid_state); WHOOP does not document the
	// rule, so this is inferred.
	minStateLength = 8
)

// The rate limit WHOOP reports (developer.whoop.com/docs/developing/rate-limiting).
const (
	rateLimitHeader = "100, 100;window=60, 10000;window=86400"
	minuteLimit     = 100
)

// Config configures the fake. Zero fields take the defaults.
type Config struct {
	// ClientID and ClientSecret are the only client credentials the token
	// endpoint accepts. Default DefaultClientID and DefaultClientSecret.
	ClientID, ClientSecret string
	// UserID is the sandbox user who consents when authorize gets no
	// "user" parameter. Default DefaultUserID.
	UserID int64
	// TokenLifetime is how long an access token is accepted. Default 1 h.
	TokenLifetime time.Duration
	// RateLimitOn makes the Nth API request (1-based, counting
	// /developer/ requests only) answer 429. Zero: never.
	RateLimitOn int
	// RetryAfter is the X-RateLimit-Reset of an injected 429. Default
	// DefaultRetryAfter (60 s).
	RetryAfter time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger receives one line per refused request. Default: discard.
	Logger *slog.Logger
}

// Server is the fake WHOOP. It is an http.Handler and safe for concurrent
// use.
type Server struct {
	cfg     Config
	log     *slog.Logger
	mux     *http.ServeMux
	loadErr error

	mu          sync.Mutex
	data        map[string][]doc // by collection, sorted by start, newest first
	codes       map[string]grant
	access      map[string]accessToken
	refresh     map[string]grant
	apiRequests int
	rateLimitAt int
	retryAfter  time.Duration
	window      time.Time // start of the current rate limit minute
	inWindow    int
}

// grant is what an authorization code or refresh token stands for.
type grant struct {
	user                       int64
	clientID, redirectURI      string
	scope                      string
	challenge, challengeMethod string
	expires                    time.Time // codes only
}

type accessToken struct {
	user    int64
	expires time.Time
}

// New returns a fake WHOOP serving the embedded fixtures.
//
// If the fixtures cannot be loaded (a broken build), the data endpoints
// answer 500 and Err says why.
func New(cfg Config) *Server {
	cfg.ClientID = cmp.Or(cfg.ClientID, DefaultClientID)
	cfg.ClientSecret = cmp.Or(cfg.ClientSecret, DefaultClientSecret)
	cfg.UserID = cmp.Or(cfg.UserID, DefaultUserID)
	cfg.TokenLifetime = cmp.Or(cfg.TokenLifetime, DefaultTokenLifetime)
	cfg.RetryAfter = cmp.Or(cfg.RetryAfter, DefaultRetryAfter)
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
		codes:       make(map[string]grant),
		access:      make(map[string]accessToken),
		refresh:     make(map[string]grant),
		rateLimitAt: cfg.RateLimitOn,
		retryAfter:  cfg.RetryAfter,
	}
	s.data, s.loadErr = loadFixtures()
	s.mux = s.routes()
	return s
}

func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /oauth/oauth2/auth", s.authorize)
	mux.HandleFunc("POST /oauth/oauth2/token", s.token)
	mux.HandleFunc("GET /developer/v2/user/profile/basic", s.api(s.profile))
	mux.HandleFunc("GET /developer/v2/user/measurement/body", s.api(s.bodyMeasurement))
	mux.HandleFunc("DELETE /developer/v2/user/access", s.api(s.revokeAccess))
	mux.HandleFunc("GET /developer/v2/cycle", s.api(s.list(collCycle)))
	mux.HandleFunc("GET /developer/v2/cycle/{id}", s.api(s.cycleByID))
	mux.HandleFunc("GET /developer/v2/cycle/{id}/recovery", s.api(s.cycleRecovery))
	mux.HandleFunc("GET /developer/v2/cycle/{id}/sleep", s.api(s.cycleSleep))
	mux.HandleFunc("GET /developer/v2/recovery", s.api(s.list(collRecovery)))
	mux.HandleFunc("GET /developer/v2/activity/sleep", s.api(s.list(collSleep)))
	mux.HandleFunc("GET /developer/v2/activity/sleep/{id}", s.api(s.byID(collSleep)))
	mux.HandleFunc("GET /developer/v2/activity/workout", s.api(s.list(collWorkout)))
	mux.HandleFunc("GET /developer/v2/activity/workout/{id}", s.api(s.byID(collWorkout)))
	return mux
}

// ServeHTTP serves the fake API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Err reports a failure to load the embedded fixtures.
func (s *Server) Err() error { return s.loadErr }

// ProviderConfig returns the provider settings that point at a fake
// mounted at base (no trailing slash) with the default credentials. Its
// backfill reaches the recorded data (April 2022).
func ProviderConfig(base string) whoopsrc.Config {
	return whoopsrc.Config{
		ClientID:      DefaultClientID,
		ClientSecret:  DefaultClientSecret,
		AuthURL:       base + "/oauth/oauth2/auth",
		TokenURL:      base + "/oauth/oauth2/token",
		APIBase:       base + "/developer",
		BackfillDepth: time.Since(firstRecordedDay) + 24*time.Hour,
	}
}

// firstRecordedDay is the first local day of the recorded data: the cycle
// of 2022-04-24T02:25:44.774Z at -05:00 began on 2022-04-23.
var firstRecordedDay = time.Date(2022, time.April, 23, 0, 0, 0, 0, time.UTC)

// Token issues a fresh token pair (with the offline scope) for a sandbox
// user without the browser round trip, as the token endpoint would. user 0
// means Config.UserID.
func (s *Server) Token(user int64) *oauth2.Token {
	s.mu.Lock()
	defer s.mu.Unlock()
	tok := s.issueLocked(grant{user: cmp.Or(user, s.cfg.UserID), clientID: s.cfg.ClientID, scope: "offline read:recovery read:cycles read:sleep read:workout read:profile read:body_measurement"})
	return &oauth2.Token{
		AccessToken:  tok.AccessToken,
		RefreshToken: tok.RefreshToken,
		TokenType:    "Bearer",
		Expiry:       s.cfg.Now().Add(s.cfg.TokenLifetime),
	}
}

// InjectRateLimit makes the nth API request from now (1 = the next one)
// answer 429 with X-RateLimit-Reset retryAfter (zero: Config.RetryAfter).
func (s *Server) InjectRateLimit(n int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rateLimitAt = s.apiRequests + n
	s.retryAfter = cmp.Or(retryAfter, s.cfg.RetryAfter)
}

// APIRequests is the number of /developer/ requests served so far.
func (s *Server) APIRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.apiRequests
}

// randomToken returns 32 random bytes in hex.
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// randomUUID returns a random UUID v4.
func randomUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
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
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// apiError writes an error body.
func apiError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
