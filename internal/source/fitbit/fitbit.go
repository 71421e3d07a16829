// Package fitbit is the Fitbit Web API provider: the OAuth 2.0 settings
// (authorization code with PKCE, client authenticated with HTTP Basic), a
// client for the user's activity, sleep and body logs, the subscriber
// (webhook) receiver, and the mappers from Fitbit JSON to Terra v2 records.
//
// # Retirement
//
// Google is retiring the Fitbit Web API in favour of the Google Health API:
// its "Fitbit Web API Migration Guide" announces the end of support on 30
// September 2026 and the legacy endpoints being turned off in the autumn of
// 2026. Everything Fitbit-specific stays behind the source interfaces in this
// package, so a Google Health API provider can take its place without the
// core changing.
//
// # What is pulled
//
//   - daily: GET /1/user/-/activities/date/{day}.json (the day summary) plus,
//     unless Config.SkipIntraday, the intraday heart rate and steps
//     (/1/user/-/activities/{heart,steps}/date/{day}/1d/1min.json), merged
//     into one Daily per Fitbit day, keyed by the day.
//   - activity: the logged activities of the same day summary, one Activity
//     per Fitbit logId.
//   - sleep: GET /1.2/user/-/sleep/date/{start}/{end}.json (sleep v1.2,
//     stages and classic), one Sleep per logId, filed under dateOfSleep.
//   - body: GET /1/user/-/body/log/{weight,fat}/date/{start}/{end}.json, one
//     Body per logId holding that weigh-in's weight, BMI and body fat.
//
// Fitbit answers every day, even one before the account existed, with a
// summary of zeros and an estimated BMR; a day with nothing measured (no
// steps, distance, active minutes, heart rate or logged activity) is not
// emitted.
//
// # Time
//
// Fitbit has no time zones in its data: every date and time is the user's
// local wall-clock time (dev.fitbit.com, "Application Design: Time Zones").
// A pull first reads the profile (GET /1/user/-/profile.json) and reads the
// local times in the profile's IANA timezone, falling back to its
// offsetFromUTCMillis. Every timestamp of one record is shown with the UTC
// offset in force at the record's start. The profile gives the user's
// current zone: data recorded while travelling is read in the zone of home.
// The calendar day of a record is Fitbit's own (dateOfSleep, the summary's
// date, startDate, the weight log's date).
//
// # Units
//
// No Accept-Language header is sent, so Fitbit answers in metric units:
// distances in km (converted to meters), weight in kg, elevation in meters.
//
// # Requests
//
// Fitbit allows 150 requests per hour per user and app; a 429 becomes a
// *source.RateLimitError whose RetryAfter is Fitbit-Rate-Limit-Reset (the
// seconds until the hourly window resets). A pull costs one profile request
// plus: one request per day for activity, three per day for daily (one with
// SkipIntraday), one per 100 days for sleep and two per 31 days for body.
// Fitbit keeps the whole history of the account, so BackfillDepth has no
// provider cap; the default of 28 days keeps a first backfill (about 120
// requests) inside one hour's budget.
//
// # Push
//
// Fitbit's subscriptions POST a JSON array of notifications
// ({collectionType, date, ownerId, ownerType, subscriptionId}) signed in
// X-Fitbit-Signature; they carry no data, so ParsePush turns them into pull
// requests for the notified day. See ParsePush and VerifySubscription.
package fitbit

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
	_ "time/tzdata" // Fitbit profiles name IANA zones; read them the same on hosts without zoneinfo.

	"golang.org/x/oauth2"

	"github.com/wearbridge/wearbridge/internal/model"
	"github.com/wearbridge/wearbridge/internal/source"
)

// Name is the provider name as Terra spells it.
const Name = "FITBIT"

// The real Fitbit endpoints (dev.fitbit.com, "Authorization").
const (
	DefaultAuthURL  = "https://www.fitbit.com/oauth2/authorize"
	DefaultTokenURL = "https://api.fitbit.com/oauth2/token"
	DefaultAPIBase  = "https://api.fitbit.com"
)

// DefaultScopes are the scopes asked for by default: what the mappers read,
// plus profile for the user's time zone.
var DefaultScopes = []string{"activity", "heartrate", "sleep", "weight", "profile"}

// DefaultBackfillDepth is how far back a new connection is backfilled by
// default.
const DefaultBackfillDepth = 28 * 24 * time.Hour

// maxBody bounds one response body.
const maxBody = 32 << 20

// Config configures the provider. Zero fields take the defaults.
type Config struct {
	// ClientID and ClientSecret are the Fitbit application's OAuth 2.0
	// credentials. The secret also keys the notification signatures.
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
	// Default DefaultBackfillDepth (28 days); Fitbit sets no limit.
	BackfillDepth time.Duration
	// SubscriberVerificationCode is the verification code dev.fitbit.com
	// shows for the subscriber endpoint. VerifySubscription answers 204 to
	// it and 404 to anything else; empty refuses every verification.
	SubscriberVerificationCode string
	// SubscriberID is sent as X-Fitbit-Subscriber-Id when subscribing a
	// user. Empty: the application's default subscriber.
	SubscriberID string
	// SkipSubscribe stops Identify from creating the user's subscription
	// (POST /1/user/-/apiSubscriptions/{user id}.json). Without a
	// subscription Fitbit sends no notifications and data arrives only by
	// polling.
	SkipSubscribe bool
	// SkipIntraday stops daily pulls from fetching intraday heart rate and
	// steps: two requests fewer per day, and needed by applications that
	// Fitbit has not granted intraday access.
	SkipIntraday bool
	// Now is the clock, used when a 429 carries no reset header. Default
	// time.Now.
	Now func() time.Time
	// Logger receives debug lines about requests and warnings about failed
	// subscriptions. Default: discard.
	Logger *slog.Logger
}

// Provider is the Fitbit provider. It is safe for concurrent use.
type Provider struct {
	cfg Config
	log *slog.Logger
}

var (
	_ source.OAuth          = (*Provider)(nil)
	_ source.Puller         = (*Provider)(nil)
	_ source.Pusher         = (*Provider)(nil)
	_ source.PushVerifier   = (*Provider)(nil)
	_ source.TokenExchanger = (*Provider)(nil)
)

// New returns a Fitbit provider with cfg's zero fields set to the defaults.
func New(cfg Config) *Provider {
	cfg.AuthURL = cmp.Or(cfg.AuthURL, DefaultAuthURL)
	cfg.TokenURL = cmp.Or(cfg.TokenURL, DefaultTokenURL)
	cfg.APIBase = strings.TrimRight(cmp.Or(cfg.APIBase, DefaultAPIBase), "/")
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = DefaultScopes
	}
	cfg.BackfillDepth = cmp.Or(cfg.BackfillDepth, DefaultBackfillDepth)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Provider{cfg: cfg, log: log.With("provider", Name)}
}

// Name returns "FITBIT".
func (p *Provider) Name() string { return Name }

// OAuthConfig returns the client settings; RedirectURL is left for the core
// to set. Fitbit authenticates "server" applications with HTTP Basic on the
// token endpoint.
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

// UsePKCE reports true: Fitbit recommends the authorization code flow with
// an S256 code challenge.
func (p *Provider) UsePKCE() bool { return true }

// PullTypes lists activity, daily, sleep and body.
func (p *Provider) PullTypes() []model.DataType {
	return []model.DataType{model.TypeActivity, model.TypeDaily, model.TypeSleep, model.TypeBody}
}

// BackfillDepth is how far back a new connection is backfilled.
func (p *Provider) BackfillDepth() time.Duration { return p.cfg.BackfillDepth }

// Identify returns the Fitbit user id: the token response's user_id, or,
// when the token does not carry it, the encodedId of GET
// /1/user/-/profile.json. Scopes are the token response's scope field.
//
// Unless Config.SkipSubscribe is set, Identify then subscribes the user to
// every collection (see Subscribe); a failed subscription is logged and
// does not fail the connection, since polling still fetches the data.
func (p *Provider) Identify(ctx context.Context, hc *http.Client, tok *oauth2.Token) (source.Identity, error) {
	var id source.Identity
	if tok != nil {
		if s, ok := tok.Extra("user_id").(string); ok {
			id.UserID = strings.TrimSpace(s)
		}
		if s, ok := tok.Extra("scope").(string); ok {
			id.Scopes = strings.Join(strings.Fields(s), ",")
		}
	}
	if id.UserID == "" {
		prof, err := p.profile(ctx, hc)
		if err != nil {
			return source.Identity{}, err
		}
		if prof.EncodedID == "" {
			return source.Identity{}, errors.New("fitbit profile: no encodedId in response")
		}
		id.UserID = prof.EncodedID
	}
	if !p.cfg.SkipSubscribe {
		if err := p.Subscribe(ctx, hc, id.UserID); err != nil {
			p.log.WarnContext(ctx, "fitbit subscription failed; data will arrive by polling only", "err", err)
		}
	}
	return id, nil
}

// profileUser is the part of the profile the provider reads.
type profileUser struct {
	EncodedID           string   `json:"encodedId"`
	Timezone            string   `json:"timezone"`
	OffsetFromUTCMillis *float64 `json:"offsetFromUTCMillis"`
}

// profile fetches the user's profile.
func (p *Provider) profile(ctx context.Context, hc *http.Client) (profileUser, error) {
	body, err := p.get(ctx, hc, "/1/user/-/profile.json")
	if err != nil {
		return profileUser{}, fmt.Errorf("fitbit profile: %w", err)
	}
	var v struct {
		User *profileUser `json:"user"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return profileUser{}, fmt.Errorf("fitbit profile: decode: %w", err)
	}
	if v.User == nil {
		return profileUser{}, errors.New("fitbit profile: no user in response")
	}
	return *v.User, nil
}

// Subscribe creates a subscription to every collection of the token's
// user, with subscriptionID as its id (Fitbit allows 50 characters; the
// user id is used on connect). Fitbit answers 201 for a new subscription,
// 200 when it already exists and 409 when the user is already subscribed
// under another id; all three mean notifications will come.
func (p *Provider) Subscribe(ctx context.Context, hc *http.Client, subscriptionID string) error {
	if subscriptionID == "" || len(subscriptionID) > 50 {
		return fmt.Errorf("fitbit subscribe: subscription id must be 1 to 50 characters")
	}
	u := p.cfg.APIBase + "/1/user/-/apiSubscriptions/" + pathEscape(subscriptionID) + ".json"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, http.NoBody)
	if err != nil {
		return fmt.Errorf("fitbit subscribe: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	req.ContentLength = 0
	if p.cfg.SubscriberID != "" {
		req.Header.Set("X-Fitbit-Subscriber-Id", p.cfg.SubscriberID)
	}
	body, status, err := p.do(hc, req)
	if err != nil {
		return fmt.Errorf("fitbit subscribe: %w", err)
	}
	switch status {
	case http.StatusOK, http.StatusCreated, http.StatusConflict:
		return nil
	default:
		return fmt.Errorf("fitbit subscribe: %w", statusError(status, body))
	}
}
