package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wearbridge/wearbridge/internal/secretbox"
)

// Destination is a configured delivery target of a developer.
type Destination struct {
	ID          string
	DeveloperID string
	Kind        string
	Settings    json.RawMessage // decrypted
	Secret      string          // decrypted
	Enabled     bool
	EventTypes  []string // empty: all
	Cursor      int64
	CreatedAt   time.Time
}

// Wants reports whether the destination takes events of type t.
func (d Destination) Wants(t string) bool {
	if len(d.EventTypes) == 0 {
		return true
	}
	for _, et := range d.EventTypes {
		if et == t {
			return true
		}
	}
	return false
}

// CreateDestination stores a destination. Its cursor starts at the
// developer's newest event when fromNow is true, else at the beginning.
func (s *Store) CreateDestination(ctx context.Context, d Destination, fromNow bool) (Destination, error) {
	if d.ID == "" {
		d.ID = "dst_" + secretbox.RandomToken(9)
	}
	d.CreatedAt = s.now().UTC().Truncate(time.Millisecond)
	settings, err := s.seal(string(d.Settings))
	if err != nil {
		return d, err
	}
	secret, err := s.seal(d.Secret)
	if err != nil {
		return d, err
	}
	if fromNow {
		if d.Cursor, err = s.LastSeq(ctx, d.DeveloperID); err != nil {
			return d, err
		}
	}
	_, err = s.exec(ctx, `INSERT INTO destinations (id, developer_id, kind, settings, secret, enabled, event_types, cursor, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		d.ID, d.DeveloperID, d.Kind, settings, secret, d.Enabled, strings.Join(d.EventTypes, ","), d.Cursor, ms(d.CreatedAt))
	if err != nil {
		return d, fmt.Errorf("create destination: %w", err)
	}
	return d, nil
}

const destCols = `id, developer_id, kind, settings, secret, enabled, event_types, cursor, created_at`

func (s *Store) destinations(ctx context.Context, where string, args ...any) ([]Destination, error) {
	rows, err := s.query(ctx, `SELECT `+destCols+` FROM destinations `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("list destinations: %w", err)
	}
	defer rows.Close()
	var out []Destination
	for rows.Next() {
		var d Destination
		var settings, secret, types string
		var created int64
		if err := rows.Scan(&d.ID, &d.DeveloperID, &d.Kind, &settings, &secret, &d.Enabled, &types, &d.Cursor, &created); err != nil {
			return nil, fmt.Errorf("list destinations: %w", err)
		}
		plain, err := s.open(settings)
		if err != nil {
			return nil, fmt.Errorf("destination %s settings: %w", d.ID, err)
		}
		if d.Secret, err = s.open(secret); err != nil {
			return nil, fmt.Errorf("destination %s secret: %w", d.ID, err)
		}
		d.Settings = json.RawMessage(plain)
		if types != "" {
			d.EventTypes = strings.Split(types, ",")
		}
		d.CreatedAt = fromMS(created)
		out = append(out, d)
	}
	return out, rows.Err()
}

// Destinations returns a developer's destinations.
func (s *Store) Destinations(ctx context.Context, devID string) ([]Destination, error) {
	return s.destinations(ctx, `WHERE developer_id = ? ORDER BY created_at, id`, devID)
}

// Destination returns one of a developer's destinations.
func (s *Store) Destination(ctx context.Context, devID, id string) (Destination, error) {
	ds, err := s.destinations(ctx, `WHERE developer_id = ? AND id = ?`, devID, id)
	if err != nil {
		return Destination{}, err
	}
	if len(ds) == 0 {
		return Destination{}, ErrNotFound
	}
	return ds[0], nil
}

// EnabledDestinations returns every enabled destination of every developer.
func (s *Store) EnabledDestinations(ctx context.Context) ([]Destination, error) {
	return s.destinations(ctx, `WHERE enabled ORDER BY id`)
}

// DeleteDestination removes a destination with its retries.
func (s *Store) DeleteDestination(ctx context.Context, devID, id string) error {
	return s.inTx(ctx, func(tx *Tx) error {
		if err := tx.exec(ctx, `DELETE FROM delivery_retries WHERE destination_id IN (SELECT id FROM destinations WHERE developer_id = ? AND id = ?)`, devID, id); err != nil {
			return fmt.Errorf("delete destination: %w", err)
		}
		res, err := tx.q.ExecContext(ctx, tx.s.rebind(`DELETE FROM destinations WHERE developer_id = ? AND id = ?`), devID, id)
		if err != nil {
			return fmt.Errorf("delete destination: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return nil
	})
}

// AcquireLease makes owner the one deliverer of a destination until ttl has
// passed, unless another owner holds an unexpired lease. It reports whether
// owner holds the lease now.
func (s *Store) AcquireLease(ctx context.Context, destID, owner string, ttl time.Duration) (bool, error) {
	now := s.now()
	res, err := s.exec(ctx, `UPDATE destinations SET lease_owner = ?, lease_until = ? WHERE id = ? AND enabled AND (lease_owner = ? OR lease_until < ?)`,
		owner, ms(now.Add(ttl)), destID, owner, ms(now))
	if err != nil {
		return false, fmt.Errorf("acquire lease: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// ReleaseLease gives up owner's lease.
func (s *Store) ReleaseLease(ctx context.Context, destID, owner string) error {
	_, err := s.exec(ctx, `UPDATE destinations SET lease_owner = '', lease_until = 0 WHERE id = ? AND lease_owner = ?`, destID, owner)
	return err
}

// ErrLeaseLost is returned when a deliverer no longer owns its destination.
var ErrLeaseLost = errors.New("destination lease lost")

// Failure is an event whose delivery failed.
type Failure struct {
	Seq      int64
	Attempts int
	NextTry  time.Time
	Err      string
	Dead     bool
}

// Advance moves a destination's cursor to seq and records the failures of
// the batch, in one transaction, if owner still holds the lease.
func (s *Store) Advance(ctx context.Context, destID, owner string, seq int64, failures []Failure) error {
	return s.inTx(ctx, func(tx *Tx) error {
		res, err := tx.q.ExecContext(ctx, tx.s.rebind(`UPDATE destinations SET cursor = ? WHERE id = ? AND lease_owner = ? AND cursor < ?`), seq, destID, owner, seq)
		if err != nil {
			return fmt.Errorf("advance cursor: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			var cur int64
			err := tx.queryRow(ctx, `SELECT cursor FROM destinations WHERE id = ? AND lease_owner = ?`, destID, owner).Scan(&cur)
			if errors.Is(err, sql.ErrNoRows) {
				return ErrLeaseLost
			}
			if err != nil {
				return fmt.Errorf("advance cursor: %w", err)
			}
		}
		for _, f := range failures {
			if err := tx.saveFailure(ctx, destID, f); err != nil {
				return err
			}
		}
		return nil
	})
}

func (tx *Tx) saveFailure(ctx context.Context, destID string, f Failure) error {
	now := ms(tx.s.now())
	err := tx.exec(ctx, `INSERT INTO delivery_retries (destination_id, seq, attempts, next_attempt_at, last_error, dead, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (destination_id, seq) DO UPDATE SET attempts = excluded.attempts, next_attempt_at = excluded.next_attempt_at, last_error = excluded.last_error, dead = excluded.dead, updated_at = excluded.updated_at`,
		destID, f.Seq, f.Attempts, ms(f.NextTry), f.Err, f.Dead, now)
	if err != nil {
		return fmt.Errorf("save failure: %w", err)
	}
	return nil
}

// Retry is an event waiting for another delivery attempt, or a dead letter.
type Retry struct {
	DestinationID string
	Seq           int64
	Attempts      int
	NextTry       time.Time
	LastError     string
	Dead          bool
	UpdatedAt     time.Time
}

func (s *Store) retries(ctx context.Context, where string, args ...any) ([]Retry, error) {
	rows, err := s.query(ctx, `SELECT destination_id, seq, attempts, next_attempt_at, last_error, dead, updated_at FROM delivery_retries `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("list retries: %w", err)
	}
	defer rows.Close()
	var out []Retry
	for rows.Next() {
		var r Retry
		var next, updated int64
		if err := rows.Scan(&r.DestinationID, &r.Seq, &r.Attempts, &next, &r.LastError, &r.Dead, &updated); err != nil {
			return nil, fmt.Errorf("list retries: %w", err)
		}
		r.NextTry, r.UpdatedAt = fromMS(next), fromMS(updated)
		out = append(out, r)
	}
	return out, rows.Err()
}

// DueRetries returns up to limit retries of a destination due at now.
func (s *Store) DueRetries(ctx context.Context, destID string, now time.Time, limit int) ([]Retry, error) {
	return s.retries(ctx, `WHERE destination_id = ? AND NOT dead AND next_attempt_at <= ? ORDER BY next_attempt_at, seq LIMIT ?`, destID, ms(now), limit)
}

// PendingRetries counts a destination's retries that are not dead.
func (s *Store) PendingRetries(ctx context.Context, destID string) (int, error) {
	var n int
	err := s.queryRow(ctx, `SELECT COUNT(*) FROM delivery_retries WHERE destination_id = ? AND NOT dead`, destID).Scan(&n)
	return n, err
}

// SettleRetries records the outcome of retried deliveries: delivered ones
// are removed, failed ones rescheduled or dead-lettered.
func (s *Store) SettleRetries(ctx context.Context, destID string, delivered []int64, failed []Failure) error {
	return s.inTx(ctx, func(tx *Tx) error {
		for _, seq := range delivered {
			if err := tx.exec(ctx, `DELETE FROM delivery_retries WHERE destination_id = ? AND seq = ?`, destID, seq); err != nil {
				return fmt.Errorf("settle retry: %w", err)
			}
		}
		for _, f := range failed {
			if err := tx.saveFailure(ctx, destID, f); err != nil {
				return err
			}
		}
		return nil
	})
}

// DeadLetters returns a developer's dead letters, optionally of one
// destination, newest first.
func (s *Store) DeadLetters(ctx context.Context, devID, destID string, limit int) ([]Retry, error) {
	q := `WHERE dead AND destination_id IN (SELECT id FROM destinations WHERE developer_id = ?)`
	args := []any{devID}
	if destID != "" {
		q += ` AND destination_id = ?`
		args = append(args, destID)
	}
	return s.retries(ctx, q+` ORDER BY updated_at DESC, seq DESC LIMIT ?`, append(args, limit)...)
}

// Redrive makes a destination's dead letters due again now, with a fresh
// attempt count. It returns how many there were.
func (s *Store) Redrive(ctx context.Context, devID, destID string) (int, error) {
	res, err := s.exec(ctx, `UPDATE delivery_retries SET dead = ?, attempts = 0, next_attempt_at = ? WHERE dead AND destination_id = ? AND destination_id IN (SELECT id FROM destinations WHERE developer_id = ?)`,
		false, ms(s.now()), destID, devID)
	if err != nil {
		return 0, fmt.Errorf("redrive: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// UpdateDestination changes a destination's settings, secret, switch and
// event types (nil fields are left alone).
func (s *Store) UpdateDestination(ctx context.Context, devID, id string, settings json.RawMessage, enabled *bool, types *[]string) (Destination, error) {
	d, err := s.Destination(ctx, devID, id)
	if err != nil {
		return d, err
	}
	if settings != nil {
		d.Settings = settings
	}
	if enabled != nil {
		d.Enabled = *enabled
	}
	if types != nil {
		d.EventTypes = *types
	}
	sealed, err := s.seal(string(d.Settings))
	if err != nil {
		return d, err
	}
	_, err = s.exec(ctx, `UPDATE destinations SET settings = ?, enabled = ?, event_types = ? WHERE developer_id = ? AND id = ?`,
		sealed, d.Enabled, strings.Join(d.EventTypes, ","), devID, id)
	if err != nil {
		return d, fmt.Errorf("update destination: %w", err)
	}
	return d, nil
}

// ReplayFilter selects the records a replay delivers again.
type ReplayFilter struct {
	// Start and End bound the records' start times: [Start, End).
	Start, End time.Time
	// UserID, when set, limits the replay to one user.
	UserID string
	// Types, when set, limits it to these data types.
	Types []string
}

// Replay queues, for delivery to a destination, the latest event of every
// record of the developer that the filter selects. They go through the
// destination's retry queue with the delivery ids they had, and the
// cursor is not touched. It returns how many events were queued.
func (s *Store) Replay(ctx context.Context, devID, destID string, f ReplayFilter) (int, error) {
	q := `INSERT INTO delivery_retries (destination_id, seq, attempts, next_attempt_at, last_error, dead, updated_at)
		SELECT d.id, MAX(e.seq), 0, ?, 'replay', ?, ?
		FROM events e
		JOIN records r ON r.user_id = e.user_id AND r.data_type = e.type AND r.record_key = e.record_key AND r.version = e.version
		JOIN users u ON u.id = r.user_id
		JOIN destinations d ON d.developer_id = u.developer_id
		WHERE d.id = ? AND u.developer_id = ? AND r.start_time >= ? AND r.start_time < ?`
	now := ms(s.now())
	args := []any{now, false, now, destID, devID, ms(f.Start), ms(f.End)}
	if f.UserID != "" {
		q += ` AND r.user_id = ?`
		args = append(args, f.UserID)
	}
	if len(f.Types) > 0 {
		q += ` AND r.data_type IN (?` + strings.Repeat(`, ?`, len(f.Types)-1) + `)`
		for _, t := range f.Types {
			args = append(args, t)
		}
	}
	q += ` GROUP BY d.id, e.user_id, e.type, e.record_key
		ON CONFLICT (destination_id, seq) DO UPDATE SET dead = excluded.dead, attempts = 0, next_attempt_at = excluded.next_attempt_at, updated_at = excluded.updated_at`
	res, err := s.exec(ctx, q, args...)
	if err != nil {
		return 0, fmt.Errorf("replay: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}
