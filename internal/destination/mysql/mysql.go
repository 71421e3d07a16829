// Package mysql delivers events into tables of a developer's MySQL or
// MariaDB database, one row per record, kept current by idempotent upserts.
//
// # Settings
//
//	{"dsn": "user:password@tcp(host:3306)/db?tls=true", "table_prefix": "wb_"}
//
// The fields:
//
//   - dsn (required): a go-sql-driver/mysql DSN naming a database. The
//     password lives only here; it never appears in logs or error messages.
//     wearbridge sets parseTime, UTC times and client-side parameter
//     interpolation itself, and never allows LOAD DATA LOCAL INFILE.
//   - table_prefix (default ""): prepended to every table name; letters,
//     digits and underscores, at most 40 characters.
//
// The user needs CREATE on the database the first time (to create the
// tables) and INSERT, UPDATE, SELECT and DELETE on them afterwards. If the
// tables already exist, CREATE is not needed.
//
// # Layout
//
// On Open (or, if the server is unreachable then, before the first
// delivery) the destination creates, if absent, InnoDB tables with
// utf8mb4_bin collation (keys compare case-sensitively):
//
//   - one table per data type: activity, sleep, daily, body, nutrition,
//     menstruation, athlete. Columns: user_id varchar(128), provider
//     varchar(64), record_key varchar(512), start_time datetime(6) (UTC;
//     null when the record has no span), end_time datetime(6), version
//     bigint, updated_at datetime(6) (UTC; when wearbridge recorded this
//     version: the event's created_at), payload json (the record itself:
//     data[0] of the event envelope). Primary key (user_id, record_key);
//     index (user_id, start_time).
//   - users: user_id primary key, provider, reference_id, active,
//     updated_at (UTC; the event's created_at). A user is added from the
//     user object of the first event about it, and updated from that of
//     each non-data event (auth, user_reauth, deauth, ...: the events that
//     come with every change of reference_id or active), unless the row came
//     from a newer event.
//   - events: delivery_id varchar(255) primary key, type, user_id,
//     created_at datetime(6), body json (the whole envelope); one row per
//     non-data event (auth, deauth, healthcheck, ...).
//
// Writes are idempotent: a record row is replaced only by an event whose
// version is at least the stored one (INSERT ... ON DUPLICATE KEY UPDATE
// col = IF(VALUES(version) >= version, VALUES(col), col), version assigned
// last), so a retried or replayed stale event never overwrites a newer
// version; a non-data event is inserted once per delivery id. A batch of
// events is written with one multi-row statement per table, all in one
// transaction; if that fails because of one event's data, each event is
// written on its own, so the others still land.
//
// MariaDB stores json columns as text, exactly as delivered; MySQL
// normalises them (key order, whitespace).
package mysql

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/wearbridge/wearbridge/internal/destination"
	"github.com/wearbridge/wearbridge/internal/model"
)

// KindName is the name MySQL destinations are registered under.
const KindName = "mysql"

// Defaults.
const (
	// DefaultTimeout bounds one Deliver, ReadBack or RemoveHealthcheck call.
	DefaultTimeout = time.Minute
	// DefaultMaxConns is how many connections one destination opens at most.
	DefaultMaxConns = 4
	// defaultConnectTimeout bounds connecting when the DSN sets no timeout.
	defaultConnectTimeout = 10 * time.Second
)

// Settings is a MySQL destination's JSON settings.
type Settings struct {
	// DSN is the go-sql-driver/mysql DSN. Required; it must name a database.
	DSN string `json:"dsn"`
	// TablePrefix is prepended to every table name. Default "".
	TablePrefix string `json:"table_prefix,omitempty"`
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
	MaxConns int
	// DialControl, when set, is the net.Dialer Control function of every
	// connection: it sees the resolved address and may refuse it (pass the
	// webhook kind's private-address guard to keep developers off internal
	// hosts). Nil allows every address, unix sockets included.
	DialControl func(network, address string, c syscall.RawConn) error
}

// Kind builds MySQL destinations.
type Kind struct {
	log      *slog.Logger
	timeout  time.Duration
	maxConns int
	control  func(network, address string, c syscall.RawConn) error
}

var (
	_ destination.Kind               = (*Kind)(nil)
	_ destination.Destination        = (*MySQL)(nil)
	_ destination.ReadBacker         = (*MySQL)(nil)
	_ destination.HealthcheckRemover = (*MySQL)(nil)
)

// NewKind returns the MySQL kind configured by opts.
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

// Name returns "mysql".
func (k *Kind) Name() string { return KindName }

// MySQL is an open MySQL destination.
type MySQL struct {
	id       string
	database string
	prefix   string
	tables   map[string]string // data type -> quoted table name
	users    string            // quoted users table
	events   string            // quoted events table
	db       *sql.DB
	addr     string // host:port, for error messages
	password string // to scrub from error messages
	timeout  time.Duration
	log      *slog.Logger

	layoutMu sync.Mutex
	layoutOK atomic.Bool
	known    knownUsers
}

// Open validates cfg, connects and creates the tables if they are absent.
// Bad settings, a refused login (wrong password, unknown user), a missing
// database and missing privileges are errors; an unreachable server is
// not: the destination is returned and its deliveries fail, retryably,
// until the server answers.
func (k *Kind) Open(ctx context.Context, cfg destination.Config) (destination.Destination, error) {
	s, err := parseSettings(cfg.Settings)
	if err != nil {
		return nil, fmt.Errorf("mysql destination %q: %w", cfg.ID, err)
	}
	mc, err := gomysql.ParseDSN(s.DSN)
	if err != nil {
		return nil, fmt.Errorf("mysql destination %q: settings: dsn: %w", cfg.ID, scrub(err, passwordOf(s.DSN)))
	}
	if mc.DBName == "" {
		return nil, fmt.Errorf("mysql destination %q: settings: dsn: no database; end it with /dbname", cfg.ID)
	}
	// A server may ask the client for any local file in reply to any query;
	// never allow it.
	mc.AllowAllFiles = false
	mc.MultiStatements = false
	mc.ParseTime = true
	mc.Loc = time.UTC
	mc.InterpolateParams = true
	if mc.Timeout <= 0 {
		mc.Timeout = defaultConnectTimeout
	}
	log := k.log.With("destination_id", cfg.ID, "kind", KindName)
	// The driver logs to the standard logger unless told otherwise.
	mc.Logger = driverLogger{log}
	if k.control != nil {
		d := &net.Dialer{KeepAlive: 5 * time.Minute, Control: refusing(k.control)}
		mc.DialFunc = d.DialContext
	}
	conn, err := gomysql.NewConnector(mc)
	if err != nil {
		return nil, fmt.Errorf("mysql destination %q: settings: dsn: %w", cfg.ID, scrub(err, mc.Passwd))
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(k.maxConns)
	db.SetMaxIdleConns(k.maxConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	db.SetConnMaxLifetime(time.Hour)
	m := &MySQL{
		id:       cfg.ID,
		database: mc.DBName,
		prefix:   s.TablePrefix,
		tables:   make(map[string]string, len(model.DataTypes)),
		users:    quote(s.TablePrefix + "users"),
		events:   quote(s.TablePrefix + "events"),
		db:       db,
		addr:     mc.Addr,
		password: mc.Passwd,
		timeout:  k.timeout,
		log:      log,
	}
	for _, t := range model.DataTypes {
		m.tables[string(t)] = quote(s.TablePrefix + string(t))
	}
	octx, cancel := context.WithTimeout(ctx, k.timeout)
	defer cancel()
	if err := m.ensureLayout(octx); err != nil {
		if !unreachable(err) {
			_ = db.Close()
			return nil, fmt.Errorf("mysql destination %q: %w", cfg.ID, m.explain(err))
		}
		m.log.WarnContext(ctx, "mysql destination unreachable; tables are created on the first delivery", "error", m.explain(err))
	}
	return m, nil
}

// Close closes the destination's connections.
func (m *MySQL) Close() error {
	return m.db.Close()
}

// driverLogger passes the driver's log lines (dropped connections and the
// like) to the destination's logger, at debug level.
type driverLogger struct{ log *slog.Logger }

func (l driverLogger) Print(v ...any) { l.log.Debug("mysql driver: " + fmt.Sprint(v...)) }

// prefixPattern is what a table_prefix setting must look like.
var prefixPattern = regexp.MustCompile(`^[A-Za-z0-9_]{0,40}$`)

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
	if !prefixPattern.MatchString(s.TablePrefix) {
		return Settings{}, fmt.Errorf("settings: table_prefix %q: use at most 40 letters, digits and underscores", s.TablePrefix)
	}
	return s, nil
}

// quote returns a checked table name as a quoted identifier.
func quote(table string) string { return "`" + table + "`" }

// passwordOf extracts the password from a DSN that the driver could not
// parse, so that it can be scrubbed from the error; "" when none is found.
func passwordOf(dsn string) string {
	at := strings.LastIndex(dsn, "@")
	if at < 0 {
		return ""
	}
	if c := strings.Index(dsn[:at], ":"); c >= 0 {
		return dsn[c+1 : at]
	}
	return ""
}
