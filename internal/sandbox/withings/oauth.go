package withings

import (
	"crypto/subtle"
	"encoding/json"
	"math"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/oauth2"
)

// knownScopes are the Withings OAuth scopes.
var knownScopes = map[string]bool{"user.info": true, "user.metrics": true, "user.activity": true, "user.sleepevents": true}

// authorize consents at once and sends the browser back with a one-time
// code, valid 30 seconds as Withings' are. Withings' parameters are all
// required: response_type=code, client_id, state, scope (comma
// separated), redirect_uri.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	fail := func(msg string) {
		s.log.Info("withings sandbox: authorize refused", "reason", msg)
		http.Error(w, msg, http.StatusBadRequest)
	}
	if q.Get("response_type") != "code" {
		fail("response_type must be code")
		return
	}
	if q.Get("client_id") != s.cfg.ClientID {
		fail("unknown client_id")
		return
	}
	redirect, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || !redirect.IsAbs() || (redirect.Scheme != "http" && redirect.Scheme != "https") {
		fail("redirect_uri must be an absolute http(s) URL")
		return
	}
	if q.Get("state") == "" {
		fail("state is required")
		return
	}
	scopes := strings.Split(q.Get("scope"), ",")
	for i, sc := range scopes {
		scopes[i] = strings.TrimSpace(sc)
		if !knownScopes[scopes[i]] {
			fail("unknown scope " + sc)
			return
		}
	}
	code := randomToken()
	s.mu.Lock()
	s.codes[code] = grant{
		user:        s.cfg.UserID,
		clientID:    q.Get("client_id"),
		redirectURI: q.Get("redirect_uri"),
		scope:       strings.Join(scopes, ","),
		expires:     s.cfg.Now().Add(codeLifetime),
	}
	s.mu.Unlock()
	back := redirect.Query()
	back.Set("code", code)
	back.Set("state", q.Get("state"))
	redirect.RawQuery = back.Encode()
	http.Redirect(w, r, redirect.String(), http.StatusFound)
}

// token is the requesttoken action. Client id and secret come in the
// form. A code is good once; a refresh token rotates: the answer carries a
// new one, and the old one keeps working until the new access token is
// used or Config.RefreshGrace has passed.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		reply(w, statusInvalidParams, nil, "Invalid Params: cannot parse the form")
		return
	}
	f := r.Form
	if f.Get("action") != "requesttoken" {
		reply(w, statusNotImpl, nil, "Not implemented")
		return
	}
	if f.Get("client_id") != s.cfg.ClientID || subtle.ConstantTimeCompare([]byte(f.Get("client_secret")), []byte(s.cfg.ClientSecret)) != 1 {
		s.log.Info("withings sandbox: bad client credentials")
		reply(w, statusInvalidParams, nil, "Invalid Params: invalid client_id or client_secret")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.cfg.Now()
	var user, scope, rotated string
	switch f.Get("grant_type") {
	case "authorization_code":
		code := f.Get("code")
		g, found := s.codes[code]
		delete(s.codes, code) // one use, even a failed one
		if !found || now.After(g.expires) || g.redirectURI != f.Get("redirect_uri") {
			reply(w, statusInvalidParams, nil, "Invalid Params: invalid code")
			return
		}
		user, scope = g.user, g.scope
	case "refresh_token":
		rt := f.Get("refresh_token")
		old, found := s.refresh[rt]
		if !found || (!old.graceUntil.IsZero() && !now.Before(old.graceUntil)) {
			delete(s.refresh, rt)
			reply(w, statusInvalidParams, nil, "Invalid Params: invalid refresh_token")
			return
		}
		if old.graceUntil.IsZero() {
			old.graceUntil = now.Add(s.cfg.RefreshGrace)
		}
		user, scope, rotated = old.user, old.scope, rt
	default:
		reply(w, statusInvalidParams, nil, "Invalid Params: grant_type")
		return
	}
	at, rt := s.issueLocked(user, scope, rotated)
	body := map[string]any{
		"userid":        userIDJSON(user),
		"access_token":  at,
		"refresh_token": rt,
		"expires_in":    int(math.Ceil(s.cfg.TokenLifetime.Seconds())),
		"scope":         scope,
		"csrf_token":    randomToken()[:32],
		"token_type":    "Bearer",
	}
	replyJSON(w, body)
}

// userIDJSON writes a digits-only user id as a JSON number, as Withings
// does, and anything else as a string.
func userIDJSON(user string) any {
	if user != "" && strings.Trim(user, "0123456789") == "" {
		return json.Number(user)
	}
	return user
}

// issueLocked makes a token pair; rotated is the refresh token this pair
// replaces. s.mu is held.
func (s *Server) issueLocked(user, scope, rotated string) (access, refresh string) {
	access, refresh = randomToken(), randomToken()
	s.access[access] = &accessToken{user: user, scope: scope, expires: s.cfg.Now().Add(s.cfg.TokenLifetime), rotated: rotated}
	s.refresh[refresh] = &refreshToken{user: user, clientID: s.cfg.ClientID, scope: scope}
	return access, refresh
}

// Token issues a fresh token pair for the sandbox user without the
// browser round trip, as the token endpoint would, with the userid extra
// that the provider's ExchangeCode sets.
func (s *Server) Token() *oauth2.Token {
	s.mu.Lock()
	defer s.mu.Unlock()
	at, rt := s.issueLocked(s.cfg.UserID, "user.metrics,user.activity", "")
	tok := &oauth2.Token{
		AccessToken:  at,
		RefreshToken: rt,
		TokenType:    "Bearer",
		Expiry:       s.cfg.Now().Add(s.cfg.TokenLifetime),
	}
	return tok.WithExtra(map[string]any{"userid": s.cfg.UserID, "scope": "user.metrics,user.activity"})
}

// api wraps a service: it counts the request, answers an injected 601,
// and checks the bearer token (or the legacy access_token parameter).
// Using a new access token for the first time retires the refresh token
// its issue rotated out.
func (s *Server) api(h func(w http.ResponseWriter, r *http.Request, user string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			reply(w, statusInvalidParams, nil, "Invalid Params: cannot parse the form")
			return
		}
		tok, hasBearer := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !hasBearer {
			tok = r.Form.Get("access_token")
		}
		s.mu.Lock()
		s.apiRequests++
		limited := s.rateLimitAt > 0 && s.apiRequests == s.rateLimitAt
		var user string
		at, found := s.access[tok]
		valid := tok != "" && found && s.cfg.Now().Before(at.expires)
		if valid {
			user = at.user
			if at.rotated != "" {
				delete(s.refresh, at.rotated)
				at.rotated = ""
			}
		}
		s.mu.Unlock()

		switch {
		case limited:
			s.log.Info("withings sandbox: injected rate limit", "path", r.URL.Path)
			reply(w, statusTooMany, nil, "Too Many Requests")
		case !valid:
			s.log.Info("withings sandbox: invalid token", "path", r.URL.Path)
			reply(w, statusInvalidToken, nil, "XRequestID: Not provided invalid_token: The access token provided is invalid")
		case s.loadErr != nil:
			reply(w, 2555, nil, "An error occurred: sandbox fixtures not loaded")
		default:
			h(w, r, user)
		}
	}
}
