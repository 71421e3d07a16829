package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Event is one entry of the event log (the outbox). Events are appended in
// the same transaction as the change that caused them.
type Event struct {
	Seq         int64
	DeveloperID string
	UserID      string
	Type        string
	Provider    string
	// RecordKey and Version identify the record a data event carries;
	// Start and End are its time span (zero for other events).
	RecordKey  string
	Version    int
	Start, End time.Time
	Body       json.RawMessage
	CreatedAt  time.Time
}

// AppendEvent appends an event and returns its sequence number.
//
// On PostgreSQL the appending transactions are serialised with an advisory
// lock, so that sequence numbers become visible in order and a delivery
// cursor never skips an event committed late.
func (tx *Tx) AppendEvent(ctx context.Context, e Event) (int64, error) {
	if tx.s.IsPostgres() && !tx.eventLockHeld {
		if err := tx.exec(ctx, `SELECT pg_advisory_xact_lock(7001)`); err != nil {
			return 0, fmt.Errorf("append event: lock: %w", err)
		}
		tx.eventLockHeld = true
	}
	var seq int64
	var start, end int64
	if !e.Start.IsZero() {
		start, end = ms(e.Start), ms(e.End)
	}
	err := tx.queryRow(ctx, `INSERT INTO events (developer_id, user_id, type, provider, record_key, version, start_time, end_time, body, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq`,
		e.DeveloperID, e.UserID, e.Type, e.Provider, e.RecordKey, e.Version, start, end, string(e.Body), ms(tx.s.now())).Scan(&seq)
	if err != nil {
		return 0, fmt.Errorf("append event: %w", err)
	}
	tx.appended = true
	return seq, nil
}

const eventCols = `seq, developer_id, user_id, type, provider, record_key, version, start_time, end_time, body, created_at`

func scanEvents(rows interface {
	Next() bool
	Scan(...any) error
	Err() error
}) ([]Event, error) {
	var out []Event
	for rows.Next() {
		var e Event
		var body string
		var created, start, end int64
		if err := rows.Scan(&e.Seq, &e.DeveloperID, &e.UserID, &e.Type, &e.Provider, &e.RecordKey, &e.Version, &start, &end, &body, &created); err != nil {
			return nil, err
		}
		e.Body, e.CreatedAt = json.RawMessage(body), fromMS(created)
		if start != 0 || end != 0 {
			e.Start, e.End = fromMS(start), fromMS(end)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// EventsAfter returns up to limit of the developer's events after seq, in
// order.
func (s *Store) EventsAfter(ctx context.Context, devID string, seq int64, limit int) ([]Event, error) {
	rows, err := s.query(ctx, `SELECT `+eventCols+` FROM events WHERE developer_id = ? AND seq > ? ORDER BY seq LIMIT ?`, devID, seq, limit)
	if err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	defer rows.Close()
	evs, err := scanEvents(rows)
	if err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	return evs, nil
}

// EventsBySeq returns the events with the given sequence numbers.
func (s *Store) EventsBySeq(ctx context.Context, seqs []int64) ([]Event, error) {
	out := make([]Event, 0, len(seqs))
	for _, seq := range seqs {
		rows, err := s.query(ctx, `SELECT `+eventCols+` FROM events WHERE seq = ?`, seq)
		if err != nil {
			return nil, fmt.Errorf("read event: %w", err)
		}
		evs, err := scanEvents(rows)
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("read event: %w", err)
		}
		out = append(out, evs...)
	}
	return out, nil
}

// LastSeq returns the developer's newest event sequence number (0 if none).
func (s *Store) LastSeq(ctx context.Context, devID string) (int64, error) {
	var seq int64
	err := s.queryRow(ctx, `SELECT COALESCE(MAX(seq), 0) FROM events WHERE developer_id = ?`, devID).Scan(&seq)
	if err != nil {
		return 0, fmt.Errorf("last event: %w", err)
	}
	return seq, nil
}
