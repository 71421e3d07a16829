// Package destination defines the seam between the delivery pipeline and the
// places events are delivered to (webhook, PostgreSQL, S3, ...). A
// destination knows its kind, how to check its config and how to deliver a
// batch of events. It knows nothing about providers or retries.
package destination

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"
)

// Event is one event as it is handed to a destination.
type Event struct {
	// Seq is the event's position in the event log.
	Seq int64
	// DeliveryID is stable across retries, restarts and replays of the same
	// event to the same destination; receivers use it to drop duplicates.
	DeliveryID string
	// Type is the envelope type: "sleep", "daily", "auth", ...
	Type string
	// UserID is the wearbridge user id the event is about ("" for none),
	// and Provider its provider ("OURA", ...).
	UserID   string
	Provider string
	// RecordKey and Version identify the record a data event carries: a
	// destination keeps one row/object/document per (UserID, Type,
	// RecordKey) and never lets a lower Version overwrite a higher one.
	// Empty and 0 for non-data events.
	RecordKey string
	Version   int
	// Start and End are the record's time span (zero for non-data events).
	Start, End time.Time
	// CreatedAt is when the event was appended; it orders events.
	CreatedAt time.Time
	// Body is the JSON envelope, exactly as it is to be delivered.
	Body json.RawMessage
}

// Result is the outcome of delivering one event.
type Result struct {
	// Err is nil when the event was delivered.
	Err error
	// Permanent marks an error that a retry cannot fix (the event goes
	// straight to dead letters).
	Permanent bool
	// RetryAfter, when set, is the earliest time to try again.
	RetryAfter time.Duration
}

// Destination delivers events to one configured target.
type Destination interface {
	// Deliver delivers a batch of events and returns one result per event,
	// in the same order. It must be safe to deliver the same event again.
	Deliver(ctx context.Context, events []Event) []Result
	// Close releases connections.
	Close() error
}

// Config is a destination's stored configuration.
type Config struct {
	// ID is the destination's id.
	ID string
	// Kind names the destination kind ("webhook", ...).
	Kind string
	// Settings is the kind's own JSON config (URL, credentials, ...).
	Settings json.RawMessage
	// Secret signs deliveries.
	Secret string
	// Offload, when set, stores an event that is too large for the kind
	// (SQS 256 KiB, Kafka's max message size) and returns a URL to fetch
	// it: the developer's object-storage destination, or wearbridge's own
	// signed, expiring payload URL.
	Offload Offloader
}

// Offloader stores an oversized event body and returns where to fetch it.
type Offloader interface {
	Offload(ctx context.Context, ev Event) (url string, err error)
}

// ReadBacker is implemented by kinds that can read back what they hold for
// an event (the tests and the demo compare it with what was delivered). It
// returns the stored JSON document (the data payload or the whole
// envelope, as the kind stores it), or ErrNotFound.
type ReadBacker interface {
	ReadBack(ctx context.Context, ev Event) (json.RawMessage, error)
}

// BulkReadBacker is implemented by kinds that read back more cheaply in
// one pass (a queue is scanned once): it returns what the destination
// holds, keyed by delivery id, for those of evs it found.
type BulkReadBacker interface {
	ReadBackAll(ctx context.Context, evs []Event) (map[string]json.RawMessage, error)
}

// HealthcheckRemover is implemented by kinds that can remove the
// "healthcheck" event the core delivers to test a new destination.
type HealthcheckRemover interface {
	RemoveHealthcheck(ctx context.Context, ev Event) error
}

// ErrNotFound is returned by ReadBack when the destination holds nothing
// for the event.
var ErrNotFound = errors.New("not found at destination")

// Kind builds destinations of one kind.
type Kind interface {
	// Name is the kind's name: "webhook", "postgres", ...
	Name() string
	// Open validates cfg and returns a destination for it.
	Open(ctx context.Context, cfg Config) (Destination, error)
}

// Registry holds the destination kinds by name.
type Registry struct {
	byName map[string]Kind
}

// NewRegistry returns a registry of the given kinds. Two kinds with the same
// name are an error.
func NewRegistry(ks ...Kind) (*Registry, error) {
	r := &Registry{byName: make(map[string]Kind, len(ks))}
	for _, k := range ks {
		if _, dup := r.byName[k.Name()]; dup {
			return nil, fmt.Errorf("destination kind %q registered twice", k.Name())
		}
		r.byName[k.Name()] = k
	}
	return r, nil
}

// Get returns the kind called name.
func (r *Registry) Get(name string) (Kind, bool) {
	k, ok := r.byName[name]
	return k, ok
}

// Names returns the registered kind names, sorted.
func (r *Registry) Names() []string {
	names := make([]string, 0, len(r.byName))
	for n := range r.byName {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
