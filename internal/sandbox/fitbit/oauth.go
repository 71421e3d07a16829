package fitbit

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

// tokenResponse is the token endpoint's answer, shaped like Fitbit's.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
	Scope        string `json:"scope"`
	TokenType    string `json:"token_type"`
	UserID       string `json:"user_id"`
}

// authorize consents at once and sends the browser back with a one-time
// code, checking the parameters Fitbit checks: response_type=code, the
// client id, an absolute redirect_uri, a scope, and, when a PKCE challenge
// is sent, that it is S256 and 43 to 128 characters long.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	refuse := func(msg string) {
		s.log.InfoContext(r.Context(), "fitbit sandbox: authorize refused", "reason", msg)
		http.Error(w, msg, http.StatusBadRequest)
	}
	if q.Get("response_type") != "code" {
		refuse("unsupported_response_type - Invalid response_type parameter value")
		return
	}
	if q.Get("client_id") != s.cfg.ClientID {
		refuse("unauthorized_client - Invalid client_id")
		return
	}
	redirect, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || !redirect.IsAbs() || (redirect.Scheme != "http" && redirect.Scheme != "https") {
		refuse("invalid_request - Invalid redirect_uri parameter value")
		return
	}
	scope := joinScopes(strings.Fields(q.Get("scope")))
	if scope == "" {
		refuse("invalid_request - Missing parameters: scope")
		return
	}
	challenge := q.Get("code_challenge")
	if challenge != "" {
		if m := q.Get("code_challenge_method"); m != "S256" {
			refuse("invalid_request - Unsupported code_challenge_method")
			return
		}
		if len(challenge) < 43 || len(challenge) > 128 {
			refuse("invalid_request - The code_challenge parameter length must be between 43 and 128")
			return
		}
	}
	code := randomToken()
	s.mu.Lock()
	s.codes[code] = grant{
		user:        s.cfg.UserID,
		clientID:    s.cfg.ClientID,
		redirectURI: q.Get("redirect_uri"),
		scope:       scope,
		challenge:   challenge,
		expires:     s.cfg.Now().Add(codeLifetime),
	}
	s.mu.Unlock()
	back := redirect.Query()
	back.Set("code", code)
	if st := q.Get("state"); st != "" {
		back.Set("state", st)
	}
	redirect.RawQuery = back.Encode()
	// Fitbit appends "#_=_" to the redirect; browsers drop it.
	http.Redirect(w, r, redirect.String()+"#_=_", http.StatusFound)
}

// oauthError writes Fitbit's token endpoint error.
func oauthError(w http.ResponseWriter, status int, errorType, msg string) {
	w.Header().Set("Cache-Control", "no-store")
	fail(w, status, apiError{ErrorType: errorType, Message: msg})
}

// token runs the authorization_code and refresh_token grants for a
// "server" application: the client authenticates with HTTP Basic. Each
// refresh rotates: the used refresh token is gone and a new one is
// returned.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "Malformed request body.")
		return
	}
	clientID, secret, ok := r.BasicAuth()
	if !ok {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "Authorization header required.")
		return
	}
	// RFC 6749 2.3.1: the basic-auth parts are form-encoded.
	clientID, _ = url.QueryUnescape(clientID)
	secret, _ = url.QueryUnescape(secret)
	if clientID != s.cfg.ClientID || subtle.ConstantTimeCompare([]byte(secret), []byte(s.cfg.ClientSecret)) != 1 {
		s.log.InfoContext(r.Context(), "fitbit sandbox: bad client credentials")
		oauthError(w, http.StatusUnauthorized, "invalid_client", "Invalid authorization header format.")
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
		switch {
		case !found || now.After(c.expires):
			oauthError(w, http.StatusBadRequest, "invalid_grant", "Authorization code invalid: "+code)
			return
		case c.redirectURI != r.PostForm.Get("redirect_uri"):
			oauthError(w, http.StatusBadRequest, "invalid_grant", "Invalid redirect_uri parameter value")
			return
		case c.challenge != "" && !pkceOK(c.challenge, r.PostForm.Get("code_verifier")):
			oauthError(w, http.StatusBadRequest, "invalid_grant", "Invalid code_verifier parameter value")
			return
		}
		g = c
	case "refresh_token":
		rt := r.PostForm.Get("refresh_token")
		old, found := s.refresh[rt]
		if !found {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "Refresh token invalid: "+rt)
			return
		}
		delete(s.refresh, rt)
		g = old
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "The grant_type is not supported.")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, s.issueLocked(g))
}

// pkceOK checks an S256 code verifier against its challenge.
func pkceOK(challenge, verifier string) bool {
	if verifier == "" {
		return false
	}
	sum := sha256.Sum256([]byte(verifier))
	return subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(challenge)) == 1
}

// issueLocked makes a new token pair for g. s.mu is held.
func (s *Server) issueLocked(g grant) tokenResponse {
	at, rt := randomToken(), randomToken()
	s.access[at] = accessToken{user: g.user, scope: g.scope, expires: s.cfg.Now().Add(s.cfg.TokenLifetime)}
	s.refresh[rt] = grant{user: g.user, clientID: g.clientID, scope: g.scope}
	return tokenResponse{
		AccessToken:  at,
		ExpiresIn:    max(1, int(math.Ceil(s.cfg.TokenLifetime.Seconds()))),
		RefreshToken: rt,
		Scope:        g.scope,
		TokenType:    "Bearer",
		UserID:       g.user,
	}
}

// joinScopes sorts and joins scopes with spaces, as Fitbit lists them.
func joinScopes(scopes []string) string {
	s := slices.Clone(scopes)
	slices.Sort(s)
	return strings.Join(slices.Compact(s), " ")
}

// hasScope reports whether a token's scope list has want.
func hasScope(scope, want string) bool {
	return slices.Contains(strings.Fields(scope), want)
}

// api wraps an API handler: it counts the request, sets the rate limit
// headers, answers an injected 429, checks the bearer token, the scope the
// endpoint needs (none when scope is "") and the user in the path ("-" or
// the token's own user).
func (s *Server) api(scope string, h func(w http.ResponseWriter, r *http.Request, tok accessToken)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		now := s.cfg.Now()
		hour := now.Truncate(time.Hour)
		if !hour.Equal(s.hourStart) {
			s.hourStart, s.hourRequests = hour, 0
		}
		s.apiRequests++
		s.hourRequests++
		limited := s.rateLimitAt > 0 && s.apiRequests == s.rateLimitAt
		remaining := max(0, RateLimit-s.hourRequests)
		reset := int(math.Ceil(hour.Add(time.Hour).Sub(now).Seconds()))
		bearer, hasBearer := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		tok, found := s.access[bearer]
		s.mu.Unlock()

		w.Header().Set("Fitbit-Rate-Limit-Limit", strconv.Itoa(RateLimit))
		w.Header().Set("Fitbit-Rate-Limit-Remaining", strconv.Itoa(remaining))
		w.Header().Set("Fitbit-Rate-Limit-Reset", strconv.Itoa(reset))
		if limited {
			s.log.InfoContext(r.Context(), "fitbit sandbox: injected rate limit", "path", r.URL.Path)
			w.Header().Set("Fitbit-Rate-Limit-Remaining", "0")
			w.Header().Set("Retry-After", strconv.Itoa(reset))
			fail(w, http.StatusTooManyRequests, apiError{ErrorType: "system", FieldName: "n/a", Message: "Too Many Requests"})
			return
		}
		switch {
		case !hasBearer || bearer == "":
			s.unauthorized(w, r, "invalid_client", "Authorization header required. Visit https://dev.fitbit.com/docs/oauth2 for more information on the Fitbit Web API authorization process.")
			return
		case !found:
			s.unauthorized(w, r, "invalid_token", "Access token invalid: "+bearer)
			return
		case !now.Before(tok.expires):
			s.unauthorized(w, r, "expired_token", "Access token expired: "+bearer)
			return
		}
		if user := r.PathValue("user"); user != "-" && user != tok.user {
			fail(w, http.StatusForbidden, apiError{ErrorType: "insufficient_permissions", Message: "Caller is not authorized to view the requested resource."})
			return
		}
		if scope != "" && !hasScope(tok.scope, scope) {
			fail(w, http.StatusForbidden, apiError{ErrorType: "insufficient_scope", Message: "This application does not have permission to access " + scope + " data."})
			return
		}
		if s.loadErr != nil {
			fail(w, http.StatusInternalServerError, apiError{ErrorType: "system", Message: "sandbox fixtures not loaded"})
			return
		}
		h(w, r, tok)
	}
}

// unauthorized writes Fitbit's 401.
func (s *Server) unauthorized(w http.ResponseWriter, r *http.Request, errorType, msg string) {
	s.log.InfoContext(r.Context(), "fitbit sandbox: unauthorized", "path", r.URL.Path, "error_type", errorType)
	w.Header().Set("WWW-Authenticate", `Bearer realm="api.fitbit.com"`)
	fail(w, http.StatusUnauthorized, apiError{ErrorType: errorType, Message: msg})
}
