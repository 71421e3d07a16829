package fitbit

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
	"github.com/wearbridge/wearbridge/internal/source"
)

// SignatureHeader is the header in which Fitbit signs a notification:
// base64(HMAC-SHA1(body, client_secret + "&")) (dev.fitbit.com, "Using
// Subscriptions: Security").
const SignatureHeader = "X-Fitbit-Signature"

// Sign returns the X-Fitbit-Signature of body for an application with
// client secret secret.
func Sign(body []byte, secret string) string {
	mac := hmac.New(sha1.New, []byte(secret+"&"))
	mac.Write(body)
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Notification is one entry of a Fitbit notification body.
type Notification struct {
	// CollectionType is the collection that changed: activities, body,
	// foods, sleep, userRevokedAccess or deleteUser.
	CollectionType string `json:"collectionType"`
	// Date is the user's local day whose data changed (YYYY-MM-DD).
	Date string `json:"date"`
	// OwnerID is the Fitbit user id.
	OwnerID string `json:"ownerId"`
	// OwnerType is "user".
	OwnerType string `json:"ownerType"`
	// SubscriptionID is the id the subscription was created with.
	SubscriptionID string `json:"subscriptionId"`
}

// collectionPulls maps notified collections to the Terra types fetched for
// them. "foods" is nutrition, which this provider does not map: it asks
// for nothing.
var collectionPulls = map[string][]model.DataType{
	"activities": {model.TypeActivity, model.TypeDaily},
	"sleep":      {model.TypeSleep},
	"body":       {model.TypeBody},
	"foods":      nil,
}

// revokingCollections are the notifications that the user's access is
// gone: revoked consent, or a deleted account (sent once per
// subscription).
var revokingCollections = map[string]bool{"userRevokedAccess": true, "deleteUser": true}

// The notified day is a local calendar day, and the user's zone is not
// known while parsing. A pull is asked for the hours [D 10:00Z, D 14:00Z),
// which lie inside local day D in every zone from UTC-10 to UTC+10; Pull
// turns a window into the local days it touches, so for those users it
// fetches exactly D, and for users further out D plus one neighbour.
const (
	notifiedFrom = 10 * time.Hour
	notifiedTo   = 14 * time.Hour
)

// notifiedWindow is the pull window for local day d.
func notifiedWindow(d time.Time) (start, end time.Time) {
	return d.Add(notifiedFrom), d.Add(notifiedTo)
}

// ParsePush verifies and parses a Fitbit notification request: a JSON
// array of {collectionType, date, ownerId, ownerType, subscriptionId}.
//
// The X-Fitbit-Signature header must be base64(HMAC-SHA1(body,
// ClientSecret + "&")); a request without it, with a wrong one, or
// received while no client secret is configured is refused with an error
// wrapping source.ErrBadPush, as is a body that is not a JSON array.
//
// Notifications carry no data. Each becomes, in its owner's batch, pull
// requests for the notified day: activities → activity and daily, sleep →
// sleep, body → body; foods asks for nothing (nutrition is not mapped).
// userRevokedAccess and deleteUser mark the batch Revoked. A notification
// that cannot be used (not an object, no ownerId, another ownerType, a bad
// date, an unknown collection) becomes a problem with its raw JSON;
// problems that belong to no ownerId are in a batch whose ProviderUserID is
// "". Repeated notifications ask for one pull.
func (p *Provider) ParsePush(ctx context.Context, r *http.Request, body []byte) ([]source.PushBatch, error) {
	if err := p.verifySignature(r, body); err != nil {
		return nil, err
	}
	var items []json.RawMessage
	if err := json.Unmarshal(body, &items); err != nil {
		return nil, fmt.Errorf("%w: fitbit notifications: %w", source.ErrBadPush, err)
	}
	if items == nil {
		return nil, fmt.Errorf("%w: fitbit notifications: body is not an array", source.ErrBadPush)
	}
	c := &collector{index: make(map[string]int), pulls: make(map[string]bool)}
	for i, raw := range items {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("fitbit push: %w", err)
		}
		c.notification(i, raw)
	}
	return c.batches, nil
}

// verifySignature checks X-Fitbit-Signature.
func (p *Provider) verifySignature(r *http.Request, body []byte) error {
	if p.cfg.ClientSecret == "" {
		return fmt.Errorf("%w: no fitbit client secret configured to verify %s", source.ErrBadPush, SignatureHeader)
	}
	if r == nil {
		return fmt.Errorf("%w: no request to read %s from", source.ErrBadPush, SignatureHeader)
	}
	got := strings.TrimSpace(r.Header.Get(SignatureHeader))
	if got == "" {
		return fmt.Errorf("%w: no %s header", source.ErrBadPush, SignatureHeader)
	}
	sig, err := base64.StdEncoding.DecodeString(got)
	if err != nil {
		return fmt.Errorf("%w: %s is not base64", source.ErrBadPush, SignatureHeader)
	}
	mac := hmac.New(sha1.New, []byte(p.cfg.ClientSecret+"&"))
	mac.Write(body)
	if !hmac.Equal(sig, mac.Sum(nil)) {
		return fmt.Errorf("%w: %s does not match the body", source.ErrBadPush, SignatureHeader)
	}
	return nil
}

// collector groups pull requests and problems by ownerId.
type collector struct {
	batches []source.PushBatch
	index   map[string]int
	pulls   map[string]bool // owner, type, window already asked for
}

func (c *collector) batch(owner string) *source.PushBatch {
	i, ok := c.index[owner]
	if !ok {
		i = len(c.batches)
		c.index[owner] = i
		c.batches = append(c.batches, source.PushBatch{ProviderUserID: owner})
	}
	return &c.batches[i]
}

func (c *collector) problem(owner string, t model.DataType, raw []byte, format string, args ...any) {
	b := c.batch(owner)
	b.Problems = append(b.Problems, model.Problem{Type: t, Err: fmt.Sprintf(format, args...), Raw: raw})
}

// notification handles the i-th notification of a body.
func (c *collector) notification(i int, raw json.RawMessage) {
	var n Notification
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || trimmed[0] != '{' || json.Unmarshal(raw, &n) != nil {
		c.problem("", "", raw, "fitbit notification %d is not a JSON object", i)
		return
	}
	owner := strings.TrimSpace(n.OwnerID)
	if owner == "" {
		c.problem("", "", raw, "fitbit notification %d has no ownerId", i)
		return
	}
	if n.OwnerType != "" && n.OwnerType != "user" {
		c.problem(owner, "", raw, "fitbit notification %d: ownerType %q is not user", i, n.OwnerType)
		return
	}
	if revokingCollections[n.CollectionType] {
		c.batch(owner).Revoked = true
		return
	}
	types, known := collectionPulls[n.CollectionType]
	if !known {
		c.problem(owner, "", raw, "fitbit notification %d: unknown collectionType %q", i, n.CollectionType)
		return
	}
	if len(types) == 0 {
		return // foods: nothing this provider maps
	}
	d, err := parseDay(n.Date)
	if err != nil {
		c.problem(owner, types[0], raw, "fitbit notification %d (%s): %v", i, n.CollectionType, err)
		return
	}
	start, end := notifiedWindow(d)
	for _, t := range types {
		k := owner + "\x00" + string(t) + "\x00" + n.Date
		if c.pulls[k] {
			continue
		}
		c.pulls[k] = true
		b := c.batch(owner)
		b.Pulls = append(b.Pulls, source.PullRequest{Type: t, Start: start, End: end})
	}
}

// VerifySubscription answers Fitbit's subscriber verification: GET
// ?verify=<code> is answered 204 No Content when the code is
// Config.SubscriberVerificationCode and 404 Not Found otherwise (Fitbit
// sends the right code and a wrong one, and expects both answers).
func (p *Provider) VerifySubscription(w http.ResponseWriter, r *http.Request) {
	code := r.URL.Query().Get("verify")
	want := p.cfg.SubscriberVerificationCode
	if code != "" && want != "" && subtle.ConstantTimeCompare([]byte(code), []byte(want)) == 1 {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	p.log.InfoContext(r.Context(), "fitbit subscriber verification refused", "has_code", code != "")
	w.WriteHeader(http.StatusNotFound)
}
