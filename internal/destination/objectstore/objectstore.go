// Package objectstore is the engine behind the object-storage destination
// kinds (s3, gcs, azure_blob): the object layout, the version guard, the
// bounded-concurrency batch writes, read-back and healthcheck removal. Each
// kind supplies a Store, a thin adapter over its SDK.
//
// # Layout
//
// One object per record, holding the full event envelope (the body
// wearbridge would POST to a webhook), Content-Type application/json:
//
//	[prefix/]2022-03-16/{type}/{user_id}-{start}-{record_key}.json      data events
//	[prefix/]2022-03-16/{type}/{user_id}-{created}-{delivery_id}.json   other events
//	[prefix/]2022-03-16/{type}/{created}-{delivery_id}.json             other events without a user
//
// Where:
//
//   - 2022-03-16 is the Terra API version of the envelopes.
//   - {type} is the envelope type: activity, sleep, daily, body, nutrition,
//     menstruation, athlete; auth, deauth, healthcheck, ...
//   - {start} is the record's start time (metadata.start_time) in UTC,
//     ISO 8601 basic format to the second: 2024-10-10T03:01:59.5+02:00 is
//     20241010T010159Z. It is always 16 characters (a record without a
//     start gets 00010101T000000Z).
//   - {record_key} is the record's identity within (user, type): the
//     provider's own id, or the day for day summaries. It is part of the
//     name because one user can have several records with the same start
//     (Withings and Garmin body measurements taken at one instant).
//   - {created} is when wearbridge recorded the event, in the same format;
//     {delivery_id} keeps two events of one second apart.
//   - In {user_id}, {record_key} and {delivery_id}, every byte other than
//     A-Z a-z 0-9 . _ - is written as ~ and two uppercase hex digits
//     ("bodycomp:x1" becomes "bodycomp~3Ax1"), so names are URL-safe and
//     never contain colons.
//
// Each object carries metadata (S3 x-amz-meta-*, GCS custom metadata, Azure
// blob metadata; Azure spells the names with _ instead of -):
// wearbridge-version (data events: the record's version, a decimal
// number), wearbridge-delivery-id, wearbridge-record-key (data events),
// wearbridge-user-id (when there is a user), wearbridge-provider (when
// known) and wearbridge-type. Metadata values that are not printable ASCII
// are percent-encoded (RFC 3986).
//
// # Writes
//
// Writes are idempotent. A data event replaces the record's object only if
// its version is at least the stored one; the check and the write are one
// conditional request (S3 If-Match/If-None-Match, GCS generation
// preconditions, Azure ETag conditions), repeated when another writer got
// in between, so a stale retry or replay never overwrites a newer version.
// If a provider moves a record's start time, the next version is written
// under its new name and the object under the old name is deleted. To find
// it, each batch lists the {type}/{user_id}- names of every (user, type)
// it writes to, once per batch. Other events are written under their delivery id;
// writing one again rewrites the same bytes. A batch is written with at
// most DefaultConcurrency requests in flight, and each event gets its own
// result.
package objectstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/wearbridge/wearbridge/internal/destination"
)

// Defaults.
const (
	// DefaultTimeout bounds one Deliver, ReadBack or RemoveHealthcheck call.
	DefaultTimeout = 2 * time.Minute
	// DefaultConcurrency is how many objects one Deliver call writes at once.
	DefaultConcurrency = 16
	// checkTimeout bounds the write check Open makes.
	checkTimeout = 30 * time.Second
	// maxConflicts is how often a conditional write is retried when another
	// writer changed the object in between.
	maxConflicts = 5
)

// ErrConflict is wrapped by Store errors when a write or delete condition
// did not hold: the object exists (IfAbsent) or it changed (IfToken).
var ErrConflict = errors.New("the object changed meanwhile")

// Store is one bucket or container, as the engine uses it. Object names are
// full names (the prefix included). Errors are *Error where the store can
// classify them; not-found errors wrap destination.ErrNotFound and failed
// conditions wrap ErrConflict.
type Store interface {
	// Head returns the object's attributes, or destination.ErrNotFound.
	Head(ctx context.Context, name string) (Attrs, error)
	// Get returns the object's bytes, or destination.ErrNotFound.
	Get(ctx context.Context, name string) ([]byte, error)
	// Put writes the object with Content-Type application/json and the
	// given metadata, if cond holds (ErrConflict if not).
	Put(ctx context.Context, name string, body []byte, meta map[string]string, cond Cond) error
	// Delete deletes the object, if its token is still token (any token
	// when token is ""). It returns destination.ErrNotFound where the store
	// can tell, and ErrConflict when the token differs.
	Delete(ctx context.Context, name, token string) error
	// List calls fn with the name of every object whose name starts with
	// prefix, stopping at fn's first error.
	List(ctx context.Context, prefix string, fn func(name string) error) error
	// Close releases the store's connections.
	Close() error
}

// Attrs are an object's attributes.
type Attrs struct {
	// Token identifies the object's current content: the S3 or Azure ETag,
	// the GCS generation.
	Token string
	// Meta is the object's custom metadata, names as the store returns them.
	Meta map[string]string
	// ContentType is the object's Content-Type.
	ContentType string
}

// Cond is a write condition. The zero Cond writes unconditionally.
type Cond struct {
	// IfAbsent writes only if no object has the name.
	IfAbsent bool
	// IfToken writes only if the object's token is still IfToken.
	IfToken string
}

// Error is a classified store error. Its message names the operation and
// the object or bucket and never holds a secret.
type Error struct {
	// Msg is the whole message.
	Msg string
	// Err is the cause, for errors.Is and errors.As.
	Err error
	// Permanent marks errors a retry cannot fix (refused credentials, a
	// request the store rejects).
	Permanent bool
	// Unreachable marks errors that mean the store could not be reached
	// (connection refused, DNS, timeouts).
	Unreachable bool
	// RetryAfter is the store's hint when to try again (throttling).
	RetryAfter time.Duration
}

func (e *Error) Error() string { return e.Msg }

func (e *Error) Unwrap() error { return e.Err }

// IsUnreachable reports whether err means the store could not be reached.
func IsUnreachable(err error) bool {
	var e *Error
	if errors.As(err, &e) {
		return e.Unreachable
	}
	return errors.Is(err, context.DeadlineExceeded)
}

// Config configures a Dest.
type Config struct {
	// Kind is the kind's name, the first word of error messages ("s3").
	Kind string
	// ID is the destination's id, for logs.
	ID string
	// Store is the bucket or container.
	Store Store
	// Prefix is prepended to every object name; it must have passed
	// CleanPrefix. Empty means none.
	Prefix string
	// MetaSep joins the words of metadata names: "-" (S3, GCS) or "_"
	// (Azure, whose metadata names must be C# identifiers).
	MetaSep string
	// Logger receives debug lines; nil discards them.
	Logger *slog.Logger
	// Timeout bounds each Deliver, ReadBack and RemoveHealthcheck call;
	// zero means DefaultTimeout.
	Timeout time.Duration
	// Concurrency is how many objects Deliver writes at once; zero means
	// DefaultConcurrency.
	Concurrency int
}

// Dest is an open object-storage destination.
type Dest struct {
	kind        string
	store       Store
	prefix      string // "" or ending in "/"
	sep         string
	log         *slog.Logger
	timeout     time.Duration
	concurrency int
}

var (
	_ destination.Destination        = (*Dest)(nil)
	_ destination.ReadBacker         = (*Dest)(nil)
	_ destination.HealthcheckRemover = (*Dest)(nil)
)

// New returns a destination writing to cfg.Store. It does not contact the
// store; see Check.
func New(cfg Config) *Dest {
	d := &Dest{
		kind:        cfg.Kind,
		store:       cfg.Store,
		sep:         cfg.MetaSep,
		log:         cfg.Logger,
		timeout:     cfg.Timeout,
		concurrency: cfg.Concurrency,
	}
	if cfg.Prefix != "" {
		d.prefix = cfg.Prefix + "/"
	}
	if d.sep == "" {
		d.sep = "-"
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	d.log = d.log.With("destination_id", cfg.ID, "kind", cfg.Kind)
	if d.timeout <= 0 {
		d.timeout = DefaultTimeout
	}
	if d.concurrency <= 0 {
		d.concurrency = DefaultConcurrency
	}
	return d
}

// Store returns the destination's store.
func (d *Dest) Store() Store { return d.store }

// Close closes the store.
func (d *Dest) Close() error { return d.store.Close() }

// CheckName is the object Check writes and deletes, under the prefix.
const CheckName = ".wearbridge-write-check"

// Check tests that the bucket exists and takes writes: it writes the
// object CheckName under the prefix and deletes it again. Kinds call it
// from Open; an error for which IsUnreachable is true means the store did
// not answer, and the kind may still return the destination (deliveries
// then fail, retryably, until it answers).
func (d *Dest) Check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	name := d.prefix + CheckName
	body := []byte(`{"wearbridge":"write check; deleted right away"}`)
	if err := d.store.Put(ctx, name, body, nil, Cond{}); err != nil {
		return err
	}
	if err := d.store.Delete(ctx, name, ""); err != nil && !errors.Is(err, destination.ErrNotFound) {
		return fmt.Errorf("the write check worked, but deleting %s failed: %w", name, err)
	}
	return nil
}

// NetworkError returns an unreachable *Error for err if it is a network
// failure (connection refused or reset, DNS, a timeout), and nil if not.
// op names the operation ("put NAME"), endpoint the store.
func NetworkError(op, endpoint string, err error) *Error {
	var reason string
	var (
		opErr  *net.OpError
		dnsErr *net.DNSError
		netErr net.Error
	)
	switch {
	case errors.As(err, &dnsErr):
		reason = dnsErr.Error()
	case errors.As(err, &opErr):
		reason = opErr.Error()
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.ErrUnexpectedEOF):
		reason = err.Error()
	case errors.As(err, &netErr) && netErr.Timeout():
		reason = "timed out"
	case errors.Is(err, context.DeadlineExceeded):
		reason = "timed out"
	default:
		return nil
	}
	return &Error{Msg: fmt.Sprintf("%s: cannot reach %s: %s", op, endpoint, reason), Err: err, Unreachable: true}
}

// Scrub replaces every non-empty secret in s with "[redacted]".
func Scrub(s string, secrets ...string) string {
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "[redacted]")
		}
	}
	return s
}

// DecodeSettings decodes a kind's JSON settings into v strictly: unknown
// fields and trailing data are errors.
func DecodeSettings(raw []byte, v any) error {
	if len(bytes.TrimSpace(raw)) == 0 {
		raw = []byte(`{}`)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("settings: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("settings: trailing data after the JSON object")
	}
	return nil
}

// ParseEndpoint checks that raw is an absolute http or https URL without
// user:password, query or fragment, and returns it without a trailing
// slash.
func ParseEndpoint(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("scheme %q: must be http or https", u.Scheme)
	case u.Opaque != "" || u.Host == "" || u.Hostname() == "":
		return "", errors.New("must be an absolute URL with a host")
	case u.User != nil:
		return "", errors.New("must not contain user:password")
	case u.RawQuery != "" || u.Fragment != "":
		return "", errors.New("must not have a query or fragment")
	}
	return strings.TrimRight(u.String(), "/"), nil
}
