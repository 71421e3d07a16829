// Package connect runs the OAuth 2.0 connection of an end user's provider
// account: it starts the flow (state, PKCE), completes it on the provider's
// callback, stores the tokens encrypted, and hands out HTTP clients whose
// tokens are refreshed once per connection (single-flight) and stored
// before they are used.
package connect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/wearbridge/wearbridge/internal/pipeline"
	"github.com/wearbridge/wearbridge/internal/secretbox"
	"github.com/wearbridge/wearbridge/internal/source"
	"github.com/wearbridge/wearbridge/internal/store"
)

// SessionTTL is how long a started connection may take to complete.
const SessionTTL = time.Hour

// ErrUnknownProvider is returned for a provider name that is not
// registered, or that has no OAuth flow.
var ErrUnknownProvider = errors.New("unknown provider")

// ErrReauthRequired is returned when a connection's refresh token no longer
// works; the user must connect again.
var ErrReauthRequired = errors.New("provider refused the refresh token; the user must reconnect")

// Config configures a Connector.
type Config struct {
	// PublicURL is the base URL the provider redirects back to
	// ({PublicURL}/auth/callback/{provider}).
	PublicURL string
	// HTTPClient makes the calls to providers (token exchange, refresh,
	// identify, data). Default http.DefaultClient.
	HTTPClient *http.Client
	Logger     *slog.Logger
}

// Connector runs connections.
type Connector struct {
	store     *store.Store
	providers *source.Registry
	cfg       Config
	locks     sync.Map // user id -> *sync.Mutex
	limiters  sync.Map // provider name -> *limiter
}

// New returns a Connector.
func New(s *store.Store, providers *source.Registry, cfg Config) *Connector {
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = http.DefaultClient
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	return &Connector{store: s, providers: providers, cfg: cfg}
}

// OAuthProvider returns the named provider if it connects through OAuth.
func (c *Connector) OAuthProvider(name string) (source.OAuth, error) {
	p, ok := c.providers.Get(name)
	if !ok {
		return nil, fmt.Errorf("%w %q (valid: %s)", ErrUnknownProvider, name, strings.Join(c.providers.Names(), ", "))
	}
	op, ok := p.(source.OAuth)
	if !ok {
		return nil, fmt.Errorf("%w %q: it has no OAuth connection", ErrUnknownProvider, name)
	}
	return op, nil
}

// CallbackURL is where provider name redirects to after consent.
func (c *Connector) CallbackURL(name string) string {
	return c.cfg.PublicURL + "/auth/callback/" + strings.ToLower(name)
}

func (c *Connector) oauthConfig(p source.OAuth) *oauth2.Config {
	cfg := p.OAuthConfig()
	cfg.RedirectURL = c.CallbackURL(p.Name())
	return &cfg
}

// StartOptions are the developer's options for a connection.
type StartOptions struct {
	ReferenceID     string
	SuccessRedirect string
	FailureRedirect string
}

// Start begins a connection and returns the user id it will have (unless
// the same provider account was connected before) and the URL to send the
// end user to.
func (c *Connector) Start(ctx context.Context, devID, provider string, opts StartOptions) (userID, authURL string, err error) {
	p, err := c.OAuthProvider(provider)
	if err != nil {
		return "", "", err
	}
	sess := store.AuthSession{
		State: secretbox.RandomToken(24), DeveloperID: devID, UserID: NewUserID(), Provider: p.Name(),
		ReferenceID: opts.ReferenceID, SuccessRedirect: opts.SuccessRedirect, FailureRedirect: opts.FailureRedirect,
	}
	var authOpts []oauth2.AuthCodeOption
	if p.UsePKCE() {
		sess.Verifier = oauth2.GenerateVerifier()
		authOpts = append(authOpts, oauth2.S256ChallengeOption(sess.Verifier))
	}
	if err := c.store.CreateAuthSession(ctx, sess); err != nil {
		return "", "", err
	}
	return sess.UserID, c.oauthConfig(p).AuthCodeURL(sess.State, authOpts...), nil
}

// Result is a completed (or failed) connection.
type Result struct {
	User   store.User
	Reauth bool
	// Redirect is where to send the end user now ("" for none).
	Redirect string
}

// Callback completes a connection from the provider's redirect. On failure
// it appends an auth_cancelled event and returns the error together with
// the failure redirect, when the session was found.
func (c *Connector) Callback(ctx context.Context, provider string, q url.Values) (Result, error) {
	state := q.Get("state")
	if state == "" {
		return Result{}, errors.New("callback without state")
	}
	sess, err := c.store.TakeAuthSession(ctx, state, SessionTTL)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return Result{}, errors.New("unknown or expired connection attempt; start again")
		}
		return Result{}, err
	}
	fail := func(reason error) (Result, error) {
		u := store.User{ID: sess.UserID, DeveloperID: sess.DeveloperID, Provider: sess.Provider, ReferenceID: sess.ReferenceID}
		err := c.store.InTx(ctx, func(tx *store.Tx) error {
			return pipeline.AppendUserEvent(ctx, tx, u, "auth_cancelled", pipeline.AuthCancelled(sess.Provider, sess.ReferenceID, reason.Error()))
		})
		if err != nil {
			c.cfg.Logger.ErrorContext(ctx, "connect: record failure", "err", err)
		}
		return Result{Redirect: withQuery(sess.FailureRedirect, "reason", reason.Error())}, reason
	}
	if !strings.EqualFold(provider, sess.Provider) {
		return fail(fmt.Errorf("callback for %s does not match the connection to %s", provider, sess.Provider))
	}
	if e := q.Get("error"); e != "" {
		return fail(fmt.Errorf("provider refused the connection: %s", e))
	}
	code := q.Get("code")
	if code == "" {
		return fail(errors.New("callback without code"))
	}
	p, err := c.OAuthProvider(sess.Provider)
	if err != nil {
		return fail(err)
	}
	hctx := context.WithValue(ctx, oauth2.HTTPClient, c.cfg.HTTPClient)
	var opts []oauth2.AuthCodeOption
	if sess.Verifier != "" {
		opts = append(opts, oauth2.VerifierOption(sess.Verifier))
	}
	var tok *oauth2.Token
	if ex, ok := p.(source.TokenExchanger); ok {
		tok, err = ex.ExchangeCode(ctx, c.cfg.HTTPClient, *c.oauthConfig(p), code, sess.Verifier)
	} else {
		tok, err = c.oauthConfig(p).Exchange(hctx, code, opts...)
	}
	if err != nil {
		return fail(fmt.Errorf("token exchange: %w", err))
	}
	id, err := p.Identify(ctx, oauth2.NewClient(hctx, oauth2.StaticTokenSource(tok)), tok) // never refresh here: a rotated token would not be stored
	if err != nil {
		return fail(fmt.Errorf("identify user: %w", err))
	}
	if id.UserID == "" {
		return fail(errors.New("provider did not say who the user is"))
	}
	var res Result
	err = c.store.InTx(ctx, func(tx *store.Tx) error {
		u, reauth, err := tx.Connect(ctx, store.User{
			ID: sess.UserID, DeveloperID: sess.DeveloperID, Provider: p.Name(), ProviderUserID: id.UserID,
			ReferenceID: sess.ReferenceID, Scopes: id.Scopes,
		}, tok)
		if err != nil {
			return err
		}
		res = Result{User: u, Reauth: reauth, Redirect: withQuery(sess.SuccessRedirect, "user_id", u.ID)}
		if err := pipeline.AppendUserEvent(ctx, tx, u, "auth", pipeline.AuthSuccess(u)); err != nil {
			return err
		}
		if reauth {
			return pipeline.AppendUserEvent(ctx, tx, u, "user_reauth", pipeline.UserReauth(u))
		}
		return nil
	})
	if err != nil {
		return Result{}, fmt.Errorf("store connection: %w", err)
	}
	return res, nil
}

// Deauthenticate disconnects a user: tokens are forgotten, the user is
// inactive, and a deauth event is appended.
func (c *Connector) Deauthenticate(ctx context.Context, devID, userID string) error {
	u, err := c.store.User(ctx, devID, userID)
	if err != nil {
		return err
	}
	if !u.Active {
		return nil // already disconnected: no second deauth event
	}
	return c.store.InTx(ctx, func(tx *store.Tx) error {
		if err := tx.Deauthenticate(ctx, u.ID); err != nil {
			return err
		}
		u.Active = false
		return pipeline.AppendUserEvent(ctx, tx, u, "deauth", pipeline.Deauth(u))
	})
}

// ExpireToken marks a user's stored token expired, so that the next request
// refreshes it (used when a provider refuses a token before its expiry).
func (c *Connector) ExpireToken(ctx context.Context, userID string) error {
	mu, _ := c.locks.LoadOrStore(userID, &sync.Mutex{})
	mu.(*sync.Mutex).Lock()
	defer mu.(*sync.Mutex).Unlock()
	_, err := c.store.RefreshToken(ctx, userID, func(tok *oauth2.Token) (*oauth2.Token, error) {
		t := *tok
		t.AccessToken = ""
		t.Expiry = time.Unix(1, 0)
		return &t, nil
	})
	return err
}

// Client returns an HTTP client that calls the provider as u. Its token is
// refreshed when it expires, once at a time per user, and the rotated token
// is stored before it is used.
func (c *Connector) Client(ctx context.Context, u store.User) (*http.Client, error) {
	p, err := c.OAuthProvider(u.Provider)
	if err != nil {
		return nil, err
	}
	ts := &tokenSource{ctx: ctx, c: c, userID: u.ID, cfg: c.oauthConfig(p), p: p}
	base := c.cfg.HTTPClient.Transport
	if b, ok := p.(source.Budgeted); ok {
		base = c.limiter(p.Name(), b, base)
	}
	return &http.Client{
		Transport: &oauth2.Transport{Source: oauth2.ReuseTokenSource(nil, ts), Base: base},
		Timeout:   c.cfg.HTTPClient.Timeout,
	}, nil
}

type tokenSource struct {
	ctx    context.Context
	c      *Connector
	userID string
	cfg    *oauth2.Config
	p      source.OAuth
}

func (ts *tokenSource) Token() (*oauth2.Token, error) {
	mu, _ := ts.c.locks.LoadOrStore(ts.userID, &sync.Mutex{})
	mu.(*sync.Mutex).Lock()
	defer mu.(*sync.Mutex).Unlock()
	hctx := context.WithValue(ts.ctx, oauth2.HTTPClient, ts.c.cfg.HTTPClient)
	return ts.c.store.RefreshToken(ts.ctx, ts.userID, func(tok *oauth2.Token) (*oauth2.Token, error) {
		if tok.Valid() {
			return tok, nil
		}
		if tok.RefreshToken == "" {
			return nil, ErrReauthRequired
		}
		var next *oauth2.Token
		var err error
		if ex, ok := ts.p.(source.TokenExchanger); ok {
			next, err = ex.RefreshToken(ts.ctx, ts.c.cfg.HTTPClient, *ts.cfg, tok)
		} else {
			next, err = ts.cfg.TokenSource(hctx, tok).Token()
		}
		if err != nil {
			var re *oauth2.RetrieveError
			if errors.As(err, &re) && (re.ErrorCode == "invalid_grant" || re.Response != nil && re.Response.StatusCode == http.StatusUnauthorized) {
				return nil, fmt.Errorf("%w: %v", ErrReauthRequired, err)
			}
			return nil, fmt.Errorf("refresh token: %w", err)
		}
		if next.RefreshToken == "" {
			next.RefreshToken = tok.RefreshToken
		}
		return next, nil
	})
}

// NewUserID returns a new user id (a random UUID v4 string).
func NewUserID() string {
	var u [16]byte
	copy(u[:], randomBytes(16))
	u[6] = (u[6] & 0x0f) | 0x40
	u[8] = (u[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:])
}

func withQuery(base, k, v string) string {
	if base == "" {
		return ""
	}
	u, err := url.Parse(base)
	if err != nil {
		return base
	}
	q := u.Query()
	q.Set(k, v)
	u.RawQuery = q.Encode()
	return u.String()
}
