// Package oura is the Oura Ring provider: OAuth 2.0 settings, a client for
// the Oura API v2 user collections, and the mappers from Oura documents to
// Terra v2 records.
//
// What is pulled for each Terra data type:
//
//   - sleep: the sleep collection (one Sleep per sleep period, keyed by the
//     Oura id), with the daily_sleep score of the period's day on main
//     sleeps.
//   - daily: daily_activity, daily_readiness, daily_spo2 and daily_sleep
//     merged into one Daily per Oura day, keyed by the day.
//   - activity: workout and session (meditation, breathing, ...), one
//     Activity per document, keyed by the Oura id.
//   - body: heartrate, one Body per UTC day holding that day's samples,
//     keyed by the day.
//
// Every timestamp keeps the UTC offset Oura gave for its record, and series
// inside one record use the offset of the record's start throughout.
package oura

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

// The real Oura endpoints.
const (
	DefaultAuthURL  = "https://cloud.ouraring.com/oauth/authorize"
	DefaultTokenURL = "https://api.ouraring.com/oauth/token"
	DefaultAPIBase  = "https://api.ouraring.com"
)

// DefaultScopes are the Oura scopes asked for by default: everything the
// mappers use plus the profile.
var DefaultScopes = []string{"email", "personal", "daily", "heartrate", "workout", "tag", "session", "spo2Daily"}

// Defaults for the Config fields that are durations or counts.
const (
	DefaultBackfillDepth = 28 * 24 * time.Hour
	DefaultMaxPages      = 1000
	// maxBody bounds one response body.
	maxBody = 64 << 20
)

// ErrUnauthorized marks a request Oura refused because the access token is
// missing, expired or revoked (HTTP 401), or a refresh the provider
// refused. It is the core's source.ErrUnauthorized.
var ErrUnauthorized = source.ErrUnauthorized

// RateLimitError is returned when Oura answers 429 Too Many Requests; its
// RetryAfter is Oura's Retry-After (zero if it did not say).
type RateLimitError = source.RateLimitError

// APIError is a non-2xx answer from Oura other than 429.
type APIError struct {
	// StatusCode is the HTTP status.
	StatusCode int
	// Detail is Oura's own explanation (the "detail" field of the error
	// body), flattened to one line.
	Detail string
}

func (e *APIError) Error() string {
	if e.Detail == "" {
		return fmt.Sprintf("oura: http %d", e.StatusCode)
	}
	return fmt.Sprintf("oura: http %d: %s", e.StatusCode, e.Detail)
}

// Unwrap makes a 401 match ErrUnauthorized.
func (e *APIError) Unwrap() error {
	if e.StatusCode == http.StatusUnauthorized {
		return ErrUnauthorized
	}
	return nil
}

// Config configures the provider. Zero fields take the defaults.
type Config struct {
	// ClientID and ClientSecret are the Oura API application's credentials.
	ClientID, ClientSecret string
	// AuthURL is the authorization endpoint. Default DefaultAuthURL.
	AuthURL string
	// TokenURL is the token endpoint. Default DefaultTokenURL.
	TokenURL string
	// APIBase is the API root, without a trailing slash. Default
	// DefaultAPIBase.
	APIBase string
	// Scopes asked for. Default DefaultScopes.
	Scopes []string
	// BackfillDepth is how far back a new connection is backfilled.
	// Default DefaultBackfillDepth (28 days).
	BackfillDepth time.Duration
	// MaxPages bounds the pages followed for one collection in one pull,
	// against a provider that never stops paging. Default DefaultMaxPages.
	MaxPages int
	// Logger receives debug lines about requests. Default: discard.
	Logger *slog.Logger
}

// Provider is the Oura provider. It is safe for concurrent use.
type Provider struct {
	cfg Config
	log *slog.Logger
}

var (
	_ source.OAuth  = (*Provider)(nil)
	_ source.Puller = (*Provider)(nil)
)

// New returns an Oura provider with cfg's zero fields set to the defaults.
func New(cfg Config) *Provider {
	cfg.AuthURL = cmp.Or(cfg.AuthURL, DefaultAuthURL)
	cfg.TokenURL = cmp.Or(cfg.TokenURL, DefaultTokenURL)
	cfg.APIBase = strings.TrimRight(cmp.Or(cfg.APIBase, DefaultAPIBase), "/")
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = DefaultScopes
	}
	cfg.BackfillDepth = cmp.Or(cfg.BackfillDepth, DefaultBackfillDepth)
	cfg.MaxPages = cmp.Or(cfg.MaxPages, DefaultMaxPages)
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Provider{cfg: cfg, log: log.With("provider", "OURA")}
}

// Name returns "OURA".
func (p *Provider) Name() string { return "OURA" }

// OAuthConfig returns the OAuth client settings; RedirectURL is left for
// the core to set.
func (p *Provider) OAuthConfig() oauth2.Config {
	return oauth2.Config{
		ClientID:     p.cfg.ClientID,
		ClientSecret: p.cfg.ClientSecret,
		Endpoint: oauth2.Endpoint{
			AuthURL:  p.cfg.AuthURL,
			TokenURL: p.cfg.TokenURL,
		},
		Scopes: append([]string(nil), p.cfg.Scopes...),
	}
}

// UsePKCE reports false: Oura's authorization-code flow uses the client
// secret.
func (p *Provider) UsePKCE() bool { return false }

// Identify returns the Oura user id from GET /v2/usercollection/personal_info.
// Scopes come from the token response's "scope" field when Oura sent one.
func (p *Provider) Identify(ctx context.Context, hc *http.Client, tok *oauth2.Token) (source.Identity, error) {
	body, err := p.get(ctx, hc, p.cfg.APIBase+"/v2/usercollection/personal_info")
	if err != nil {
		return source.Identity{}, fmt.Errorf("oura personal_info: %w", err)
	}
	var info struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(body, &info); err != nil {
		return source.Identity{}, fmt.Errorf("oura personal_info: decode: %w", err)
	}
	if info.ID == "" {
		return source.Identity{}, errors.New("oura personal_info: no id in response")
	}
	id := source.Identity{UserID: info.ID}
	if tok != nil {
		if s, ok := tok.Extra("scope").(string); ok {
			id.Scopes = strings.Join(strings.Fields(s), ",")
		}
	}
	return id, nil
}

// PullTypes lists sleep, daily, activity and body.
func (p *Provider) PullTypes() []model.DataType {
	return []model.DataType{model.TypeSleep, model.TypeDaily, model.TypeActivity, model.TypeBody}
}

// BackfillDepth is how far back a new connection is backfilled.
func (p *Provider) BackfillDepth() time.Duration { return p.cfg.BackfillDepth }

// collectionURL is the list endpoint of an Oura user collection.
func (p *Provider) collectionURL(collection string, q url.Values) string {
	return p.cfg.APIBase + "/v2/usercollection/" + collection + "?" + q.Encode()
}
