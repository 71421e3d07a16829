package mongodb

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/wearbridge/wearbridge/internal/destination"
	"github.com/wearbridge/wearbridge/internal/model"
)

// KindName is the name MongoDB destinations are registered under.
const KindName = "mongodb"

// DefaultDatabase is the database used when neither the settings nor the
// URI name one.
const DefaultDatabase = "wearbridge"

// eventsCollection holds the non-data events.
const eventsCollection = "user_events"

// Defaults.
const (
	// DefaultTimeout bounds one Deliver, ReadBack or RemoveHealthcheck
	// call, and the index setup in Open.
	DefaultTimeout = time.Minute
	// DefaultServerSelectionTimeout is how long an operation waits for a
	// reachable server when the URI sets no serverSelectionTimeoutMS.
	DefaultServerSelectionTimeout = 5 * time.Second
	// DefaultConnectTimeout bounds opening one connection when the URI sets
	// no connectTimeoutMS.
	DefaultConnectTimeout = 5 * time.Second
	// disconnectTimeout bounds Close.
	disconnectTimeout = 5 * time.Second
)

// Settings is a MongoDB destination's JSON settings.
type Settings struct {
	// URI is the mongodb:// or mongodb+srv:// connection string. Required.
	URI string `json:"uri"`
	// Database holds the collections. Default: the URI's database, else
	// DefaultDatabase.
	Database string `json:"database,omitempty"`
}

// Options configures a Kind. The zero value is ready to use.
type Options struct {
	// Logger receives debug lines about deliveries; nil discards them.
	Logger *slog.Logger
	// Timeout bounds each Deliver, ReadBack and RemoveHealthcheck call and
	// the index setup in Open; zero means DefaultTimeout.
	Timeout time.Duration
	// ServerSelectionTimeout and ConnectTimeout apply unless the URI sets
	// serverSelectionTimeoutMS or connectTimeoutMS; zero means
	// DefaultServerSelectionTimeout and DefaultConnectTimeout.
	ServerSelectionTimeout time.Duration
	ConnectTimeout         time.Duration
}

// Kind builds MongoDB destinations.
type Kind struct {
	log            *slog.Logger
	timeout        time.Duration
	selectTimeout  time.Duration
	connectTimeout time.Duration
}

var (
	_ destination.Kind               = (*Kind)(nil)
	_ destination.Destination        = (*MongoDB)(nil)
	_ destination.ReadBacker         = (*MongoDB)(nil)
	_ destination.HealthcheckRemover = (*MongoDB)(nil)
)

// NewKind returns the MongoDB kind configured by opts.
func NewKind(opts Options) *Kind {
	k := &Kind{
		log:            opts.Logger,
		timeout:        opts.Timeout,
		selectTimeout:  opts.ServerSelectionTimeout,
		connectTimeout: opts.ConnectTimeout,
	}
	if k.log == nil {
		k.log = slog.New(slog.DiscardHandler)
	}
	if k.timeout <= 0 {
		k.timeout = DefaultTimeout
	}
	if k.selectTimeout <= 0 {
		k.selectTimeout = DefaultServerSelectionTimeout
	}
	if k.connectTimeout <= 0 {
		k.connectTimeout = DefaultConnectTimeout
	}
	return k
}

// Name returns "mongodb".
func (k *Kind) Name() string { return KindName }

// MongoDB is an open MongoDB destination.
type MongoDB struct {
	id      string
	client  *mongo.Client
	db      *mongo.Database
	dbName  string
	colls   map[string]*mongo.Collection // by collection name
	hosts   string                       // host:port list, for error messages
	secrets []string                     // to scrub from error messages
	timeout time.Duration
	log     *slog.Logger
}

// Open validates cfg, connects and creates the indexes that are absent.
// Bad settings, a server that cannot be reached within the server
// selection timeout, a refused login and missing privileges are errors.
func (k *Kind) Open(ctx context.Context, cfg destination.Config) (destination.Destination, error) {
	m, err := k.connect(cfg)
	if err != nil {
		return nil, err
	}
	octx, cancel := context.WithTimeout(ctx, k.timeout)
	defer cancel()
	if err := m.ensureIndexes(octx); err != nil {
		_ = m.Close()
		return nil, fmt.Errorf("mongodb destination %q: %w", cfg.ID, m.describe("create indexes in database "+m.dbName, err))
	}
	return m, nil
}

// connect validates cfg and returns a destination whose client connects
// lazily, in the background.
func (k *Kind) connect(cfg destination.Config) (*MongoDB, error) {
	s, err := parseSettings(cfg.Settings)
	if err != nil {
		return nil, fmt.Errorf("mongodb destination %q: %w", cfg.ID, err)
	}
	secrets := passwordsOf(s.URI)
	opts := options.Client().ApplyURI(s.URI)
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("mongodb destination %q: settings: uri: %w", cfg.ID, scrub(err, secrets))
	}
	if opts.Auth != nil && opts.Auth.Password != "" {
		secrets = append(secrets, opts.Auth.Password)
	}
	if opts.ServerSelectionTimeout == nil {
		opts.SetServerSelectionTimeout(k.selectTimeout)
	}
	if opts.ConnectTimeout == nil {
		opts.SetConnectTimeout(k.connectTimeout)
	}
	if opts.AppName == nil {
		opts.SetAppName("wearbridge")
	}
	client, err := mongo.Connect(opts)
	if err != nil {
		return nil, fmt.Errorf("mongodb destination %q: connect: %w", cfg.ID, scrub(err, secrets))
	}
	m := &MongoDB{
		id:      cfg.ID,
		client:  client,
		db:      client.Database(s.Database),
		dbName:  s.Database,
		colls:   make(map[string]*mongo.Collection, len(model.DataTypes)+1),
		hosts:   strings.Join(opts.Hosts, ","),
		secrets: secrets,
		timeout: k.timeout,
		log:     k.log.With("destination_id", cfg.ID, "kind", KindName),
	}
	for _, name := range collectionNames() {
		m.colls[name] = m.db.Collection(name)
	}
	return m, nil
}

// Close disconnects from the server.
func (m *MongoDB) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), disconnectTimeout)
	defer cancel()
	if err := m.client.Disconnect(ctx); err != nil && !errors.Is(err, mongo.ErrClientDisconnected) {
		return fmt.Errorf("mongodb: disconnect: %w", m.scrub(err))
	}
	return nil
}

// collectionNames lists the collections the destination writes: one per
// data type, then user_events.
func collectionNames() []string {
	names := make([]string, 0, len(model.DataTypes)+1)
	for _, t := range model.DataTypes {
		names = append(names, string(t))
	}
	return append(names, eventsCollection)
}

// databaseName is what a database setting must look like. MongoDB allows
// more characters; these are safe on every server and file system.
var databaseName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,63}$`)

// parseSettings decodes and validates raw, filling in the database.
func parseSettings(raw json.RawMessage) (Settings, error) {
	var s Settings
	if len(bytes.TrimSpace(raw)) == 0 {
		return s, errors.New("settings: uri is required")
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
	s.URI = strings.TrimSpace(s.URI)
	switch {
	case s.URI == "":
		return Settings{}, errors.New("settings: uri is required")
	case !strings.HasPrefix(s.URI, "mongodb://") && !strings.HasPrefix(s.URI, "mongodb+srv://"):
		return Settings{}, errors.New(`settings: uri: must start with "mongodb://" or "mongodb+srv://"`)
	}
	if s.Database == "" {
		s.Database = databaseOf(s.URI)
	}
	if s.Database == "" {
		s.Database = DefaultDatabase
	}
	if !databaseName.MatchString(s.Database) {
		return Settings{}, fmt.Errorf("settings: database %q: use 1 to 63 letters, digits, underscores and dashes", s.Database)
	}
	return s, nil
}

// authority returns the part of a mongodb URI between the scheme and the
// path: [user[:password]@]host[:port][,host...].
func authority(uri string) string {
	_, rest, ok := strings.Cut(uri, "://")
	if !ok {
		return ""
	}
	if i := strings.IndexByte(rest, '?'); i >= 0 {
		rest = rest[:i]
	}
	hosts := rest
	if at := strings.LastIndexByte(rest, '@'); at >= 0 {
		hosts = rest[at+1:]
	}
	if i := strings.IndexByte(hosts, '/'); i >= 0 {
		return rest[:len(rest)-len(hosts)+i]
	}
	return rest
}

// databaseOf returns the database named in a mongodb URI's path, or "".
func databaseOf(uri string) string {
	_, rest, _ := strings.Cut(uri, "://")
	if i := strings.IndexByte(rest, '?'); i >= 0 {
		rest = rest[:i]
	}
	path := strings.TrimPrefix(rest[len(authority(uri)):], "/")
	if db, err := url.PathUnescape(path); err == nil {
		return db
	}
	return path
}

// passwordsOf returns the password in a mongodb URI, as written and
// percent-decoded, so that both can be scrubbed from error messages; nil
// when it has none.
func passwordsOf(uri string) []string {
	auth := authority(uri)
	at := strings.LastIndexByte(auth, '@')
	if at < 0 {
		return nil
	}
	_, pw, ok := strings.Cut(auth[:at], ":")
	if !ok || pw == "" {
		return nil
	}
	out := []string{pw}
	if dec, err := url.PathUnescape(pw); err == nil && dec != pw {
		out = append(out, dec)
	}
	return out
}
