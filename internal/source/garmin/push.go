package garmin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/wearbridge/wearbridge/internal/model"
	"github.com/wearbridge/wearbridge/internal/source"
)

// ClientIDHeader is the header in which Garmin names the client (consumer
// key) a notification is sent for.
const ClientIDHeader = "garmin-client-id"

// summaryKind describes one push list key that is mapped.
type summaryKind struct {
	// dataType is the Terra type the summaries become.
	dataType model.DataType
	// mapItem maps one summary. It returns an error when the summary cannot
	// be used at all, and warnings about parts of it that were dropped or
	// look inconsistent; the record is kept in that case.
	mapItem func(raw json.RawMessage) (rec model.Record, warnings []string, err error)
}

// kinds maps the push list keys we map to their mappers. "body" is the key
// used by some recorded payloads for body compositions; Garmin documents
// "bodyComps".
var kinds = map[string]summaryKind{
	"dailies":           {model.TypeDaily, mapDaily},
	"sleeps":            {model.TypeSleep, mapSleep},
	"bodyComps":         {model.TypeBody, mapBodyComp},
	"body":              {model.TypeBody, mapBodyComp},
	"pulseox":           {model.TypeBody, mapPulseOx},
	"allDayRespiration": {model.TypeBody, mapRespiration},
}

// ParsePush parses a Garmin push body: a JSON object whose keys are summary
// types and whose values are lists of summaries. It returns one batch per
// Garmin userId, in order of first appearance.
//
// What is verified: Garmin signs nothing (no HMAC); a real deployment relies
// on the push URL being secret, and the core routes each batch only to a
// user connected under that userId. ParsePush checks that
//   - the body is a JSON object (else an error wrapping source.ErrBadPush);
//   - when Config.ClientID is set and the request carries a garmin-client-id
//     header, the header names this client (else an error wrapping
//     source.ErrBadPush): it catches a push URL configured for another
//     Garmin app, it is no authentication;
//   - every summary is a JSON object with a non-empty userId.
//
// The retired userAccessToken field is not checked. A summary that cannot be
// used becomes a problem with its raw JSON; the rest of the push still maps.
// Problems that belong to no userId (a summary without one, a list key whose
// value is not a list) are returned in a batch whose ProviderUserID is "".
// Ping notifications (items with a callbackURL) and summary types that have
// no mapper are reported as problems too.
func (p *Provider) ParsePush(ctx context.Context, r *http.Request, body []byte) ([]source.PushBatch, error) {
	if r != nil && p.cfg.ClientID != "" {
		if got := strings.TrimSpace(r.Header.Get(ClientIDHeader)); got != "" && got != p.cfg.ClientID {
			return nil, fmt.Errorf("%w: push is for another garmin client", source.ErrBadPush)
		}
	}
	var lists map[string]json.RawMessage
	if err := json.Unmarshal(body, &lists); err != nil {
		return nil, fmt.Errorf("%w: %w", source.ErrBadPush, err)
	}
	if lists == nil {
		return nil, fmt.Errorf("%w: body is null", source.ErrBadPush)
	}
	c := newCollector()
	keys := make([]string, 0, len(lists))
	for k := range lists {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, key := range keys {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("garmin push: %w", err)
		}
		c.list(key, lists[key])
	}
	return c.batches, nil
}

// collector groups records and problems by userId.
type collector struct {
	batches []source.PushBatch
	index   map[string]int
}

func newCollector() *collector { return &collector{index: make(map[string]int)} }

func (c *collector) batch(userID string) *source.PushBatch {
	i, ok := c.index[userID]
	if !ok {
		i = len(c.batches)
		c.index[userID] = i
		c.batches = append(c.batches, source.PushBatch{ProviderUserID: userID})
	}
	return &c.batches[i]
}

func (c *collector) problem(userID string, t model.DataType, raw []byte, format string, args ...any) {
	b := c.batch(userID)
	b.Problems = append(b.Problems, model.Problem{Type: t, Err: fmt.Sprintf(format, args...), Raw: raw})
}

// itemHeader is the part every push item has.
type itemHeader struct {
	UserID      string `json:"userId"`
	CallbackURL string `json:"callbackURL"`
}

// list handles one summary list of a push.
func (c *collector) list(key string, value json.RawMessage) {
	kind, known := kinds[key]
	var items []json.RawMessage
	if err := json.Unmarshal(value, &items); err != nil || bytes.Equal(bytes.TrimSpace(value), []byte("null")) {
		c.problem("", kind.dataType, value, "garmin %q: value is not a list of summaries", key)
		return
	}
	for i, raw := range items {
		var h itemHeader
		if err := json.Unmarshal(raw, &h); err != nil || !isObject(raw) {
			c.problem("", kind.dataType, raw, "garmin %s[%d]: summary is not a JSON object", key, i)
			continue
		}
		if strings.TrimSpace(h.UserID) == "" {
			c.problem("", kind.dataType, raw, "garmin %s[%d]: summary has no userId", key, i)
			continue
		}
		switch {
		case h.CallbackURL != "":
			c.problem(h.UserID, kind.dataType, raw, "garmin %s[%d]: ping notification (callbackURL) not supported; configure Garmin to push summaries", key, i)
			continue
		case !known:
			c.problem(h.UserID, "", raw, "garmin %s[%d]: unsupported summary type %q", key, i, key)
			continue
		}
		rec, warnings, err := kind.mapItem(raw)
		if err != nil {
			c.problem(h.UserID, kind.dataType, raw, "garmin %s[%d]: %v", key, i, err)
			continue
		}
		rec.Type = kind.dataType
		rec.Raw = raw
		b := c.batch(h.UserID)
		b.Records = append(b.Records, rec)
		for _, w := range warnings {
			c.problem(h.UserID, kind.dataType, raw, "garmin %s[%d] %s: %s", key, i, rec.Key, w)
		}
	}
}

// isObject reports whether raw is a JSON object.
func isObject(raw []byte) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '{'
}
