// Package api serves wearbridge's REST API in the shapes of the Terra v2
// API (headers dev-id and x-api-key), the providers' OAuth callbacks and
// push receivers. Every route is listed in Handler.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/wearbridge/wearbridge/internal/connect"
	"github.com/wearbridge/wearbridge/internal/pipeline"
	"github.com/wearbridge/wearbridge/internal/source"
	"github.com/wearbridge/wearbridge/internal/store"
)

// Backfiller enqueues pulls: the initial ones of a new connection, and
// those a push notification asks for.
type Backfiller interface {
	Backfill(ctx context.Context, u store.User) error
	Enqueue(ctx context.Context, u store.User, req source.PullRequest) error
}

// Syncer is told when destinations changed.
type Syncer interface {
	Sync(ctx context.Context) error
}

// Deps is what the API works with.
type Deps struct {
	Store        *store.Store
	Providers    *source.Registry
	Destinations *pipeline.Destinations
	// Payloads serves offloaded event bodies (GET /payloads/{seq}).
	Payloads   http.Handler
	Connector  *connect.Connector
	Ingest     *pipeline.Ingest
	Backfiller Backfiller
	Deliverer  Syncer
	Logger     *slog.Logger
	Now        func() time.Time
	// PublicURL is the server's base URL (push URLs given to providers).
	PublicURL string
	// PushToken returns the secret that a provider's pushes must carry as
	// the push_token query parameter (see PushURL).
	PushToken func(provider string) string
	// MaxPushBytes caps a push body. Default 32 MiB.
	MaxPushBytes int64
}

// Server is the HTTP API.
type Server struct {
	d Deps
}

// New returns the API server.
func New(d Deps) *Server {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.MaxPushBytes <= 0 {
		d.MaxPushBytes = 32 << 20
	}
	return &Server{d: d}
}

// Handler returns every route. The Terra routes are served both at the
// root and under /v2, so a Terra client works by changing only its base
// URL.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})

	// Terra v2 surface.
	mux.Handle("POST /auth/authenticateUser", s.auth(s.authenticateUser))
	mux.Handle("DELETE /auth/deauthenticateUser", s.auth(s.deauthenticateUser))
	mux.Handle("GET /userInfo", s.auth(s.userInfo))
	mux.Handle("GET /subscriptions", s.auth(s.subscriptions))
	mux.Handle("GET /integrations", s.auth(s.integrations))
	for _, t := range []string{"activity", "sleep", "daily", "body", "nutrition", "menstruation"} {
		mux.Handle("GET /"+t, s.auth(s.data(t)))
	}

	// Provider-facing routes: OAuth callbacks and pushes.
	mux.HandleFunc("GET /auth/callback/{provider}", s.callback)
	mux.HandleFunc("POST /push/{provider}", s.push)
	mux.HandleFunc("GET /push/{provider}", s.verifyPush)

	// wearbridge's own routes.
	mux.Handle("GET /destinations", s.auth(s.listDestinations))
	mux.Handle("POST /destinations", s.auth(s.createDestination))
	mux.Handle("GET /destinations/{id}", s.auth(s.getDestination))
	mux.Handle("PATCH /destinations/{id}", s.auth(s.patchDestination))
	mux.Handle("DELETE /destinations/{id}", s.auth(s.deleteDestination))
	mux.Handle("POST /destinations/{id}/test", s.auth(s.testDestination))
	mux.Handle("POST /destinations/{id}/replay", s.auth(s.replay))
	mux.Handle("GET /deadLetters", s.auth(s.deadLetters))
	mux.Handle("POST /destinations/{id}/redrive", s.auth(s.redrive))
	if s.d.Payloads != nil {
		mux.Handle("GET /payloads/{seq}", s.d.Payloads)
	}
	mux.Handle("GET /problems", s.auth(s.problems))

	root := http.NewServeMux()
	root.Handle("/v2/", http.StripPrefix("/v2", mux))
	root.Handle("/", mux)
	return s.recoverer(root)
}

type ctxKey struct{}

func developer(r *http.Request) store.Developer {
	d, _ := r.Context().Value(ctxKey{}).(store.Developer)
	return d
}

// auth checks the dev-id and x-api-key headers.
func (s *Server) auth(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, err := s.d.Store.Authenticate(r.Context(), r.Header.Get("dev-id"), r.Header.Get("x-api-key"))
		if errors.Is(err, store.ErrNotFound) {
			writeError(w, http.StatusUnauthorized, "missing or wrong dev-id / x-api-key")
			return
		}
		if err != nil {
			s.internal(w, r, err)
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, d)))
	})
}

func (s *Server) recoverer(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// NUL characters are never meaningful here, and PostgreSQL refuses
		// them: refuse them up front.
		if strings.ContainsRune(r.URL.Path, 0) || strings.Contains(r.URL.RawQuery, "%00") || strings.ContainsRune(r.URL.RawQuery, 0) {
			writeError(w, http.StatusBadRequest, "request contains a NUL character")
			return
		}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.d.Logger.ErrorContext(r.Context(), "api: panic", "path", r.URL.Path, "panic", v)
				writeError(w, http.StatusInternalServerError, "internal error")
			}
		}()
		h.ServeHTTP(w, r)
	})
}

func (s *Server) internal(w http.ResponseWriter, r *http.Request, err error) {
	s.d.Logger.ErrorContext(r.Context(), "api: internal error", "method", r.Method, "path", r.URL.Path, "err", err)
	writeError(w, http.StatusInternalServerError, "internal error")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"status": "error", "message": msg})
}

// decodeBody reads an optional JSON body into v. An empty body is fine.
func decodeBody(r *http.Request, v any) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return err
	}
	if strings.TrimSpace(string(b)) == "" {
		return nil
	}
	return json.Unmarshal(b, v)
}
