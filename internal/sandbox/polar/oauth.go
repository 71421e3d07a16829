package polar

import (
	"crypto/subtle"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// authorize consents at once and sends the browser back with a one-time
// code. The non-standard "user" parameter picks the consenting sandbox
// user (digits; default Config.UserID).
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("response_type") != "code" {
		http.Error(w, "response_type must be code", http.StatusBadRequest)
		return
	}
	if q.Get("client_id") != s.cfg.ClientID {
		http.Error(w, "unknown client_id", http.StatusBadRequest)
		return
	}
	redirect, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || !redirect.IsAbs() || (redirect.Scheme != "http" && redirect.Scheme != "https") {
		// Polar would fall back to the client's default redirect URL; the
		// sandbox has none.
		http.Error(w, "redirect_uri must be an absolute http(s) URL", http.StatusBadRequest)
		return
	}
	back := redirect.Query()
	if st := q.Get("state"); st != "" {
		back.Set("state", st)
	}
	if sc := q.Get("scope"); sc != "" && sc != "accesslink.read_all" {
		back.Set("error", "invalid_scope")
		redirect.RawQuery = back.Encode()
		http.Redirect(w, r, redirect.String(), http.StatusFound)
		return
	}
	user := q.Get("user")
	if user == "" {
		user = s.cfg.UserID
	}
	if n, err := strconv.ParseInt(user, 10, 64); err != nil || n <= 0 {
		http.Error(w, "user must be a positive number", http.StatusBadRequest)
		return
	}
	c := randomToken()
	s.mu.Lock()
	s.codes[c] = &code{user: user, redirectURI: q.Get("redirect_uri"), expires: s.cfg.Now().Add(codeLifetime)}
	s.mu.Unlock()
	back.Set("code", c)
	redirect.RawQuery = back.Encode()
	http.Redirect(w, r, redirect.String(), http.StatusFound)
}

// oauthError writes an RFC 6749 error.
func oauthError(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, map[string]string{"error": code})
}

// token runs the authorization_code grant, the only one Polar has. The
// client must authenticate with HTTP Basic. A code used twice is refused
// and every token issued for it is revoked, as Polar documents.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request")
		return
	}
	id, secret, ok := r.BasicAuth()
	if ok {
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	}
	if !ok || !s.clientOK(id, secret) {
		s.log.Info("polar sandbox: token request without valid Basic client auth")
		oauthError(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	if r.PostForm.Get("grant_type") != "authorization_code" {
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, found := s.codes[r.PostForm.Get("code")]
	switch {
	case !found || s.cfg.Now().After(c.expires):
		oauthError(w, http.StatusBadRequest, "invalid_grant")
		return
	case c.used:
		for _, at := range c.issued {
			delete(s.tokens, at)
		}
		oauthError(w, http.StatusBadRequest, "invalid_grant")
		return
	case c.redirectURI != "" && r.PostForm.Get("redirect_uri") != c.redirectURI:
		c.used = true
		oauthError(w, http.StatusBadRequest, "invalid_grant")
		return
	}
	c.used = true
	at := s.issueLocked(c.user)
	c.issued = append(c.issued, at)
	uid, _ := strconv.ParseInt(c.user, 10, 64)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": at,
		"token_type":   "bearer",
		"expires_in":   max(1, int64(math.Ceil(s.cfg.TokenLifetime.Seconds()))),
		"x_user_id":    uid,
	})
}

func (s *Server) clientOK(id, secret string) bool {
	return id == s.cfg.ClientID && subtle.ConstantTimeCompare([]byte(secret), []byte(s.cfg.ClientSecret)) == 1
}

// issueLocked makes a new access token for user. s.mu is held.
func (s *Server) issueLocked(user string) string {
	at := randomToken()
	s.tokens[at] = token{user: user, expires: s.cfg.Now().Add(s.cfg.TokenLifetime)}
	return at
}

// countLocked counts one /v3 request in Polar's two windows and reports
// whether it is the one to refuse with 429. s.mu is held.
func (s *Server) countLocked(now time.Time) (limited bool) {
	s.apiRequests++
	if now.Sub(s.shortStart) >= shortWindow {
		s.shortStart, s.shortCount = now, 0
	}
	if now.Sub(s.longStart) >= longWindow {
		s.longStart, s.longCount = now, 0
	}
	s.shortCount++
	s.longCount++
	return s.rateLimitAt > 0 && s.apiRequests == s.rateLimitAt
}

// rateHeadersLocked writes Polar's RateLimit-* headers. On a refused
// request the short-term usage is at its limit. s.mu is held.
func (s *Server) rateHeadersLocked(w http.ResponseWriter, now time.Time, limited bool) {
	users := len(s.registered)
	sl, ll := shortLimit+20*users, longLimit+100*users
	usage := s.shortCount
	shortReset := shortWindow - now.Sub(s.shortStart)
	if limited {
		usage = sl
		if s.rateLimitRst > 0 {
			shortReset = s.rateLimitRst
		}
	}
	longReset := longWindow - now.Sub(s.longStart)
	h := w.Header()
	h.Set("RateLimit-Usage", strconv.Itoa(usage)+", "+strconv.Itoa(s.longCount))
	h.Set("RateLimit-Limit", strconv.Itoa(sl)+", "+strconv.Itoa(ll))
	h.Set("RateLimit-Reset", strconv.Itoa(int(math.Ceil(shortReset.Seconds())))+", "+strconv.Itoa(int(math.Ceil(longReset.Seconds()))))
}

// user wraps a user-token handler: it counts the request (answering an
// injected 429), checks the bearer token and, when mustRegister, that the
// user is registered and that a {uid} in the path is the user.
func (s *Server) user(h func(w http.ResponseWriter, r *http.Request, user string), mustRegister bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		now := s.cfg.Now()
		s.mu.Lock()
		limited := s.countLocked(now)
		s.rateHeadersLocked(w, now, limited)
		at, hasBearer := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		tok, found := s.tokens[at]
		_, registered := s.registered[tok.user]
		s.mu.Unlock()

		switch {
		case limited:
			s.log.Info("polar sandbox: injected rate limit", "path", r.URL.Path)
			s.apiError(w, http.StatusTooManyRequests, "TOO_MANY_REQUESTS", "Rate limit exceeded")
		case !hasBearer || !found || !now.Before(tok.expires):
			s.log.Info("polar sandbox: unauthorized", "path", r.URL.Path)
			s.apiError(w, http.StatusUnauthorized, "UNAUTHORIZED", "Invalid or revoked access token")
		case mustRegister && !registered:
			s.apiError(w, http.StatusForbidden, "FORBIDDEN", "User is not registered to this client")
		case r.PathValue("uid") != "" && r.PathValue("uid") != tok.user:
			s.apiError(w, http.StatusForbidden, "FORBIDDEN", "Access to another user's data")
		case s.loadErr != nil:
			s.apiError(w, http.StatusInternalServerError, "INTERNAL", "sandbox fixtures not loaded")
		default:
			h(w, r, tok.user)
		}
	}
}

// client wraps a client-credentials handler (HTTP Basic).
func (s *Server) client(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		now := s.cfg.Now()
		s.mu.Lock()
		limited := s.countLocked(now)
		s.rateHeadersLocked(w, now, limited)
		s.mu.Unlock()
		id, secret, ok := r.BasicAuth()
		switch {
		case limited:
			s.apiError(w, http.StatusTooManyRequests, "TOO_MANY_REQUESTS", "Rate limit exceeded")
		case !ok || !s.clientOK(id, secret):
			s.apiError(w, http.StatusUnauthorized, "UNAUTHORIZED", "Client credentials required")
		default:
			h(w, r)
		}
	}
}
