// Package whoop is the WHOOP provider (WHOOP Developer API v2,
// developer.whoop.com): OAuth 2.0 settings, a client for the v2
// collections, webhook parsing and the mappers from WHOOP documents to Terra
// v2 records.
//
// What feeds each Terra data type:
//
//   - daily: one Daily per physiological cycle (GET /v2/cycle), keyed by the
//     cycle id, joined with the cycle's recovery (GET /v2/recovery, matched
//     by cycle_id): strain, energy, average/max heart rate, recovery score,
//     resting heart rate, HRV (RMSSD) and SpO2.
//   - sleep: one Sleep per sleep or nap (GET /v2/activity/sleep), keyed by
//     the sleep's UUID, joined with the recovery computed from it (matched
//     by sleep_id): readiness (the recovery score), resting heart rate, HRV
//     and SpO2 — recovery data goes to both, as Terra does for WHOOP.
//   - activity: one Activity per workout (GET /v2/activity/workout), keyed by
//     the workout's UUID.
//   - body: the body measurement (GET /v2/user/measurement/body: height,
//     weight, WHOOP's max heart rate), which has no date: it is filed as one
//     Body per UTC day on which it was read, keyed by that day.
//
// Days: WHOOP has no calendar day field; it counts physiological cycles,
// which begin when the user falls asleep. The Terra day of a cycle is the
// local date (in the cycle's own timezone_offset) of its start, and a sleep
// or nap is filed under the day of the cycle it belongs to. A bedtime
// before midnight therefore files the night (and the cycle) under the
// evening's date.
//
// Energy: WHOOP's cycle and workout "kilojoule" is the energy the user
// expended (the API reference: "Kilojoules the user expended"), not the
// mechanical work of a power meter, so it is converted to kcal burned
// (kJ / 4.184) and also kept in kilojoules as energy_data; it never goes to
// work_data.
//
// Scores: WHOOP sends a score only for items in score_state SCORED; items
// PENDING_SCORE or UNSCORABLE are kept with their times and without score
// fields, and a later poll or webhook fills them in.
//
// Webhooks (v2 model): WHOOP POSTs {user_id, id, type, trace_id} signed with
// X-WHOOP-Signature = base64(HMAC-SHA256(client secret, timestamp + body)).
// *.updated events become item pulls (see FetchItem); *.deleted events are
// reported as problems because the core has no way yet to delete a record.
package whoop

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/wearbridge/wearbridge/internal/model"
	"github.com/wearbridge/wearbridge/internal/source"
)

// Name is the provider name as Terra spells it.
const Name = "WHOOP"

// The real WHOOP endpoints (developer.whoop.com/docs/developing/oauth and
// the v2 OpenAPI servers entry).
const (
	DefaultAuthURL  = "https://api.prod.whoop.com/oauth/oauth2/auth"
	DefaultTokenURL = "https://api.prod.whoop.com/oauth/oauth2/token"
	DefaultAPIBase  = "https://api.prod.whoop.com/developer"
)

// DefaultScopes are asked for by default. "offline" is what makes WHOOP
// issue a refresh token; without it the connection dies after an hour.
var DefaultScopes = []string{"offline", "read:recovery", "read:cycles", "read:sleep", "read:workout", "read:profile", "read:body_measurement"}

// Defaults for the Config fields that are durations or counts.
const (
	// DefaultBackfillDepth is how far back a new connection is backfilled.
	// WHOOP documents no limit on history (a collection without "start" is
	// not filtered by time), so no cap applies.
	DefaultBackfillDepth = 28 * 24 * time.Hour
	// DefaultPageLimit is the page size asked for: WHOOP's maximum.
	DefaultPageLimit = 25
	// DefaultMaxPages bounds the pages followed for one collection in one
	// pull, against a provider that never stops paging.
	DefaultMaxPages = 10000
	// DefaultWebhookTolerance is how far a webhook's signature timestamp
	// may be from our clock.
	DefaultWebhookTolerance = 5 * time.Minute
	// DefaultRequestBudget and DefaultBudgetPeriod are WHOOP's default
	// per-app limit of 100 requests a minute
	// (developer.whoop.com/docs/developing/rate-limiting). WHOOP also
	// allows only 10,000 requests a day; that limit is met with 429s and
	// their X-RateLimit-Reset, which the core honours.
	DefaultRequestBudget = 100
	DefaultBudgetPeriod  = time.Minute
	// maxBody bounds one response body.
	maxBody = 16 << 20
)

// Config configures the provider. Zero fields take the defaults.
type Config struct {
	// ClientID and ClientSecret are the WHOOP app's credentials. The
	// secret also signs webhooks unless WebhookSecret is set.
	ClientID, ClientSecret string
	// AuthURL is the authorization endpoint. Default DefaultAuthURL.
	AuthURL string
	// TokenURL is the token endpoint. Default DefaultTokenURL.
	TokenURL string
	// APIBase is the API root the /v2/... paths are appended to, without a
	// trailing slash. Default DefaultAPIBase.
	APIBase string
	// Scopes asked for. Default DefaultScopes.
	Scopes []string
	// WebhookSecret is the key webhook signatures are checked with.
	// Default ClientSecret (WHOOP signs with the app's client secret).
	WebhookSecret string
	// WebhookTolerance is how far a webhook's X-WHOOP-Signature-Timestamp
	// may be from now before the webhook is refused as stale or replayed.
	// Default DefaultWebhookTolerance (5 minutes).
	WebhookTolerance time.Duration
	// BackfillDepth is how far back a new connection is backfilled.
	// Default DefaultBackfillDepth (28 days); WHOOP has no history limit.
	BackfillDepth time.Duration
	// PageLimit is the page size asked for, at most 25. Default 25.
	PageLimit int
	// MaxPages bounds the pages of one collection in one pull. Default
	// DefaultMaxPages.
	MaxPages int
	// RequestBudget requests per BudgetPeriod are what the core spaces this
	// provider's requests to. Default 100 per minute.
	RequestBudget int
	BudgetPeriod  time.Duration
	// Now is the clock (webhook timestamps, the day a body measurement is
	// filed under). Default time.Now.
	Now func() time.Time
	// Logger receives debug lines about requests. Default: discard.
	Logger *slog.Logger
}

// Provider is the WHOOP provider. It is safe for concurrent use.
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

// New returns a WHOOP provider with cfg's zero fields set to the defaults.
func New(cfg Config) *Provider {
	cfg.AuthURL = cmp.Or(cfg.AuthURL, DefaultAuthURL)
	cfg.TokenURL = cmp.Or(cfg.TokenURL, DefaultTokenURL)
	cfg.APIBase = strings.TrimRight(cmp.Or(cfg.APIBase, DefaultAPIBase), "/")
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = DefaultScopes
	}
	cfg.WebhookSecret = cmp.Or(cfg.WebhookSecret, cfg.ClientSecret)
	cfg.WebhookTolerance = cmp.Or(cfg.WebhookTolerance, DefaultWebhookTolerance)
	cfg.BackfillDepth = cmp.Or(cfg.BackfillDepth, DefaultBackfillDepth)
	if cfg.PageLimit <= 0 || cfg.PageLimit > DefaultPageLimit {
		cfg.PageLimit = DefaultPageLimit
	}
	cfg.MaxPages = cmp.Or(cfg.MaxPages, DefaultMaxPages)
	cfg.RequestBudget = cmp.Or(cfg.RequestBudget, DefaultRequestBudget)
	cfg.BudgetPeriod = cmp.Or(cfg.BudgetPeriod, DefaultBudgetPeriod)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Provider{cfg: cfg, log: log.With("provider", Name)}
}

// Name returns "WHOOP".
func (p *Provider) Name() string { return Name }

// OAuthConfig returns the client settings; RedirectURL is left for the
// core to set. WHOOP's token endpoint takes the client credentials in the
// form body (its tutorials send client_id and client_secret as form
// fields), and it rotates the refresh token on every refresh.
func (p *Provider) OAuthConfig() oauth2.Config {
	return oauth2.Config{
		ClientID:     p.cfg.ClientID,
		ClientSecret: p.cfg.ClientSecret,
		Endpoint: oauth2.Endpoint{
			AuthURL:   p.cfg.AuthURL,
			TokenURL:  p.cfg.TokenURL,
			AuthStyle: oauth2.AuthStyleInParams,
		},
		Scopes: append([]string(nil), p.cfg.Scopes...),
	}
}

// UsePKCE reports false: WHOOP documents a confidential-client flow with
// the client secret and no PKCE.
func (p *Provider) UsePKCE() bool { return false }

// Identify returns the WHOOP user id from GET /v2/user/profile/basic; it is
// the user_id every webhook carries. Scopes come from the token response's
// "scope" field when WHOOP sent one.
func (p *Provider) Identify(ctx context.Context, hc *http.Client, tok *oauth2.Token) (source.Identity, error) {
	body, err := p.get(ctx, hc, p.cfg.APIBase+"/v2/user/profile/basic")
	if err != nil {
		return source.Identity{}, fmt.Errorf("whoop profile: %w", err)
	}
	var prof struct {
		UserID flexID `json:"user_id"`
	}
	if err := json.Unmarshal(body, &prof); err != nil {
		return source.Identity{}, fmt.Errorf("whoop profile: decode: %w", err)
	}
	if prof.UserID == "" {
		return source.Identity{}, errors.New("whoop profile: no user_id in response")
	}
	id := source.Identity{UserID: string(prof.UserID)}
	if tok != nil {
		if s, ok := tok.Extra("scope").(string); ok {
			id.Scopes = strings.Join(strings.Fields(s), ",")
		}
	}
	return id, nil
}

// PullTypes lists daily, sleep, activity and body.
func (p *Provider) PullTypes() []model.DataType {
	return []model.DataType{model.TypeDaily, model.TypeSleep, model.TypeActivity, model.TypeBody}
}

// BackfillDepth is how far back a new connection is backfilled.
func (p *Provider) BackfillDepth() time.Duration { return p.cfg.BackfillDepth }

// RequestBudget returns the per-app request budget (default WHOOP's 100
// requests a minute).
func (p *Provider) RequestBudget() (int, time.Duration) {
	return p.cfg.RequestBudget, p.cfg.BudgetPeriod
}
