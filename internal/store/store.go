// Package store keeps wearbridge's state in SQLite (the embedded default) or
// PostgreSQL (scale-out) behind one API: developers, users and their
// tokens, records with a stable identity and their raw payloads, the event
// log (outbox), destinations with their delivery cursors, retries and dead
// letters, and problems found in provider data.
//
// Queries are written once with ? placeholders and rebound for PostgreSQL.
// Times are stored as unix milliseconds in both dialects.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"github.com/wearbridge/wearbridge/internal/secretbox"
)

// ErrNotFound is returned when a row does not exist (or belongs to another
// developer).
var ErrNotFound = errors.New("not found")

//go:embed migrations
var migrations embed.FS

// Config says where the store lives.
type Config struct {
	// URL is a postgres:// (or postgresql://) URL for PostgreSQL. Empty means
	// SQLite in DataDir.
	URL string
	// DataDir holds the SQLite database (wearbridge.db). Default
	// "./wearbridge-data".
	DataDir string
	// Box encrypts tokens and secrets at rest. Required.
	Box *secretbox.Box
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Now defaults to time.Now.
	Now func() time.Time
}

// Store is the database.
type Store struct {
	db     *sql.DB
	pool   *pgxpool.Pool // PostgreSQL only
	box    *secretbox.Box
	log    *slog.Logger
	now    func() time.Time
	notify func() // called after a commit that appended events
}

// Open connects to the database and applies migrations.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Box == nil {
		return nil, errors.New("store: no secret box")
	}
	s := &Store{box: cfg.Box, log: cfg.Logger, now: cfg.Now, notify: func() {}}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	switch {
	case strings.HasPrefix(cfg.URL, "postgres://"), strings.HasPrefix(cfg.URL, "postgresql://"):
		pool, err := pgxpool.New(ctx, cfg.URL)
		if err != nil {
			return nil, fmt.Errorf("store: connect to postgres: %w", err)
		}
		if err := pool.Ping(ctx); err != nil {
			pool.Close()
			return nil, fmt.Errorf("store: connect to postgres: %w", err)
		}
		s.pool = pool
		s.db = stdlib.OpenDBFromPool(pool)
	case cfg.URL == "":
		dir := cfg.DataDir
		if dir == "" {
			dir = "wearbridge-data"
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("store: create data folder: %w", err)
		}
		dsn := "file:" + filepath.Join(dir, "wearbridge.db") +
			"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate"
		db, err := sql.Open("sqlite", dsn)
		if err != nil {
			return nil, fmt.Errorf("store: open sqlite: %w", err)
		}
		// One connection: SQLite has one writer anyway, and River's SQLite
		// driver wants it so.
		db.SetMaxOpenConns(1)
		s.db = db
	default:
		return nil, fmt.Errorf("store: unsupported database URL %q (want postgres://... or empty for SQLite)", redactURL(cfg.URL))
	}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.checkKey(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// checkKey makes sure the secret key opens what the database holds: a
// wrong key (or replicas with different keys) is refused at start instead
// of failing on every token and destination later.
func (s *Store) checkKey(ctx context.Context) error {
	var sealed string
	err := s.queryRow(ctx, `SELECT sealed FROM key_check WHERE id = 1`).Scan(&sealed)
	if errors.Is(err, sql.ErrNoRows) {
		v, err := s.seal("wearbridge key check")
		if err != nil {
			return err
		}
		_, err = s.exec(ctx, `INSERT INTO key_check (id, sealed) VALUES (1, ?) ON CONFLICT (id) DO NOTHING`, v)
		if err != nil {
			return fmt.Errorf("store: key check: %w", err)
		}
		return s.checkKey(ctx)
	}
	if err != nil {
		return fmt.Errorf("store: key check: %w", err)
	}
	if _, err := s.open(sealed); err != nil {
		return errors.New("store: the secret key does not open this database's secrets: start with the key it was created with (--secret-key or the data folder's secret.key)")
	}
	return nil
}

// Close closes the database.
func (s *Store) Close() error {
	err := s.db.Close()
	if s.pool != nil {
		s.pool.Close()
	}
	return err
}

// IsPostgres reports whether the store runs on PostgreSQL.
func (s *Store) IsPostgres() bool { return s.pool != nil }

// DB returns the database/sql handle (SQLite: the one connection River
// shares).
func (s *Store) DB() *sql.DB { return s.db }

// Pool returns the pgx pool on PostgreSQL, nil on SQLite.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// OnEvents sets the function called after each commit that appended events.
func (s *Store) OnEvents(f func()) { s.notify = f }

func (s *Store) migrate(ctx context.Context) error {
	dir := "migrations/sqlite"
	if s.IsPostgres() {
		dir = "migrations/postgres"
	}
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS wearbridge_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	entries, err := fs.ReadDir(migrations, dir)
	if err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	for _, e := range entries {
		v, err := strconv.Atoi(strings.SplitN(e.Name(), "_", 2)[0])
		if err != nil {
			return fmt.Errorf("store: migration %s: bad name", e.Name())
		}
		body, err := fs.ReadFile(migrations, dir+"/"+e.Name())
		if err != nil {
			return err
		}
		err = s.inTx(ctx, func(tx *Tx) error {
			if s.IsPostgres() {
				// Replicas starting together migrate one at a time.
				if _, err := tx.q.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7000)`); err != nil {
					return err
				}
			}
			var n int
			if err := tx.queryRow(ctx, `SELECT COUNT(*) FROM wearbridge_migrations WHERE version = ?`, v).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			for _, stmt := range splitSQL(string(body)) {
				if _, err := tx.q.ExecContext(ctx, stmt); err != nil {
					return fmt.Errorf("%s: %w", e.Name(), err)
				}
			}
			return tx.exec(ctx, `INSERT INTO wearbridge_migrations (version, applied_at) VALUES (?, ?)`, v, s.now().UnixMilli())
		})
		if err != nil {
			return fmt.Errorf("store: migrate: %w", err)
		}
	}
	return nil
}

// splitSQL splits a migration file into statements on ";" at line ends.
func splitSQL(body string) []string {
	var out []string
	for _, part := range strings.Split(body, ";\n") {
		lines := strings.Split(part, "\n")
		keep := lines[:0]
		for _, l := range lines {
			if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "--") {
				keep = append(keep, l)
			}
		}
		if st := strings.TrimSuffix(strings.TrimSpace(strings.Join(keep, "\n")), ";"); st != "" {
			out = append(out, st)
		}
	}
	return out
}

// Tx is a transaction; everything done through it commits or rolls back
// together.
type Tx struct {
	s             *Store
	q             querier // *sql.Tx, or *sql.DB outside a transaction
	appended      bool
	eventLockHeld bool
}

type querier interface {
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

// InTx runs f in a transaction.
func (s *Store) InTx(ctx context.Context, f func(tx *Tx) error) error { return s.inTx(ctx, f) }

func (s *Store) inTx(ctx context.Context, f func(tx *Tx) error) error {
	sqlTx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	tx := &Tx{s: s, q: sqlTx}
	if err := f(tx); err != nil {
		_ = sqlTx.Rollback()
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	if tx.appended {
		s.notify()
	}
	return nil
}

func (s *Store) rebind(q string) string {
	if !s.IsPostgres() {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (tx *Tx) exec(ctx context.Context, q string, args ...any) error {
	_, err := tx.q.ExecContext(ctx, tx.s.rebind(q), args...)
	return err
}

func (tx *Tx) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return tx.q.QueryRowContext(ctx, tx.s.rebind(q), args...)
}

func (tx *Tx) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return tx.q.QueryContext(ctx, tx.s.rebind(q), args...)
}

func (s *Store) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return s.db.ExecContext(ctx, s.rebind(q), args...)
}

func (s *Store) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return s.db.QueryRowContext(ctx, s.rebind(q), args...)
}

func (s *Store) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return s.db.QueryContext(ctx, s.rebind(q), args...)
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

func redactURL(u string) string {
	if i := strings.Index(u, "@"); i > 0 {
		if j := strings.Index(u, "://"); j > 0 && j < i {
			return u[:j+3] + "***" + u[i:]
		}
	}
	return u
}

func (s *Store) seal(plain string) (string, error) {
	return s.box.Seal([]byte(plain))
}

func (s *Store) open(sealed string) (string, error) {
	b, err := s.box.Open(sealed)
	return string(b), err
}
