package polar

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/wearbridge/wearbridge/internal/source/polar"
)

// Delivery is one webhook delivery PushAll sends.
type Delivery struct {
	Event string
	Body  []byte
}

// Deliveries returns the webhook deliveries Polar would send for the
// recorded data to the Polar user providerUserID (digits), in the order
// PushAll sends them: the PING of the webhook's creation, then EXERCISE
// for exercise 2AC312F, SLEEP for 2020-01-01 and CONTINUOUS_HEART_RATE for
// 2022-09-12 (the dates and id of the fixtures). The bodies are shaped
// like AccessLink's webhookPayload* examples; timestamp is now.
func Deliveries(providerUserID string, now time.Time) ([]Delivery, error) {
	uid, err := strconv.ParseInt(providerUserID, 10, 64)
	if err != nil || uid <= 0 {
		return nil, fmt.Errorf("polar user id %q is not a positive number", providerUserID)
	}
	ts := now.UTC().Format(time.RFC3339)
	bodies := []struct {
		event string
		v     map[string]any
	}{
		{polar.EventPing, map[string]any{"timestamp": ts, "event": polar.EventPing}},
		{polar.EventExercise, map[string]any{"event": polar.EventExercise, "user_id": uid, "entity_id": "2AC312F", "timestamp": ts,
			"url": publicAPI + "/v3/exercises/2AC312F"}},
		{polar.EventSleep, map[string]any{"event": polar.EventSleep, "user_id": uid, "date": "2020-01-01", "timestamp": ts,
			"url": publicAPI + "/v3/users/sleep/2020-01-01"}},
		{polar.EventContinuousHeartRate, map[string]any{"event": polar.EventContinuousHeartRate, "user_id": uid, "date": "2022-09-12", "timestamp": ts,
			"url": publicAPI + "/v3/users/continuous-heart-rate/2022-09-12"}},
	}
	out := make([]Delivery, 0, len(bodies))
	for _, b := range bodies {
		body, err := json.Marshal(b.v)
		if err != nil {
			return nil, fmt.Errorf("encode %s delivery: %w", b.event, err)
		}
		out = append(out, Delivery{Event: b.event, Body: body})
	}
	return out, nil
}

// PushAll POSTs the Deliveries for providerUserID to pushURL, each signed
// with DefaultWebhookSecret in Polar-Webhook-Signature and named in
// Polar-Webhook-Event, as Polar's webhook service would. Polar expects 200;
// PushAll stops at the first other answer and returns an error with its
// status and body. It returns how many deliveries (the PING included) were
// accepted.
func PushAll(ctx context.Context, hc *http.Client, pushURL, providerUserID string) (int, error) {
	ds, err := Deliveries(providerUserID, time.Now())
	if err != nil {
		return 0, err
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	sent := 0
	for _, d := range ds {
		if err := deliver(ctx, hc, pushURL, d.Event, d.Body, DefaultWebhookSecret); err != nil {
			return sent, fmt.Errorf("push %s: %w", d.Event, err)
		}
		sent++
	}
	return sent, nil
}
