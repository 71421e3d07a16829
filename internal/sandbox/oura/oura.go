// Package oura is a fake Oura API v2 for tests and local runs: the OAuth
// 2.0 authorization-code flow with rotating refresh tokens, and the user
// collections serving the recorded fixtures of
// internal/sandbox/fixtures/oura at their real (2024) dates, with
// next_token paging.
//
// Endpoints (the real paths):
//
//	GET  /oauth/authorize    consents at once: 302 to redirect_uri?code&state
//	POST /oauth/token        authorization_code and refresh_token grants
//	GET  /oauth/revoke       ?access_token=...
//	GET  /v2/usercollection/personal_info
//	GET  /v2/usercollection/{collection}       sleep, daily_sleep, daily_activity,
//	                                           daily_readiness, daily_spo2,
//	                                           heartrate, session, workout
//	GET  /v2/usercollection/{collection}/{id}  one document
//
// Every sandbox user sees the same recorded data. The authorize endpoint
// takes a non-standard "user" parameter to pick which sandbox user
// consents (default Config.UserID); personal_info's id is that user name.
package oura

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

// Defaults for Config.
const (
	DefaultPageSize      = 5
	DefaultTokenLifetime = time.Hour
	DefaultRetryAfter    = 60 * time.Second
	DefaultUserID        = "oura-sandbox-user"
	// codeLifetime is how long an authorization code can be exchanged.
	codeLifetime = 10 * time.Minute
)

// Config configures the fake. Zero fields take the defaults.
type Config struct {
	// PageSize is the number of documents per page before a next_token is
	// given. Default DefaultPageSize (5), small so that paging is real.
	PageSize int
	// TokenLifetime is how long an access token is accepted. Default
	// DefaultTokenLifetime (1 h).
	TokenLifetime time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// ClientID and ClientSecret, when ClientID is set, are the only client
	// credentials the token endpoint accepts. Empty: any client id is
	// accepted, and the secret is not checked.
	ClientID, ClientSecret string
	// UserID is the sandbox user who consents when authorize gets no
	// "user" parameter. Default DefaultUserID.
	UserID string
	// RateLimitOn makes the Nth API request (1-based, counting /v2/
	// requests only) answer 429. Zero: never.
	RateLimitOn int
	// RetryAfter is the Retry-After of an injected 429. Default
	// DefaultRetryAfter (60 s).
	RetryAfter time.Duration
	// Logger receives one line per refused request. Default: discard.
	Logger *slog.Logger
}

// Server is the fake Oura. It is an http.Handler and safe for concurrent
// use.
type Server struct {
	cfg     Config
	log     *slog.Logger
	mux     *http.ServeMux
	data    map[string][]doc
	single  map[string][]byte // raw single-document bodies by "collection/id"
	loadErr error

	mu          sync.Mutex
	codes       map[string]grant
	access      map[string]accessToken
	refresh     map[string]grant
	apiRequests int
	rateLimitAt int
	retryAfter  time.Duration
}

// grant is what an authorization code or refresh token stands for.
type grant struct {
	user, clientID, redirectURI, scope string
	expires                            time.Time // codes only
}

type accessToken struct {
	user    string
	expires time.Time
}

// New returns a fake Oura serving the embedded fixtures.
//
// If the fixtures cannot be loaded (a broken build), the data endpoints
// answer 500 and Err says why.
func New(cfg Config) *Server {
	cfg.PageSize = cmp.Or(cfg.PageSize, DefaultPageSize)
	cfg.TokenLifetime = cmp.Or(cfg.TokenLifetime, DefaultTokenLifetime)
	cfg.UserID = cmp.Or(cfg.UserID, DefaultUserID)
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
	s.data, s.single, s.loadErr = loadFixtures()
	s.mux = s.routes()
	return s
}

func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /oauth/authorize", s.authorize)
	mux.HandleFunc("POST /oauth/token", s.token)
	mux.HandleFunc("GET /oauth/revoke", s.revoke)
	mux.HandleFunc("POST /oauth/revoke", s.revoke)
	mux.HandleFunc("GET /v2/usercollection/personal_info", s.api(s.personalInfo))
	mux.HandleFunc("GET /v2/usercollection/{collection}", s.api(s.list))
	mux.HandleFunc("GET /v2/usercollection/{collection}/{id}", s.api(s.document))
	return mux
}

// ServeHTTP serves the fake API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Err reports a failure to load the embedded fixtures.
func (s *Server) Err() error { return s.loadErr }

// Token issues a fresh token pair for a sandbox user without the browser
// round trip, as the token endpoint would.
func (s *Server) Token(user string) *oauth2.Token {
	s.mu.Lock()
	defer s.mu.Unlock()
	tok := s.issueLocked(grant{user: cmp.Or(user, s.cfg.UserID)})
	return &oauth2.Token{
		AccessToken:  tok.AccessToken,
		RefreshToken: tok.RefreshToken,
		TokenType:    "Bearer",
		Expiry:       s.cfg.Now().Add(s.cfg.TokenLifetime),
	}
}

// InjectRateLimit makes the nth API request from now (1 = the next one)
// answer 429 with Retry-After retryAfter (zero: Config.RetryAfter).
func (s *Server) InjectRateLimit(n int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rateLimitAt = s.apiRequests + n
	s.retryAfter = cmp.Or(retryAfter, s.cfg.RetryAfter)
}

// APIRequests is the number of /v2/ requests served so far.
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

// detail writes Oura's simple error body {"detail": msg}.
func detail(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"detail": msg})
}
