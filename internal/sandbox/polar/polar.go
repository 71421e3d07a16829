// Package polar is a fake Polar AccessLink API v3 for tests and local
// runs: the OAuth 2.0 authorization-code flow (HTTP Basic client auth,
// long-lived tokens, no refresh token, x_user_id in the token answer),
// user registration, the user resources serving the recorded fixtures of
// internal/sandbox/fixtures/polar at their real dates, activity
// transactions, webhooks, and Polar's rate-limit headers. PushAll sends
// the webhook deliveries Polar would send for the recorded data.
//
// Mount the Server at some base URL; the paths are the real ones relative
// to Polar's three hosts (flow.polar.com, polarremote.com,
// www.polaraccesslink.com), and ProviderConfig points the provider at it:
//
//	GET    /oauth2/authorization           consents at once: 302 to redirect_uri?code&state
//	POST   /v2/oauth2/token                authorization_code grant only (Basic auth)
//	POST   /v3/users                       register {"member-id"}: 200, then 409
//	GET    /v3/users/{user-id}             the registered user
//	DELETE /v3/users/{user-id}             de-register; revokes the token
//	GET    /v3/exercises                   exercises_list.json
//	GET    /v3/exercises/{id}              exercise_get.json (id 2AC312F)
//	GET    /v3/users/sleep                 {"nights": [sleep_get.json]}
//	GET    /v3/users/sleep/{date}          sleep_get.json (2020-01-01)
//	GET    /v3/users/nightly-recharge      {"recharges": [nightly_recharge_get.json]}
//	GET    /v3/users/nightly-recharge/{date}
//	GET    /v3/users/continuous-heart-rate/{date}  continuous_heart_rate.json (2022-09-12)
//	POST   /v3/users/{user-id}/activity-transactions, GET/PUT .../{tx}, GET .../{tx}/activities/{id}
//	POST   /v3/webhooks, GET /v3/webhooks, DELETE /v3/webhooks/{id}   (client Basic auth)
//
// Differences from Polar, on purpose: the lists are not cut to the last
// 28-30 days (the recordings are older), exercises always include the
// samples, zones and route they were recorded with, and there is no
// recorded activity summary, so activity transactions offer only
// Config.ActivitySummaries. exercise_samples_deprecated.json belongs to the
// deprecated exercise transactions, which are not served.
package polar

import (
	"bytes"
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/wearbridge/wearbridge/internal/sandbox/fixtures"
	"github.com/wearbridge/wearbridge/internal/source/polar"
)

// Defaults for Config, and the paths of the OAuth endpoints.
const (
	DefaultClientID      = "sandbox-polar"
	DefaultClientSecret  = "sandbox-secret"
	DefaultWebhookSecret = "sandbox-polar-webhook-secret"
	// RecordedUserID is the Polar user of the recorded sleep, Nightly
	// Recharge and exercises (their polar_user links end in /users/1).
	RecordedUserID = "1"
	// DefaultTokenLifetime is the expires_in Polar documents (about a
	// year).
	DefaultTokenLifetime = 31535999 * time.Second
	// DefaultTransactionTTL is how long an uncommitted transaction lives.
	DefaultTransactionTTL = 10 * time.Minute

	AuthorizePath = "/oauth2/authorization"
	TokenPath     = "/v2/oauth2/token"

	// publicAPI is the origin of the links the fake writes, as Polar does.
	publicAPI = "https://www.polaraccesslink.com"
	// codeLifetime is how long an authorization code can be exchanged.
	codeLifetime = 10 * time.Minute
	// Polar's rate-limit windows and the limits of a client with no users.
	shortWindow = 15 * time.Minute
	longWindow  = 24 * time.Hour
	shortLimit  = 500
	longLimit   = 5000
)

// RecordedSince is the first day of the recorded data (the exercise of
// 2008-10-13).
var RecordedSince = time.Date(2008, 10, 13, 0, 0, 0, 0, time.UTC)

// Config configures the fake. Zero fields take the defaults.
type Config struct {
	// ClientID and ClientSecret are the only client credentials accepted.
	// Default DefaultClientID and DefaultClientSecret.
	ClientID, ClientSecret string
	// UserID is the Polar user id (digits) who consents when authorize
	// gets no "user" parameter. Default RecordedUserID.
	UserID string
	// WebhookSecret is the signature_secret_key of the webhook. Default
	// DefaultWebhookSecret.
	WebhookSecret string
	// TokenLifetime is the expires_in of access tokens. Default
	// DefaultTokenLifetime.
	TokenLifetime time.Duration
	// TransactionTTL is how long an uncommitted activity transaction
	// lives. Default DefaultTransactionTTL.
	TransactionTTL time.Duration
	// ActivitySummaries are offered to every registered user through
	// activity transactions, in order. Each is served as given; its "id"
	// (a number) names it, else its position (1-based). Default none.
	ActivitySummaries []json.RawMessage
	// RateLimitOn makes the Nth /v3 request (1-based) answer 429. Zero:
	// never.
	RateLimitOn int
	// RateLimitReset is the short-term RateLimit-Reset of an injected 429.
	// Default: what is left of the 15-minute window.
	RateLimitReset time.Duration
	// WebhookClient sends the PING of a webhook creation. Default
	// http.DefaultClient.
	WebhookClient *http.Client
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger receives one line per refused request. Default: discard.
	Logger *slog.Logger
}

// Server is the fake AccessLink. It is an http.Handler and safe for
// concurrent use.
type Server struct {
	cfg     Config
	log     *slog.Logger
	mux     *http.ServeMux
	data    recorded
	loadErr error

	mu           sync.Mutex
	codes        map[string]*code
	tokens       map[string]token
	registered   map[string]string  // user → member-id
	pending      map[string][]int64 // user → summary ids not yet committed
	txns         map[int64]*txn
	nextTx       int64
	webhook      *polar.Webhook
	apiRequests  int
	rateLimitAt  int
	shortStart   time.Time
	longStart    time.Time
	shortCount   int
	longCount    int
	summaryIDs   []int64
	summaryByID  map[int64]json.RawMessage
	rateLimitRst time.Duration
}

type code struct {
	user, redirectURI string
	expires           time.Time
	used              bool
	issued            []string // tokens issued for it, revoked on reuse
}

type token struct {
	user    string
	expires time.Time
}

type txn struct {
	user      string
	items     []int64
	expires   time.Time
	committed bool
}

// New returns a fake AccessLink serving the embedded fixtures. If they
// cannot be loaded (a broken build), the data endpoints answer 500 and
// Err says why.
func New(cfg Config) *Server {
	cfg.ClientID = cmp.Or(cfg.ClientID, DefaultClientID)
	cfg.ClientSecret = cmp.Or(cfg.ClientSecret, DefaultClientSecret)
	cfg.UserID = cmp.Or(cfg.UserID, RecordedUserID)
	cfg.WebhookSecret = cmp.Or(cfg.WebhookSecret, DefaultWebhookSecret)
	cfg.TokenLifetime = cmp.Or(cfg.TokenLifetime, DefaultTokenLifetime)
	cfg.TransactionTTL = cmp.Or(cfg.TransactionTTL, DefaultTransactionTTL)
	if cfg.WebhookClient == nil {
		cfg.WebhookClient = http.DefaultClient
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		cfg:          cfg,
		log:          log,
		codes:        make(map[string]*code),
		tokens:       make(map[string]token),
		registered:   make(map[string]string),
		pending:      make(map[string][]int64),
		txns:         make(map[int64]*txn),
		nextTx:       100,
		rateLimitAt:  cfg.RateLimitOn,
		rateLimitRst: cfg.RateLimitReset,
		summaryByID:  make(map[int64]json.RawMessage),
	}
	for i, raw := range cfg.ActivitySummaries {
		var h struct {
			ID json.Number `json:"id"`
		}
		id := int64(i + 1)
		if json.Unmarshal(raw, &h) == nil {
			if n, err := h.ID.Int64(); err == nil {
				id = n
			}
		}
		if _, dup := s.summaryByID[id]; !dup {
			s.summaryIDs = append(s.summaryIDs, id)
		}
		s.summaryByID[id] = bytes.TrimSpace(raw)
	}
	s.data, s.loadErr = loadRecorded()
	s.mux = s.routes()
	return s
}

func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+AuthorizePath, s.authorize)
	mux.HandleFunc("POST "+TokenPath, s.token)

	mux.HandleFunc("POST /v3/users", s.user(s.register, false))
	mux.HandleFunc("GET /v3/users/{uid}", s.user(s.userInfo, true))
	mux.HandleFunc("DELETE /v3/users/{uid}", s.user(s.deregister, true))
	mux.HandleFunc("GET /v3/exercises", s.user(s.exercises, true))
	mux.HandleFunc("GET /v3/exercises/{id}", s.user(s.exercise, true))
	mux.HandleFunc("GET /v3/users/sleep", s.user(s.sleepList, true))
	mux.HandleFunc("GET /v3/users/sleep/{date}", s.user(s.sleep, true))
	mux.HandleFunc("GET /v3/users/nightly-recharge", s.user(s.rechargeList, true))
	mux.HandleFunc("GET /v3/users/nightly-recharge/{date}", s.user(s.recharge, true))
	mux.HandleFunc("GET /v3/users/continuous-heart-rate/{date}", s.user(s.heartRate, true))
	mux.HandleFunc("POST /v3/users/{uid}/activity-transactions", s.user(s.createTx, true))
	mux.HandleFunc("GET /v3/users/{uid}/activity-transactions/{tx}", s.user(s.listTx, true))
	mux.HandleFunc("PUT /v3/users/{uid}/activity-transactions/{tx}", s.user(s.commitTx, true))
	mux.HandleFunc("GET /v3/users/{uid}/activity-transactions/{tx}/activities/{id}", s.user(s.activity, true))

	mux.HandleFunc("POST /v3/webhooks", s.client(s.createWebhook))
	mux.HandleFunc("GET /v3/webhooks", s.client(s.getWebhook))
	mux.HandleFunc("DELETE /v3/webhooks/{id}", s.client(s.deleteWebhook))
	return mux
}

// ServeHTTP serves the fake API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Err reports a failure to load the embedded fixtures.
func (s *Server) Err() error { return s.loadErr }

// Token issues an access token for a sandbox user without the browser
// round trip, as the token endpoint would (the user still has to be
// registered with POST /v3/users).
func (s *Server) Token(user string) *oauth2.Token {
	s.mu.Lock()
	defer s.mu.Unlock()
	user = cmp.Or(user, s.cfg.UserID)
	at := s.issueLocked(user)
	tok := &oauth2.Token{AccessToken: at, TokenType: "Bearer", Expiry: s.cfg.Now().Add(s.cfg.TokenLifetime)}
	n, _ := strconv.ParseInt(user, 10, 64)
	return tok.WithExtra(map[string]any{"x_user_id": float64(n)})
}

// InjectRateLimit makes the nth /v3 request from now (1 = the next one)
// answer 429.
func (s *Server) InjectRateLimit(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rateLimitAt = s.apiRequests + n
}

// APIRequests is the number of /v3 requests served so far.
func (s *Server) APIRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.apiRequests
}

// PendingActivities is the number of activity summaries not yet committed
// by user.
func (s *Server) PendingActivities(user string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pending[user])
}

// ProviderConfig returns the provider settings for a fake mounted at base
// with the default Config: its client credentials and webhook secret, a
// backfill reaching back to the first recorded day, no history limit (the
// recordings are older than AccessLink's 30 days) and no request budget.
func ProviderConfig(base string) polar.Config {
	return polar.Config{
		ClientID:      DefaultClientID,
		ClientSecret:  DefaultClientSecret,
		AuthURL:       base + AuthorizePath,
		TokenURL:      base + TokenPath,
		APIBase:       base,
		WebhookSecret: DefaultWebhookSecret,
		BackfillDepth: time.Since(RecordedSince) + 24*time.Hour,
		HistoryLimit:  -1,
		RequestBudget: -1,
	}
}

// recorded is the fixture data.
type recorded struct {
	exerciseList  []byte
	exercises     map[string][]byte // by id
	sleeps        map[string][]byte // by date
	sleepDates    []string
	recharges     map[string][]byte
	rechargeDates []string
	heartRate     map[string][]byte
}

func loadRecorded() (recorded, error) {
	read := func(name string) ([]byte, error) {
		b, err := fs.ReadFile(fixtures.FS, "polar/"+name)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		return bytes.TrimSpace(b), nil
	}
	var d recorded
	var err error
	if d.exerciseList, err = read("exercises_list.json"); err != nil {
		return d, err
	}
	d.exercises, d.sleeps, d.recharges, d.heartRate = map[string][]byte{}, map[string][]byte{}, map[string][]byte{}, map[string][]byte{}
	for _, f := range []struct {
		name, key string
		into      map[string][]byte
		order     *[]string
	}{
		{"exercise_get.json", "id", d.exercises, nil},
		{"sleep_get.json", "date", d.sleeps, &d.sleepDates},
		{"nightly_recharge_get.json", "date", d.recharges, &d.rechargeDates},
		{"continuous_heart_rate.json", "date", d.heartRate, nil},
	} {
		b, err := read(f.name)
		if err != nil {
			return d, err
		}
		var head map[string]json.RawMessage
		if err := json.Unmarshal(b, &head); err != nil {
			return d, fmt.Errorf("decode %s: %w", f.name, err)
		}
		var k string
		if err := json.Unmarshal(head[f.key], &k); err != nil || k == "" {
			return d, fmt.Errorf("%s has no %s", f.name, f.key)
		}
		f.into[k] = b
		if f.order != nil {
			*f.order = append(*f.order, k)
		}
	}
	return d, nil
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

// apiError writes Polar's error body.
func (s *Server) apiError(w http.ResponseWriter, status int, errorType, message string) {
	writeJSON(w, status, map[string]any{
		"timestamp": s.cfg.Now().UTC().Format(time.RFC3339),
		"status":    status,
		"errorType": errorType,
		"message":   message,
		"corrId":    randomToken()[:16],
	})
}
