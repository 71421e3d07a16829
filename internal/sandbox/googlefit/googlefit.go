// Package googlefit is a fake of Google's OAuth 2.0 server, OpenID
// userinfo endpoint and Fitness REST API v1, for tests and local runs. It
// serves the recorded datasets of internal/sandbox/fixtures/google_fit at
// their real (2015) dates, with Google's backward dataset paging, and
// computes dataset:aggregate buckets from them.
//
// Endpoints (Google's paths, all on one host):
//
//	GET  /o/oauth2/v2/auth     consents at once: 302 to redirect_uri?code&state
//	POST /token                authorization_code and refresh_token grants
//	POST /revoke               ?token=...
//	GET  /v1/userinfo          {"sub": <sandbox user>}
//	GET  /fitness/v1/users/me/dataSources/{id}/datasets/{startNs}-{endNs}
//	GET  /fitness/v1/users/me/sessions
//	POST /fitness/v1/users/me/dataset:aggregate
//
// Like Google, the authorization endpoint issues a refresh token only with
// access_type=offline, checks an S256 (or plain) PKCE challenge when one
// was sent, and refresh tokens are not rotated: a refresh answers a new
// access token and no refresh token, and the refresh token keeps working.
//
// Recorded data: the merged activity-segment, heart-rate and weight
// streams. There is no recording of sessions, sleep stages, steps,
// distance or calories: the session list is empty and the other streams
// answer "datasource not found", as Google does for a stream the user
// never wrote. The authorize endpoint takes a non-standard "user"
// parameter to pick the sandbox user who consents (default
// Config.UserID); SleepUserID sees the activity-segment recording that
// holds only a sleep segment instead of the three activities.
package googlefit

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/wearbridge/wearbridge/internal/source/googlefit"
)

// Paths of the fake, the same as Google's relative to their hosts.
const (
	AuthorizePath = "/o/oauth2/v2/auth"
	TokenPath     = "/token"
	RevokePath    = "/revoke"
	UserInfoPath  = "/v1/userinfo"
	// APIPath is the Fitness API root (googlefit.Config.APIBase).
	APIPath = "/fitness/v1"
)

// Sandbox users and credentials.
const (
	// DefaultUserID is the sandbox user (a Google account id, "sub") who
	// consents by default.
	DefaultUserID = "117000000000000000001"
	// SleepUserID sees merge_activity_segments_only_sleep.json as their
	// activity segments.
	SleepUserID = "117000000000000000002"
	// SandboxClientID and SandboxClientSecret are the credentials
	// ProviderConfig uses.
	SandboxClientID     = "sandbox-google-fit.apps.googleusercontent.com"
	SandboxClientSecret = "sandbox-secret"
)

// Defaults for Config.
const (
	DefaultPageSize         = 2
	DefaultTokenLifetime    = time.Hour
	DefaultMaxAggregateSpan = 90 * 24 * time.Hour
	codeLifetime            = 10 * time.Minute
)

// FirstRecordedDay is the UTC day of the earliest recorded point (an
// activity segment on 2015-01-01).
var FirstRecordedDay = time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC)

// ProviderConfig returns the provider settings for a fake mounted at base:
// the sandbox credentials, the fake's endpoints, and a backfill deep
// enough to reach the recorded data.
func ProviderConfig(base string) googlefit.Config {
	base = strings.TrimRight(base, "/")
	return googlefit.Config{
		ClientID:      SandboxClientID,
		ClientSecret:  SandboxClientSecret,
		AuthURL:       base + AuthorizePath,
		TokenURL:      base + TokenPath,
		UserInfoURL:   base + UserInfoPath,
		APIBase:       base + APIPath,
		BackfillDepth: time.Since(FirstRecordedDay) + 24*time.Hour,
	}
}

// Config configures the fake. Zero fields take the defaults.
type Config struct {
	// ClientID and ClientSecret, when ClientID is set, are the only client
	// credentials accepted. Empty: any client id is accepted and the
	// secret is not checked.
	ClientID, ClientSecret string
	// UserID is the sandbox user who consents when authorize gets no
	// "user" parameter. Default DefaultUserID.
	UserID string
	// PageSize is the most points a dataset page holds (the request's
	// limit may ask for fewer). Default DefaultPageSize (2), small so that
	// paging is real. Google itself answers every point when no limit is
	// sent.
	PageSize int
	// TokenLifetime is how long an access token is accepted. Default
	// DefaultTokenLifetime (1 h).
	TokenLifetime time.Duration
	// MaxAggregateSpan is the longest dataset:aggregate window accepted;
	// longer ones get Google's "aggregate duration too large". Default
	// DefaultMaxAggregateSpan (90 days; Google does not document its
	// bound).
	MaxAggregateSpan time.Duration
	// RateLimitOn makes the Nth API request (1-based, counting
	// bearer-token requests) answer a rate limit. Zero: never.
	RateLimitOn int
	// RateLimitStatus is the status of an injected rate limit: 429
	// (RESOURCE_EXHAUSTED, the default) or 403 (reason rateLimitExceeded,
	// Google's older answer).
	RateLimitStatus int
	// RetryAfter, when positive, is sent as Retry-After with an injected
	// rate limit. Google usually sends none.
	RetryAfter time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger receives one line per refused request. Default: discard.
	Logger *slog.Logger
}

// Server is the fake Google. It is an http.Handler and safe for
// concurrent use.
type Server struct {
	cfg     Config
	log     *slog.Logger
	mux     *http.ServeMux
	data    recorded
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
	challenge, challengeMethod         string
	offline                            bool
	expires                            time.Time // codes only
}

type accessToken struct {
	user    string
	expires time.Time
}

// New returns a fake Google serving the embedded fixtures. If the fixtures
// cannot be loaded (a broken build), the data endpoints answer 500 and
// Err says why.
func New(cfg Config) *Server {
	cfg.UserID = cmp.Or(cfg.UserID, DefaultUserID)
	cfg.PageSize = cmp.Or(cfg.PageSize, DefaultPageSize)
	cfg.TokenLifetime = cmp.Or(cfg.TokenLifetime, DefaultTokenLifetime)
	cfg.MaxAggregateSpan = cmp.Or(cfg.MaxAggregateSpan, DefaultMaxAggregateSpan)
	cfg.RateLimitStatus = cmp.Or(cfg.RateLimitStatus, http.StatusTooManyRequests)
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
	mux.HandleFunc("GET "+AuthorizePath, s.authorize)
	mux.HandleFunc("POST "+TokenPath, s.token)
	mux.HandleFunc("POST "+RevokePath, s.revoke)
	mux.HandleFunc("GET "+UserInfoPath, s.api(s.userInfo))
	mux.HandleFunc("GET "+APIPath+"/users/me/dataSources/{source}/datasets/{range}", s.api(s.dataset))
	mux.HandleFunc("GET "+APIPath+"/users/me/sessions", s.api(s.sessions))
	mux.HandleFunc("POST "+APIPath+"/users/me/dataset:aggregate", s.api(s.aggregate))
	return mux
}

// ServeHTTP serves the fake.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Err reports a failure to load the embedded fixtures.
func (s *Server) Err() error { return s.loadErr }

// Token issues a fresh token pair (offline, every default scope) for a
// sandbox user without the browser round trip.
func (s *Server) Token(user string) *oauth2.Token {
	s.mu.Lock()
	defer s.mu.Unlock()
	tr := s.issueLocked(grant{user: cmp.Or(user, s.cfg.UserID), scope: strings.Join(googlefit.DefaultScopes, " "), offline: true}, true)
	return &oauth2.Token{
		AccessToken:  tr.AccessToken,
		RefreshToken: tr.RefreshToken,
		TokenType:    "Bearer",
		Expiry:       s.cfg.Now().Add(s.cfg.TokenLifetime),
	}
}

// InjectRateLimit makes the nth API request from now (1 = the next one)
// answer a rate limit, with Retry-After retryAfter when it is positive.
func (s *Server) InjectRateLimit(n int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rateLimitAt = s.apiRequests + n
	s.retryAfter = retryAfter
}

// APIRequests is the number of bearer-token requests served so far.
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
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// apiError writes Google's JSON error body.
func apiError(w http.ResponseWriter, status int, reason, statusName, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{
		"code":    status,
		"message": msg,
		"errors":  []map[string]string{{"message": msg, "domain": "global", "reason": reason}},
		"status":  statusName,
	}})
}

// invalidArgument writes Google's 400.
func invalidArgument(w http.ResponseWriter, msg string) {
	apiError(w, http.StatusBadRequest, "invalidArgument", "INVALID_ARGUMENT", msg)
}
