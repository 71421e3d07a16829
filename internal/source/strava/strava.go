// Package strava is the Strava API v3 provider: OAuth 2.0 settings and
// token exchange, a client for the athlete's activities, the webhook
// (push subscription) receiver, and the mappers from Strava activities to
// Terra v2 Activity records.
//
// Data: Strava has activities only. A pull lists the athlete's activities
// of a window (GET /api/v3/athlete/activities with before/after, page by
// page until an empty page) and fetches each one in full: the detailed
// activity (GET /api/v3/activities/{id}), its laps when the detailed
// activity does not carry them (/laps), and its streams (/streams with
// key_by_type=true), which become the Activity's samples. One Activity per
// Strava activity, keyed by the Strava activity id.
//
// Push: Strava POSTs one JSON event per change (activity create, update,
// delete; athlete deauthorization) to the callback of the app's push
// subscription, after verifying the callback with a GET hub.challenge
// handshake (see [Provider.VerifySubscription]). Events name the activity
// only; [Provider.ParsePush] turns them into item pulls that the core runs
// through [Provider.FetchItem]. Strava does not sign events.
//
// Times: Strava gives start_date in UTC and start_date_local, the wall
// clock where the activity was recorded, written with a misleading "Z".
// Their difference is the activity's UTC offset, which every timestamp of
// the activity keeps. The "timezone" label ("(GMT-05:00) America/New_York")
// gives the zone's standard offset, not the one in force, and is not used
// for times.
//
// References: developers.strava.com/docs/authentication,
// developers.strava.com/docs/reference (activities, laps, streams),
// developers.strava.com/docs/webhooks, developers.strava.com/docs/rate-limits.
package strava

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/wearbridge/wearbridge/internal/model"
	"github.com/wearbridge/wearbridge/internal/source"
)

// Name is the provider name as Terra spells it.
const Name = "STRAVA"

// The real Strava endpoints.
const (
	DefaultAuthURL  = "https://www.strava.com/oauth/authorize"
	DefaultTokenURL = "https://www.strava.com/oauth/token"
	DefaultAPIBase  = "https://www.strava.com/api/v3"
)

// DefaultScope is the scope asked for: public data, every activity
// (including "only me" ones) and the full profile. Strava wants the scopes
// comma separated in one parameter.
const DefaultScope = "read,activity:read_all,profile:read_all"

// Defaults for the Config fields that are durations or counts.
const (
	// DefaultBackfillDepth is how far back a new connection is backfilled.
	// Strava serves an athlete's whole history, so there is no cap.
	DefaultBackfillDepth = 28 * 24 * time.Hour
	// DefaultPageSize is per_page of the activity list: Strava's maximum.
	DefaultPageSize = 200
	// DefaultMaxPages bounds the pages of one list, against a server that
	// never returns an empty page.
	DefaultMaxPages = 1000
	// DefaultRequestBudget is the default "non-upload" (read) rate limit of
	// a Strava app: 100 requests per 15 minutes (and 1,000 a day, which is
	// left to the 429 handling).
	DefaultRequestBudget = 100
	// BudgetPeriod is the period of the request budget.
	BudgetPeriod = 15 * time.Minute
	// maxBody bounds one response body (streams of a long activity are
	// a few MB).
	maxBody = 64 << 20
)

// StreamKeys are the streams asked for with every activity: the time
// offsets and every series that has a Terra sample.
var StreamKeys = []string{"time", "latlng", "distance", "altitude", "heartrate", "cadence", "watts", "velocity_smooth"}

// Config configures the provider. Zero fields take the defaults.
type Config struct {
	// ClientID and ClientSecret are the Strava API application's
	// credentials; Strava takes them in the token request body.
	ClientID, ClientSecret string
	// AuthURL is the authorization endpoint. Default DefaultAuthURL.
	AuthURL string
	// TokenURL is the token endpoint. Default DefaultTokenURL.
	TokenURL string
	// APIBase is the API root including /api/v3, without a trailing
	// slash. Default DefaultAPIBase.
	APIBase string
	// Scope is the comma-separated scope asked for. Default DefaultScope.
	Scope string
	// ApprovalPrompt is Strava's approval_prompt: "auto" skips the consent
	// page for an athlete who already authorised the app, "force" always
	// shows it. Default "auto".
	ApprovalPrompt string
	// VerifyToken is the verify_token given to Strava when the push
	// subscription was created; the subscription handshake is answered
	// only when Strava sends it back. Empty: every handshake is refused.
	VerifyToken string
	// SubscriptionID, when set, is the id of the app's push subscription;
	// events of another subscription are refused. Zero: not checked.
	SubscriptionID int64
	// BackfillDepth is how far back a new connection is backfilled.
	// Default DefaultBackfillDepth (28 days).
	BackfillDepth time.Duration
	// PageSize is per_page of the activity list, at most 200. Default
	// DefaultPageSize (200).
	PageSize int
	// MaxPages bounds the pages of one list. Default DefaultMaxPages.
	MaxPages int
	// SummaryOnly maps the activity list items as they are, without the
	// per-activity requests (detail, laps, streams): three times fewer
	// requests, but no samples, laps, calories or device. Pushed items are
	// always fetched in full.
	SummaryOnly bool
	// RequestBudget is how many requests per 15 minutes the core may make
	// to Strava for this app. Default DefaultRequestBudget (100); -1: no
	// spacing.
	RequestBudget int
	// Now is the clock, for the rate-limit reset when a 429 has no Date
	// header. Default time.Now.
	Now func() time.Time
	// Logger receives debug lines about requests. Default: discard.
	Logger *slog.Logger
}

// Provider is the Strava provider. It is safe for concurrent use.
type Provider struct {
	cfg Config
	log *slog.Logger
}

var (
	_ source.OAuth          = (*Provider)(nil)
	_ source.TokenExchanger = (*Provider)(nil)
	_ source.Puller         = (*Provider)(nil)
	_ source.ItemFetcher    = (*Provider)(nil)
	_ source.Pusher         = (*Provider)(nil)
	_ source.PushVerifier   = (*Provider)(nil)
	_ source.Budgeted       = (*Provider)(nil)
)

// New returns a Strava provider with cfg's zero fields set to the defaults.
func New(cfg Config) *Provider {
	cfg.AuthURL = cmp.Or(cfg.AuthURL, DefaultAuthURL)
	cfg.TokenURL = cmp.Or(cfg.TokenURL, DefaultTokenURL)
	cfg.APIBase = strings.TrimRight(cmp.Or(cfg.APIBase, DefaultAPIBase), "/")
	cfg.Scope = cmp.Or(cfg.Scope, DefaultScope)
	cfg.ApprovalPrompt = cmp.Or(cfg.ApprovalPrompt, "auto")
	cfg.BackfillDepth = cmp.Or(cfg.BackfillDepth, DefaultBackfillDepth)
	cfg.PageSize = min(cmp.Or(cfg.PageSize, DefaultPageSize), DefaultPageSize)
	cfg.MaxPages = cmp.Or(cfg.MaxPages, DefaultMaxPages)
	cfg.RequestBudget = cmp.Or(cfg.RequestBudget, DefaultRequestBudget)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Provider{cfg: cfg, log: log.With("provider", Name)}
}

// Name returns "STRAVA".
func (p *Provider) Name() string { return Name }

// OAuthConfig returns the client settings. approval_prompt rides on the
// authorization URL; the scope is one comma-separated value, as Strava
// wants it. Strava takes the client credentials in the token request body.
func (p *Provider) OAuthConfig() oauth2.Config {
	return oauth2.Config{
		ClientID:     p.cfg.ClientID,
		ClientSecret: p.cfg.ClientSecret,
		Endpoint: oauth2.Endpoint{
			AuthURL:   withQuery(p.cfg.AuthURL, "approval_prompt", p.cfg.ApprovalPrompt),
			TokenURL:  p.cfg.TokenURL,
			AuthStyle: oauth2.AuthStyleInParams,
		},
		Scopes: []string{p.cfg.Scope},
	}
}

// UsePKCE reports false: Strava's web flow authenticates the client with
// its secret and does not take a code challenge.
func (p *Provider) UsePKCE() bool { return false }

// Identify returns the Strava athlete id. Strava puts the athlete in the
// code exchange's token response ("athlete": {"id": ...}); a token without
// it (one read back from storage) is identified with GET /athlete.
//
// Strava does not say the granted scopes in the token response, only in
// the redirect's "scope" parameter, which the core does not pass here, so
// Scopes stays empty.
func (p *Provider) Identify(ctx context.Context, hc *http.Client, tok *oauth2.Token) (source.Identity, error) {
	if tok != nil {
		if id := athleteID(tok.Extra("athlete")); id != "" {
			return source.Identity{UserID: id}, nil
		}
	}
	body, err := p.get(ctx, hc, p.cfg.APIBase+"/athlete")
	if err != nil {
		return source.Identity{}, fmt.Errorf("strava athlete: %w", err)
	}
	var a struct {
		ID json.Number `json:"id"`
	}
	if err := json.Unmarshal(body, &a); err != nil {
		return source.Identity{}, fmt.Errorf("strava athlete: decode: %w", err)
	}
	if _, err := strconv.ParseInt(a.ID.String(), 10, 64); err != nil {
		return source.Identity{}, errors.New("strava athlete: no id in response")
	}
	return source.Identity{UserID: a.ID.String()}, nil
}

// athleteID reads the id of the token response's athlete object.
func athleteID(v any) string {
	m, ok := v.(map[string]any)
	if !ok {
		return ""
	}
	switch id := m["id"].(type) {
	case float64:
		if id > 0 && id == float64(int64(id)) {
			return strconv.FormatInt(int64(id), 10)
		}
	case json.Number:
		if n, err := id.Int64(); err == nil && n > 0 {
			return strconv.FormatInt(n, 10)
		}
	case string:
		if n, err := strconv.ParseInt(id, 10, 64); err == nil && n > 0 {
			return id
		}
	}
	return ""
}

// PullTypes lists activity: Strava has nothing else.
func (p *Provider) PullTypes() []model.DataType { return []model.DataType{model.TypeActivity} }

// BackfillDepth is how far back a new connection is backfilled.
func (p *Provider) BackfillDepth() time.Duration { return p.cfg.BackfillDepth }

// RequestBudget returns Config.RequestBudget requests per 15 minutes
// (nothing when it is negative).
func (p *Provider) RequestBudget() (int, time.Duration) {
	if p.cfg.RequestBudget < 0 {
		return 0, 0
	}
	return p.cfg.RequestBudget, BudgetPeriod
}

// withQuery adds k=v to the query of u, if v is not empty.
func withQuery(u, k, v string) string {
	if v == "" {
		return u
	}
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	return u + sep + url.QueryEscape(k) + "=" + url.QueryEscape(v)
}
