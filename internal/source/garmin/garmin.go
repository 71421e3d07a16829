// Package garmin is the Garmin Health API provider (Garmin Connect Developer
// Program). Users connect through Garmin's OAuth 2.0 authorization-code flow
// with PKCE (S256); data arrives by push: Garmin POSTs JSON bodies whose keys
// are summary types ("dailies", "sleeps", "bodyComps", ...) and whose values
// are lists of summaries, each carrying the Garmin userId it belongs to.
//
// Mapping to Terra v2:
//
//   - dailies → Daily (key: summaryId)
//   - sleeps → Sleep (key: summaryId)
//   - bodyComps (also accepted as "body") → Body with one measurement
//     (key: "bodycomp:" + summaryId)
//   - pulseox → Body oxygen_data (key: "pulseox:" + summaryId)
//   - allDayRespiration → Body with a respiration_data extension
//     (key: "respiration:" + summaryId); see [BodyWithRespiration]
//
// Garmin builds summaryIds from the user and the summary's start time, so two
// summaries of different types can carry the same id; the three summary
// types that all become Terra "body" records therefore get a type prefix in
// their key. Other summary types are reported as problems with their raw
// JSON kept.
//
// Times: Garmin gives UTC Unix seconds plus an offset to the device's local
// display time. Every timestamp of a summary is rendered with that summary's
// own offset, so a record keeps the offset it was recorded in whatever zone
// the server runs in.
package garmin

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"golang.org/x/oauth2"

	"github.com/wearbridge/wearbridge/internal/source"
)

// Name is the provider name as Terra spells it.
const Name = "GARMIN"

// The real Garmin endpoints, used when a Config field is empty.
const (
	DefaultAuthURL  = "https://connect.garmin.com/oauth2Confirm"
	DefaultTokenURL = "https://diauth.garmin.com/di-oauth2-service/oauth/token"
	DefaultAPIBase  = "https://apis.garmin.com"
)

// UserIDPath is the Health API path, relative to Config.APIBase, that
// returns the Garmin user id of the token's owner as {"userId": "..."}.
const UserIDPath = "/wellness-api/rest/user/id"

// Config holds the Garmin client settings.
type Config struct {
	// ClientID and ClientSecret are the OAuth 2.0 client credentials from the
	// Garmin developer portal. When ClientID is set, pushes that carry a
	// garmin-client-id header for another client are rejected.
	ClientID, ClientSecret string
	// AuthURL is the authorization endpoint. Default DefaultAuthURL.
	AuthURL string
	// TokenURL is the token endpoint. Default DefaultTokenURL.
	TokenURL string
	// APIBase is the Health API origin; UserIDPath is appended to it.
	// Default DefaultAPIBase.
	APIBase string
}

// Provider is the Garmin Health API provider. It is safe for concurrent use.
type Provider struct {
	cfg Config
}

var (
	_ source.OAuth  = (*Provider)(nil)
	_ source.Pusher = (*Provider)(nil)
)

// New returns a Garmin provider; empty URL fields take the real Garmin
// endpoints.
func New(cfg Config) *Provider {
	cfg.AuthURL = cmp.Or(cfg.AuthURL, DefaultAuthURL)
	cfg.TokenURL = cmp.Or(cfg.TokenURL, DefaultTokenURL)
	cfg.APIBase = strings.TrimRight(cmp.Or(cfg.APIBase, DefaultAPIBase), "/")
	return &Provider{cfg: cfg}
}

// Name returns "GARMIN".
func (p *Provider) Name() string { return Name }

// OAuthConfig returns the client settings. Garmin takes the client
// credentials in the token request body and uses no scopes: the user picks
// the data permissions on the consent page.
func (p *Provider) OAuthConfig() oauth2.Config {
	return oauth2.Config{
		ClientID:     p.cfg.ClientID,
		ClientSecret: p.cfg.ClientSecret,
		Endpoint: oauth2.Endpoint{
			AuthURL:   p.cfg.AuthURL,
			TokenURL:  p.cfg.TokenURL,
			AuthStyle: oauth2.AuthStyleInParams,
		},
	}
}

// UsePKCE reports true: Garmin's OAuth 2.0 flow requires an S256 challenge.
func (p *Provider) UsePKCE() bool { return true }

// Identify asks the Health API for the Garmin user id of the token's owner;
// it is the userId that every push for that user carries. The scopes are
// the token response's "scope" field, comma separated, when tok has it.
func (p *Provider) Identify(ctx context.Context, hc *http.Client, tok *oauth2.Token) (source.Identity, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.cfg.APIBase+UserIDPath, nil)
	if err != nil {
		return source.Identity{}, fmt.Errorf("garmin user id: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return source.Identity{}, fmt.Errorf("garmin user id: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil {
		return source.Identity{}, fmt.Errorf("garmin user id: read body: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return source.Identity{}, fmt.Errorf("garmin user id: status %d: %s", resp.StatusCode, snippet(body))
	}
	var v struct {
		UserID string `json:"userId"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return source.Identity{}, fmt.Errorf("garmin user id: decode: %w", err)
	}
	if strings.TrimSpace(v.UserID) == "" {
		return source.Identity{}, fmt.Errorf("garmin user id: response has no userId")
	}
	id := source.Identity{UserID: v.UserID}
	if tok != nil {
		if s, ok := tok.Extra("scope").(string); ok {
			id.Scopes = strings.Join(strings.Fields(s), ",")
		}
	}
	return id, nil
}

// snippet shortens a response body for an error message.
func snippet(b []byte) string {
	const max = 200
	s := strings.TrimSpace(string(b))
	if len(s) > max {
		s = s[:max] + "..."
	}
	return s
}
