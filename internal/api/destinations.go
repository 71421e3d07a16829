package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
	"github.com/wearbridge/wearbridge/internal/pipeline"
	"github.com/wearbridge/wearbridge/internal/store"
)

type destinationRequest struct {
	Kind          string          `json:"kind"`
	Settings      json.RawMessage `json:"settings"`
	EventTypes    *[]string       `json:"event_types"`
	Enabled       *bool           `json:"enabled"`
	SigningSecret string          `json:"signing_secret"`
	// SkipTest skips the test delivery of a healthcheck event.
	SkipTest bool `json:"skip_test"`
}

func (s *Server) destErr(w http.ResponseWriter, r *http.Request, err error) {
	var bad *pipeline.BadDestinationError
	switch {
	case errors.As(err, &bad):
		writeError(w, http.StatusBadRequest, bad.Error())
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, "destination not found")
	default:
		s.internal(w, r, err)
	}
}

func (s *Server) synced(r *http.Request) {
	if s.d.Deliverer != nil {
		_ = s.d.Deliverer.Sync(r.Context())
	}
}

// createDestination: POST /destinations {kind, settings, event_types,
// enabled, signing_secret, skip_test}. The destination is tested with a
// healthcheck delivery first; its signing secret (new unless given) is
// returned once.
func (s *Server) createDestination(w http.ResponseWriter, r *http.Request) {
	var req destinationRequest
	if err := decodeBody(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, "body is not valid JSON: "+err.Error())
		return
	}
	if req.Kind == "" {
		writeError(w, http.StatusBadRequest, "missing kind (valid: "+strings.Join(s.d.Destinations.Kinds.Names(), ", ")+")")
		return
	}
	n := pipeline.NewDestination{Kind: req.Kind, Settings: req.Settings, Enabled: req.Enabled == nil || *req.Enabled,
		Secret: req.SigningSecret, SkipTest: req.SkipTest}
	if req.EventTypes != nil {
		n.EventTypes = *req.EventTypes
	}
	d, err := s.d.Destinations.Create(r.Context(), developer(r), n)
	if err != nil {
		s.destErr(w, r, err)
		return
	}
	s.synced(r)
	out := destinationJSON(d)
	out["signing_secret"] = d.Secret
	writeJSON(w, http.StatusCreated, map[string]any{"status": "success", "destination": out})
}

// patchDestination: PATCH /destinations/{id} {settings, enabled,
// event_types}.
func (s *Server) patchDestination(w http.ResponseWriter, r *http.Request) {
	var req destinationRequest
	if err := decodeBody(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, "body is not valid JSON: "+err.Error())
		return
	}
	if req.Kind != "" || req.SigningSecret != "" {
		writeError(w, http.StatusBadRequest, "kind and signing_secret cannot be changed; create a new destination")
		return
	}
	d, err := s.d.Destinations.Update(r.Context(), developer(r).ID, r.PathValue("id"), req.Settings, req.Enabled, req.EventTypes, req.SkipTest)
	if err != nil {
		s.destErr(w, r, err)
		return
	}
	s.synced(r)
	writeJSON(w, http.StatusOK, map[string]any{"status": "success", "destination": destinationJSON(d)})
}

// testDestination: POST /destinations/{id}/test delivers a healthcheck.
func (s *Server) testDestination(w http.ResponseWriter, r *http.Request) {
	if err := s.d.Destinations.Test(r.Context(), developer(r).ID, r.PathValue("id")); err != nil {
		s.destErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "success", "message": "healthcheck delivered"})
}

type replayRequest struct {
	StartDate string   `json:"start_date"`
	EndDate   string   `json:"end_date"`
	UserID    string   `json:"user_id"`
	DataTypes []string `json:"data_types"`
}

// replay: POST /destinations/{id}/replay {start_date, end_date, user_id,
// data_types} delivers again the stored records whose start lies in the
// range, with their original delivery ids.
func (s *Server) replay(w http.ResponseWriter, r *http.Request) {
	var req replayRequest
	if err := decodeBody(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, "body is not valid JSON: "+err.Error())
		return
	}
	start, err1 := parseDate(req.StartDate, false)
	end, err2 := parseDate(req.EndDate, true)
	if req.StartDate == "" || req.EndDate == "" || err1 != nil || err2 != nil || !end.After(start) {
		writeError(w, http.StatusBadRequest, "start_date and end_date must be dates (YYYY-MM-DD), ISO 8601 times or unix seconds, end after start")
		return
	}
	for _, t := range req.DataTypes {
		if !model.DataType(t).Valid() {
			writeError(w, http.StatusBadRequest, "unknown data type "+quote(t))
			return
		}
	}
	dev := developer(r)
	id := r.PathValue("id")
	if _, err := s.d.Store.Destination(r.Context(), dev.ID, id); err != nil {
		s.destErr(w, r, err)
		return
	}
	n, err := s.d.Store.Replay(r.Context(), dev.ID, id, store.ReplayFilter{Start: start, End: end, UserID: req.UserID, Types: req.DataTypes})
	if err != nil {
		s.internal(w, r, err)
		return
	}
	s.synced(r)
	writeJSON(w, http.StatusOK, map[string]any{"status": "success", "replayed": n})
}

func quote(s string) string { return `"` + s + `"` }

// destinationJSON renders a destination without its secret; settings keys
// that look like credentials are masked.
func destinationJSON(d store.Destination) map[string]any {
	return map[string]any{"id": d.ID, "kind": d.Kind, "settings": MaskSettings(d.Settings), "enabled": d.Enabled,
		"event_types": nonNil(d.EventTypes), "created_at": model.FormatTime(d.CreatedAt)}
}

// MaskSettings returns settings with every value whose key names a
// credential replaced by "***", at any depth.
func MaskSettings(raw json.RawMessage) map[string]any {
	var settings map[string]any
	_ = json.Unmarshal(raw, &settings)
	maskMap(settings)
	return settings
}

func maskMap(m map[string]any) {
	for k, v := range m {
		lk := strings.ToLower(k)
		if lk == "headers" {
			// Extra headers are how credentials are sent: show names only.
			if h, ok := v.(map[string]any); ok {
				for hk := range h {
					h[hk] = "***"
				}
			}
			continue
		}
		if str, ok := v.(string); ok {
			if u, err := url.Parse(str); err == nil && u.Scheme != "" && (u.RawQuery != "" || u.User != nil) {
				q := u.Query()
				for qk := range q {
					q.Set(qk, "***")
				}
				u.RawQuery = q.Encode()
				if u.User != nil {
					u.User = url.UserPassword("***", "***")
				}
				m[k] = u.String()
			}
		}
		masked := false
		for _, word := range []string{"password", "secret", "token", "key", "credential", "dsn", "connection_string", "sasl", "authorization"} {
			if strings.Contains(lk, word) {
				m[k] = "***"
				masked = true
				break
			}
		}
		if sub, ok := v.(map[string]any); ok && !masked {
			maskMap(sub)
		}
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
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

func (s *Server) getDestination(w http.ResponseWriter, r *http.Request) {
	d, err := s.d.Store.Destination(r.Context(), developer(r).ID, r.PathValue("id"))
	if err != nil {
		s.destErr(w, r, err)
		return
	}
	out := destinationJSON(d)
	out["status"] = "ok"
	if p, ok := s.d.Deliverer.(interface{ Problem(string) string }); ok {
		if msg := p.Problem(d.ID); msg != "" {
			out["status"] = "error"
			out["error"] = msg
		}
	}
	if pending, err := s.d.Store.PendingRetries(r.Context(), d.ID); err == nil {
		out["pending_retries"] = pending
	}
	if last, err := s.d.Store.LastSeq(r.Context(), d.DeveloperID); err == nil {
		out["lag"] = max(0, last-d.Cursor)
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "success", "destination": out})
}

func (s *Server) deleteDestination(w http.ResponseWriter, r *http.Request) {
	err := s.d.Store.DeleteDestination(r.Context(), developer(r).ID, r.PathValue("id"))
	if err != nil {
		s.destErr(w, r, err)
		return
	}
	s.synced(r)
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
	bySeq := make(map[int64]store.Event, len(evs))
	for _, e := range evs {
		bySeq[e.Seq] = e
	}
	out := make([]map[string]any, 0, len(dl))
	for _, d := range dl {
		ev := bySeq[d.Seq]
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
	if _, err := s.d.Store.Destination(r.Context(), dev.ID, r.PathValue("id")); err != nil {
		s.destErr(w, r, err)
		return
	}
	n, err := s.d.Store.Redrive(r.Context(), dev.ID, r.PathValue("id"))
	if err != nil {
		s.internal(w, r, err)
		return
	}
	s.synced(r)
	writeJSON(w, http.StatusOK, map[string]any{"status": "success", "redriven": n, "at": model.FormatTime(time.Now().UTC())})
}
