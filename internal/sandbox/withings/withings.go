// Package withings is a fake Withings Public Health Data API for tests and
// local runs: the OAuth 2.0 flow with Withings' wrapped requesttoken
// endpoint and rotating refresh tokens, the measure, activity, workout and
// sleep services serving the recorded fixtures of
// internal/sandbox/fixtures/withings at their real dates (2015 to 2024,
// never shifted) with Withings' more/offset paging, the notify
// subscription service, and PushAll, which sends Withings-shaped data
// update notifications for the recorded data.
//
// Endpoints (the real paths; the real hosts are account.withings.com for
// the first and wbsapi.withings.net for the rest):
//
//	GET  /oauth2_user/authorize2  consents at once: 302 to redirect_uri?code&state
//	POST /v2/oauth2               action=requesttoken (authorization_code, refresh_token)
//	POST /measure                 action=getmeas
//	POST /v2/measure              action=getactivity, getintradayactivity, getworkouts
//	POST /v2/sleep                action=getsummary
//	POST /notify                  action=subscribe, list, get, revoke
//
// Like Withings, every answer is HTTP 200 with {"status": N, "body": ...}:
// 401 for a missing, unknown or expired access token, 601 for an injected
// rate limit (Withings sends no reset header), 503 for invalid parameters
// and refused codes or refresh tokens. The API services take their
// parameters from the query or a form body, GET or POST.
//
// Every sandbox user sees the same recorded data. getmeas answers in
// Config.Timezone (the zone of measure_getmeas_body.json by default), as
// the recorded measuregrps_list.json has no zone of its own.
package withings

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

	"github.com/wearbridge/wearbridge/internal/source/withings"
)

// Defaults for Config.
const (
	DefaultClientID      = "wearbridge-withings-sandbox"
	DefaultClientSecret  = "withings-sandbox-secret"
	DefaultUserID        = "31415926"
	DefaultPageSize      = 10
	DefaultTokenLifetime = 3 * time.Hour // Withings' expires_in is 10800
	DefaultRefreshGrace  = 8 * time.Hour // an old refresh token lives 8 h more, unless the new access token is used
	DefaultTimezone      = "America/Los_Angeles"
	// codeLifetime is how long an authorization code can be exchanged
	// (Withings: 30 seconds).
	codeLifetime = 30 * time.Second
)

// The paths of the fake, relative to where it is mounted.
const (
	AuthorizePath = "/oauth2_user/authorize2"
	TokenPath     = "/v2/oauth2"
)

// FirstRecordedDay is the earliest day of the recorded data
// (activity_getactivity.json's "date": "2015-02-21").
var FirstRecordedDay = time.Date(2015, 2, 21, 0, 0, 0, 0, time.UTC)

// ProviderConfig returns the provider configuration that points at a fake
// mounted at base, with the fake's default client credentials and a
// backfill deep enough to reach the first recorded day.
func ProviderConfig(base string) withings.Config {
	return withings.Config{
		ClientID:      DefaultClientID,
		ClientSecret:  DefaultClientSecret,
		AuthURL:       base + AuthorizePath,
		TokenURL:      base + TokenPath,
		APIBase:       base,
		BackfillDepth: time.Since(FirstRecordedDay) + 24*time.Hour,
		// The fake has no budget; spacing requests would only slow the sandbox.
		RequestBudget: -1,
	}
}

// Config configures the fake. Zero fields take the defaults.
type Config struct {
	// ClientID and ClientSecret are the only client credentials accepted.
	// Defaults DefaultClientID and DefaultClientSecret.
	ClientID, ClientSecret string
	// UserID is the Withings userid of the sandbox user (digits). Default
	// DefaultUserID.
	UserID string
	// PageSize is the number of items per page before "more" is set.
	// Default DefaultPageSize (10), small so that paging is real.
	PageSize int
	// TokenLifetime is how long an access token is accepted. Default
	// DefaultTokenLifetime (3 h).
	TokenLifetime time.Duration
	// RefreshGrace is how long a rotated refresh token keeps working when
	// the new access token is not used. Default DefaultRefreshGrace (8 h).
	RefreshGrace time.Duration
	// Timezone is getmeas' "timezone". Default DefaultTimezone.
	Timezone string
	// RateLimitOn makes the Nth API request (1-based, counting the data and
	// notify services) answer status 601. Zero: never.
	RateLimitOn int
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// HTTPClient makes the HEAD request that checks a callback URL at
	// subscription. Default: a client with a 5 s timeout.
	HTTPClient *http.Client
	// Logger receives one line per refused request. Default: discard.
	Logger *slog.Logger
}

// Server is the fake Withings. It is an http.Handler and safe for
// concurrent use.
type Server struct {
	cfg     Config
	log     *slog.Logger
	mux     *http.ServeMux
	data    *recorded
	loadErr error

	mu            sync.Mutex
	codes         map[string]grant
	access        map[string]*accessToken
	refresh       map[string]*refreshToken
	subscriptions map[string][]Subscription // by userid
	apiRequests   int
	rateLimitAt   int
}

// grant is what an authorization code stands for.
type grant struct {
	user, clientID, redirectURI, scope string
	expires                            time.Time
}

// accessToken is an issued access token. rotated is the refresh token its
// issue replaced, revoked when this token is first used.
type accessToken struct {
	user, scope string
	expires     time.Time
	rotated     string
}

// refreshToken is an issued refresh token; graceUntil is set once it was
// used, and it stops working then.
type refreshToken struct {
	user, clientID, scope string
	graceUntil            time.Time
}

// Subscription is one notify subscription.
type Subscription struct {
	Appli       int
	CallbackURL string
	Comment     string
}

// New returns a fake Withings serving the embedded fixtures. If they
// cannot be loaded (a broken build), the data services answer an error and
// Err says why.
func New(cfg Config) *Server {
	cfg.ClientID = cmp.Or(cfg.ClientID, DefaultClientID)
	cfg.ClientSecret = cmp.Or(cfg.ClientSecret, DefaultClientSecret)
	cfg.UserID = cmp.Or(cfg.UserID, DefaultUserID)
	cfg.PageSize = cmp.Or(cfg.PageSize, DefaultPageSize)
	cfg.TokenLifetime = cmp.Or(cfg.TokenLifetime, DefaultTokenLifetime)
	cfg.RefreshGrace = cmp.Or(cfg.RefreshGrace, DefaultRefreshGrace)
	cfg.Timezone = cmp.Or(cfg.Timezone, DefaultTimezone)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 5 * time.Second}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		cfg:           cfg,
		log:           log,
		codes:         make(map[string]grant),
		access:        make(map[string]*accessToken),
		refresh:       make(map[string]*refreshToken),
		subscriptions: make(map[string][]Subscription),
		rateLimitAt:   cfg.RateLimitOn,
	}
	s.data, s.loadErr = loadRecorded()
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("GET "+AuthorizePath, s.authorize)
	s.mux.HandleFunc("POST "+TokenPath, s.token)
	s.mux.HandleFunc("/measure", s.api(s.measure))
	s.mux.HandleFunc("/v2/measure", s.api(s.measureV2))
	s.mux.HandleFunc("/v2/sleep", s.api(s.sleep))
	s.mux.HandleFunc("/notify", s.api(s.notify))
	return s
}

// ServeHTTP serves the fake API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Err reports a failure to load the embedded fixtures.
func (s *Server) Err() error { return s.loadErr }

// UserID is the sandbox user's Withings userid.
func (s *Server) UserID() string { return s.cfg.UserID }

// InjectRateLimit makes the nth API request from now (1 = the next one)
// answer status 601.
func (s *Server) InjectRateLimit(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rateLimitAt = s.apiRequests + n
}

// APIRequests is the number of data and notify requests served so far.
func (s *Server) APIRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.apiRequests
}

// Subscriptions returns the sandbox user's notify subscriptions.
func (s *Server) Subscriptions() []Subscription {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Subscription(nil), s.subscriptions[s.cfg.UserID]...)
}

// randomToken returns 20 random bytes in hex, the length of Withings'
// tokens.
func randomToken() string {
	b := make([]byte, 20)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// Withings statuses the fake answers.
const (
	statusOK            = 0
	statusInvalidToken  = 401
	statusInvalidParams = 503
	statusTooMany       = 601
	statusBadCallback   = 293
	statusNotImpl       = 2554
)

// reply writes a Withings envelope: HTTP 200, {"status", "body"} and, for
// errors, "error".
func reply(w http.ResponseWriter, status int, body []byte, errText string) {
	if body == nil {
		body = []byte("{}")
	}
	out := []byte(`{"status":` + strconv.Itoa(status) + `,"body":`)
	out = append(out, body...)
	if errText != "" {
		e, _ := json.Marshal(errText) // a string always marshals
		out = append(out, `,"error":`...)
		out = append(out, e...)
	}
	out = append(out, '}')
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
}

// replyJSON writes a status-0 envelope around v.
func replyJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		reply(w, 2555, nil, "An error occurred")
		return
	}
	reply(w, statusOK, b, "")
}
