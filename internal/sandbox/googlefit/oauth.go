package googlefit

import (
	"cmp"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// tokenResponse is the token endpoint's answer, shaped like Google's
// (which also sends an id_token for the openid scope; nothing here reads
// it, so the fake leaves it out).
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope"`
	TokenType    string `json:"token_type"`
}

// authorize consents at once and sends the browser back with a one-time
// code.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("response_type") != "code" {
		http.Error(w, "Error 400: invalid_request: response_type must be code", http.StatusBadRequest)
		return
	}
	clientID := q.Get("client_id")
	if clientID == "" || (s.cfg.ClientID != "" && clientID != s.cfg.ClientID) {
		http.Error(w, "Error 401: invalid_client: The OAuth client was not found.", http.StatusUnauthorized)
		return
	}
	redirect, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || !redirect.IsAbs() || (redirect.Scheme != "http" && redirect.Scheme != "https") {
		http.Error(w, "Error 400: redirect_uri_mismatch", http.StatusBadRequest)
		return
	}
	if q.Get("scope") == "" {
		http.Error(w, "Error 400: invalid_request: Missing required parameter: scope", http.StatusBadRequest)
		return
	}
	method := q.Get("code_challenge_method")
	if q.Get("code_challenge") != "" && method != "S256" && method != "plain" && method != "" {
		http.Error(w, "Error 400: invalid_request: Invalid code_challenge_method", http.StatusBadRequest)
		return
	}
	if method == "" {
		method = "plain"
	}
	code := randomToken()
	s.mu.Lock()
	s.codes[code] = grant{
		user:            cmp.Or(q.Get("user"), s.cfg.UserID),
		clientID:        clientID,
		redirectURI:     q.Get("redirect_uri"),
		scope:           q.Get("scope"),
		challenge:       q.Get("code_challenge"),
		challengeMethod: method,
		offline:         q.Get("access_type") == "offline",
		expires:         s.cfg.Now().Add(codeLifetime),
	}
	s.mu.Unlock()
	back := redirect.Query()
	back.Set("code", code)
	back.Set("scope", q.Get("scope"))
	if st := q.Get("state"); st != "" {
		back.Set("state", st)
	}
	redirect.RawQuery = back.Encode()
	http.Redirect(w, r, redirect.String(), http.StatusFound)
}

// oauthError writes Google's token endpoint error.
func oauthError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

// token runs the authorization_code and refresh_token grants. Google does
// not rotate refresh tokens: a refresh returns no refresh_token and the
// one used stays valid.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "Bad Request")
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
		s.log.Info("google sandbox: bad client credentials")
		oauthError(w, http.StatusUnauthorized, "invalid_client", "Unauthorized")
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.cfg.Now()
	switch r.PostForm.Get("grant_type") {
	case "authorization_code":
		code := r.PostForm.Get("code")
		c, found := s.codes[code]
		delete(s.codes, code) // one use, even a failed one
		if !found || now.After(c.expires) || c.clientID != clientID {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "Bad Request")
			return
		}
		if c.redirectURI != r.PostForm.Get("redirect_uri") {
			oauthError(w, http.StatusBadRequest, "redirect_uri_mismatch", "Bad Request")
			return
		}
		if c.challenge != "" {
			v := r.PostForm.Get("code_verifier")
			if v == "" {
				oauthError(w, http.StatusBadRequest, "invalid_grant", "Missing code verifier.")
				return
			}
			if !pkceOK(c.challenge, c.challengeMethod, v) {
				oauthError(w, http.StatusBadRequest, "invalid_grant", "Invalid code verifier.")
				return
			}
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, s.issueLocked(c, c.offline))
	case "refresh_token":
		g, found := s.refresh[r.PostForm.Get("refresh_token")]
		if !found || g.clientID != clientID {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "Token has been expired or revoked.")
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, s.issueLocked(g, false))
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "Invalid grant_type: "+r.PostForm.Get("grant_type"))
	}
}

// pkceOK checks a code verifier against its challenge (RFC 7636).
func pkceOK(challenge, method, verifier string) bool {
	want := verifier
	if method == "S256" {
		sum := sha256.Sum256([]byte(verifier))
		want = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	return subtle.ConstantTimeCompare([]byte(want), []byte(challenge)) == 1
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

// issueLocked makes a new access token for g, and a refresh token when
// withRefresh. s.mu is held.
func (s *Server) issueLocked(g grant, withRefresh bool) tokenResponse {
	at := randomToken()
	s.access[at] = accessToken{user: g.user, expires: s.cfg.Now().Add(s.cfg.TokenLifetime)}
	tr := tokenResponse{
		AccessToken: at,
		// Google answers 3599 for its hour-long tokens.
		ExpiresIn: max(1, int(math.Ceil(s.cfg.TokenLifetime.Seconds()))-1),
		Scope:     g.scope,
		TokenType: "Bearer",
	}
	if withRefresh {
		rt := "1//" + randomToken()
		s.refresh[rt] = grant{user: g.user, clientID: g.clientID, scope: g.scope}
		tr.RefreshToken = rt
	}
	return tr
}

// revoke forgets a refresh or access token.
func (s *Server) revoke(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	tok := r.Form.Get("token")
	s.mu.Lock()
	_, isRefresh := s.refresh[tok]
	_, isAccess := s.access[tok]
	delete(s.refresh, tok)
	delete(s.access, tok)
	s.mu.Unlock()
	if !isRefresh && !isAccess {
		oauthError(w, http.StatusBadRequest, "invalid_token", "Token expired or revoked")
		return
	}
	w.WriteHeader(http.StatusOK)
}

// api wraps an API handler: it counts the request, answers an injected
// rate limit, and checks the bearer token.
func (s *Server) api(h func(w http.ResponseWriter, r *http.Request, user string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.apiRequests++
		limited := s.rateLimitAt > 0 && s.apiRequests == s.rateLimitAt
		retry := s.retryAfter
		tok, hasBearer := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		at, found := s.access[tok]
		valid := hasBearer && tok != "" && found && s.cfg.Now().Before(at.expires)
		s.mu.Unlock()

		if limited {
			s.log.Info("google sandbox: injected rate limit", "path", r.URL.Path)
			if retry > 0 {
				w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(retry.Seconds()))))
			}
			if s.cfg.RateLimitStatus == http.StatusForbidden {
				writeJSON(w, http.StatusForbidden, map[string]any{"error": map[string]any{
					"errors":  []map[string]string{{"domain": "usageLimits", "reason": "rateLimitExceeded", "message": "Rate Limit Exceeded"}},
					"code":    http.StatusForbidden,
					"message": "Rate Limit Exceeded",
				}})
				return
			}
			writeJSON(w, http.StatusTooManyRequests, map[string]any{"error": map[string]any{
				"code":    http.StatusTooManyRequests,
				"message": "Quota exceeded for quota metric 'Read requests' and limit 'Read requests per minute per user' of service 'fitness.googleapis.com'.",
				"errors":  []map[string]string{{"message": "Quota exceeded.", "domain": "global", "reason": "rateLimitExceeded"}},
				"status":  "RESOURCE_EXHAUSTED",
			}})
			return
		}
		if !valid {
			s.log.Info("google sandbox: unauthorized", "path", r.URL.Path)
			w.Header().Set("WWW-Authenticate", `Bearer realm="https://accounts.google.com/", error="invalid_token"`)
			writeJSON(w, http.StatusUnauthorized, map[string]any{"error": map[string]any{
				"code":    http.StatusUnauthorized,
				"message": "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
				"errors": []map[string]string{{
					"message": "Invalid Credentials", "domain": "global", "reason": "authError",
					"location": "Authorization", "locationType": "header",
				}},
				"status": "UNAUTHENTICATED",
			}})
			return
		}
		if s.loadErr != nil {
			apiError(w, http.StatusInternalServerError, "backendError", "INTERNAL", "sandbox fixtures not loaded")
			return
		}
		h(w, r, at.user)
	}
}

// userInfo answers the OpenID userinfo of the token's user.
func (s *Server) userInfo(w http.ResponseWriter, r *http.Request, user string) {
	writeJSON(w, http.StatusOK, map[string]string{"sub": user})
}
