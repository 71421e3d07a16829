// Package postgres delivers events into tables of a developer's PostgreSQL
// database, one row per record, kept current by idempotent upserts.
//
// # Settings
//
//	{"dsn": "postgres://user:password@host:5432/db?sslmode=require", "schema": "wearbridge"}
//
// The fields:
//
//   - dsn (required): a libpq connection URL or key=value string, as pgx
//     accepts it. The password lives only here; it never appears in logs or
//     error messages.
//   - schema (default "wearbridge"): the schema that holds the tables;
//     lowercase letters, digits and underscores, at most 63 characters, not
//     starting with pg_. It is created if absent.
//
// The role needs CREATE on the database the first time (to create the
// schema and tables) and INSERT, UPDATE, SELECT and DELETE on the tables
// afterwards. If the tables already exist, CREATE is not needed.
//
// # Layout
//
// On Open (or, if the server is unreachable then, before the first
// delivery) the destination creates, if absent:
//
//   - one table per data type: activity, sleep, daily, body, nutrition,
//     menstruation, athlete. Columns: user_id text, provider text,
//     record_key text, start_time timestamptz (null when the record has no
//     span), end_time timestamptz, version bigint, updated_at timestamptz
//     (when wearbridge recorded this version: the event's created_at),
//     payload jsonb (the record itself: data[0] of the event envelope).
//     Primary key (user_id, record_key); index (user_id, start_time).
//   - users: user_id text primary key, provider text, reference_id text,
//     active boolean, updated_at timestamptz (the event's created_at). A
//     user is added from the user object of the first event about it, and
//     updated from that of each non-data event (auth, user_reauth, deauth,
//     ...: the events that come with every change of reference_id or
//     active), unless the row came from a newer event.
//   - events: delivery_id text primary key, type text, user_id text,
//     created_at timestamptz, body jsonb (the whole envelope); one row per
//     non-data event (auth, deauth, healthcheck, ...).
//
// Writes are idempotent: a record row is replaced only by an event whose
// version is at least the stored one (INSERT ... ON CONFLICT DO UPDATE ...
// WHERE version <= excluded.version), so a retried or replayed stale event
// never overwrites a newer version; a non-data event is inserted once per
// delivery id. A batch of events is written with one multi-row statement
// per table (INSERT ... SELECT FROM unnest of one array per column), all in
// one transaction and one round trip; if that fails because of one event's
// data, each event is written on its own, so the others still land.
//
// payload and body are jsonb, so PostgreSQL normalises them (key order,
// whitespace); the values are those that were delivered.
package postgres

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wearbridge/wearbridge/internal/destination"
	"github.com/wearbridge/wearbridge/internal/model"
)

// KindName is the name PostgreSQL destinations are registered under.
const KindName = "postgres"

// DefaultSchema is the schema used when the settings name none.
const DefaultSchema = "wearbridge"

// Defaults.
const (
	// DefaultTimeout bounds one Deliver, ReadBack or RemoveHealthcheck call.
	DefaultTimeout = time.Minute
	// DefaultMaxConns is how many connections one destination opens at most.
	DefaultMaxConns = 4
	// defaultConnectTimeout bounds connecting when the DSN sets no
	// connect_timeout.
	defaultConnectTimeout = 10 * time.Second
)

// Settings is a PostgreSQL destination's JSON settings.
type Settings struct {
	// DSN is the connection URL or key=value string. Required.
	DSN string `json:"dsn"`
	// Schema holds the tables. Default DefaultSchema.
	Schema string `json:"schema,omitempty"`
}

// Options configures a Kind. The zero value is ready to use.
type Options struct {
	// Logger receives debug lines about deliveries; nil discards them.
	Logger *slog.Logger
	// Timeout bounds each Deliver, ReadBack and RemoveHealthcheck call;
	// zero means DefaultTimeout.
	Timeout time.Duration
	// MaxConns is the most connections one destination opens; zero means
	// DefaultMaxConns.
	MaxConns int32
	// DialControl, when set, is the net.Dialer Control function of every
	// connection: it sees the resolved address and may refuse it (pass the
	// webhook kind's private-address guard to keep developers off internal
	// hosts). Nil allows every address, unix sockets included.
	DialControl func(network, address string, c syscall.RawConn) error
}

// Kind builds PostgreSQL destinations.
type Kind struct {
	log      *slog.Logger
	timeout  time.Duration
	maxConns int32
	control  func(network, address string, c syscall.RawConn) error
}

var (
	_ destination.Kind               = (*Kind)(nil)
	_ destination.Destination        = (*Postgres)(nil)
	_ destination.ReadBacker         = (*Postgres)(nil)
	_ destination.HealthcheckRemover = (*Postgres)(nil)
)

// NewKind returns the PostgreSQL kind configured by opts.
func NewKind(opts Options) *Kind {
	k := &Kind{log: opts.Logger, timeout: opts.Timeout, maxConns: opts.MaxConns, control: opts.DialControl}
	if k.log == nil {
		k.log = slog.New(slog.DiscardHandler)
	}
	if k.timeout <= 0 {
		k.timeout = DefaultTimeout
	}
	if k.maxConns <= 0 {
		k.maxConns = DefaultMaxConns
	}
	return k
}

// Name returns "postgres".
func (k *Kind) Name() string { return KindName }

// Postgres is an open PostgreSQL destination.
type Postgres struct {
	id       string
	schema   string
	tables   map[string]string // data type -> quoted table name
	users    string            // quoted users table
	events   string            // quoted events table
	pool     *pgxpool.Pool
	addr     string // host:port, for error messages
	password string // to scrub from error messages
	timeout  time.Duration
	log      *slog.Logger

	layoutMu sync.Mutex
	layoutOK atomic.Bool
	known    knownUsers
}

// Open validates cfg, connects and creates the schema and tables if they
// are absent. Bad settings, a refused login (wrong password, unknown role
// or database) and missing privileges are errors; an unreachable server is
// not: the destination is returned and its deliveries fail, retryably,
// until the server answers.
func (k *Kind) Open(ctx context.Context, cfg destination.Config) (destination.Destination, error) {
	s, err := parseSettings(cfg.Settings)
	if err != nil {
		return nil, fmt.Errorf("postgres destination %q: %w", cfg.ID, err)
	}
	pc, err := pgxpool.ParseConfig(s.DSN)
	if err != nil {
		// pgx redacts the password from parse errors; scrub anyway.
		return nil, fmt.Errorf("postgres destination %q: settings: dsn: %w", cfg.ID, scrub(err, passwordOf(s.DSN)))
	}
	password := pc.ConnConfig.Password
	if pc.ConnConfig.ConnectTimeout <= 0 {
		pc.ConnConfig.ConnectTimeout = defaultConnectTimeout
	}
	if _, ok := pc.ConnConfig.RuntimeParams["application_name"]; !ok {
		pc.ConnConfig.RuntimeParams["application_name"] = "wearbridge"
	}
	if k.control != nil {
		d := &net.Dialer{KeepAlive: 5 * time.Minute, Control: refusing(k.control)}
		pc.ConnConfig.DialFunc = d.DialContext
	}
	pc.MaxConns = k.maxConns
	pc.MinConns = 0
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("postgres destination %q: %w", cfg.ID, scrub(err, password))
	}
	p := &Postgres{
		id:       cfg.ID,
		schema:   s.Schema,
		tables:   make(map[string]string, len(model.DataTypes)),
		users:    quote(s.Schema, "users"),
		events:   quote(s.Schema, "events"),
		pool:     pool,
		addr:     net.JoinHostPort(pc.ConnConfig.Host, strconv.Itoa(int(pc.ConnConfig.Port))),
		password: password,
		timeout:  k.timeout,
		log:      k.log.With("destination_id", cfg.ID, "kind", KindName),
	}
	for _, t := range model.DataTypes {
		p.tables[string(t)] = quote(s.Schema, string(t))
	}
	octx, cancel := context.WithTimeout(ctx, k.timeout)
	defer cancel()
	if err := p.ensureLayout(octx); err != nil {
		if !unreachable(err) {
			pool.Close()
			return nil, fmt.Errorf("postgres destination %q: %w", cfg.ID, p.explain(err))
		}
		p.log.WarnContext(ctx, "postgres destination unreachable; tables are created on the first delivery", "error", p.explain(err))
	}
	return p, nil
}

// Close closes the destination's connections.
func (p *Postgres) Close() error {
	p.pool.Close()
	return nil
}

// schemaName is what a schema setting must look like: an unquoted,
// lowercase PostgreSQL identifier.
var schemaName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// parseSettings decodes and validates raw.
func parseSettings(raw json.RawMessage) (Settings, error) {
	var s Settings
	if len(bytes.TrimSpace(raw)) == 0 {
		return s, errors.New("settings: dsn is required")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		// json errors quote at most a type or field name, never values.
		return Settings{}, fmt.Errorf("settings: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Settings{}, errors.New("settings: trailing data after the JSON object")
	}
	if strings.TrimSpace(s.DSN) == "" {
		return Settings{}, errors.New("settings: dsn is required")
	}
	if s.Schema == "" {
		s.Schema = DefaultSchema
	}
	switch {
	case !schemaName.MatchString(s.Schema):
		return Settings{}, fmt.Errorf("settings: schema %q: use 1 to 63 lowercase letters, digits and underscores, not starting with a digit", s.Schema)
	case strings.HasPrefix(s.Schema, "pg_"):
		return Settings{}, fmt.Errorf("settings: schema %q: names starting with pg_ are reserved", s.Schema)
	}
	return s, nil
}

// quote returns schema.table as a quoted identifier. Both are checked
// identifiers, so quoting only guards against reserved words.
func quote(schema, table string) string {
	return `"` + schema + `"."` + table + `"`
}

// passwordOf extracts the password from a DSN that pgx could not parse, so
// that it can be scrubbed from the error; "" when none is found.
func passwordOf(dsn string) string {
	if i := strings.Index(dsn, "://"); i >= 0 {
		rest := dsn[i+3:]
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			if c := strings.Index(rest[:at], ":"); c >= 0 {
				return rest[c+1 : at]
			}
		}
		return ""
	}
	for _, f := range strings.Fields(dsn) {
		if v, ok := strings.CutPrefix(f, "password="); ok {
			return strings.Trim(v, `'`)
		}
	}
	return ""
}
