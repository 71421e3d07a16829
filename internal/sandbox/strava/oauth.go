package strava

import (
	"cmp"
	"crypto/subtle"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// knownScopes are Strava's scopes (developers.strava.com/docs/authentication).
var knownScopes = map[string]bool{
	"read": true, "read_all": true,
	"profile:read_all": true, "profile:write": true,
	"activity:read": true, "activity:read_all": true, "activity:write": true,
}

// codeGrant is what an authorization code stands for.
type codeGrant struct {
	athlete                      int64
	clientID, redirectURI, scope string
	expires                      time.Time
}

// grant is one authorization of an athlete: every token pair issued for it
// from the code exchange on.
type grant struct {
	athlete         int64
	clientID, scope string
	// next is the ordinal of the next refresh token; used is the highest
	// ordinal used so far. A refresh token older than the newest used one
	// is refused.
	next, used int
	revoked    bool
}

type accessToken struct {
	grantID string
	expires time.Time
}

type refreshToken struct {
	grantID string
	ordinal int
}

// metaAthlete is Strava's meta representation of an athlete.
type metaAthlete struct {
	ID            int64 `json:"id"`
	ResourceState int   `json:"resource_state"`
}

// tokenResponse is the token endpoint's answer, shaped like Strava's.
type tokenResponse struct {
	TokenType    string       `json:"token_type"`
	ExpiresAt    int64        `json:"expires_at"`
	ExpiresIn    int64        `json:"expires_in"`
	RefreshToken string       `json:"refresh_token"`
	AccessToken  string       `json:"access_token"`
	Athlete      *metaAthlete `json:"athlete,omitempty"`
}

// authorize consents at once and sends the browser back with a one-time
// code and the accepted scope, as Strava does.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("client_id") != s.cfg.ClientID {
		fault(w, http.StatusBadRequest, "Bad Request", "Application", "client_id", "invalid")
		return
	}
	redirect, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || !redirect.IsAbs() || (redirect.Scheme != "http" && redirect.Scheme != "https") {
		fault(w, http.StatusBadRequest, "Bad Request", "Application", "redirect_uri", "invalid")
		return
	}
	if q.Get("response_type") != "code" {
		fault(w, http.StatusBadRequest, "Bad Request", "Authorize", "response_type", "invalid")
		return
	}
	switch q.Get("approval_prompt") {
	case "", "auto", "force":
	default:
		fault(w, http.StatusBadRequest, "Bad Request", "Authorize", "approval_prompt", "invalid")
		return
	}
	scope := cmp.Or(q.Get("scope"), "read")
	for _, sc := range strings.Split(scope, ",") {
		if !knownScopes[sc] {
			fault(w, http.StatusBadRequest, "Bad Request", "Authorize", "scope", "invalid")
			return
		}
	}
	athlete := s.cfg.AthleteID
	if u := q.Get("user"); u != "" {
		n, err := strconv.ParseInt(u, 10, 64)
		if err != nil || n <= 0 {
			http.Error(w, "user must be a positive athlete id", http.StatusBadRequest)
			return
		}
		athlete = n
	}
	code := randomToken()
	s.mu.Lock()
	s.codes[code] = codeGrant{
		athlete: athlete, clientID: q.Get("client_id"), redirectURI: q.Get("redirect_uri"),
		scope: scope, expires: s.cfg.Now().Add(codeLifetime),
	}
	s.mu.Unlock()
	back := redirect.Query()
	back.Set("state", q.Get("state"))
	back.Set("code", code)
	back.Set("scope", scope)
	redirect.RawQuery = back.Encode()
	http.Redirect(w, r, redirect.String(), http.StatusFound)
}

// token runs the authorization_code and refresh_token grants. Strava takes
// the client credentials as parameters (form body or query).
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		fault(w, http.StatusBadRequest, "Bad Request", "Application", "body", "invalid")
		return
	}
	clientID, secret := r.Form.Get("client_id"), r.Form.Get("client_secret")
	if clientID != s.cfg.ClientID {
		s.log.Info("strava sandbox: unknown client_id")
		fault(w, http.StatusBadRequest, "Bad Request", "Application", "client_id", "invalid")
		return
	}
	if subtle.ConstantTimeCompare([]byte(secret), []byte(s.cfg.ClientSecret)) != 1 {
		s.log.Info("strava sandbox: bad client_secret")
		fault(w, http.StatusBadRequest, "Bad Request", "Application", "client_secret", "invalid")
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.cfg.Now()
	switch r.Form.Get("grant_type") {
	case "authorization_code":
		code := r.Form.Get("code")
		c, found := s.codes[code]
		delete(s.codes, code) // one use, even a failed one
		if !found || now.After(c.expires) || c.clientID != clientID {
			fault(w, http.StatusBadRequest, "Bad Request", "AuthorizationCode", "code", "invalid")
			return
		}
		writeJSON(w, http.StatusOK, s.newGrantLocked(c.athlete, clientID, c.scope))
	case "refresh_token":
		rt, found := s.refresh[r.Form.Get("refresh_token")]
		var g *grant
		if found {
			g = s.grants[rt.grantID]
		}
		if g == nil || g.revoked || g.clientID != clientID || rt.ordinal < g.used {
			fault(w, http.StatusBadRequest, "Bad Request", "RefreshToken", "refresh_token", "invalid")
			return
		}
		g.used = rt.ordinal
		s.dropOlderLocked(rt.grantID, g.used)
		writeJSON(w, http.StatusOK, s.issueLocked(rt.grantID, g))
	default:
		fault(w, http.StatusBadRequest, "Bad Request", "Application", "grant_type", "invalid")
	}
}

// newGrantLocked starts a grant and issues its first token pair, with the
// athlete as in the code exchange's answer. s.mu is held.
func (s *Server) newGrantLocked(athlete int64, clientID, scope string) tokenResponse {
	id := randomToken()
	g := &grant{athlete: athlete, clientID: clientID, scope: scope}
	s.grants[id] = g
	tr := s.issueLocked(id, g)
	tr.Athlete = &metaAthlete{ID: athlete, ResourceState: 1}
	return tr
}

// issueLocked makes a new token pair for grant id. s.mu is held.
func (s *Server) issueLocked(id string, g *grant) tokenResponse {
	expires := s.cfg.Now().Add(s.cfg.TokenLifetime)
	at, rt := randomToken(), randomToken()
	s.access[at] = accessToken{grantID: id, expires: expires}
	g.next++
	s.refresh[rt] = refreshToken{grantID: id, ordinal: g.next}
	return tokenResponse{
		TokenType:    "Bearer",
		ExpiresAt:    expires.Unix(),
		ExpiresIn:    max(1, int64(math.Ceil(s.cfg.TokenLifetime.Seconds()))),
		RefreshToken: rt,
		AccessToken:  at,
	}
}

// dropOlderLocked forgets the refresh tokens of grant id older than
// ordinal: they can no longer be used. s.mu is held.
func (s *Server) dropOlderLocked(id string, ordinal int) {
	for k, rt := range s.refresh {
		if rt.grantID == id && rt.ordinal < ordinal {
			delete(s.refresh, k)
		}
	}
}

// deauthorize revokes the grant of an access token: every token of it is
// refused from then on.
func (s *Server) deauthorize(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	tok := r.Form.Get("access_token")
	if tok == "" {
		tok, _ = strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	}
	s.mu.Lock()
	at, found := s.access[tok]
	var g *grant
	if found {
		g = s.grants[at.grantID]
	}
	if g != nil {
		g.revoked = true
	}
	s.mu.Unlock()
	if g == nil {
		fault(w, http.StatusUnauthorized, "Authorization Error", "Athlete", "access_token", "invalid")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"access_token": tok})
}

// usage counts the API requests of the current quarter hour and UTC day.
type usage struct {
	quarter, day     time.Time
	inQuarter, inDay int
}

func (u *usage) add(now time.Time) {
	now = now.UTC()
	if q := now.Truncate(15 * time.Minute); !q.Equal(u.quarter) {
		u.quarter, u.inQuarter = q, 0
	}
	y, m, d := now.Date()
	if day := time.Date(y, m, d, 0, 0, 0, 0, time.UTC); !day.Equal(u.day) {
		u.day, u.inDay = day, 0
	}
	u.inQuarter++
	u.inDay++
}

// api wraps an API handler: it counts the request, sets the rate-limit
// headers, answers a 429 (injected or, with EnforceRateLimits, earned),
// checks the bearer token and, for activity endpoints, its scope.
func (s *Server) api(activities bool, h func(w http.ResponseWriter, r *http.Request, athlete int64, scope string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		now := s.cfg.Now()
		s.mu.Lock()
		s.apiRequests++
		s.usage.add(now)
		u := s.usage
		injected := s.rateLimitAt > 0 && s.apiRequests == s.rateLimitAt
		daily := s.limitDaily
		var athlete int64
		var scope, authErr string
		tok, hasBearer := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		at, found := s.access[tok]
		var g *grant
		if found {
			g = s.grants[at.grantID]
		}
		switch {
		case !hasBearer || tok == "", !found, g == nil, g.revoked, !now.Before(at.expires):
			authErr = "access_token"
		default:
			athlete, scope = g.athlete, g.scope
		}
		s.mu.Unlock()

		read := [2]int{u.inQuarter, u.inDay}
		limited := injected
		if s.cfg.EnforceRateLimits && (read[0] > s.cfg.ReadLimits[0] || read[1] > s.cfg.ReadLimits[1]) {
			limited = true
			daily = read[1] > s.cfg.ReadLimits[1]
		}
		if injected {
			if daily {
				read[1] = max(read[1], s.cfg.ReadLimits[1])
			} else {
				read[0] = max(read[0], s.cfg.ReadLimits[0])
			}
		}
		hd := w.Header()
		hd.Set("Date", now.UTC().Format(http.TimeFormat))
		hd.Set("X-RateLimit-Limit", pair(s.cfg.Limits))
		hd.Set("X-RateLimit-Usage", pair([2]int{u.inQuarter, u.inDay}))
		hd.Set("X-ReadRateLimit-Limit", pair(s.cfg.ReadLimits))
		hd.Set("X-ReadRateLimit-Usage", pair(read))

		switch {
		case limited:
			s.log.Info("strava sandbox: rate limited", "path", r.URL.Path, "daily", daily)
			writeRaw(w, http.StatusTooManyRequests, s.rateLimitBody())
		case authErr != "":
			s.log.Info("strava sandbox: unauthorized", "path", r.URL.Path)
			fault(w, http.StatusUnauthorized, "Authorization Error", "Athlete", authErr, "invalid")
		case activities && !hasScope(scope, "activity:read", "activity:read_all"):
			fault(w, http.StatusUnauthorized, "Authorization Error", "AccessToken", "activity:read_permission", "missing")
		case s.loadErr != nil:
			writeJSON(w, http.StatusInternalServerError, map[string]string{"message": "sandbox fixtures not loaded"})
		default:
			h(w, r, athlete, scope)
		}
	}
}

// rateLimitBody is the recorded 429 body.
func (s *Server) rateLimitBody() []byte {
	if s.data != nil && len(s.data.rateLimitBody) > 0 {
		return s.data.rateLimitBody
	}
	return []byte(`{"message":"Rate Limit Exceeded","errors":[{"resource":"Application","field":"rate limit","code":"exceeded"}]}`)
}

// hasScope reports whether the comma-separated scope has one of want.
func hasScope(scope string, want ...string) bool {
	for _, sc := range strings.Split(scope, ",") {
		for _, w := range want {
			if sc == w {
				return true
			}
		}
	}
	return false
}

func pair(v [2]int) string { return fmt.Sprintf("%d,%d", v[0], v[1]) }
