package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"golang.org/x/oauth2"
)

// User is one connection of an end user's provider account, owned by a
// developer. Its ID is the Terra user_id.
type User struct {
	ID                string
	DeveloperID       string
	Provider          string
	ProviderUserID    string
	ReferenceID       string
	Scopes            string
	Active            bool
	CreatedAt         time.Time
	LastWebhookUpdate time.Time // zero when never
}

const userCols = `id, developer_id, provider, provider_user_id, COALESCE(reference_id, ''), COALESCE(scopes, ''), active, created_at, COALESCE(last_webhook_update, 0)`

func scanUser(sc interface{ Scan(...any) error }) (User, error) {
	var u User
	var created, last int64
	err := sc.Scan(&u.ID, &u.DeveloperID, &u.Provider, &u.ProviderUserID, &u.ReferenceID, &u.Scopes, &u.Active, &created, &last)
	u.CreatedAt = fromMS(created)
	if last > 0 {
		u.LastWebhookUpdate = fromMS(last)
	}
	return u, err
}

func (s *Store) users(ctx context.Context, q string, args ...any) ([]User, error) {
	rows, err := s.query(ctx, `SELECT `+userCols+` FROM users `+q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// User returns the developer's user with the given id.
func (s *Store) User(ctx context.Context, devID, userID string) (User, error) {
	u, err := scanUser(s.queryRow(ctx, `SELECT `+userCols+` FROM users WHERE developer_id = ? AND id = ?`, devID, userID))
	if errors.Is(err, sql.ErrNoRows) {
		return u, ErrNotFound
	}
	if err != nil {
		return u, fmt.Errorf("get user: %w", err)
	}
	return u, nil
}

// UserByID returns a user by id alone (for jobs, which carry no developer).
func (s *Store) UserByID(ctx context.Context, userID string) (User, error) {
	u, err := scanUser(s.queryRow(ctx, `SELECT `+userCols+` FROM users WHERE id = ?`, userID))
	if errors.Is(err, sql.ErrNoRows) {
		return u, ErrNotFound
	}
	if err != nil {
		return u, fmt.Errorf("get user: %w", err)
	}
	return u, nil
}

// UsersByReference returns the developer's users with a reference id.
func (s *Store) UsersByReference(ctx context.Context, devID, ref string) ([]User, error) {
	us, err := s.users(ctx, `WHERE developer_id = ? AND reference_id = ? ORDER BY created_at, id`, devID, ref)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return us, nil
}

// ListUsers returns a page of the developer's users, oldest first.
func (s *Store) ListUsers(ctx context.Context, devID string, offset, limit int) ([]User, int, error) {
	var total int
	if err := s.queryRow(ctx, `SELECT COUNT(*) FROM users WHERE developer_id = ?`, devID).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count users: %w", err)
	}
	us, err := s.users(ctx, `WHERE developer_id = ? ORDER BY created_at, id LIMIT ? OFFSET ?`, devID, limit, offset)
	if err != nil {
		return nil, 0, fmt.Errorf("list users: %w", err)
	}
	return us, total, nil
}

// UsersByProviderID returns the active users, of any developer, connected
// to the given provider account. Pushes are routed with it.
func (s *Store) UsersByProviderID(ctx context.Context, provider, providerUserID string) ([]User, error) {
	us, err := s.users(ctx, `WHERE provider = ? AND provider_user_id = ? AND active ORDER BY id`, provider, providerUserID)
	if err != nil {
		return nil, fmt.Errorf("find users: %w", err)
	}
	return us, nil
}

// ActiveUsers returns every active user of a provider.
func (s *Store) ActiveUsers(ctx context.Context, provider string) ([]User, error) {
	us, err := s.users(ctx, `WHERE provider = ? AND active ORDER BY id`, provider)
	if err != nil {
		return nil, fmt.Errorf("list active users: %w", err)
	}
	return us, nil
}

// Connect stores a completed connection. A connection of a provider account
// the developer already has reuses that user's id (reauth is true then);
// otherwise the user gets newID.
func (tx *Tx) Connect(ctx context.Context, u User, tok *oauth2.Token) (user User, reauth bool, err error) {
	sealed, err := tx.s.sealToken(tok)
	if err != nil {
		return u, false, err
	}
	existing, err := scanUser(tx.queryRow(ctx, `SELECT `+userCols+` FROM users WHERE developer_id = ? AND provider = ? AND provider_user_id = ?`,
		u.DeveloperID, u.Provider, u.ProviderUserID))
	switch {
	case err == nil:
		err = tx.exec(ctx, `UPDATE users SET token = ?, scopes = ?, active = ?, reference_id = COALESCE(NULLIF(?, ''), reference_id) WHERE id = ?`,
			sealed, u.Scopes, true, u.ReferenceID, existing.ID)
		if err != nil {
			return u, false, fmt.Errorf("reconnect user: %w", err)
		}
		existing.Active, existing.Scopes = true, u.Scopes
		if u.ReferenceID != "" {
			existing.ReferenceID = u.ReferenceID
		}
		return existing, true, nil
	case errors.Is(err, sql.ErrNoRows):
		u.Active = true
		u.CreatedAt = tx.s.now().UTC().Truncate(time.Millisecond)
		err = tx.exec(ctx, `INSERT INTO users (id, developer_id, provider, provider_user_id, reference_id, scopes, active, token, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			u.ID, u.DeveloperID, u.Provider, u.ProviderUserID, u.ReferenceID, u.Scopes, true, sealed, ms(u.CreatedAt))
		if err != nil {
			return u, false, fmt.Errorf("create user: %w", err)
		}
		return u, false, nil
	default:
		return u, false, fmt.Errorf("find user: %w", err)
	}
}

// Deauthenticate marks a user inactive and forgets its tokens.
func (tx *Tx) Deauthenticate(ctx context.Context, userID string) error {
	if err := tx.exec(ctx, `UPDATE users SET active = ?, token = NULL WHERE id = ?`, false, userID); err != nil {
		return fmt.Errorf("deauthenticate: %w", err)
	}
	return nil
}

// TouchWebhookUpdate records when data was last sent for a user.
func (tx *Tx) TouchWebhookUpdate(ctx context.Context, userID string, t time.Time) error {
	return tx.exec(ctx, `UPDATE users SET last_webhook_update = ? WHERE id = ?`, ms(t), userID)
}

func (s *Store) sealToken(tok *oauth2.Token) (any, error) {
	if tok == nil {
		return nil, nil
	}
	b, err := json.Marshal(tok)
	if err != nil {
		return nil, err
	}
	return s.seal(string(b))
}

// Token returns a user's stored OAuth token (nil when it has none). With
// forUpdate on PostgreSQL the row stays locked until tx ends, so that one
// replica at a time refreshes it.
func (tx *Tx) Token(ctx context.Context, userID string, forUpdate bool) (*oauth2.Token, error) {
	q := `SELECT token FROM users WHERE id = ?`
	if forUpdate && tx.s.IsPostgres() {
		q += ` FOR UPDATE`
	}
	var sealed sql.NullString
	if err := tx.queryRow(ctx, q, userID).Scan(&sealed); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, ErrNotFound
		}
		return nil, fmt.Errorf("get token: %w", err)
	}
	if !sealed.Valid {
		return nil, nil
	}
	plain, err := tx.s.open(sealed.String)
	if err != nil {
		return nil, fmt.Errorf("get token: %w", err)
	}
	var tok oauth2.Token
	if err := json.Unmarshal([]byte(plain), &tok); err != nil {
		return nil, fmt.Errorf("get token: %w", err)
	}
	return &tok, nil
}

// SaveToken stores a user's refreshed OAuth token.
func (tx *Tx) SaveToken(ctx context.Context, userID string, tok *oauth2.Token) error {
	sealed, err := tx.s.sealToken(tok)
	if err != nil {
		return err
	}
	if err := tx.exec(ctx, `UPDATE users SET token = ? WHERE id = ?`, sealed, userID); err != nil {
		return fmt.Errorf("save token: %w", err)
	}
	return nil
}

// AuthSession is a started, not yet completed, provider connection.
type AuthSession struct {
	State           string
	DeveloperID     string
	UserID          string
	Provider        string
	Verifier        string
	ReferenceID     string
	SuccessRedirect string
	FailureRedirect string
	CreatedAt       time.Time
}

// CreateAuthSession stores a started connection.
func (s *Store) CreateAuthSession(ctx context.Context, a AuthSession) error {
	// Sessions older than a day are of no use any more: drop them here.
	if _, err := s.exec(ctx, `DELETE FROM auth_sessions WHERE created_at < ?`, ms(s.now().Add(-24*time.Hour))); err != nil {
		return fmt.Errorf("create auth session: %w", err)
	}
	_, err := s.exec(ctx, `INSERT INTO auth_sessions (state, developer_id, user_id, provider, verifier, reference_id, success_redirect, failure_redirect, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.State, a.DeveloperID, a.UserID, a.Provider, a.Verifier, a.ReferenceID, a.SuccessRedirect, a.FailureRedirect, ms(s.now()))
	if err != nil {
		return fmt.Errorf("create auth session: %w", err)
	}
	return nil
}

// TakeAuthSession returns and deletes the session with the given state, so
// that a callback is used once. Sessions older than maxAge are ErrNotFound.
func (s *Store) TakeAuthSession(ctx context.Context, state string, maxAge time.Duration) (AuthSession, error) {
	var a AuthSession
	var ref sql.NullString
	var created int64
	err := s.inTx(ctx, func(tx *Tx) error {
		err := tx.queryRow(ctx, `SELECT state, developer_id, user_id, provider, verifier, reference_id, success_redirect, failure_redirect, created_at FROM auth_sessions WHERE state = ?`, state).
			Scan(&a.State, &a.DeveloperID, &a.UserID, &a.Provider, &a.Verifier, &ref, &a.SuccessRedirect, &a.FailureRedirect, &created)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		return tx.exec(ctx, `DELETE FROM auth_sessions WHERE state = ?`, state)
	})
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return a, err
		}
		return a, fmt.Errorf("take auth session: %w", err)
	}
	a.ReferenceID = ref.String
	a.CreatedAt = fromMS(created)
	if s.now().Sub(a.CreatedAt) > maxAge {
		return a, ErrNotFound
	}
	return a, nil
}

// RefreshToken runs refresh on a user's stored token and stores what it
// returns before returning it. When refresh returns the token unchanged (it
// was still valid) nothing is written. On PostgreSQL the user's row is
// locked meanwhile, so that one replica at a time refreshes a token and the
// others read the rotated one; on SQLite the caller serialises calls (one
// process owns the file).
func (s *Store) RefreshToken(ctx context.Context, userID string, refresh func(*oauth2.Token) (*oauth2.Token, error)) (*oauth2.Token, error) {
	run := func(tx *Tx) (*oauth2.Token, error) {
		tok, err := tx.Token(ctx, userID, true)
		if err != nil {
			return nil, err
		}
		if tok == nil {
			return nil, fmt.Errorf("user %s has no token", userID)
		}
		next, err := refresh(tok)
		if err != nil {
			return nil, err
		}
		if next.AccessToken != tok.AccessToken || next.RefreshToken != tok.RefreshToken {
			if err := tx.SaveToken(ctx, userID, next); err != nil {
				return nil, err
			}
		}
		return next, nil
	}
	var out *oauth2.Token
	if s.IsPostgres() {
		err := s.inTx(ctx, func(tx *Tx) (err error) { out, err = run(tx); return err })
		return out, err
	}
	// SQLite: no transaction held across the HTTP call of refresh; the
	// read and the write are each atomic.
	return run(&Tx{s: s, q: s.db})
}

// Backfill is the progress of a user's initial backfill.
type Backfill struct {
	// Total is the number of pulls the backfill is made of; Done how many
	// have finished (or given up); Records how many records they stored.
	Total, Done, Records int
}

// StartBackfill resets a user's backfill progress to total pulls.
func (tx *Tx) StartBackfill(ctx context.Context, userID string, total int) error {
	if err := tx.exec(ctx, `UPDATE users SET backfill_total = ?, backfill_done = 0, backfill_records = 0 WHERE id = ?`, total, userID); err != nil {
		return fmt.Errorf("start backfill: %w", err)
	}
	return nil
}

// FinishBackfillPull counts one finished pull of a user's backfill and
// returns the progress after it; last is true for the call that finished
// the backfill.
func (tx *Tx) FinishBackfillPull(ctx context.Context, userID string, records int) (b Backfill, last bool, err error) {
	res, err := tx.q.ExecContext(ctx, tx.s.rebind(`UPDATE users SET backfill_done = backfill_done + 1, backfill_records = backfill_records + ? WHERE id = ? AND backfill_done < backfill_total`), records, userID)
	if err != nil {
		return b, false, fmt.Errorf("finish backfill pull: %w", err)
	}
	n, _ := res.RowsAffected()
	err = tx.queryRow(ctx, `SELECT backfill_total, backfill_done, backfill_records FROM users WHERE id = ?`, userID).Scan(&b.Total, &b.Done, &b.Records)
	if err != nil {
		return b, false, fmt.Errorf("finish backfill pull: %w", err)
	}
	return b, n == 1 && b.Total > 0 && b.Done == b.Total, nil
}

// BackfillProgress returns a user's backfill progress.
func (s *Store) BackfillProgress(ctx context.Context, userID string) (Backfill, error) {
	var b Backfill
	err := s.queryRow(ctx, `SELECT backfill_total, backfill_done, backfill_records FROM users WHERE id = ?`, userID).Scan(&b.Total, &b.Done, &b.Records)
	if errors.Is(err, sql.ErrNoRows) {
		return b, ErrNotFound
	}
	return b, err
}
