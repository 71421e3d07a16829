package polar

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
	"github.com/wearbridge/wearbridge/internal/source"
)

// Webhook headers and events (AccessLink "Accesslink webhooks").
const (
	// SignatureHeader holds the hex HMAC-SHA256 of the body, keyed with
	// the webhook's signature_secret_key.
	SignatureHeader = "Polar-Webhook-Signature"
	// EventHeader names the event.
	EventHeader = "Polar-Webhook-Event"

	EventPing                = "PING"
	EventExercise            = "EXERCISE"
	EventSleep               = "SLEEP"
	EventContinuousHeartRate = "CONTINUOUS_HEART_RATE"
	EventActivitySummary     = "ACTIVITY_SUMMARY"
	EventCircadianBedtime    = "SLEEP_WISE_CIRCADIAN_BEDTIME"
	EventAlertness           = "SLEEP_WISE_ALERTNESS"
)

// DefaultWebhookEvents are the events this provider turns into pulls.
var DefaultWebhookEvents = []string{EventExercise, EventSleep, EventContinuousHeartRate, EventActivitySummary}

// notification is a webhook delivery body.
type notification struct {
	Event     string          `json:"event"`
	UserID    json.RawMessage `json:"user_id"`
	EntityID  string          `json:"entity_id"`
	Date      string          `json:"date"`
	Timestamp string          `json:"timestamp"`
	URL       string          `json:"url"`
}

// ParsePush verifies and parses one webhook delivery. Polar sends a
// notification, not the data, so the batch asks the core for pulls:
//
//   - EXERCISE: the exercise entity_id (ItemID, see FetchItem).
//   - SLEEP: sleep of the notified date (Nightly Recharge comes with it).
//   - CONTINUOUS_HEART_RATE and ACTIVITY_SUMMARY: daily of the notified
//     date (which also drains the activity transactions).
//
// A date D becomes the window [D 00:00 UTC, D+1 00:00 UTC); Pull widens
// it to every local date it touches. The SleepWise events have no Terra
// type and unknown events are reported as problems of the user.
//
// Verification: Polar signs each body with HMAC-SHA256 keyed with the
// webhook's signature_secret_key and sends the hex digest in
// Polar-Webhook-Signature. A delivery whose signature is missing or wrong,
// or any delivery while Config.WebhookSecret is empty, is refused with
// ErrBadPush. The PING that Polar sends when a webhook is created or
// changed is accepted without checking: it carries no data, and it comes
// before the secret is known (the create call returns it).
func (p *Provider) ParsePush(ctx context.Context, r *http.Request, body []byte) ([]source.PushBatch, error) {
	var n notification
	if err := json.Unmarshal(body, &n); err != nil {
		return nil, fmt.Errorf("%w: %w", source.ErrBadPush, err)
	}
	if !isObject(body) {
		return nil, fmt.Errorf("%w: body is not a JSON object", source.ErrBadPush)
	}
	if n.Event == EventPing {
		return nil, nil
	}
	if err := p.verify(r, body); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("polar push: %w", err)
	}
	uid := rawIDString(n.UserID)
	if uid == "" {
		return nil, fmt.Errorf("%w: notification has no user_id", source.ErrBadPush)
	}
	b := source.PushBatch{ProviderUserID: uid}
	problem := func(t model.DataType, format string, args ...any) {
		b.Problems = append(b.Problems, model.Problem{Type: t, Err: fmt.Sprintf(format, args...), Raw: body})
	}
	switch n.Event {
	case EventExercise:
		if n.EntityID == "" {
			problem(model.TypeActivity, "polar EXERCISE notification without entity_id")
			break
		}
		b.Pulls = append(b.Pulls, source.PullRequest{Type: model.TypeActivity, ItemID: n.EntityID})
	case EventSleep, EventContinuousHeartRate, EventActivitySummary:
		t := model.TypeDaily
		if n.Event == EventSleep {
			t = model.TypeSleep
		}
		d, err := n.day()
		if err != nil {
			problem(t, "polar %s notification: %v", n.Event, err)
			break
		}
		b.Pulls = append(b.Pulls, source.PullRequest{Type: t, Start: d, End: d.Add(day)})
	case EventCircadianBedtime, EventAlertness:
		problem("", "polar %s notification: SleepWise data has no Terra type and is not read", n.Event)
	default:
		problem("", "polar notification: unknown event %q", n.Event)
	}
	return []source.PushBatch{b}, nil
}

// day is the notified date: "date", else an entity_id that is a date,
// else the date of the timestamp.
func (n notification) day() (time.Time, error) {
	for _, s := range []string{n.Date, n.EntityID} {
		if d, err := parseDay(s); err == nil {
			return d, nil
		}
	}
	if t, err := time.Parse(time.RFC3339Nano, n.Timestamp); err == nil {
		return t.UTC().Truncate(day), nil
	}
	return time.Time{}, errors.New("no date")
}

// verify checks the body's signature.
func (p *Provider) verify(r *http.Request, body []byte) error {
	if p.cfg.WebhookSecret == "" {
		return fmt.Errorf("%w: no polar webhook secret configured; cannot verify the delivery", source.ErrBadPush)
	}
	if r == nil {
		return fmt.Errorf("%w: no %s header", source.ErrBadPush, SignatureHeader)
	}
	got, err := hex.DecodeString(strings.TrimSpace(r.Header.Get(SignatureHeader)))
	if err != nil || len(got) == 0 {
		return fmt.Errorf("%w: missing or malformed %s header", source.ErrBadPush, SignatureHeader)
	}
	mac := hmac.New(sha256.New, []byte(p.cfg.WebhookSecret))
	mac.Write(body)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return fmt.Errorf("%w: %s does not match the body", source.ErrBadPush, SignatureHeader)
	}
	return nil
}

// isObject reports whether raw is a JSON object.
func isObject(raw []byte) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '{'
}

// Webhook is the client's webhook as Polar created it.
type Webhook struct {
	ID     string   `json:"id"`
	Events []string `json:"events"`
	URL    string   `json:"url"`
	// SignatureSecretKey signs every delivery. Polar gives it only in the
	// answer to the create call: keep it as Config.WebhookSecret.
	SignatureSecretKey string `json:"signature_secret_key"`
}

// CreateWebhook creates the client's webhook (POST /v3/webhooks, with the
// client credentials; a client has at most one webhook). Polar first
// POSTs a PING to pushURL, which must answer 200 (ParsePush accepts it),
// so the push endpoint must be reachable. events default to
// DefaultWebhookEvents. hc makes the call; nil means http.DefaultClient.
func (p *Provider) CreateWebhook(ctx context.Context, hc *http.Client, pushURL string, events []string) (Webhook, error) {
	if len(events) == 0 {
		events = DefaultWebhookEvents
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	body, err := json.Marshal(map[string]any{"events": events, "url": pushURL})
	if err != nil {
		return Webhook{}, fmt.Errorf("polar create webhook: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.cfg.APIBase+"/v3/webhooks", bytes.NewReader(body))
	if err != nil {
		return Webhook{}, fmt.Errorf("polar create webhook: %w", err)
	}
	req.SetBasicAuth(p.cfg.ClientID, p.cfg.ClientSecret)
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.send(hc, req)
	if err != nil {
		return Webhook{}, fmt.Errorf("polar create webhook: %w", err)
	}
	var created struct {
		Data Webhook `json:"data"`
	}
	if err := json.Unmarshal(resp.body, &created); err != nil {
		return Webhook{}, fmt.Errorf("polar create webhook: decode: %w", err)
	}
	if created.Data.SignatureSecretKey == "" {
		return Webhook{}, errors.New("polar create webhook: no signature_secret_key in the answer")
	}
	return created.Data, nil
}
