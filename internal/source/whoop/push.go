package whoop

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
	"github.com/wearbridge/wearbridge/internal/source"
)

// The webhook signature headers (developer.whoop.com/docs/developing/webhooks,
// "Webhooks Security").
const (
	SignatureHeader          = "X-WHOOP-Signature"
	SignatureTimestampHeader = "X-WHOOP-Signature-Timestamp"
)

// webhook is WHOOP's webhook body. In the v2 model id is a UUID: the
// workout's or the sleep's, and for recovery events the id of the sleep the
// recovery comes from.
type webhook struct {
	UserID  flexID          `json:"user_id"`
	ID      json.RawMessage `json:"id"`
	Type    string          `json:"type"`
	TraceID string          `json:"trace_id"`
}

// ParsePush verifies and parses one WHOOP webhook.
//
// Verification: X-WHOOP-Signature must be base64(HMAC-SHA256(timestamp +
// raw body)) keyed with the app's client secret (Config.WebhookSecret), and
// X-WHOOP-Signature-Timestamp (milliseconds since the epoch) must be within
// Config.WebhookTolerance of now, so that a captured webhook cannot be
// replayed later. A webhook that fails either, or whose body is not a
// webhook object with a user_id, is refused with an error wrapping
// source.ErrBadPush. With no secret configured every webhook is refused.
//
// The webhook names an item; the data is then fetched as the user:
//
//   - sleep.updated: the sleep (item pull, sleep).
//   - recovery.updated: the sleep it comes from and its cycle's Daily
//     (item pulls, sleep and daily, both by the sleep's UUID).
//   - workout.updated: the workout (item pull, activity).
//   - *.deleted: reported as a problem; the core cannot delete a record
//     yet.
//
// Unknown event types, and v1-model webhooks (integer ids), are reported as
// problems. Creates arrive as updates.
func (p *Provider) ParsePush(ctx context.Context, r *http.Request, body []byte) ([]source.PushBatch, error) {
	if err := p.verify(r, body); err != nil {
		return nil, fmt.Errorf("%w: %w", source.ErrBadPush, err)
	}
	var w webhook
	if err := json.Unmarshal(body, &w); err != nil || !isObject(body) {
		return nil, fmt.Errorf("%w: whoop webhook is not a webhook JSON object", source.ErrBadPush)
	}
	if w.UserID == "" {
		return nil, fmt.Errorf("%w: whoop webhook has no user_id", source.ErrBadPush)
	}
	b := source.PushBatch{ProviderUserID: string(w.UserID)}
	problem := func(t model.DataType, format string, args ...any) {
		b.Problems = append(b.Problems, model.Problem{Type: t, Err: fmt.Sprintf(format, args...), Raw: append([]byte(nil), body...)})
	}
	kind, event, _ := strings.Cut(w.Type, ".")
	t, knownKind := map[string]model.DataType{"sleep": model.TypeSleep, "recovery": model.TypeSleep, "workout": model.TypeActivity}[kind]

	var id string
	if err := json.Unmarshal(w.ID, &id); err != nil || strings.TrimSpace(id) == "" {
		problem(t, "whoop webhook %s (trace %s): id %s is not a v2 UUID; configure the webhook URL for the v2 model", w.Type, w.TraceID, string(w.ID))
		return []source.PushBatch{b}, nil
	}
	id = strings.TrimSpace(id)
	switch {
	case !knownKind || (event != "updated" && event != "deleted"):
		problem(t, "whoop webhook: unknown event type %q (trace %s)", w.Type, w.TraceID)
	case event == "deleted":
		problem(t, "whoop webhook %s for %s (trace %s): deletions are not applied; the stored record was kept", w.Type, id, w.TraceID)
	case kind == "recovery":
		b.Pulls = append(b.Pulls,
			source.PullRequest{Type: model.TypeSleep, ItemID: id},
			source.PullRequest{Type: model.TypeDaily, ItemID: id})
	default:
		b.Pulls = append(b.Pulls, source.PullRequest{Type: t, ItemID: id})
	}
	return []source.PushBatch{b}, nil
}

// verify checks the webhook's signature and timestamp.
func (p *Provider) verify(r *http.Request, body []byte) error {
	if p.cfg.WebhookSecret == "" {
		return fmt.Errorf("no whoop webhook secret configured")
	}
	if r == nil {
		return fmt.Errorf("no request headers to verify")
	}
	tsS := strings.TrimSpace(r.Header.Get(SignatureTimestampHeader))
	sigS := strings.TrimSpace(r.Header.Get(SignatureHeader))
	if tsS == "" || sigS == "" {
		return fmt.Errorf("missing %s or %s", SignatureHeader, SignatureTimestampHeader)
	}
	ms, err := strconv.ParseInt(tsS, 10, 64)
	if err != nil {
		return fmt.Errorf("bad %s %q", SignatureTimestampHeader, tsS)
	}
	sig, err := base64.StdEncoding.DecodeString(sigS)
	if err != nil {
		if sig, err = base64.RawStdEncoding.DecodeString(sigS); err != nil {
			return fmt.Errorf("%s is not base64", SignatureHeader)
		}
	}
	mac := hmac.New(sha256.New, []byte(p.cfg.WebhookSecret))
	mac.Write([]byte(tsS))
	mac.Write(body)
	if !hmac.Equal(sig, mac.Sum(nil)) {
		return fmt.Errorf("%s does not match", SignatureHeader)
	}
	// Checked after the signature, so that an unsigned request learns
	// nothing about our clock.
	skew := p.cfg.Now().Sub(time.UnixMilli(ms))
	if skew > p.cfg.WebhookTolerance || skew < -p.cfg.WebhookTolerance {
		return fmt.Errorf("%s is %s away from now (tolerance %s)", SignatureTimestampHeader, skew.Round(time.Second), p.cfg.WebhookTolerance)
	}
	return nil
}
