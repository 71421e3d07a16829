package whoop

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// Webhook is one webhook body as WHOOP sends it (v2 model): the user, the
// id of the item (a UUID; for recovery events the UUID of the sleep the
// recovery comes from), the event type and a trace id.
type Webhook struct {
	UserID  int64  `json:"user_id"`
	ID      string `json:"id"`
	Type    string `json:"type"`
	TraceID string `json:"trace_id"`
}

// Webhooks returns the webhooks WHOOP would send for the data the fake
// serves, for the user providerUserID: sleep.updated for every sleep,
// workout.updated for every workout and recovery.updated for every
// recovery whose sleep the fake serves (the recorded recovery names a sleep
// that is not in the fixtures, so it has none: its data reaches the core
// by the daily pull instead).
func (s *Server) Webhooks(providerUserID string) ([]Webhook, error) {
	user, err := strconv.ParseInt(strings.TrimSpace(providerUserID), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("whoop user id %q is not an integer", providerUserID)
	}
	if s.loadErr != nil {
		return nil, s.loadErr
	}
	sleeps := make(map[string]bool)
	var out []Webhook
	for _, d := range s.snapshot(collSleep) {
		sleeps[d.id] = true
		out = append(out, Webhook{UserID: user, ID: d.id, Type: "sleep.updated", TraceID: randomUUID()})
	}
	for _, d := range s.snapshot(collRecovery) {
		if sleeps[d.sleepID] {
			out = append(out, Webhook{UserID: user, ID: d.sleepID, Type: "recovery.updated", TraceID: randomUUID()})
		}
	}
	for _, d := range s.snapshot(collWorkout) {
		out = append(out, Webhook{UserID: user, ID: d.id, Type: "workout.updated", TraceID: randomUUID()})
	}
	return out, nil
}

// Sign returns the X-WHOOP-Signature of body sent at timestamp (the
// X-WHOOP-Signature-Timestamp value, milliseconds since the epoch):
// base64(HMAC-SHA256(secret, timestamp + body)), as WHOOP signs webhooks
// with the app's client secret.
func Sign(secret, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(timestamp))
	mac.Write(body)
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// PushAll POSTs the webhooks of the recorded data (see Server.Webhooks)
// for providerUserID to pushURL, signed with the default sandbox secret as
// WHOOP signs them, so that the core fetches the items from a fake with the
// default configuration. It stops at the first answer that is not 2xx and
// returns an error with its status and body. It returns how many webhooks
// were accepted.
func PushAll(ctx context.Context, hc *http.Client, pushURL, providerUserID string) (int, error) {
	return New(Config{}).PushAll(ctx, hc, pushURL, providerUserID)
}

// PushAll is the package PushAll for this fake's data and client secret.
func (s *Server) PushAll(ctx context.Context, hc *http.Client, pushURL, providerUserID string) (int, error) {
	hooks, err := s.Webhooks(providerUserID)
	if err != nil {
		return 0, err
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	sent := 0
	for _, h := range hooks {
		body, err := json.Marshal(h)
		if err != nil {
			return sent, fmt.Errorf("encode webhook: %w", err)
		}
		if err := s.send(ctx, hc, pushURL, body); err != nil {
			return sent, fmt.Errorf("webhook %s %s: %w", h.Type, h.ID, err)
		}
		sent++
	}
	return sent, nil
}

// send POSTs one signed webhook body.
func (s *Server) send(ctx context.Context, hc *http.Client, pushURL string, body []byte) error {
	ts := strconv.FormatInt(s.cfg.Now().UnixMilli(), 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, pushURL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-WHOOP-Signature-Timestamp", ts)
	req.Header.Set("X-WHOOP-Signature", Sign(s.cfg.ClientSecret, ts, body))
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	reply, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<12)) // best effort, for the error message
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("status %d: %s", resp.StatusCode, strings.TrimSpace(string(reply)))
	}
	return nil
}
