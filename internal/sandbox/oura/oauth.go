package oura

import (
	"crypto/subtle"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// tokenResponse is the token endpoint's answer, shaped like Oura's.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
}

// authorize consents at once and sends the browser back with a one-time
// code.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("response_type") != "code" {
		http.Error(w, "response_type must be code", http.StatusBadRequest)
		return
	}
	clientID := q.Get("client_id")
	if clientID == "" || (s.cfg.ClientID != "" && clientID != s.cfg.ClientID) {
		http.Error(w, "unknown client_id", http.StatusBadRequest)
		return
	}
	redirect, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || !redirect.IsAbs() || (redirect.Scheme != "http" && redirect.Scheme != "https") {
		http.Error(w, "redirect_uri must be an absolute http(s) URL", http.StatusBadRequest)
		return
	}
	user := q.Get("user")
	if user == "" {
		user = s.cfg.UserID
	}
	code := randomToken()
	s.mu.Lock()
	s.codes[code] = grant{
		user:        user,
		clientID:    clientID,
		redirectURI: q.Get("redirect_uri"),
		scope:       q.Get("scope"),
		expires:     s.cfg.Now().Add(codeLifetime),
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

// oauthError writes an RFC 6749 error.
func oauthError(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, map[string]string{"error": code})
}

// token runs the authorization_code and refresh_token grants. Each refresh
// rotates: the used refresh token is gone and a new one is returned.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request")
		return
	}
	clientID, secret, ok := r.BasicAuth()
	if ok {
		// RFC 6749 2.3.1: the basic-auth parts are form-encoded.
		clientID, _ = url.QueryUnescape(clientID)
		secret, _ = url.QueryUnescape(secret)
	} else {
		clientID, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if !s.clientOK(clientID, secret) {
		s.log.Info("oura sandbox: bad client credentials")
		oauthError(w, http.StatusUnauthorized, "invalid_client")
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
			oauthError(w, http.StatusBadRequest, "invalid_grant")
			return
		}
		g = c
	case "refresh_token":
		rt := r.PostForm.Get("refresh_token")
		old, found := s.refresh[rt]
		if !found || old.clientID != clientID {
			oauthError(w, http.StatusBadRequest, "invalid_grant")
			return
		}
		delete(s.refresh, rt)
		g = old
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, s.issueLocked(g))
}

// clientOK checks the client credentials against Config.
func (s *Server) clientOK(id, secret string) bool {
	if id == "" {
		return false
	}
	if s.cfg.ClientID == "" {
		return true
	}
	return id == s.cfg.ClientID && subtle.ConstantTimeCompare([]byte(secret), []byte(s.cfg.ClientSecret)) == 1
}

// issueLocked makes a new token pair for g. s.mu is held.
func (s *Server) issueLocked(g grant) tokenResponse {
	g.expires = s.cfg.Now().Add(s.cfg.TokenLifetime)
	at, rt := randomToken(), randomToken()
	s.access[at] = accessToken{user: g.user, expires: g.expires}
	s.refresh[rt] = grant{user: g.user, clientID: g.clientID, scope: g.scope}
	return tokenResponse{
		AccessToken:  at,
		RefreshToken: rt,
		TokenType:    "bearer",
		ExpiresIn:    max(1, int(math.Ceil(s.cfg.TokenLifetime.Seconds()))),
	}
}

// revoke forgets an access token.
func (s *Server) revoke(w http.ResponseWriter, r *http.Request) {
	tok := r.URL.Query().Get("access_token")
	if tok == "" {
		_ = r.ParseForm()
		tok = r.PostForm.Get("access_token")
	}
	s.mu.Lock()
	delete(s.access, tok)
	s.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// api wraps an API handler: it counts the request, answers an injected
// 429, and checks the bearer token.
func (s *Server) api(h func(w http.ResponseWriter, r *http.Request, user string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.apiRequests++
		limited := s.rateLimitAt > 0 && s.apiRequests == s.rateLimitAt
		retry := s.retryAfter
		var user string
		var authErr string
		tok, hasBearer := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		at, found := s.access[tok]
		switch {
		case !hasBearer || tok == "":
			authErr = "Missing access token"
		case !found:
			authErr = "Invalid access token"
		case !s.cfg.Now().Before(at.expires):
			authErr = "Access token expired"
		default:
			user = at.user
		}
		s.mu.Unlock()

		if limited {
			s.log.Info("oura sandbox: injected rate limit", "path", r.URL.Path)
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(retry.Seconds()))))
			w.Header().Set("X-RateLimit-Tier", "token")
			detail(w, http.StatusTooManyRequests, "Too Many Requests")
			return
		}
		if authErr != "" {
			s.log.Info("oura sandbox: unauthorized", "path", r.URL.Path, "reason", authErr)
			detail(w, http.StatusUnauthorized, authErr)
			return
		}
		if s.loadErr != nil {
			detail(w, http.StatusInternalServerError, "sandbox fixtures not loaded")
			return
		}
		h(w, r, user)
	}
}
