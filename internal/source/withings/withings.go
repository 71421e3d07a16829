// Package withings is the Withings provider (Public Health Data API): its
// non-standard OAuth 2.0 token endpoint, a client for the measure, activity,
// workout and sleep services, the data update notifications, and the
// mappers from Withings documents to Terra v2 records.
//
// Withings' API (developer.withings.com, API reference "oauth2", "measure",
// "measurev2", "sleepv2", "notify"):
//
//   - Every call is a POST of form parameters with an action= (the token
//     endpoint too: action=requesttoken), and every answer is HTTP 200 with
//     {"status": N, "body": {...}, "error": "..."}: status 0 is success,
//     401 a refused access token, 601 too many requests. The provider maps
//     them to source.ErrUnauthorized and *source.RateLimitError.
//   - The token endpoint wants client_id and client_secret in the form (the
//     signature+nonce alternative is not needed there), answers the user's
//     userid with the tokens, and rotates the refresh token on every
//     refresh: the old one stops working once the new access token is used
//     (or after 8 hours). The provider is therefore a
//     source.TokenExchanger.
//   - Lists page with "more" and "offset".
//   - The standard plan allows 120 requests a minute per application
//     (RequestBudget).
//   - Access covers the user's whole history, so BackfillDepth has no cap
//     from Withings; the default is 28 days.
//
// What is pulled for each Terra data type:
//
//   - body: Measure - Getmeas (category 1, real measures), one Body per
//     measure group keyed by grpid.
//   - daily: Measure v2 - Getactivity (one Daily per Withings activity day,
//     keyed by the day), with that day's Measure v2 - Getintradayactivity
//     samples.
//   - activity: Measure v2 - Getworkouts, one Activity per workout keyed by
//     its id.
//   - sleep: Sleep v2 - Getsummary, one Sleep per summary keyed by its id.
//
// Data update notifications (notify) are form posts naming a user, a
// category (appli) and a time range; ParsePush turns them into pulls.
package withings

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // Withings names IANA zones; map them the same on hosts without zoneinfo.

	"golang.org/x/oauth2"

	"github.com/wearbridge/wearbridge/internal/model"
	"github.com/wearbridge/wearbridge/internal/source"
)

// Name is the provider name as Terra spells it.
const Name = "WITHINGS"

// The real Withings endpoints, used when a Config field is empty.
const (
	DefaultAuthURL  = "https://account.withings.com/oauth2_user/authorize2"
	DefaultTokenURL = "https://wbsapi.withings.net/v2/oauth2"
	DefaultAPIBase  = "https://wbsapi.withings.net"
)

// DefaultScopes are the Withings scopes asked for by default: measures
// (user.metrics) and activity, workouts and sleep (user.activity).
// user.info is left out: Withings reserves it for SDK partners.
var DefaultScopes = []string{"user.metrics", "user.activity"}

// Defaults for the Config fields that are durations or counts.
const (
	DefaultBackfillDepth = 28 * 24 * time.Hour
	DefaultMaxPages      = 1000
	// DefaultRequestBudget is the standard plan's limit: 120 requests a
	// minute per application.
	DefaultRequestBudget = 120
	// DefaultRateLimitWait is how long a pull waits after status 601 when
	// Withings says nothing more: one window of the per-minute limit.
	DefaultRateLimitWait = time.Minute
	// maxBody bounds one response body.
	maxBody = 64 << 20
)

// ErrUnauthorized marks a call Withings refused because the access token
// is missing, expired or revoked (status 401 or the "authentication
// failed" family). It is the core's source.ErrUnauthorized.
var ErrUnauthorized = source.ErrUnauthorized

// RateLimitError is returned when Withings answers status 601 (or HTTP
// 429).
type RateLimitError = source.RateLimitError

// Config configures the provider. Zero fields take the defaults.
type Config struct {
	// ClientID and ClientSecret are the Withings application's credentials.
	ClientID, ClientSecret string
	// AuthURL is the authorization endpoint. Default DefaultAuthURL.
	AuthURL string
	// TokenURL is the requesttoken endpoint. Default DefaultTokenURL.
	TokenURL string
	// APIBase is the API root, without a trailing slash; "/measure",
	// "/v2/measure", "/v2/sleep" and "/notify" are appended. Default
	// DefaultAPIBase.
	APIBase string
	// Scopes asked for. Default DefaultScopes. Withings wants them comma
	// separated; OAuthConfig joins them so.
	Scopes []string
	// BackfillDepth is how far back a new connection is backfilled. Default
	// DefaultBackfillDepth (28 days); Withings itself serves the whole
	// history.
	BackfillDepth time.Duration
	// MaxPages bounds the pages followed for one list in one pull, against a
	// server that never stops paging. Default DefaultMaxPages.
	MaxPages int
	// RequestBudget is the application's request budget per minute. Default
	// DefaultRequestBudget (120); -1: no spacing.
	RequestBudget int
	// NotifyToken, when set, must be the value of the NotifyTokenParam query
	// parameter of the notification callback URL: Withings signs nothing, so
	// a secret in the callback URL (which Withings keeps as given at
	// subscription) is what tells a real notification from a forged one.
	// Empty: notifications are not authenticated.
	NotifyToken string
	// Now is the clock used for token expiry. Default time.Now.
	Now func() time.Time
	// Logger receives debug lines about requests. Default: discard.
	Logger *slog.Logger
}

// Provider is the Withings provider. It is safe for concurrent use.
type Provider struct {
	cfg   Config
	log   *slog.Logger
	zones sync.Map // zone name → *time.Location, or error
}

var (
	_ source.OAuth          = (*Provider)(nil)
	_ source.TokenExchanger = (*Provider)(nil)
	_ source.Puller         = (*Provider)(nil)
	_ source.Pusher         = (*Provider)(nil)
	_ source.PushVerifier   = (*Provider)(nil)
	_ source.Budgeted       = (*Provider)(nil)
)

// New returns a Withings provider with cfg's zero fields set to the
// defaults.
func New(cfg Config) *Provider {
	cfg.AuthURL = cmp.Or(cfg.AuthURL, DefaultAuthURL)
	cfg.TokenURL = cmp.Or(cfg.TokenURL, DefaultTokenURL)
	cfg.APIBase = strings.TrimRight(cmp.Or(cfg.APIBase, DefaultAPIBase), "/")
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = DefaultScopes
	}
	cfg.BackfillDepth = cmp.Or(cfg.BackfillDepth, DefaultBackfillDepth)
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

// Name returns "WITHINGS".
func (p *Provider) Name() string { return Name }

// OAuthConfig returns the OAuth client settings; RedirectURL is left for
// the core to set. The scopes are one comma-separated element, because
// Withings separates scopes with commas and x/oauth2 joins elements with
// spaces. The token URL is only used by ExchangeCode and RefreshToken.
func (p *Provider) OAuthConfig() oauth2.Config {
	return oauth2.Config{
		ClientID:     p.cfg.ClientID,
		ClientSecret: p.cfg.ClientSecret,
		Endpoint: oauth2.Endpoint{
			AuthURL:   p.cfg.AuthURL,
			TokenURL:  p.cfg.TokenURL,
			AuthStyle: oauth2.AuthStyleInParams,
		},
		Scopes: []string{strings.Join(p.cfg.Scopes, ",")},
	}
}

// UsePKCE reports false: Withings authenticates the client with its
// secret and does not take a code challenge.
func (p *Provider) UsePKCE() bool { return false }

// Identify returns the Withings userid that the token response carried
// (ExchangeCode puts it in the token's extra "userid"; Withings has no
// "who am I" service on the public API). Scopes are the granted scopes
// from the same response.
func (p *Provider) Identify(_ context.Context, _ *http.Client, tok *oauth2.Token) (source.Identity, error) {
	if tok == nil {
		return source.Identity{}, errors.New("withings identify: no token")
	}
	uid := extraString(tok, "userid")
	if uid == "" {
		return source.Identity{}, errors.New("withings identify: the token response had no userid")
	}
	id := source.Identity{UserID: uid}
	if s := extraString(tok, "scope"); s != "" {
		id.Scopes = normScopes(s)
	}
	return id, nil
}

// extraString reads a token extra as a string, whatever JSON type it
// arrived as.
func extraString(tok *oauth2.Token, key string) string {
	switch v := tok.Extra(key).(type) {
	case string:
		return strings.TrimSpace(v)
	case json.Number:
		return v.String()
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case int64:
		return strconv.FormatInt(v, 10)
	case int:
		return strconv.Itoa(v)
	case nil:
		return ""
	default:
		return fmt.Sprint(v)
	}
}

// normScopes turns "a,b c" into "a,b,c".
func normScopes(s string) string {
	f := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })
	return strings.Join(f, ",")
}

// PullTypes lists body, daily, activity and sleep.
func (p *Provider) PullTypes() []model.DataType {
	return []model.DataType{model.TypeBody, model.TypeDaily, model.TypeActivity, model.TypeSleep}
}

// BackfillDepth is how far back a new connection is backfilled.
func (p *Provider) BackfillDepth() time.Duration { return p.cfg.BackfillDepth }

// RequestBudget returns Config.RequestBudget requests per minute.
func (p *Provider) RequestBudget() (int, time.Duration) { return p.cfg.RequestBudget, time.Minute }

// zone loads an IANA zone by name, once per provider. "Local" (the
// host's zone) and the empty name are not zones Withings would name.
func (p *Provider) zone(name string) (*time.Location, error) {
	if v, ok := p.zones.Load(name); ok {
		if loc, ok := v.(*time.Location); ok {
			return loc, nil
		}
		return nil, v.(error)
	}
	if name == "" || name == "Local" || len(name) > 64 {
		return nil, fmt.Errorf("zone %q is not an IANA zone name", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		p.zones.Store(name, err)
		return nil, err
	}
	p.zones.Store(name, loc)
	return loc, nil
}
