// Package polar is the Polar AccessLink API v3 provider: OAuth 2.0
// settings and user registration, a client for the AccessLink user
// resources, the mappers from Polar documents to Terra v2 records, and
// the webhook receiver.
//
// API reference: https://www.polar.com/accesslink-api/ (the AccessLink v3
// documentation, changelog up to 18.08.2025). The fixtures in
// internal/sandbox/fixtures/polar are its documented examples.
//
// What is pulled for each Terra data type:
//
//   - activity: exercises from GET /v3/exercises (the non-transactional
//     endpoints, which the documentation calls current; the
//     exercise-transactions are deprecated since 18.08.2025). The list gives
//     the summaries; each exercise of the window is then read with
//     GET /v3/exercises/{id}?samples=true&zones=true&route=true. One
//     Activity per exercise, keyed by Polar's hashed exercise id.
//   - sleep: GET /v3/users/sleep (one night per Polar date) joined by date
//     with GET /v3/users/nightly-recharge: one Sleep per night, keyed by the
//     Polar date, carrying the night's Nightly Recharge (RMSSD HRV,
//     breathing rate, recharge status as recovery level).
//   - daily: continuous heart rate, GET /v3/users/continuous-heart-rate/{date}
//     for every date of the window (key "heart_rate:" + date), and the daily
//     activity summaries drained through activity transactions (key
//     "activity:" + date; see transactions.go). They are two records per
//     date because they come from different endpoints at different times
//     and a later read of one must not overwrite the other (daily.go).
//
// Push: Polar webhooks notify EXERCISE (with the exercise id, read with
// FetchItem), SLEEP, CONTINUOUS_HEART_RATE and ACTIVITY_SUMMARY (with a
// date, read as a pull of that date); deliveries are signed with
// HMAC-SHA256 (push.go). The webhook is created once per client with
// [Provider.CreateWebhook].
//
// Rate limits: Polar limits each client to 500 + 20 x users requests per
// 15 minutes and 5000 + 100 x users per 24 hours, reported in the
// RateLimit-Usage, RateLimit-Limit and RateLimit-Reset headers; a 429
// becomes a *RateLimitError retrying after the reset of the spent window,
// and RequestBudget spaces requests within the daily floor.
//
// History: AccessLink only keeps recent data (exercises uploaded in the
// last 30 days, sleep, Nightly Recharge and activity in the last 28 days),
// and only data uploaded after the user was registered with our client, so
// BackfillDepth is capped at Config.HistoryLimit (default 30 days).
//
// Times: Polar writes several zone-less local times. Exercises carry their
// own offset (start_time_utc_offset) and sleeps carry offsets in
// sleep_start_time; continuous heart rate and activity summaries carry none
// and are read in the offset the user's sleeps (else exercises) show for
// that date, see offsets.go. Every timestamp of one record is written in
// the offset of the record's start.
package polar

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/wearbridge/wearbridge/internal/model"
	"github.com/wearbridge/wearbridge/internal/source"
)

// Name is the provider name as Terra spells it.
const Name = "POLAR"

// The real Polar endpoints: the consent page is on Polar Flow, the token
// endpoint on Polar Remote and the API on polaraccesslink.com.
const (
	DefaultAuthURL  = "https://flow.polar.com/oauth2/authorization"
	DefaultTokenURL = "https://polarremote.com/v2/oauth2/token"
	DefaultAPIBase  = "https://www.polaraccesslink.com"
)

// DefaultScopes is AccessLink's only scope, which grants access to all of
// the user's data.
var DefaultScopes = []string{"accesslink.read_all"}

// Defaults for the Config fields that are durations or counts.
const (
	// DefaultBackfillDepth is how far back a new connection is read.
	DefaultBackfillDepth = 28 * 24 * time.Hour
	// DefaultHistoryLimit is the longest AccessLink keeps anything:
	// exercises uploaded in the last 30 days (sleep, Nightly Recharge and
	// activity: 28 days).
	DefaultHistoryLimit = 30 * 24 * time.Hour
	// DefaultRequestBudget per DefaultRequestBudgetPeriod is the floor of
	// Polar's per-app long-term limit, 5000 + 100 x registered users per
	// 24 h. The short-term limit (500 + 20 x users per 15 min) is never the
	// binding one when requests are spaced evenly at this rate.
	DefaultRequestBudget       = 5000
	DefaultRequestBudgetPeriod = 24 * time.Hour
	// DefaultMaxTransactions bounds the activity transactions drained in
	// one pull (each holds at most 50 summaries).
	DefaultMaxTransactions = 100
	// DefaultMemberIDPrefix prefixes the Polar user id to make the
	// member-id sent when registering a user.
	DefaultMemberIDPrefix = "wearbridge-"
	// maxBody bounds one response body.
	maxBody = 64 << 20
)

// ErrUnauthorized marks a request Polar refused because the access token is
// missing or revoked (HTTP 401). Polar issues no refresh token, so the user
// must connect again. It is the core's source.ErrUnauthorized.
var ErrUnauthorized = source.ErrUnauthorized

// RateLimitError is returned when Polar answers 429; RetryAfter comes from
// Polar's RateLimit-Reset header (see retryAfter).
type RateLimitError = source.RateLimitError

// Config configures the provider. Zero fields take the defaults.
type Config struct {
	// ClientID and ClientSecret are the AccessLink client's credentials
	// (admin.polaraccesslink.com). They are sent with HTTP Basic auth to the
	// token endpoint and to the client-level webhook endpoints.
	ClientID, ClientSecret string
	// AuthURL is the authorization endpoint. Default DefaultAuthURL.
	AuthURL string
	// TokenURL is the token endpoint. Default DefaultTokenURL.
	TokenURL string
	// APIBase is the AccessLink root, without a trailing slash. Default
	// DefaultAPIBase.
	APIBase string
	// Scopes asked for. Default DefaultScopes.
	Scopes []string
	// WebhookSecret is the signature_secret_key Polar returned when the
	// webhook was created (see [Provider.CreateWebhook]). Pushes other
	// than PING are refused while it is empty.
	WebhookSecret string
	// MemberIDPrefix is put before the Polar user id to make the member-id
	// of POST /v3/users. Default DefaultMemberIDPrefix.
	MemberIDPrefix string
	// BackfillDepth is how far back a new connection is backfilled.
	// Default DefaultBackfillDepth (28 days); capped at HistoryLimit.
	BackfillDepth time.Duration
	// HistoryLimit is how far back AccessLink keeps data: BackfillDepth is
	// capped at it and no day older than it is asked for. Default
	// DefaultHistoryLimit (30 days); -1 means no limit (the sandbox, whose
	// recorded data is older).
	HistoryLimit time.Duration
	// RequestBudget requests are allowed per RequestBudgetPeriod (see
	// source.Budgeted). Default DefaultRequestBudget per
	// DefaultRequestBudgetPeriod; -1 means no budget.
	RequestBudget       int
	RequestBudgetPeriod time.Duration
	// MaxTransactions bounds the activity transactions drained per pull.
	// Default DefaultMaxTransactions.
	MaxTransactions int
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger receives debug lines about requests. Default: discard.
	Logger *slog.Logger
}

// Provider is the Polar provider. It is safe for concurrent use.
type Provider struct {
	cfg Config
	log *slog.Logger
}

var (
	_ source.OAuth       = (*Provider)(nil)
	_ source.Puller      = (*Provider)(nil)
	_ source.Pusher      = (*Provider)(nil)
	_ source.ItemFetcher = (*Provider)(nil)
	_ source.Budgeted    = (*Provider)(nil)
)

// New returns a Polar provider with cfg's zero fields set to the defaults.
func New(cfg Config) *Provider {
	cfg.AuthURL = cmp.Or(cfg.AuthURL, DefaultAuthURL)
	cfg.TokenURL = cmp.Or(cfg.TokenURL, DefaultTokenURL)
	cfg.APIBase = strings.TrimRight(cmp.Or(cfg.APIBase, DefaultAPIBase), "/")
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = DefaultScopes
	}
	cfg.MemberIDPrefix = cmp.Or(cfg.MemberIDPrefix, DefaultMemberIDPrefix)
	cfg.HistoryLimit = cmp.Or(cfg.HistoryLimit, DefaultHistoryLimit)
	cfg.BackfillDepth = cmp.Or(cfg.BackfillDepth, DefaultBackfillDepth)
	if cfg.HistoryLimit > 0 && cfg.BackfillDepth > cfg.HistoryLimit {
		cfg.BackfillDepth = cfg.HistoryLimit
	}
	cfg.RequestBudget = cmp.Or(cfg.RequestBudget, DefaultRequestBudget)
	cfg.RequestBudgetPeriod = cmp.Or(cfg.RequestBudgetPeriod, DefaultRequestBudgetPeriod)
	cfg.MaxTransactions = cmp.Or(cfg.MaxTransactions, DefaultMaxTransactions)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Provider{cfg: cfg, log: log.With("provider", Name)}
}

// Name returns "POLAR".
func (p *Provider) Name() string { return Name }

// OAuthConfig returns the client settings; RedirectURL is left for the core
// to set. Polar wants the client credentials in an HTTP Basic header.
func (p *Provider) OAuthConfig() oauth2.Config {
	return oauth2.Config{
		ClientID:     p.cfg.ClientID,
		ClientSecret: p.cfg.ClientSecret,
		Endpoint: oauth2.Endpoint{
			AuthURL:   p.cfg.AuthURL,
			TokenURL:  p.cfg.TokenURL,
			AuthStyle: oauth2.AuthStyleInHeader,
		},
		Scopes: append([]string(nil), p.cfg.Scopes...),
	}
}

// UsePKCE reports false: Polar's authorization-code flow has no PKCE.
func (p *Provider) UsePKCE() bool { return false }

// PullTypes lists activity, sleep and daily.
func (p *Provider) PullTypes() []model.DataType {
	return []model.DataType{model.TypeActivity, model.TypeSleep, model.TypeDaily}
}

// BackfillDepth is how far back a new connection is backfilled: the
// configured depth, capped at the history AccessLink keeps.
func (p *Provider) BackfillDepth() time.Duration { return p.cfg.BackfillDepth }

// RequestBudget returns Polar's per-app request budget as configured (0, 0
// when it is off).
func (p *Provider) RequestBudget() (requests int, per time.Duration) {
	if p.cfg.RequestBudget < 0 || p.cfg.RequestBudgetPeriod < 0 {
		return 0, 0
	}
	return p.cfg.RequestBudget, p.cfg.RequestBudgetPeriod
}

// Identify registers the user with our AccessLink client and returns the
// Polar user id.
//
// The id is the x_user_id of the token response. AccessLink serves a
// user's data only after POST /v3/users with a member-id (our name for the
// user); 200 is a new registration and 409 means the user was registered
// before, both are fine. Identify does not know our user id, so the
// member-id is Config.MemberIDPrefix + the Polar user id, which is unique
// per Polar user. A 403 means the user has not accepted Polar's mandatory
// consents.
func (p *Provider) Identify(ctx context.Context, hc *http.Client, tok *oauth2.Token) (source.Identity, error) {
	var polarID string
	if tok != nil {
		polarID = idString(tok.Extra("x_user_id"))
	}
	if polarID == "" {
		return source.Identity{}, errors.New("polar token response has no x_user_id")
	}
	body, err := json.Marshal(map[string]string{"member-id": p.cfg.MemberIDPrefix + polarID})
	if err != nil {
		return source.Identity{}, fmt.Errorf("polar register user: %w", err)
	}
	resp, err := p.do(ctx, hc, http.MethodPost, p.cfg.APIBase+"/v3/users", bytes.NewReader(body), http.StatusConflict, http.StatusForbidden)
	if err != nil {
		return source.Identity{}, fmt.Errorf("polar register user: %w", err)
	}
	switch resp.status {
	case http.StatusConflict:
		// Already registered to us: fine.
	case http.StatusForbidden:
		return source.Identity{}, fmt.Errorf("polar register user: the user has not accepted all of Polar's mandatory consents (account.polar.com): %s", errorMessage(resp.body))
	default:
		var u struct {
			PolarUserID json.RawMessage `json:"polar-user-id"`
		}
		if len(bytes.TrimSpace(resp.body)) > 0 {
			if err := json.Unmarshal(resp.body, &u); err != nil {
				return source.Identity{}, fmt.Errorf("polar register user: decode: %w", err)
			}
		}
		if got := rawIDString(u.PolarUserID); got != "" && got != polarID {
			return source.Identity{}, fmt.Errorf("polar register user: registered user %s, but the token is for user %s", got, polarID)
		}
	}
	id := source.Identity{UserID: polarID}
	if s, ok := tok.Extra("scope").(string); ok {
		id.Scopes = strings.Join(strings.Fields(s), ",")
	}
	return id, nil
}

// idString renders a user id given as a JSON number or string.
func idString(v any) string {
	switch x := v.(type) {
	case float64:
		if x <= 0 || x != float64(int64(x)) {
			return ""
		}
		return strconv.FormatInt(int64(x), 10)
	case json.Number:
		return rawIDString(json.RawMessage(x))
	case string:
		return rawIDString(json.RawMessage(strconv.Quote(x)))
	}
	return ""
}

// rawIDString reads a positive integer id written as a JSON number or a
// JSON string of digits; "" when it is neither.
func rawIDString(raw json.RawMessage) string {
	s := strings.TrimSpace(string(raw))
	if unq, err := strconv.Unquote(s); err == nil {
		s = strings.TrimSpace(unq)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return ""
	}
	return strconv.FormatInt(n, 10)
}
