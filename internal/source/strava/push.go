package strava

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/wearbridge/wearbridge/internal/model"
	"github.com/wearbridge/wearbridge/internal/source"
)

// Event is a Strava webhook event, POSTed as JSON to the subscription's
// callback, one event per request (developers.strava.com/docs/webhooks).
type Event struct {
	// ObjectType is "activity" or "athlete".
	ObjectType string `json:"object_type"`
	// ObjectID is the activity's id, or the athlete's for athlete events.
	ObjectID int64 `json:"object_id"`
	// AspectType is "create", "update" or "delete".
	AspectType string `json:"aspect_type"`
	// OwnerID is the athlete the event belongs to.
	OwnerID int64 `json:"owner_id"`
	// SubscriptionID is the push subscription the event was sent for.
	SubscriptionID int64 `json:"subscription_id"`
	// EventTime is when the event happened, in Unix seconds.
	EventTime int64 `json:"event_time"`
	// Updates holds the changed fields of an update: "title", "type",
	// "private" ("true"/"false"), or, for an athlete revoking the app's
	// access, "authorized": "false". Values are strings.
	Updates json.RawMessage `json:"updates"`
}

// ParsePush parses one Strava webhook event.
//
// Strava signs nothing: the callback URL is verified once, when the
// subscription is created (see VerifySubscription). ParsePush refuses,
// with an error wrapping source.ErrBadPush, a body that is not an event
// object with an object_type and a positive owner_id, and, when
// Config.SubscriptionID is set, an event of another subscription.
//
// What an event becomes, in a batch for its owner_id:
//   - activity create or update: a pull of that activity (PullRequest with
//     ItemID, run through FetchItem), since events carry no data;
//   - athlete update with updates.authorized "false": Revoked;
//   - activity delete: a problem with the event kept. The core has no way
//     yet to delete a stored record (a seam is needed), so the record
//     stays;
//   - anything else (another object or aspect, another athlete update): a
//     problem with the event kept.
func (p *Provider) ParsePush(ctx context.Context, r *http.Request, body []byte) ([]source.PushBatch, error) {
	var ev Event
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, fmt.Errorf("%w: strava event is not a JSON object", source.ErrBadPush)
	}
	if err := json.Unmarshal(trimmed, &ev); err != nil {
		return nil, fmt.Errorf("%w: strava event: %w", source.ErrBadPush, err)
	}
	if ev.ObjectType == "" || ev.OwnerID <= 0 {
		return nil, fmt.Errorf("%w: strava event without object_type or owner_id", source.ErrBadPush)
	}
	if p.cfg.SubscriptionID != 0 && ev.SubscriptionID != p.cfg.SubscriptionID {
		return nil, fmt.Errorf("%w: strava event for subscription %d, not %d", source.ErrBadPush, ev.SubscriptionID, p.cfg.SubscriptionID)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("strava push: %w", err)
	}
	b := source.PushBatch{ProviderUserID: strconv.FormatInt(ev.OwnerID, 10)}
	problem := func(format string, args ...any) {
		b.Problems = append(b.Problems, model.Problem{Type: model.TypeActivity, Err: fmt.Sprintf(format, args...), Raw: body})
	}
	switch {
	case ev.ObjectType == "activity" && (ev.AspectType == "create" || ev.AspectType == "update"):
		if ev.ObjectID <= 0 {
			problem("strava %s event for activity %d: no activity id", ev.AspectType, ev.ObjectID)
			break
		}
		b.Pulls = append(b.Pulls, source.PullRequest{Type: model.TypeActivity, ItemID: strconv.FormatInt(ev.ObjectID, 10)})
	case ev.ObjectType == "activity" && ev.AspectType == "delete":
		problem("strava activity %d was deleted at Strava; the stored record is kept (deleting records needs a core seam)", ev.ObjectID)
	case ev.ObjectType == "athlete" && ev.AspectType == "update" && deauthorized(ev.Updates):
		b.Revoked = true
	default:
		b.Problems = append(b.Problems, model.Problem{Err: fmt.Sprintf("strava %s %s event not handled", ev.ObjectType, ev.AspectType), Raw: body})
	}
	return []source.PushBatch{b}, nil
}

// deauthorized reports whether an athlete update's "updates" says the
// athlete revoked the app ("authorized": "false"; a JSON false is
// accepted too).
func deauthorized(updates json.RawMessage) bool {
	var u map[string]any
	if json.Unmarshal(updates, &u) != nil {
		return false
	}
	v, ok := u["authorized"]
	return ok && fmt.Sprint(v) == "false"
}

// VerifySubscription answers Strava's subscription validation: a GET with
// hub.mode=subscribe, hub.challenge and hub.verify_token. When the verify
// token matches Config.VerifyToken it answers 200 {"hub.challenge": ...}
// (Strava wants it within two seconds); otherwise 403, and 400 for a
// request that is not a validation at all.
func (p *Provider) VerifySubscription(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	challenge := q.Get("hub.challenge")
	if q.Get("hub.mode") != "subscribe" || challenge == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "not a subscription validation request"})
		return
	}
	token := q.Get("hub.verify_token")
	if p.cfg.VerifyToken == "" || subtle.ConstantTimeCompare([]byte(token), []byte(p.cfg.VerifyToken)) != 1 {
		p.log.WarnContext(r.Context(), "strava subscription validation with a wrong verify token")
		writeJSON(w, http.StatusForbidden, map[string]string{"error": "verify token does not match"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"hub.challenge": challenge})
}

// writeJSON writes v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
