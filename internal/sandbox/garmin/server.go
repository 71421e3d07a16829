// Package garmin is a fake of Garmin's OAuth 2.0 PKCE server and of the
// Health API user id endpoint, plus a push simulator that replays the
// recorded push payloads. It lets the whole connect-and-push path run on
// loopback without a Garmin developer account.
//
// Mount the Server at some base URL and point the provider at it:
//
//	AuthURL:  base + "/oauth2Confirm"
//	TokenURL: base + "/di-oauth2-service/oauth/token"
//	APIBase:  base
//
// The consent page consents at once; the user id endpoint answers with the
// userId that the recorded pushes carry, so replayed pushes route to the
// user who connected.
package garmin

import (
	"cmp"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Default paths, the same as Garmin's relative to their hosts.
const (
	DefaultAuthorizePath = "/oauth2Confirm"
	DefaultTokenPath     = "/di-oauth2-service/oauth/token"
	DefaultUserIDPath    = "/wellness-api/rest/user/id"
)

// RecordedUserID is the Garmin userId that the recorded push payloads carry.
const RecordedUserID = "someUser"

// Scope is what the fake puts in token responses, as Garmin does.
const Scope = "PARTNER_WRITE PARTNER_READ CONNECT_READ CONNECT_WRITE"

// Config configures the fake server.
type Config struct {
	// ClientID and ClientSecret, when set, are required on the token
	// endpoint (and ClientID on the consent page). Empty accepts any client.
	ClientID, ClientSecret string
	// UserID is what the user id endpoint returns. Default RecordedUserID.
	UserID string
	// AuthorizePath, TokenPath and UserIDPath are the endpoint paths.
	// Defaults DefaultAuthorizePath, DefaultTokenPath, DefaultUserIDPath.
	AuthorizePath, TokenPath, UserIDPath string
	// AccessTTL is the access token lifetime. Default 1 hour.
	AccessTTL time.Duration
	// Now returns the current time. Default time.Now.
	Now func() time.Time
	// Logger receives one line per rejected request. Default discards.
	Logger *slog.Logger
}

// Server is the fake Garmin OAuth server. It is an http.Handler and is safe
// for concurrent use.
type Server struct {
	cfg Config
	mux *http.ServeMux

	mu      sync.Mutex
	codes   map[string]grant     // authorization code → grant
	access  map[string]time.Time // access token → expiry
	refresh map[string]bool      // live refresh tokens
}

// grant is what an authorization code stands for.
type grant struct {
	clientID, redirectURI, challenge string
	expires                          time.Time
}

// codeTTL is how long an authorization code can be exchanged.
const codeTTL = 5 * time.Minute

// New returns a fake Garmin server.
func New(cfg Config) *Server {
	cfg.UserID = cmp.Or(cfg.UserID, RecordedUserID)
	cfg.AuthorizePath = cmp.Or(cfg.AuthorizePath, DefaultAuthorizePath)
	cfg.TokenPath = cmp.Or(cfg.TokenPath, DefaultTokenPath)
	cfg.UserIDPath = cmp.Or(cfg.UserIDPath, DefaultUserIDPath)
	cfg.AccessTTL = cmp.Or(cfg.AccessTTL, time.Hour)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		cfg:     cfg,
		mux:     http.NewServeMux(),
		codes:   make(map[string]grant),
		access:  make(map[string]time.Time),
		refresh: make(map[string]bool),
	}
	s.mux.HandleFunc("GET "+cfg.AuthorizePath, s.authorize)
	s.mux.HandleFunc("POST "+cfg.TokenPath, s.token)
	s.mux.HandleFunc("GET "+cfg.UserIDPath, s.userID)
	return s
}

// ServeHTTP serves the three endpoints.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// authorize is the consent page: it consents at once and redirects back
// with a code, as Garmin does after the user approves.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	fail := func(msg string) {
		s.cfg.Logger.InfoContext(r.Context(), "garmin sandbox: authorize rejected", "reason", msg)
		http.Error(w, msg, http.StatusBadRequest)
	}
	switch {
	case q.Get("response_type") != "code":
		fail("response_type must be code")
		return
	case q.Get("client_id") == "" || (s.cfg.ClientID != "" && q.Get("client_id") != s.cfg.ClientID):
		fail("unknown client_id")
		return
	case q.Get("code_challenge") == "":
		fail("code_challenge is required")
		return
	case q.Get("code_challenge_method") != "S256":
		fail("code_challenge_method must be S256")
		return
	}
	redirect, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || !redirect.IsAbs() {
		fail("redirect_uri must be an absolute URL")
		return
	}
	code := randomToken()
	s.mu.Lock()
	s.codes[code] = grant{
		clientID:    q.Get("client_id"),
		redirectURI: q.Get("redirect_uri"),
		challenge:   q.Get("code_challenge"),
		expires:     s.cfg.Now().Add(codeTTL),
	}
	s.mu.Unlock()
	back := redirect.Query()
	back.Set("code", code)
	if st := q.Get("state"); st != "" {
		back.Set("state", st)
	}
	redirect.RawQuery = back.Encode()
	http.Redirect(w, r, redirect.String(), http.StatusFound)
}

// token is the token endpoint: authorization_code (with the PKCE verifier)
// and refresh_token grants. A refresh token works once: every refresh
// rotates it.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.oauthError(w, r, http.StatusBadRequest, "invalid_request", "form body expected")
		return
	}
	clientID, secret, ok := r.BasicAuth()
	if !ok {
		clientID, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if s.cfg.ClientID != "" && (clientID != s.cfg.ClientID || (s.cfg.ClientSecret != "" && !equal(secret, s.cfg.ClientSecret))) {
		s.oauthError(w, r, http.StatusUnauthorized, "invalid_client", "bad client credentials")
		return
	}
	switch r.PostForm.Get("grant_type") {
	case "authorization_code":
		s.exchange(w, r, clientID)
	case "refresh_token":
		rt := r.PostForm.Get("refresh_token")
		s.mu.Lock()
		live := s.refresh[rt]
		delete(s.refresh, rt)
		s.mu.Unlock()
		if !live {
			s.oauthError(w, r, http.StatusBadRequest, "invalid_grant", "unknown or used refresh token")
			return
		}
		s.issue(w)
	default:
		s.oauthError(w, r, http.StatusBadRequest, "unsupported_grant_type", "grant_type must be authorization_code or refresh_token")
	}
}

func (s *Server) exchange(w http.ResponseWriter, r *http.Request, clientID string) {
	code := r.PostForm.Get("code")
	s.mu.Lock()
	g, ok := s.codes[code]
	delete(s.codes, code) // a code is single use, even when the exchange fails
	s.mu.Unlock()
	switch {
	case !ok || s.cfg.Now().After(g.expires):
		s.oauthError(w, r, http.StatusBadRequest, "invalid_grant", "unknown or expired code")
	case clientID != "" && clientID != g.clientID:
		s.oauthError(w, r, http.StatusBadRequest, "invalid_grant", "code was issued to another client")
	case r.PostForm.Get("redirect_uri") != "" && r.PostForm.Get("redirect_uri") != g.redirectURI:
		s.oauthError(w, r, http.StatusBadRequest, "invalid_grant", "redirect_uri does not match")
	case !equal(challengeOf(r.PostForm.Get("code_verifier")), g.challenge):
		s.oauthError(w, r, http.StatusBadRequest, "invalid_grant", "code_verifier does not match the code_challenge")
	default:
		s.issue(w)
	}
}

// issue writes a new token pair.
func (s *Server) issue(w http.ResponseWriter) {
	at, rt := randomToken(), randomToken()
	s.mu.Lock()
	s.access[at] = s.cfg.Now().Add(s.cfg.AccessTTL)
	s.refresh[rt] = true
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token":             at,
		"token_type":               "bearer",
		"expires_in":               int(s.cfg.AccessTTL / time.Second),
		"refresh_token":            rt,
		"refresh_token_expires_in": 7776000,
		"scope":                    Scope,
		"jti":                      randomToken(),
	})
}

// userID answers who owns the bearer token.
func (s *Server) userID(w http.ResponseWriter, r *http.Request) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	exp, live := s.access[tok]
	s.mu.Unlock()
	if !ok || !live || s.cfg.Now().After(exp) {
		s.cfg.Logger.InfoContext(r.Context(), "garmin sandbox: user id rejected", "reason", "bad bearer token")
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"errorMessage": "invalid or expired access token"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"userId": s.cfg.UserID})
}

func (s *Server) oauthError(w http.ResponseWriter, r *http.Request, status int, code, desc string) {
	s.cfg.Logger.InfoContext(r.Context(), "garmin sandbox: token rejected", "error", code, "reason", desc)
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client went away; nothing to do
}

// challengeOf returns the S256 code challenge of a verifier.
func challengeOf(verifier string) string {
	if verifier == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// equal compares secrets in constant time; two empty strings do not match.
func equal(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// randomToken returns a random opaque token (128 bits, base32).
func randomToken() string { return rand.Text() }
