package polar

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/wearbridge/wearbridge/internal/source/polar"
)

// maxTransactionItems is how many summaries one transaction holds at most.
const maxTransactionItems = 50

// register answers POST /v3/users: 200 with the user the first time, 409
// after.
func (s *Server) register(w http.ResponseWriter, r *http.Request, user string) {
	var body struct {
		MemberID string `json:"member-id"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&body); err != nil || body.MemberID == "" {
		s.apiError(w, http.StatusBadRequest, "BAD_REQUEST", "member-id is required")
		return
	}
	s.mu.Lock()
	_, again := s.registered[user]
	taken := false
	for u, m := range s.registered {
		if m == body.MemberID && u != user {
			taken = true
		}
	}
	if !again && !taken {
		s.registered[user] = body.MemberID
		s.pending[user] = slices.Clone(s.summaryIDs)
	}
	s.mu.Unlock()
	if again || taken {
		s.apiError(w, http.StatusConflict, "CONFLICT", "User already registered to partner or duplicated member-id")
		return
	}
	s.writeUser(w, user, body.MemberID)
}

func (s *Server) writeUser(w http.ResponseWriter, user, memberID string) {
	id, _ := strconv.ParseInt(user, 10, 64)
	writeJSON(w, http.StatusOK, map[string]any{
		"polar-user-id":     id,
		"member-id":         memberID,
		"registration-date": s.cfg.Now().UTC().Format("2006-01-02T15:04:05.000Z"),
		"first-name":        "Sandbox",
		"last-name":         "User " + user,
	})
}

// userInfo answers GET /v3/users/{uid}.
func (s *Server) userInfo(w http.ResponseWriter, r *http.Request, user string) {
	s.mu.Lock()
	m := s.registered[user]
	s.mu.Unlock()
	s.writeUser(w, user, m)
}

// deregister answers DELETE /v3/users/{uid}: the user is forgotten and
// the token revoked.
func (s *Server) deregister(w http.ResponseWriter, r *http.Request, user string) {
	s.mu.Lock()
	delete(s.registered, user)
	delete(s.pending, user)
	for at, t := range s.tokens {
		if t.user == user {
			delete(s.tokens, at)
		}
	}
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) exercises(w http.ResponseWriter, r *http.Request, user string) {
	writeRaw(w, http.StatusOK, s.data.exerciseList)
}

func (s *Server) exercise(w http.ResponseWriter, r *http.Request, user string) {
	s.byKey(w, s.data.exercises, r.PathValue("id"), "Exercise not found")
}

func (s *Server) sleepList(w http.ResponseWriter, r *http.Request, user string) {
	writeRaw(w, http.StatusOK, listBody("nights", s.data.sleeps, s.data.sleepDates))
}

func (s *Server) sleep(w http.ResponseWriter, r *http.Request, user string) {
	s.byDate(w, s.data.sleeps, r.PathValue("date"))
}

func (s *Server) rechargeList(w http.ResponseWriter, r *http.Request, user string) {
	writeRaw(w, http.StatusOK, listBody("recharges", s.data.recharges, s.data.rechargeDates))
}

func (s *Server) recharge(w http.ResponseWriter, r *http.Request, user string) {
	s.byDate(w, s.data.recharges, r.PathValue("date"))
}

func (s *Server) heartRate(w http.ResponseWriter, r *http.Request, user string) {
	s.byDate(w, s.data.heartRate, r.PathValue("date"))
}

// listBody wraps recorded documents in {"<field>": [...]}, in order.
func listBody(field string, docs map[string][]byte, order []string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "{%q:[", field)
	for i, k := range order {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(docs[k])
	}
	b.WriteString("]}")
	return b.Bytes()
}

// byDate answers one dated document: 400 for a bad date, 404 when there
// is none.
func (s *Server) byDate(w http.ResponseWriter, docs map[string][]byte, date string) {
	if _, err := time.Parse("2006-01-02", date); err != nil {
		s.apiError(w, http.StatusBadRequest, "BAD_REQUEST", "Invalid date")
		return
	}
	s.byKey(w, docs, date, "No data found for date")
}

func (s *Server) byKey(w http.ResponseWriter, docs map[string][]byte, key, notFound string) {
	b, ok := docs[key]
	if !ok {
		s.apiError(w, http.StatusNotFound, "NOT_FOUND", notFound)
		return
	}
	writeRaw(w, http.StatusOK, b)
}

// txLocked returns the user's live (uncommitted, unexpired) transaction
// named id. s.mu is held.
func (s *Server) txLocked(user, id string, now time.Time) (int64, *txn, bool) {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return 0, nil, false
	}
	t, ok := s.txns[n]
	if !ok || t.user != user || t.committed || !now.Before(t.expires) {
		return 0, nil, false
	}
	return n, t, true
}

// createTx answers POST .../activity-transactions: a new transaction of
// at most 50 uncommitted summaries that no live transaction holds, or 204
// when there are none.
func (s *Server) createTx(w http.ResponseWriter, r *http.Request, user string) {
	now := s.cfg.Now()
	s.mu.Lock()
	held := make(map[int64]bool)
	for _, t := range s.txns {
		if t.user == user && !t.committed && now.Before(t.expires) {
			for _, id := range t.items {
				held[id] = true
			}
		}
	}
	var items []int64
	for _, id := range s.pending[user] {
		if !held[id] && len(items) < maxTransactionItems {
			items = append(items, id)
		}
	}
	var id int64
	if len(items) > 0 {
		s.nextTx++
		id = s.nextTx
		s.txns[id] = &txn{user: user, items: items, expires: now.Add(s.cfg.TransactionTTL)}
	}
	s.mu.Unlock()
	if id == 0 {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{
		"transaction-id": id,
		"resource-uri":   fmt.Sprintf("%s/v3/users/%s/activity-transactions/%d", publicAPI, user, id),
	})
}

// listTx answers GET .../activity-transactions/{tx} with the links of its
// summaries, absolute on Polar's host as Polar writes them.
func (s *Server) listTx(w http.ResponseWriter, r *http.Request, user string) {
	s.mu.Lock()
	id, t, ok := s.txLocked(user, r.PathValue("tx"), s.cfg.Now())
	var links []string
	if ok {
		for _, a := range t.items {
			links = append(links, fmt.Sprintf("%s/v3/users/%s/activity-transactions/%d/activities/%d", publicAPI, user, id, a))
		}
	}
	s.mu.Unlock()
	if !ok {
		s.apiError(w, http.StatusNotFound, "NOT_FOUND", "No transaction was found with given transaction id")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"activity-log": links})
}

// activity answers one summary of a live transaction.
func (s *Server) activity(w http.ResponseWriter, r *http.Request, user string) {
	s.mu.Lock()
	_, t, ok := s.txLocked(user, r.PathValue("tx"), s.cfg.Now())
	var body []byte
	if ok {
		if a, err := strconv.ParseInt(r.PathValue("id"), 10, 64); err == nil && slices.Contains(t.items, a) {
			body = s.summaryByID[a]
		}
	}
	s.mu.Unlock()
	if body == nil {
		s.apiError(w, http.StatusNotFound, "NOT_FOUND", "No activity was found")
		return
	}
	writeRaw(w, http.StatusOK, body)
}

// commitTx answers PUT .../activity-transactions/{tx}: its summaries are
// no longer offered. An expired transaction is gone (404).
func (s *Server) commitTx(w http.ResponseWriter, r *http.Request, user string) {
	s.mu.Lock()
	_, t, ok := s.txLocked(user, r.PathValue("tx"), s.cfg.Now())
	if ok {
		t.committed = true
		s.pending[user] = slices.DeleteFunc(s.pending[user], func(id int64) bool { return slices.Contains(t.items, id) })
	}
	s.mu.Unlock()
	if !ok {
		s.apiError(w, http.StatusNotFound, "NOT_FOUND", "No transaction was found with given transaction id")
		return
	}
	w.WriteHeader(http.StatusOK)
}

// createWebhook answers POST /v3/webhooks: it PINGs the URL, which must
// answer 200, and returns the webhook with its signature_secret_key.
func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Events []string `json:"events"`
		URL    string   `json:"url"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&req); err != nil || req.URL == "" || len(req.Events) == 0 {
		s.apiError(w, http.StatusBadRequest, "BAD_REQUEST", "events and url are required")
		return
	}
	for _, e := range req.Events {
		switch e {
		case polar.EventExercise, polar.EventSleep, polar.EventContinuousHeartRate, polar.EventCircadianBedtime, polar.EventAlertness, polar.EventActivitySummary:
		default:
			s.apiError(w, http.StatusBadRequest, "BAD_REQUEST", "Unknown event type "+e)
			return
		}
	}
	s.mu.Lock()
	exists := s.webhook != nil
	s.mu.Unlock()
	if exists {
		s.apiError(w, http.StatusConflict, "CONFLICT", "Webhook already exists")
		return
	}
	ping, _ := json.Marshal(map[string]string{"timestamp": s.cfg.Now().UTC().Format(time.RFC3339), "event": polar.EventPing})
	if err := deliver(r.Context(), s.cfg.WebhookClient, req.URL, polar.EventPing, ping, s.cfg.WebhookSecret); err != nil {
		s.apiError(w, http.StatusBadRequest, "BAD_REQUEST", "Webhook ping failed: "+err.Error())
		return
	}
	hook := polar.Webhook{ID: randomToken()[:8], Events: req.Events, URL: req.URL, SignatureSecretKey: s.cfg.WebhookSecret}
	s.mu.Lock()
	s.webhook = &hook
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]any{"data": hook})
}

// getWebhook answers GET /v3/webhooks (without the secret).
func (s *Server) getWebhook(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	data := []map[string]any{}
	if s.webhook != nil {
		data = append(data, map[string]any{"id": s.webhook.ID, "events": s.webhook.Events, "url": s.webhook.URL, "active": true})
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data})
}

// deleteWebhook answers DELETE /v3/webhooks/{id}.
func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	found := s.webhook != nil && s.webhook.ID == r.PathValue("id")
	if found {
		s.webhook = nil
	}
	s.mu.Unlock()
	if !found {
		s.apiError(w, http.StatusNotFound, "NOT_FOUND", "Webhook not found")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// sign is Polar's webhook signature: the hex HMAC-SHA256 of the body
// keyed with the signature_secret_key.
func sign(body []byte, secret string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// deliver POSTs one webhook delivery as Polar does; anything but 200 is an
// error.
func deliver(ctx context.Context, hc *http.Client, target, event string, body []byte, secret string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(polar.EventHeader, event)
	req.Header.Set(polar.SignatureHeader, sign(body, secret))
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	reply, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<12)) // for the error message only
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d: %s", resp.StatusCode, bytes.TrimSpace(reply))
	}
	return nil
}
