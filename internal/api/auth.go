package api

import (
	"context"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/wearbridge/wearbridge/internal/connect"
	"github.com/wearbridge/wearbridge/internal/model"
	"github.com/wearbridge/wearbridge/internal/pipeline"
	"github.com/wearbridge/wearbridge/internal/source"
	"github.com/wearbridge/wearbridge/internal/store"
)

type authenticateRequest struct {
	ReferenceID            string `json:"reference_id"`
	AuthSuccessRedirectURL string `json:"auth_success_redirect_url"`
	AuthFailureRedirectURL string `json:"auth_failure_redirect_url"`
	Language               string `json:"language"`
}

// authenticateUser starts a connection: POST /auth/authenticateUser?resource=OURA.
func (s *Server) authenticateUser(w http.ResponseWriter, r *http.Request) {
	var req authenticateRequest
	if err := decodeBody(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, "body is not valid JSON: "+err.Error())
		return
	}
	q := r.URL.Query()
	req.ReferenceID = firstNonEmpty(req.ReferenceID, q.Get("reference_id"))
	req.AuthSuccessRedirectURL = firstNonEmpty(req.AuthSuccessRedirectURL, q.Get("auth_success_redirect_url"))
	req.AuthFailureRedirectURL = firstNonEmpty(req.AuthFailureRedirectURL, q.Get("auth_failure_redirect_url"))
	for _, u := range []string{req.AuthSuccessRedirectURL, req.AuthFailureRedirectURL} {
		if u != "" && !validRedirect(u) {
			writeError(w, http.StatusBadRequest, "redirect URLs must be absolute http(s) URLs with a host, at most 2048 characters")
			return
		}
	}
	if len(req.ReferenceID) > 256 || strings.ContainsRune(req.ReferenceID, 0) {
		writeError(w, http.StatusBadRequest, "reference_id must be at most 256 characters, without NUL")
		return
	}
	resource := strings.ToUpper(strings.TrimSpace(q.Get("resource")))
	if resource == "" {
		writeError(w, http.StatusBadRequest, "missing query parameter resource (valid: "+strings.Join(s.d.Providers.Names(), ", ")+")")
		return
	}
	userID, authURL, err := s.d.Connector.Start(r.Context(), developer(r).ID, resource, connect.StartOptions{
		ReferenceID: req.ReferenceID, SuccessRedirect: req.AuthSuccessRedirectURL, FailureRedirect: req.AuthFailureRedirectURL,
	})
	if errors.Is(err, connect.ErrUnknownProvider) {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "success", "user_id": userID, "auth_url": authURL})
}

// callback completes a connection: GET /auth/callback/{provider}.
func (s *Server) callback(w http.ResponseWriter, r *http.Request) {
	provider := strings.ToUpper(r.PathValue("provider"))
	res, err := s.d.Connector.Callback(r.Context(), provider, r.URL.Query())
	if err != nil {
		s.d.Logger.WarnContext(r.Context(), "connection failed", "provider", provider, "err", err)
		if res.Redirect != "" {
			http.Redirect(w, r, res.Redirect, http.StatusFound)
			return
		}
		page(w, http.StatusBadRequest, "Connection failed", err.Error())
		return
	}
	s.d.Logger.InfoContext(r.Context(), "user connected", "provider", provider, "user_id", res.User.ID, "reauth", res.Reauth)
	if err := s.d.Backfiller.Backfill(r.Context(), res.User); err != nil {
		// The periodic poll catches up; the connection itself succeeded.
		s.d.Logger.ErrorContext(r.Context(), "enqueue backfill", "user_id", res.User.ID, "err", err)
	}
	if err := s.subscribe(r.Context(), res.User); err != nil {
		// Polls still keep the user current.
		s.d.Logger.WarnContext(r.Context(), "push subscription failed; the user is polled only", "provider", provider, "user_id", res.User.ID, "err", err)
	}
	if res.Redirect != "" {
		http.Redirect(w, r, res.Redirect, http.StatusFound)
		return
	}
	page(w, http.StatusOK, "Connected", fmt.Sprintf("Your %s account is connected. You can close this window.", provider))
}

func page(w http.ResponseWriter, status int, title, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<!doctype html><title>%s</title><h1>%s</h1><p>%s</p>\n", html.EscapeString(title), html.EscapeString(title), html.EscapeString(msg))
}

// deauthenticateUser: DELETE /auth/deauthenticateUser?user_id=...
func (s *Server) deauthenticateUser(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("user_id")
	if id == "" {
		writeError(w, http.StatusBadRequest, "missing query parameter user_id")
		return
	}
	err := s.d.Connector.Deauthenticate(r.Context(), developer(r).ID, id)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "user not found")
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "success"})
}

// userInfo: GET /userInfo?user_id=... or ?reference_id=...
func (s *Server) userInfo(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	dev := developer(r)
	if ref := q.Get("reference_id"); ref != "" && q.Get("user_id") == "" {
		us, err := s.d.Store.UsersByReference(r.Context(), dev.ID, ref)
		if err != nil {
			s.internal(w, r, err)
			return
		}
		out := make([]model.TerraUser, 0, len(us))
		for _, u := range us {
			out = append(out, pipeline.TerraUser(u))
		}
		writeJSON(w, http.StatusOK, out)
		return
	}
	id := q.Get("user_id")
	if id == "" {
		writeError(w, http.StatusBadRequest, "missing query parameter user_id or reference_id")
		return
	}
	u, err := s.d.Store.User(r.Context(), dev.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "user not found")
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	out := map[string]any{"status": "success", "user": pipeline.TerraUser(u), "is_authenticated": u.Active}
	if b, err := s.d.Store.BackfillProgress(r.Context(), u.ID); err == nil && b.Total > 0 {
		out["backfill"] = map[string]any{"pulls_total": b.Total, "pulls_done": b.Done, "records": b.Records,
			"progress": float64(b.Done) / float64(b.Total), "complete": b.Done == b.Total}
	}
	writeJSON(w, http.StatusOK, out)
}

// subscriptions: GET /subscriptions[?page=N&per_page=M]
func (s *Server) subscriptions(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	perPage := atoiDefault(q.Get("per_page"), 100)
	if perPage < 1 || perPage > 1000 {
		writeError(w, http.StatusBadRequest, "per_page must be 1 to 1000")
		return
	}
	pageNo := atoiDefault(q.Get("page"), 0)
	if pageNo < 0 || pageNo > 1_000_000 {
		writeError(w, http.StatusBadRequest, "page must be a number from 0 to 1000000")
		return
	}
	limit, offset := perPage, pageNo*perPage
	if q.Get("page") == "" {
		limit, offset = 1_000_000, 0
	}
	us, total, err := s.d.Store.ListUsers(r.Context(), developer(r).ID, offset, limit)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	users := make([]model.TerraUser, 0, len(us))
	for _, u := range us {
		users = append(users, pipeline.TerraUser(u))
	}
	if q.Get("page") == "" {
		writeJSON(w, http.StatusOK, map[string]any{"status": "success", "users": users})
		return
	}
	maxPage := 0
	if total > 0 {
		maxPage = (total - 1) / perPage
	}
	var next any
	if pageNo < maxPage {
		next = pageNo + 1
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "success", "data": map[string]any{"next": next, "max_page": maxPage, "results": users}})
}

// integrations: GET /integrations
func (s *Server) integrations(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"status": "success", "providers": s.d.Providers.Names(), "sdk_resource": []string{}})
}

func atoiDefault(s string, def int) int {
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return -1
	}
	return n
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// subscribe asks the provider to push for u, where it pushes only for
// subscribed users.
func (s *Server) subscribe(ctx context.Context, u store.User) error {
	p, _ := s.d.Providers.Get(u.Provider)
	sub, ok := p.(source.Subscriber)
	if !ok {
		return nil
	}
	hc, err := s.d.Connector.Client(ctx, u)
	if err != nil {
		return err
	}
	pushURL := s.d.PublicURL + "/push/" + strings.ToLower(u.Provider)
	if s.d.PushToken != nil {
		pushURL += "?" + PushTokenParam + "=" + s.d.PushToken(u.Provider)
	}
	return sub.SubscribeUser(ctx, hc, pushURL)
}

// validRedirect accepts absolute http(s) URLs with a host and no control
// characters.
func validRedirect(raw string) bool {
	if len(raw) > 2048 || strings.IndexFunc(raw, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
		return false
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || strings.ContainsAny(u.Host, "\\ ") {
		return false
	}
	scheme := strings.ToLower(u.Scheme)
	return scheme == "http" || scheme == "https"
}
