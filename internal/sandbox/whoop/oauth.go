package whoop

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// tokenResponse is the token endpoint's answer, shaped like WHOOP's:
// refresh_token only with the offline scope (developer.whoop.com OAuth
// page), and the granted scope.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token,omitempty"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	Scope        string `json:"scope"`
}

// knownScopes are the scopes WHOOP grants.
var knownScopes = []string{"offline", "read:recovery", "read:cycles", "read:workout", "read:sleep", "read:profile", "read:body_measurement"}

// authorize consents at once and sends the browser back with a one-time
// code. It wants a state of at least 8 characters (see minStateLength) and
// accepts an optional PKCE challenge.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("response_type") != "code" {
		http.Error(w, "response_type must be code", http.StatusBadRequest)
		return
	}
	clientID := q.Get("client_id")
	if clientID != s.cfg.ClientID {
		http.Error(w, "unknown client_id", http.StatusBadRequest)
		return
	}
	redirect, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || !redirect.IsAbs() || (redirect.Scheme != "http" && redirect.Scheme != "https") {
		http.Error(w, "redirect_uri must be an absolute http(s) URL", http.StatusBadRequest)
		return
	}
	back := redirect.Query()
	fail := func(code, desc string) {
		back.Set("error", code)
		back.Set("error_description", desc)
		if st := q.Get("state"); st != "" {
			back.Set("state", st)
		}
		redirect.RawQuery = back.Encode()
		http.Redirect(w, r, redirect.String(), http.StatusFound)
	}
	state := q.Get("state")
	if len(state) < minStateLength {
		fail("invalid_state", "The state is missing or does not have enough characters and is therefore considered too weak.")
		return
	}
	scopes := strings.Fields(q.Get("scope"))
	for _, sc := range scopes {
		if !slices.Contains(knownScopes, sc) {
			fail("invalid_scope", "The requested scope is invalid, unknown, or malformed: "+sc)
			return
		}
	}
	method := q.Get("code_challenge_method")
	if q.Get("code_challenge") != "" && method != "S256" && method != "plain" && method != "" {
		fail("invalid_request", "unsupported code_challenge_method")
		return
	}
	user := s.cfg.UserID
	if u := q.Get("user"); u != "" {
		n, err := strconv.ParseInt(u, 10, 64)
		if err != nil || n <= 0 {
			http.Error(w, "user must be a positive integer", http.StatusBadRequest)
			return
		}
		user = n
	}
	code := randomToken()
	s.mu.Lock()
	s.codes[code] = grant{
		user:            user,
		clientID:        clientID,
		redirectURI:     q.Get("redirect_uri"),
		scope:           strings.Join(scopes, " "),
		challenge:       q.Get("code_challenge"),
		challengeMethod: method,
		expires:         s.cfg.Now().Add(codeLifetime),
	}
	s.mu.Unlock()
	back.Set("code", code)
	back.Set("state", state)
	back.Set("scope", strings.Join(scopes, " "))
	redirect.RawQuery = back.Encode()
	http.Redirect(w, r, redirect.String(), http.StatusFound)
}

// oauthError writes an RFC 6749 error.
func oauthError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, map[string]any{"error": code, "error_description": desc, "status_code": status})
}

// token runs the authorization_code and refresh_token grants. The client
// authenticates with client_id and client_secret in the form body, as
// WHOOP documents. Each refresh rotates: the used refresh token is gone
// and a new one is returned.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "The request body is not a form.")
		return
	}
	if _, _, basic := r.BasicAuth(); basic {
		s.log.Info("whoop sandbox: client authenticated with basic auth")
		oauthError(w, http.StatusUnauthorized, "invalid_client", "The client is registered for client_secret_post; send client_id and client_secret in the body.")
		return
	}
	clientID, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if clientID != s.cfg.ClientID || subtle.ConstantTimeCompare([]byte(secret), []byte(s.cfg.ClientSecret)) != 1 {
		s.log.Info("whoop sandbox: bad client credentials")
		oauthError(w, http.StatusUnauthorized, "invalid_client", "Client authentication failed.")
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.cfg.Now()
	var g grant
	switch r.PostForm.Get("grant_type") {
	case "authorization_code":
		code := r.PostForm.Get("code")
		c, found := s.codes[code]
		delete(s.codes, code) // one use, even a failed one
		if !found || now.After(c.expires) || c.clientID != clientID || c.redirectURI != r.PostForm.Get("redirect_uri") {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "The authorization code is invalid, expired, used, or was issued to another client or redirect URI.")
			return
		}
		if c.challenge != "" && !pkceOK(c.challenge, c.challengeMethod, r.PostForm.Get("code_verifier")) {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "The PKCE code challenge did not match the code verifier.")
			return
		}
		g = c
	case "refresh_token":
		rt := r.PostForm.Get("refresh_token")
		old, found := s.refresh[rt]
		if !found || old.clientID != clientID {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "The refresh token is invalid, expired, or was already used.")
			return
		}
		if sc := strings.Fields(r.PostForm.Get("scope")); len(sc) > 0 {
			granted := strings.Fields(old.scope)
			for _, x := range sc {
				if !slices.Contains(granted, x) {
					oauthError(w, http.StatusBadRequest, "invalid_scope", "The refresh asks for a scope that was not granted: "+x)
					return
				}
			}
		}
		delete(s.refresh, rt)
		g = old
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "The grant type is not supported.")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, s.issueLocked(g))
}

// pkceOK checks a code verifier against the stored challenge.
func pkceOK(challenge, method, verifier string) bool {
	if verifier == "" {
		return false
	}
	want := verifier
	if method == "S256" || method == "" {
		sum := sha256.Sum256([]byte(verifier))
		want = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	return subtle.ConstantTimeCompare([]byte(want), []byte(challenge)) == 1
}

// issueLocked makes a new access token, and a refresh token when the
// grant has the offline scope, for g. s.mu is held.
func (s *Server) issueLocked(g grant) tokenResponse {
	at := randomToken()
	s.access[at] = accessToken{user: g.user, expires: s.cfg.Now().Add(s.cfg.TokenLifetime)}
	resp := tokenResponse{
		AccessToken: at,
		TokenType:   "bearer",
		ExpiresIn:   max(1, int(math.Ceil(s.cfg.TokenLifetime.Seconds()))),
		Scope:       g.scope,
	}
	if slices.Contains(strings.Fields(g.scope), "offline") {
		rt := randomToken()
		s.refresh[rt] = grant{user: g.user, clientID: g.clientID, scope: g.scope}
		resp.RefreshToken = rt
	}
	return resp
}

// revokeAccess forgets every token of the user (DELETE /v2/user/access).
func (s *Server) revokeAccess(w http.ResponseWriter, r *http.Request, user int64) {
	s.mu.Lock()
	for k, v := range s.access {
		if v.user == user {
			delete(s.access, k)
		}
	}
	for k, v := range s.refresh {
		if v.user == user {
			delete(s.refresh, k)
		}
	}
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// api wraps an API handler: it counts the request, sets the rate limit
// headers, answers an injected 429, and checks the bearer token.
func (s *Server) api(h func(w http.ResponseWriter, r *http.Request, user int64)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		now := s.cfg.Now()
		s.mu.Lock()
		s.apiRequests++
		limited := s.rateLimitAt > 0 && s.apiRequests == s.rateLimitAt
		retry := s.retryAfter
		if now.Sub(s.window) >= time.Minute || now.Before(s.window) {
			s.window, s.inWindow = now, 0
		}
		s.inWindow++
		remaining := max(0, minuteLimit-s.inWindow)
		reset := s.window.Add(time.Minute).Sub(now)
		var user int64
		var authErr string
		tok, hasBearer := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		at, found := s.access[tok]
		switch {
		case !hasBearer || tok == "":
			authErr = "missing access token"
		case !found:
			authErr = "invalid access token"
		case !now.Before(at.expires):
			authErr = "access token expired"
		default:
			user = at.user
		}
		s.mu.Unlock()

		hdr := w.Header()
		hdr.Set("X-RateLimit-Limit", rateLimitHeader)
		if limited {
			s.log.Info("whoop sandbox: injected rate limit", "path", r.URL.Path)
			hdr.Set("X-RateLimit-Remaining", "0")
			hdr.Set("X-RateLimit-Reset", strconv.Itoa(int(math.Ceil(retry.Seconds()))))
			apiError(w, http.StatusTooManyRequests, "Too Many Requests")
			return
		}
		hdr.Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
		hdr.Set("X-RateLimit-Reset", strconv.Itoa(max(0, int(math.Ceil(reset.Seconds())))))
		if authErr != "" {
			s.log.Info("whoop sandbox: unauthorized", "path", r.URL.Path, "reason", authErr)
			apiError(w, http.StatusUnauthorized, "Authorization was not valid")
			return
		}
		if s.loadErr != nil {
			apiError(w, http.StatusInternalServerError, "sandbox fixtures not loaded")
			return
		}
		h(w, r, user)
	}
}
