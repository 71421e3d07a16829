package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
)

// RecordChange is the outcome of storing one record.
type RecordChange struct {
	// Changed is false when the stored record already had the same content.
	Changed bool
	// Version is the record's version after the write (1 for a new record).
	Version int
	// Payload is the normalised JSON as stored.
	Payload json.RawMessage
}

// UpsertRecord stores a record under its identity (user, type, key). The
// same content again changes nothing; new content bumps the version.
func (tx *Tx) UpsertRecord(ctx context.Context, userID string, r model.Record) (RecordChange, error) {
	payload, err := json.Marshal(r.Data)
	if err != nil {
		return RecordChange{}, fmt.Errorf("record %s/%s: marshal: %w", r.Type, r.Key, err)
	}
	sum := sha256.Sum256(payload)
	hash := hex.EncodeToString(sum[:])
	var raw any
	if len(r.Raw) > 0 {
		raw = text(r.Raw)
	}
	now := ms(tx.s.now())
	var id int64
	var oldHash string
	var version int
	err = tx.queryRow(ctx, `SELECT id, hash, version FROM records WHERE user_id = ? AND data_type = ? AND record_key = ?`,
		userID, string(r.Type), r.Key).Scan(&id, &oldHash, &version)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		err = tx.exec(ctx, `INSERT INTO records (user_id, data_type, record_key, start_time, end_time, day, version, hash, payload, raw, updated_at) VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?)`,
			userID, string(r.Type), r.Key, ms(r.Start), ms(r.End), r.Day, hash, string(payload), raw, now)
		if err != nil {
			return RecordChange{}, fmt.Errorf("insert record %s/%s: %w", r.Type, r.Key, err)
		}
		return RecordChange{Changed: true, Version: 1, Payload: payload}, nil
	case err != nil:
		return RecordChange{}, fmt.Errorf("find record %s/%s: %w", r.Type, r.Key, err)
	case oldHash == hash:
		return RecordChange{Version: version, Payload: payload}, nil
	}
	version++
	err = tx.exec(ctx, `UPDATE records SET start_time = ?, end_time = ?, day = ?, version = ?, hash = ?, payload = ?, raw = ?, updated_at = ? WHERE id = ?`,
		ms(r.Start), ms(r.End), r.Day, version, hash, string(payload), raw, now, id)
	if err != nil {
		return RecordChange{}, fmt.Errorf("update record %s/%s: %w", r.Type, r.Key, err)
	}
	return RecordChange{Changed: true, Version: version, Payload: payload}, nil
}

// StoredRecord is a record as the store holds it.
type StoredRecord struct {
	UserID    string
	Type      model.DataType
	Key       string
	Start     time.Time
	End       time.Time
	Day       string
	Version   int
	Payload   json.RawMessage
	Raw       json.RawMessage
	UpdatedAt time.Time
}

// Records returns a user's records of one type whose start lies in
// [from, to), oldest first.
func (s *Store) Records(ctx context.Context, userID string, t model.DataType, from, to time.Time) ([]StoredRecord, error) {
	rows, err := s.query(ctx, `SELECT user_id, data_type, record_key, start_time, end_time, day, version, payload, COALESCE(raw, ''), updated_at
		FROM records WHERE user_id = ? AND data_type = ? AND start_time >= ? AND start_time < ? ORDER BY start_time, record_key`,
		userID, string(t), ms(from), ms(to))
	if err != nil {
		return nil, fmt.Errorf("list records: %w", err)
	}
	defer rows.Close()
	var out []StoredRecord
	for rows.Next() {
		var r StoredRecord
		var typ, payload, raw string
		var start, end, updated int64
		if err := rows.Scan(&r.UserID, &typ, &r.Key, &start, &end, &r.Day, &r.Version, &payload, &raw, &updated); err != nil {
			return nil, fmt.Errorf("list records: %w", err)
		}
		r.Type = model.DataType(typ)
		r.Start, r.End, r.UpdatedAt = fromMS(start), fromMS(end), fromMS(updated)
		r.Payload = json.RawMessage(payload)
		if raw != "" {
			r.Raw = json.RawMessage(raw)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Problem is provider data that could not be used, kept with its raw body.
type Problem struct {
	ID          int64
	DeveloperID string
	UserID      string
	Provider    string
	Type        model.DataType
	Err         string
	Raw         []byte
	CreatedAt   time.Time
}

// AddProblem records a problem.
func (tx *Tx) AddProblem(ctx context.Context, p Problem) error {
	var raw any
	if len(p.Raw) > 0 {
		raw = text(p.Raw)
	}
	err := tx.exec(ctx, `INSERT INTO problems (developer_id, user_id, provider, data_type, error, raw, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		p.DeveloperID, p.UserID, p.Provider, string(p.Type), text([]byte(p.Err)), raw, ms(tx.s.now()))
	if err != nil {
		return fmt.Errorf("add problem: %w", err)
	}
	return nil
}

// Problems returns a user's problems, newest first.
func (s *Store) Problems(ctx context.Context, devID, userID string, limit int) ([]Problem, error) {
	rows, err := s.query(ctx, `SELECT id, developer_id, user_id, provider, data_type, error, COALESCE(raw, ''), created_at FROM problems
		WHERE developer_id = ? AND user_id = ? ORDER BY id DESC LIMIT ?`, devID, userID, limit)
	if err != nil {
		return nil, fmt.Errorf("list problems: %w", err)
	}
	defer rows.Close()
	var out []Problem
	for rows.Next() {
		var p Problem
		var typ, raw string
		var created int64
		if err := rows.Scan(&p.ID, &p.DeveloperID, &p.UserID, &p.Provider, &typ, &p.Err, &raw, &created); err != nil {
			return nil, fmt.Errorf("list problems: %w", err)
		}
		p.Type, p.Raw, p.CreatedAt = model.DataType(typ), []byte(raw), fromMS(created)
		out = append(out, p)
	}
	return out, rows.Err()
}

// text makes bytes storable in a TEXT column of either database: invalid
// UTF-8 and NUL bytes (which PostgreSQL refuses) become U+FFFD.
func text(b []byte) string {
	return strings.ReplaceAll(strings.ToValidUTF8(string(b), "\uFFFD"), "\x00", "\uFFFD")
}
