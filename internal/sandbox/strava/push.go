package strava

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// event is a Strava webhook event as Strava POSTs it.
type event struct {
	AspectType     string            `json:"aspect_type"`
	EventTime      int64             `json:"event_time"`
	ObjectID       int64             `json:"object_id"`
	ObjectType     string            `json:"object_type"`
	OwnerID        int64             `json:"owner_id"`
	SubscriptionID int64             `json:"subscription_id"`
	Updates        map[string]string `json:"updates"`
}

// PushAll does what Strava does for a new subscription and then for each
// recorded activity: it validates the callback (GET pushURL with
// hub.mode=subscribe, a random hub.challenge and VerifyToken, expecting
// 200 and the challenge echoed as {"hub.challenge": ...}), then POSTs one
// "activity create" event per activity the fake serves, oldest first, as
// owned by the athlete providerUserID, for SubscriptionID. The receiver
// then fetches each activity from the fake. Strava signs nothing; the
// events carry the subscription id.
//
// It stops at the first answer that is not 2xx and returns an error with
// its status and body. It returns how many events were accepted.
func PushAll(ctx context.Context, hc *http.Client, pushURL, providerUserID string) (int, error) {
	owner, err := strconv.ParseInt(providerUserID, 10, 64)
	if err != nil || owner <= 0 {
		return 0, fmt.Errorf("strava athlete id %q is not a positive integer", providerUserID)
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	if err := Validate(ctx, hc, pushURL, VerifyToken); err != nil {
		return 0, err
	}
	rec, err := loadRecordings()
	if err != nil {
		return 0, err
	}
	sent := 0
	for i := len(rec.list) - 1; i >= 0; i-- {
		d := rec.list[i]
		var h struct {
			ElapsedTime int64 `json:"elapsed_time"`
		}
		_ = json.Unmarshal(d.raw, &h) // loadRecordings decoded it already
		ev := event{
			AspectType: "create", EventTime: d.start.Unix() + h.ElapsedTime, ObjectID: d.id,
			ObjectType: "activity", OwnerID: owner, SubscriptionID: SubscriptionID, Updates: map[string]string{},
		}
		if err := post(ctx, hc, pushURL, ev); err != nil {
			return sent, fmt.Errorf("push activity %d: %w", d.id, err)
		}
		sent++
	}
	return sent, nil
}

// PushDeauthorization POSTs the event Strava sends when the athlete
// providerUserID revokes the app's access: an athlete update with
// "authorized": "false".
func PushDeauthorization(ctx context.Context, hc *http.Client, pushURL, providerUserID string, eventTime int64) error {
	owner, err := strconv.ParseInt(providerUserID, 10, 64)
	if err != nil || owner <= 0 {
		return fmt.Errorf("strava athlete id %q is not a positive integer", providerUserID)
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	ev := event{
		AspectType: "update", EventTime: eventTime, ObjectID: owner, ObjectType: "athlete",
		OwnerID: owner, SubscriptionID: SubscriptionID, Updates: map[string]string{"authorized": "false"},
	}
	if err := post(ctx, hc, pushURL, ev); err != nil {
		return fmt.Errorf("push deauthorization: %w", err)
	}
	return nil
}

// Validate runs Strava's subscription validation against callbackURL with
// verifyToken: GET ?hub.mode=subscribe&hub.challenge=...&hub.verify_token=...
// must answer 200 with {"hub.challenge": <the same challenge>}.
func Validate(ctx context.Context, hc *http.Client, callbackURL, verifyToken string) error {
	u, err := url.Parse(callbackURL)
	if err != nil {
		return fmt.Errorf("callback url: %w", err)
	}
	challenge := randomToken()[:16]
	q := u.Query()
	q.Set("hub.mode", "subscribe")
	q.Set("hub.challenge", challenge)
	q.Set("hub.verify_token", verifyToken)
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("subscription validation: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<12))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("subscription validation: status %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
	}
	var echo map[string]string
	if err := json.Unmarshal(body, &echo); err != nil || echo["hub.challenge"] != challenge {
		return fmt.Errorf("subscription validation: challenge not echoed: %s", strings.TrimSpace(string(body)))
	}
	return nil
}

// post sends one event.
func post(ctx context.Context, hc *http.Client, pushURL string, ev event) error {
	body, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, pushURL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
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
