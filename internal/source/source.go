// Package source defines the seam between the core and the health data
// providers (Oura, Garmin, ...). A provider knows its OAuth settings, how to
// pull a time window, how to accept a push and how to map provider items to
// model.Records. It knows nothing about storage, events or destinations.
//
// The core never names a provider: providers are registered by name in a
// Registry built by the wiring code.
package source

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"time"

	"golang.org/x/oauth2"

	"github.com/wearbridge/wearbridge/internal/model"
)

// Provider is the part every provider has.
type Provider interface {
	// Name is the provider name as Terra spells it: "OURA", "GARMIN", ...
	Name() string
}

// OAuth is implemented by providers a user connects to through an OAuth 2.0
// authorization-code flow. The core runs the flow (state, PKCE verifier,
// code exchange, token storage, refresh with rotation); the provider gives
// its settings and tells who the user is.
type OAuth interface {
	Provider
	// OAuthConfig returns the client settings. RedirectURL is set by the core.
	OAuthConfig() oauth2.Config
	// UsePKCE reports whether the flow sends an S256 code challenge.
	UsePKCE() bool
	// Identify returns the provider's own id of the user who owns tok, and
	// the scopes granted where the provider tells them. hc already sends the
	// token.
	Identify(ctx context.Context, hc *http.Client, tok *oauth2.Token) (Identity, error)
}

// Identity is who a connection belongs to at the provider.
type Identity struct {
	// UserID is the provider's own id of the user; it is how pushes are
	// routed to our user.
	UserID string
	// Scopes granted, comma separated, if known.
	Scopes string
}

// Puller is implemented by providers whose data is fetched by polling.
type Puller interface {
	Provider
	// PullTypes lists the Terra data types the provider can pull.
	PullTypes() []model.DataType
	// Pull fetches every item of data type t in [start, end), following the
	// provider's paging until it says there is no more, and hands records
	// and problems to sink as it goes. hc sends the user's token. A page
	// that cannot be decoded is reported to sink.Problem with its raw body
	// and the pull goes on where it can. Pull returns an error only when it
	// could not finish (network, auth, rate limit); records already given to
	// sink are kept.
	Pull(ctx context.Context, hc *http.Client, t model.DataType, start, end time.Time, sink Sink) error
	// BackfillDepth is how far back a new connection is backfilled by
	// default.
	BackfillDepth() time.Duration
}

// Sink receives what a pull or a push produced.
type Sink interface {
	// Records stores a batch of records durably.
	Records(ctx context.Context, recs []model.Record) error
	// Problem records an item or page that could not be used.
	Problem(ctx context.Context, p model.Problem) error
}

// Pusher is implemented by providers that push data to us.
type Pusher interface {
	Provider
	// ParsePush verifies and parses a push request. It returns the records
	// (and problems) per provider user id. A body that is not valid at all
	// returns an error wrapping ErrBadPush and nothing is stored.
	ParsePush(ctx context.Context, r *http.Request, body []byte) ([]PushBatch, error)
}

// PushBatch is what a push carried for one provider user.
type PushBatch struct {
	ProviderUserID string
	// Records are items the push carried in full.
	Records  []model.Record
	Problems []model.Problem
	// Pulls are fetches the push asks for: most providers push only a
	// notification ("new sleep for user X on day D", "activity 123
	// changed") and the data is then fetched as the user.
	Pulls []PullRequest
	// Revoked is set when the push says the user revoked our access at the
	// provider (a deregistration): the user is deactivated and an
	// access_revoked event is sent.
	Revoked bool
}

// PullRequest asks for one fetch for a user: a window of a data type, or,
// with ItemID, one item (the provider must implement ItemFetcher).
type PullRequest struct {
	Type       model.DataType
	Start, End time.Time
	ItemID     string
}

// PushVerifier is implemented by pushers whose subscription endpoint is
// verified with a GET request (Strava's hub.challenge, Fitbit's verify
// code). The core routes GET /push/{provider} to it.
type PushVerifier interface {
	VerifySubscription(w http.ResponseWriter, r *http.Request)
}

// ItemFetcher is implemented by providers that can fetch one item by its
// id, as their push notifications name it.
type ItemFetcher interface {
	FetchItem(ctx context.Context, hc *http.Client, t model.DataType, id string, sink Sink) error
}

// TokenExchanger is implemented by providers whose token endpoint is not
// standard OAuth 2.0 (Withings wraps its answers and wants
// action=requesttoken). The core then calls it instead of
// golang.org/x/oauth2 for the code exchange and for refreshes. hc makes the
// HTTP calls; cfg is the provider's OAuthConfig with RedirectURL set.
type TokenExchanger interface {
	ExchangeCode(ctx context.Context, hc *http.Client, cfg oauth2.Config, code, verifier string) (*oauth2.Token, error)
	RefreshToken(ctx context.Context, hc *http.Client, cfg oauth2.Config, tok *oauth2.Token) (*oauth2.Token, error)
}

// Subscriber is implemented by providers that push only for users
// subscribed one by one (Withings notify, Fitbit subscriptions). The core
// calls it once a user is connected; pushURL is where the provider must
// push (the provider may add its own secret to it).
type Subscriber interface {
	SubscribeUser(ctx context.Context, hc *http.Client, pushURL string) error
}

// Budgeted is implemented by providers with a request budget per app; the
// core spaces the provider's requests so as to stay within it.
type Budgeted interface {
	// RequestBudget returns how many requests may be made per period.
	RequestBudget() (requests int, per time.Duration)
}

// ErrBadPush marks a push request that is malformed as a whole.
var ErrBadPush = errors.New("bad push payload")

// Registry holds the providers by name.
type Registry struct {
	byName map[string]Provider
}

// NewRegistry returns a registry of the given providers. Two providers with
// the same name are an error.
func NewRegistry(ps ...Provider) (*Registry, error) {
	r := &Registry{byName: make(map[string]Provider, len(ps))}
	for _, p := range ps {
		if _, dup := r.byName[p.Name()]; dup {
			return nil, fmt.Errorf("provider %q registered twice", p.Name())
		}
		r.byName[p.Name()] = p
	}
	return r, nil
}

// Get returns the provider called name.
func (r *Registry) Get(name string) (Provider, bool) {
	p, ok := r.byName[name]
	return p, ok
}

// Names returns the registered provider names, sorted.
func (r *Registry) Names() []string {
	names := make([]string, 0, len(r.byName))
	for n := range r.byName {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ErrUnauthorized is returned by a pull when the provider refuses the
// user's token (HTTP 401) even after a refresh.
var ErrUnauthorized = errors.New("provider refused the token")

// RateLimitError is returned by a pull when the provider answered 429. The
// pull can be resumed after RetryAfter.
type RateLimitError struct {
	Provider   string
	RetryAfter time.Duration
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("%s rate limit hit; retry after %s", e.Provider, e.RetryAfter)
}
