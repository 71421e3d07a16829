package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/wearbridge/wearbridge/internal/destination"
	"github.com/wearbridge/wearbridge/internal/model"
	"github.com/wearbridge/wearbridge/internal/pipeline"
	"github.com/wearbridge/wearbridge/internal/store"
)

type destinationRequest struct {
	Kind       string          `json:"kind"`
	Settings   json.RawMessage `json:"settings"`
	EventTypes []string        `json:"event_types"`
	Enabled    *bool           `json:"enabled"`
}

// createDestination: POST /destinations {kind, settings, event_types}.
// The destination signs with the developer's signing secret.
func (s *Server) createDestination(w http.ResponseWriter, r *http.Request) {
	var req destinationRequest
	if err := decodeBody(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, "body is not valid JSON: "+err.Error())
		return
	}
	dev := developer(r)
	d, err := CreateDestination(r.Context(), s.d.Store, s.d.Destinations, dev, req.Kind, req.Settings, req.EventTypes, req.Enabled == nil || *req.Enabled)
	var bad *BadDestinationError
	if errors.As(err, &bad) {
		writeError(w, http.StatusBadRequest, bad.Error())
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if s.d.Deliverer != nil {
		_ = s.d.Deliverer.Sync(r.Context())
	}
	writeJSON(w, http.StatusCreated, map[string]any{"status": "success", "destination": destinationJSON(d)})
}

// BadDestinationError is a destination config that its kind refused.
type BadDestinationError struct{ Msg string }

func (e *BadDestinationError) Error() string { return e.Msg }

// CreateDestination validates a destination with its kind and stores it.
// It is shared by the API and the CLI.
func CreateDestination(ctx context.Context, st *store.Store, kinds *destination.Registry, dev store.Developer, kind string, settings json.RawMessage, types []string, enabled bool) (store.Destination, error) {
	k, ok := kinds.Get(kind)
	if !ok {
		return store.Destination{}, &BadDestinationError{"unknown destination kind " + quote(kind) + " (valid: " + strings.Join(kinds.Names(), ", ") + ")"}
	}
	if len(settings) == 0 {
		settings = json.RawMessage(`{}`)
	}
	for _, t := range types {
		if !knownEventType(t) {
			return store.Destination{}, &BadDestinationError{"unknown event type " + quote(t)}
		}
	}
	cfg := destination.Config{Kind: kind, Settings: settings, Secret: dev.SigningSecret}
	dst, err := k.Open(ctx, cfg)
	if err != nil {
		return store.Destination{}, &BadDestinationError{"invalid " + kind + " settings: " + err.Error()}
	}
	_ = dst.Close()
	return st.CreateDestination(ctx, store.Destination{
		DeveloperID: dev.ID, Kind: kind, Settings: settings, Secret: dev.SigningSecret, Enabled: enabled, EventTypes: types,
	}, false)
}

func quote(s string) string { return `"` + s + `"` }

func knownEventType(t string) bool {
	for _, dt := range model.DataTypes {
		if string(dt) == t {
			return true
		}
	}
	switch t {
	case "auth", "auth_cancelled", "deauth", "user_reauth", "access_revoked", "connection_error", "healthcheck":
		return true
	}
	return false
}

// destinationJSON renders a destination without its secret; settings keys
// that look like credentials are masked.
func destinationJSON(d store.Destination) map[string]any {
	var settings map[string]any
	_ = json.Unmarshal(d.Settings, &settings)
	for k := range settings {
		lk := strings.ToLower(k)
		for _, word := range []string{"password", "secret", "token", "key", "credential", "dsn", "connection_string"} {
			if strings.Contains(lk, word) {
				settings[k] = "***"
			}
		}
	}
	types := d.EventTypes
	if types == nil {
		types = []string{}
	}
	return map[string]any{"id": d.ID, "kind": d.Kind, "settings": settings, "enabled": d.Enabled, "event_types": types,
		"created_at": model.FormatTime(d.CreatedAt)}
}

func (s *Server) listDestinations(w http.ResponseWriter, r *http.Request) {
	ds, err := s.d.Store.Destinations(r.Context(), developer(r).ID)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	out := make([]map[string]any, 0, len(ds))
	for _, d := range ds {
		out = append(out, destinationJSON(d))
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "success", "destinations": out})
}

func (s *Server) deleteDestination(w http.ResponseWriter, r *http.Request) {
	err := s.d.Store.DeleteDestination(r.Context(), developer(r).ID, r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "destination not found")
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if s.d.Deliverer != nil {
		_ = s.d.Deliverer.Sync(r.Context())
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "success"})
}

// deadLetters: GET /deadLetters[?destination_id=...] lists events that
// could not be delivered after every retry.
func (s *Server) deadLetters(w http.ResponseWriter, r *http.Request) {
	dev := developer(r)
	dl, err := s.d.Store.DeadLetters(r.Context(), dev.ID, r.URL.Query().Get("destination_id"), 500)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	seqs := make([]int64, len(dl))
	for i, d := range dl {
		seqs[i] = d.Seq
	}
	evs, err := s.d.Store.EventsBySeq(r.Context(), seqs)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	types := make(map[int64]store.Event, len(evs))
	for _, e := range evs {
		types[e.Seq] = e
	}
	out := make([]map[string]any, 0, len(dl))
	for _, d := range dl {
		ev := types[d.Seq]
		out = append(out, map[string]any{
			"destination_id": d.DestinationID, "delivery_id": pipeline.DeliveryID(d.DestinationID, d.Seq), "event_type": ev.Type,
			"user_id": ev.UserID, "attempts": d.Attempts, "last_error": d.LastError, "failed_at": model.FormatTime(d.UpdatedAt),
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "success", "dead_letters": out})
}

// redrive: POST /destinations/{id}/redrive makes the dead letters of a
// destination due again.
func (s *Server) redrive(w http.ResponseWriter, r *http.Request) {
	dev := developer(r)
	if _, err := s.d.Store.Destination(r.Context(), dev.ID, r.PathValue("id")); errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "destination not found")
		return
	} else if err != nil {
		s.internal(w, r, err)
		return
	}
	n, err := s.d.Store.Redrive(r.Context(), dev.ID, r.PathValue("id"))
	if err != nil {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "success", "redriven": n})
}
