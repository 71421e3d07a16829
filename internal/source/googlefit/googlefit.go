package googlefit

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/wearbridge/wearbridge/internal/model"
	"github.com/wearbridge/wearbridge/internal/source"
)

// ProviderName is the Terra spelling of the provider.
const ProviderName = "GOOGLE"

// The real Google endpoints.
const (
	DefaultAuthURL     = "https://accounts.google.com/o/oauth2/v2/auth"
	DefaultTokenURL    = "https://oauth2.googleapis.com/token"
	DefaultUserInfoURL = "https://openidconnect.googleapis.com/v1/userinfo"
	// DefaultAPIBase is the Fitness API root; paths below it start with
	// /users/me/.
	DefaultAPIBase = "https://www.googleapis.com/fitness/v1"
)

// The scopes asked for by default: openid, so that the userinfo endpoint
// names the user, and the read scopes of every data type the mappers use
// (distance needs location.read).
const (
	ScopeOpenID        = "openid"
	ScopeActivityRead  = "https://www.googleapis.com/auth/fitness.activity.read"
	ScopeBodyRead      = "https://www.googleapis.com/auth/fitness.body.read"
	ScopeHeartRateRead = "https://www.googleapis.com/auth/fitness.heart_rate.read"
	ScopeSleepRead     = "https://www.googleapis.com/auth/fitness.sleep.read"
	ScopeLocationRead  = "https://www.googleapis.com/auth/fitness.location.read"
)

// Defaults for the Config fields that are durations or counts.
const (
	// DefaultRetryAfter is the wait after a rate limit that came without
	// Retry-After.
	DefaultRetryAfter    = time.Minute
	DefaultBackfillDepth = 28 * 24 * time.Hour
	// DefaultPageSize is the limit sent with each dataset read.
	DefaultPageSize = 2000
	// DefaultMaxPages bounds the pages read from one stream in one window.
	DefaultMaxPages = 1000
	// maxBody bounds one response body.
	maxBody = 64 << 20
)

// DefaultScopes are the scopes asked for when Config.Scopes is empty.
var DefaultScopes = []string{ScopeOpenID, ScopeActivityRead, ScopeBodyRead, ScopeHeartRateRead, ScopeSleepRead, ScopeLocationRead}

// Config configures the provider. Zero fields take the defaults.
type Config struct {
	// ClientID and ClientSecret are the Google Cloud OAuth client's
	// credentials.
	ClientID, ClientSecret string
	// AuthURL is the authorization endpoint. Default DefaultAuthURL.
	// access_type=offline and prompt=consent are added to it (see
	// OAuthConfig).
	AuthURL string
	// TokenURL is the token endpoint. Default DefaultTokenURL.
	TokenURL string
	// UserInfoURL is the OpenID Connect userinfo endpoint that Identify
	// asks. Default DefaultUserInfoURL.
	UserInfoURL string
	// APIBase is the Fitness API root, without a trailing slash. Default
	// DefaultAPIBase.
	APIBase string
	// Scopes asked for. Default DefaultScopes.
	Scopes []string
	// BackfillDepth is how far back a new connection is backfilled.
	// Default DefaultBackfillDepth (28 days); Google Fit has no history
	// limit, so it is not capped.
	BackfillDepth time.Duration
	// PageSize is the limit of points per dataset page. Default
	// DefaultPageSize.
	PageSize int
	// MaxPages bounds the pages followed in one stream read, against a
	// server that never stops paging. Default DefaultMaxPages.
	MaxPages int
	// Logger receives debug lines about requests. Default: discard.
	Logger *slog.Logger
}

// Provider is the Google Fit provider. It is safe for concurrent use.
type Provider struct {
	cfg Config
	log *slog.Logger
}

var (
	_ source.OAuth  = (*Provider)(nil)
	_ source.Puller = (*Provider)(nil)
)

// New returns a Google Fit provider with cfg's zero fields set to the
// defaults.
func New(cfg Config) *Provider {
	cfg.AuthURL = cmp.Or(cfg.AuthURL, DefaultAuthURL)
	cfg.TokenURL = cmp.Or(cfg.TokenURL, DefaultTokenURL)
	cfg.UserInfoURL = cmp.Or(cfg.UserInfoURL, DefaultUserInfoURL)
	cfg.APIBase = strings.TrimRight(cmp.Or(cfg.APIBase, DefaultAPIBase), "/")
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = DefaultScopes
	}
	cfg.BackfillDepth = cmp.Or(cfg.BackfillDepth, DefaultBackfillDepth)
	cfg.PageSize = cmp.Or(cfg.PageSize, DefaultPageSize)
	cfg.MaxPages = cmp.Or(cfg.MaxPages, DefaultMaxPages)
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Provider{cfg: cfg, log: log.With("provider", ProviderName)}
}

// Name returns "GOOGLE".
func (p *Provider) Name() string { return ProviderName }

// OAuthConfig returns the OAuth client settings; RedirectURL is left for
// the core to set.
//
// Google issues a refresh token only when the authorization request says
// access_type=offline, and issues it again on a later consent only with
// prompt=consent. The core passes nothing but the PKCE options to
// AuthCodeURL, so both parameters are put in the AuthURL itself
// (golang.org/x/oauth2 appends its own with "&"). The client authenticates
// in the form body, as Google's own endpoint settings do (Google accepts
// HTTP Basic too).
func (p *Provider) OAuthConfig() oauth2.Config {
	return oauth2.Config{
		ClientID:     p.cfg.ClientID,
		ClientSecret: p.cfg.ClientSecret,
		Endpoint: oauth2.Endpoint{
			AuthURL:   offlineAuthURL(p.cfg.AuthURL),
			TokenURL:  p.cfg.TokenURL,
			AuthStyle: oauth2.AuthStyleInParams,
		},
		Scopes: append([]string(nil), p.cfg.Scopes...),
	}
}

// offlineAuthURL adds access_type=offline and prompt=consent to u unless it
// already sets them.
func offlineAuthURL(u string) string {
	parsed, err := url.Parse(u)
	if err != nil {
		return u
	}
	q := parsed.Query()
	if q.Get("access_type") == "" {
		q.Set("access_type", "offline")
	}
	if q.Get("prompt") == "" {
		q.Set("prompt", "consent")
	}
	parsed.RawQuery = q.Encode()
	return parsed.String()
}

// UsePKCE reports true: Google's authorization-code flow takes an S256
// code challenge (with the client secret still required for web clients).
func (p *Provider) UsePKCE() bool { return true }

// Identify returns the user's Google account id. The Fitness API has no
// user endpoint of its own, so Identify asks the OpenID Connect userinfo
// endpoint (which needs the openid scope) for "sub", the stable account
// id. Scopes come from the token response's "scope" field.
func (p *Provider) Identify(ctx context.Context, hc *http.Client, tok *oauth2.Token) (source.Identity, error) {
	body, err := p.do(ctx, hc, http.MethodGet, p.cfg.UserInfoURL, nil)
	if err != nil {
		return source.Identity{}, fmt.Errorf("google userinfo: %w", err)
	}
	var info struct {
		Sub string `json:"sub"`
	}
	if err := json.Unmarshal(body, &info); err != nil {
		return source.Identity{}, fmt.Errorf("google userinfo: decode: %w", err)
	}
	if info.Sub == "" {
		return source.Identity{}, errors.New("google userinfo: no sub in response (is the openid scope granted?)")
	}
	id := source.Identity{UserID: info.Sub}
	if tok != nil {
		if s, ok := tok.Extra("scope").(string); ok {
			id.Scopes = strings.Join(strings.Fields(s), ",")
		}
	}
	return id, nil
}

// PullTypes lists activity, sleep, daily and body.
func (p *Provider) PullTypes() []model.DataType {
	return []model.DataType{model.TypeActivity, model.TypeSleep, model.TypeDaily, model.TypeBody}
}

// BackfillDepth is how far back a new connection is backfilled.
func (p *Provider) BackfillDepth() time.Duration { return p.cfg.BackfillDepth }
