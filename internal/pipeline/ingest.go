package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
	"github.com/wearbridge/wearbridge/internal/source"
	"github.com/wearbridge/wearbridge/internal/store"
)

// Ingest stores normalised records and appends an event for each new or
// changed one, in the same transaction.
type Ingest struct {
	store *store.Store
	log   *slog.Logger
	now   func() time.Time
}

// NewIngest returns an Ingest on s.
func NewIngest(s *store.Store, log *slog.Logger, now func() time.Time) *Ingest {
	if log == nil {
		log = slog.Default()
	}
	if now == nil {
		now = time.Now
	}
	return &Ingest{store: s, log: log, now: now}
}

// Counts says what one Apply did.
type Counts struct {
	Stored    int // new or changed records (one event each)
	Unchanged int // records already stored with the same content
	Problems  int // items kept raw and reported
}

// MaxProblemsPerBatch bounds the problems kept with their raw bodies for
// one batch; beyond it one summary problem says how many more there were.
const MaxProblemsPerBatch = 100

// Batch is what one provider answer or push carried for one user.
type Batch struct {
	User     store.User
	Records  []model.Record
	Problems []model.Problem
}

// Apply stores a batch for one user. A record that cannot be stored as
// JSON becomes a problem; the rest of the batch still lands. Only a
// database error fails the batch, and then nothing of it is written.
func (in *Ingest) Apply(ctx context.Context, u store.User, recs []model.Record, problems []model.Problem) (Counts, error) {
	cs, err := in.ApplyAll(ctx, []Batch{{User: u, Records: recs, Problems: problems}})
	if err != nil {
		return Counts{}, err
	}
	return cs[0], nil
}

// ApplyAll stores several users' batches in one transaction: all of it
// lands, or none.
func (in *Ingest) ApplyAll(ctx context.Context, batches []Batch) ([]Counts, error) {
	out := make([]Counts, len(batches))
	err := in.store.InTx(ctx, func(tx *store.Tx) error {
		for i, b := range batches {
			c, err := in.applyTx(ctx, tx, b.User, b.Records, b.Problems)
			if err != nil {
				return fmt.Errorf("ingest for user %s: %w", b.User.ID, err)
			}
			out[i] = c
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i, c := range out {
		if c.Problems > 0 {
			in.log.WarnContext(ctx, "provider data kept raw and reported", "user_id", batches[i].User.ID, "provider", batches[i].User.Provider, "problems", c.Problems)
		}
	}
	return out, nil
}

func (in *Ingest) applyTx(ctx context.Context, tx *store.Tx, u store.User, recs []model.Record, problems []model.Problem) (Counts, error) {
	var c Counts
	now := in.now().UTC()
	user := u
	user.LastWebhookUpdate = now
	tu := TerraUser(user)
	for _, r := range recs {
		if strings.ContainsRune(r.Key, 0) || r.Key == "" {
			problems = append(problems, model.Problem{Type: r.Type, Err: fmt.Sprintf("record with an unusable key %q", r.Key), Raw: r.Raw})
			continue
		}
		payload, err := json.Marshal(r.Data)
		if err != nil {
			problems = append(problems, model.Problem{Type: r.Type, Err: fmt.Sprintf("record %s cannot be encoded: %v", r.Key, err), Raw: r.Raw})
			continue
		}
		if bytes.Contains(payload, []byte(`\u0000`)) {
			// NUL characters are never health data, and PostgreSQL's
			// jsonb cannot hold them: drop them from strings.
			r.Data = json.RawMessage(stripNUL(payload))
		}
		ch, err := tx.UpsertRecord(ctx, u.ID, r)
		if err != nil {
			return c, err
		}
		if !ch.Changed {
			c.Unchanged++
			continue
		}
		if err := AppendDataEvent(ctx, tx, u, tu, r.Type, r.Key, ch.Version, r.Start, r.End, ch.Payload); err != nil {
			return c, err
		}
		c.Stored++
	}
	if len(problems) > MaxProblemsPerBatch {
		extra := len(problems) - MaxProblemsPerBatch
		problems = append(problems[:MaxProblemsPerBatch:MaxProblemsPerBatch],
			model.Problem{Err: fmt.Sprintf("%d more items of this batch could not be used; their raw bodies were not kept", extra)})
	}
	for _, p := range problems {
		if err := tx.AddProblem(ctx, store.Problem{DeveloperID: u.DeveloperID, UserID: u.ID, Provider: u.Provider, Type: p.Type, Err: p.Err, Raw: p.Raw}); err != nil {
			return c, err
		}
		c.Problems++
	}
	if c.Stored > 0 {
		return c, tx.TouchWebhookUpdate(ctx, u.ID, now)
	}
	return c, nil
}

// stripNUL removes NUL characters from every string of a JSON document.
func stripNUL(doc []byte) []byte {
	var v any
	d := json.NewDecoder(bytes.NewReader(doc))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return doc
	}
	var walk func(any) any
	walk = func(x any) any {
		switch t := x.(type) {
		case string:
			return strings.ReplaceAll(t, "\x00", "")
		case []any:
			for i := range t {
				t[i] = walk(t[i])
			}
		case map[string]any:
			for k, e := range t {
				delete(t, k)
				t[strings.ReplaceAll(k, "\x00", "")] = walk(e)
			}
		}
		return x
	}
	out, err := json.Marshal(walk(v))
	if err != nil {
		return doc
	}
	return out
}

// Sink returns a source.Sink that applies what a provider hands it to u,
// adding up the counts in c (which may be nil).
func (in *Ingest) Sink(u store.User, c *Counts) source.Sink {
	if c == nil {
		c = &Counts{}
	}
	return &sink{in: in, u: u, c: c}
}

type sink struct {
	in *Ingest
	u  store.User
	c  *Counts
}

func (s *sink) Records(ctx context.Context, recs []model.Record) error {
	c, err := s.in.Apply(ctx, s.u, recs, nil)
	s.c.add(c)
	return err
}

func (s *sink) Problem(ctx context.Context, p model.Problem) error {
	c, err := s.in.Apply(ctx, s.u, nil, []model.Problem{p})
	s.c.add(c)
	return err
}

func (c *Counts) add(o Counts) {
	c.Stored += o.Stored
	c.Unchanged += o.Unchanged
	c.Problems += o.Problems
}

// AppendDataEvent appends the event of one stored record version: the
// envelope {type, user, data: [payload], version} with the record's
// identity and span, so destinations can write it idempotently.
func AppendDataEvent(ctx context.Context, tx *store.Tx, u store.User, tu model.TerraUser, t model.DataType, key string, version int, start, end time.Time, payload json.RawMessage) error {
	body, err := json.Marshal(DataEnvelope{Type: string(t), User: tu, Data: []json.RawMessage{payload}, Version: Version})
	if err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	_, err = tx.AppendEvent(ctx, store.Event{DeveloperID: u.DeveloperID, UserID: u.ID, Provider: u.Provider, Type: string(t),
		RecordKey: key, Version: version, Start: start, End: end, Body: body})
	return err
}

// AppendUserEvent appends a non-data event about u (auth, deauth, ...)
// within tx. body is marshalled as is.
func AppendUserEvent(ctx context.Context, tx *store.Tx, u store.User, typ string, body any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("encode %s event: %w", typ, err)
	}
	_, err = tx.AppendEvent(ctx, store.Event{DeveloperID: u.DeveloperID, UserID: u.ID, Provider: u.Provider, Type: typ, Body: b})
	return err
}

// AuthSuccess is the body of an "auth" success event.
func AuthSuccess(u store.User) any {
	return map[string]any{
		"type": "auth", "status": "success", "user": TerraUser(u),
		"reference_id": nullable(u.ReferenceID), "message": "User has successfully authenticated", "version": Version,
	}
}

// AuthCancelled is the body of an authentication error event
// (type "auth_cancelled", status "error" in the wire format).
func AuthCancelled(provider, referenceID, reason string) any {
	return map[string]any{
		"type": "auth_cancelled", "status": "error", "provider": provider,
		"reference_id": nullable(referenceID), "reason": reason, "version": Version,
	}
}

// UserReauth is the body of a "user_reauth" event: the same provider account
// connected again. wearbridge keeps the user id, so old and new user are the
// same user.
func UserReauth(u store.User) any {
	tu := TerraUser(u)
	return map[string]any{
		"type": "user_reauth", "status": "warning", "new_user": tu, "old_user": tu,
		"message": "User has re-authenticated; the user_id is unchanged", "version": Version,
	}
}

// Deauth is the body of a "deauth" event.
func Deauth(u store.User) any {
	return map[string]any{
		"type": "deauth", "status": "success", "user": TerraUser(u),
		"message": "User has deauthenticated", "version": Version,
	}
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// ConnectionError is the body of a "connection_error" event: the connection
// broke (the provider refused the refresh token) and the user must connect
// again.
func ConnectionError(u store.User, msg string) any {
	return map[string]any{"type": "connection_error", "status": "warning", "user": TerraUser(u), "message": msg, "version": Version}
}

// AccessRevoked is the body of an "access_revoked" event: the user revoked
// our access at the provider.
func AccessRevoked(u store.User, msg string) any {
	return map[string]any{"type": "access_revoked", "status": "warning", "user": TerraUser(u), "message": msg, "version": Version}
}

// RateLimitHit is the body of a "rate_limit_hit" event: a pull was paused by
// the provider's rate limit and resumes after retry_after seconds.
func RateLimitHit(u store.User, dataType string, retryAfter float64) any {
	return map[string]any{"type": "rate_limit_hit", "status": "warning", "user": TerraUser(u), "data_type": dataType,
		"retry_after_seconds": retryAfter, "message": "provider rate limit reached; the pull resumes after retry_after_seconds", "version": Version}
}

// BackfillStarted is the body of a "large_request_processing" event: the
// backfill of a new connection started.
func BackfillStarted(u store.User, reference string) any {
	return map[string]any{"type": "large_request_processing", "status": "processing", "user": TerraUser(u), "reference": reference,
		"message": "backfill of historical data started", "version": Version}
}

// BackfillDone is the body of a "large_request_sending" event: the backfill
// finished and expected_payloads records were stored (and sent as events).
func BackfillDone(u store.User, reference string, records int) any {
	return map[string]any{"type": "large_request_sending", "user": TerraUser(u), "reference": reference,
		"message": "backfill of historical data finished", "expected_payloads": records, "version": Version}
}
