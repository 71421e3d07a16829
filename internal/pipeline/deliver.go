package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/wearbridge/wearbridge/internal/destination"
	"github.com/wearbridge/wearbridge/internal/secretbox"
	"github.com/wearbridge/wearbridge/internal/store"
)

// DelivererConfig configures a Deliverer. Zero values mean the defaults.
type DelivererConfig struct {
	// Owner names this replica in destination leases. Default: random.
	Owner string
	// BatchSize is how many events one delivery reads at most. Default 500.
	BatchSize int
	// PollInterval is how often a loop looks for events when nothing woke
	// it (events appended by another replica). Default 1 s.
	PollInterval time.Duration
	// LeaseTTL is how long a destination lease lasts without renewal.
	// Default 30 s.
	LeaseTTL time.Duration
	// RetryBase is the first retry delay; it doubles per failed try up to
	// RetryMax. Defaults 30 s and 1 h.
	RetryBase, RetryMax time.Duration
	// MaxAttempts is how many failed tries make a dead letter. Default 10.
	MaxAttempts int
	// Offload is handed to destinations for events too large for them.
	Offload destination.Offloader
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Now defaults to time.Now.
	Now func() time.Time
}

func (c *DelivererConfig) defaults() {
	if c.Owner == "" {
		c.Owner = "replica-" + secretbox.RandomToken(6)
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 500
	}
	if c.PollInterval <= 0 {
		c.PollInterval = time.Second
	}
	if c.LeaseTTL <= 0 {
		c.LeaseTTL = 30 * time.Second
	}
	if c.RetryBase <= 0 {
		c.RetryBase = 30 * time.Second
	}
	if c.RetryMax <= 0 {
		c.RetryMax = time.Hour
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 10
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Deliverer runs one delivery loop per enabled destination that this
// replica holds the lease of. A slow or failing destination only delays
// its own loop.
type Deliverer struct {
	cfg   DelivererConfig
	store *store.Store
	kinds *destination.Registry

	mu    sync.Mutex
	loops map[string]*loop
	errs  map[string]string // destination id -> why its loop cannot run
}

type loop struct {
	wake     chan struct{}
	cancel   context.CancelFunc
	done     chan struct{}
	settings []byte
	secret   string
}

// NewDeliverer returns a Deliverer. Call Run to start it.
func NewDeliverer(s *store.Store, kinds *destination.Registry, cfg DelivererConfig) *Deliverer {
	cfg.defaults()
	return &Deliverer{cfg: cfg, store: s, kinds: kinds, loops: map[string]*loop{}, errs: map[string]string{}}
}

// DeliveryID is the id a destination's receivers see for an event: the
// same for every try, restart and replay of that event to that destination.
func DeliveryID(destID string, seq int64) string { return fmt.Sprintf("%s-%d", destID, seq) }

// Notify wakes every delivery loop; the store calls it after a commit that
// appended events.
func (d *Deliverer) Notify() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, l := range d.loops {
		select {
		case l.wake <- struct{}{}:
		default:
		}
	}
}

// Run manages the loops until ctx ends, then stops them and releases
// their leases.
func (d *Deliverer) Run(ctx context.Context) error {
	t := time.NewTicker(d.cfg.LeaseTTL / 3)
	defer t.Stop()
	for {
		if err := d.sync(ctx); err != nil && ctx.Err() == nil {
			d.cfg.Logger.ErrorContext(ctx, "delivery: list destinations", "err", err)
		}
		select {
		case <-ctx.Done():
			d.stopAll()
			return nil
		case <-t.C:
		}
	}
}

// Sync starts loops for new destinations and stops those of removed,
// disabled or changed ones. Run calls it periodically; the API calls it
// after changing destinations.
func (d *Deliverer) sync(ctx context.Context) error {
	dests, err := d.store.EnabledDestinations(ctx)
	if err != nil {
		return err
	}
	want := make(map[string]store.Destination, len(dests))
	for _, dst := range dests {
		want[dst.ID] = dst
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for id, l := range d.loops {
		dst, ok := want[id]
		if !ok || !bytes.Equal(dst.Settings, l.settings) || dst.Secret != l.secret {
			l.cancel()
			delete(d.loops, id)
		}
	}
	for id, dst := range want {
		if _, running := d.loops[id]; running {
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		default:
		}
		lctx, cancel := context.WithCancel(context.WithoutCancel(ctx)) // loops outlive a caller's (request) ctx; stopAll ends them
		l := &loop{wake: make(chan struct{}, 1), cancel: cancel, done: make(chan struct{}), settings: dst.Settings, secret: dst.Secret}
		d.loops[id] = l
		go func() {
			defer close(l.done)
			d.runLoop(lctx, dst, l.wake)
			d.mu.Lock()
			if d.loops[id] == l {
				delete(d.loops, id)
			}
			d.mu.Unlock()
		}()
	}
	return nil
}

// Sync is the exported form of sync for callers that changed destinations.
func (d *Deliverer) Sync(ctx context.Context) error { return d.sync(ctx) }

func (d *Deliverer) stopAll() {
	d.mu.Lock()
	loops := make([]*loop, 0, len(d.loops))
	for _, l := range d.loops {
		l.cancel()
		loops = append(loops, l)
	}
	d.mu.Unlock()
	for _, l := range loops {
		<-l.done
	}
}

func (d *Deliverer) runLoop(ctx context.Context, dst store.Destination, wake <-chan struct{}) {
	log := d.cfg.Logger.With("destination_id", dst.ID, "kind", dst.Kind)
	ok, err := d.store.AcquireLease(ctx, dst.ID, d.cfg.Owner, d.cfg.LeaseTTL)
	if err != nil || !ok {
		if err != nil && ctx.Err() == nil {
			log.ErrorContext(ctx, "delivery: acquire lease", "err", err)
		}
		return
	}
	defer func() { _ = d.store.ReleaseLease(context.WithoutCancel(ctx), dst.ID, d.cfg.Owner) }()
	kind, ok := d.kinds.Get(dst.Kind)
	if !ok {
		log.ErrorContext(ctx, "delivery: unknown destination kind")
		return
	}
	target, err := kind.Open(ctx, destination.Config{ID: dst.ID, Kind: dst.Kind, Settings: dst.Settings, Secret: dst.Secret, Offload: d.cfg.Offload})
	if err != nil {
		log.ErrorContext(ctx, "delivery: open destination", "err", err)
		d.setErr(dst.ID, "cannot open the destination: "+err.Error())
		return
	}
	d.setErr(dst.ID, "")
	defer target.Close()
	cursor := dst.Cursor
	renewed := d.cfg.Now()
	poll := time.NewTimer(0)
	defer poll.Stop()
	for {
		if d.cfg.Now().Sub(renewed) > d.cfg.LeaseTTL/3 {
			if ok, err := d.store.AcquireLease(ctx, dst.ID, d.cfg.Owner, d.cfg.LeaseTTL); err != nil || !ok {
				if ctx.Err() == nil {
					log.WarnContext(ctx, "delivery: lease lost", "err", err)
				}
				return
			}
			renewed = d.cfg.Now()
		}
		worked, next, err := d.step(ctx, dst, target, &cursor, log)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if errors.Is(err, store.ErrLeaseLost) {
				log.WarnContext(ctx, "delivery: lease lost")
				return
			}
			log.ErrorContext(ctx, "delivery step failed", "err", err)
			next = d.cfg.PollInterval
		}
		if worked {
			continue
		}
		wait := d.cfg.PollInterval
		if next > 0 && next < wait {
			wait = next
		}
		poll.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-poll.C:
		}
	}
}

// step delivers due retries and then the next batch after the cursor. It
// reports whether it did anything, and when the next retry is due.
func (d *Deliverer) step(ctx context.Context, dst store.Destination, target destination.Destination, cursor *int64, log *slog.Logger) (bool, time.Duration, error) {
	worked := false
	now := d.cfg.Now()
	due, err := d.store.DueRetries(ctx, dst.ID, now, d.cfg.BatchSize)
	if err != nil {
		return false, 0, err
	}
	if len(due) > 0 {
		worked = true
		seqs := make([]int64, len(due))
		attempts := make(map[int64]int, len(due))
		for i, r := range due {
			seqs[i] = r.Seq
			attempts[r.Seq] = r.Attempts
		}
		all, err := d.store.EventsBySeq(ctx, seqs)
		if err != nil {
			return false, 0, err
		}
		// A replay may name events the destination does not take: they
		// are settled without a delivery.
		var ok []int64
		evs := all[:0:0]
		for _, ev := range all {
			if dst.Wants(ev.Type) {
				evs = append(evs, ev)
			} else {
				ok = append(ok, ev.Seq)
			}
		}
		results := d.deliver(ctx, dst, target, evs)
		var failed []store.Failure
		for i, ev := range evs {
			if results[i].Err == nil {
				ok = append(ok, ev.Seq)
				continue
			}
			failed = append(failed, d.failure(ev.Seq, attempts[ev.Seq]+1, results[i]))
		}
		d.logFailures(ctx, log, failed)
		if err := d.store.SettleRetries(ctx, dst.ID, ok, failed); err != nil {
			return false, 0, err
		}
	}
	evs, err := d.store.EventsAfter(ctx, dst.DeveloperID, *cursor, d.cfg.BatchSize)
	if err != nil {
		return worked, 0, err
	}
	if len(evs) > 0 {
		worked = true
		wanted := evs[:0:0]
		for _, ev := range evs {
			if dst.Wants(ev.Type) {
				wanted = append(wanted, ev)
			}
		}
		var failed []store.Failure
		if len(wanted) > 0 {
			results := d.deliver(ctx, dst, target, wanted)
			for i, ev := range wanted {
				if results[i].Err != nil {
					failed = append(failed, d.failure(ev.Seq, 1, results[i]))
				}
			}
		}
		d.logFailures(ctx, log, failed)
		last := evs[len(evs)-1].Seq
		if err := d.store.Advance(ctx, dst.ID, d.cfg.Owner, last, failed); err != nil {
			return worked, 0, err
		}
		*cursor = last
	}
	if worked {
		return true, 0, nil
	}
	return false, 0, nil
}

func (d *Deliverer) deliver(ctx context.Context, dst store.Destination, target destination.Destination, evs []store.Event) []destination.Result {
	batch := make([]destination.Event, len(evs))
	for i, ev := range evs {
		batch[i] = destination.Event{Seq: ev.Seq, DeliveryID: DeliveryID(dst.ID, ev.Seq), Type: ev.Type, UserID: ev.UserID, Provider: ev.Provider,
			RecordKey: ev.RecordKey, Version: ev.Version, Start: ev.Start, End: ev.End, CreatedAt: ev.CreatedAt, Body: ev.Body}
	}
	results := target.Deliver(ctx, batch)
	if len(results) != len(batch) {
		// A destination that breaks its contract fails the whole batch
		// rather than losing events.
		results = make([]destination.Result, len(batch))
		for i := range results {
			results[i].Err = fmt.Errorf("destination %s returned %d results for %d events", dst.Kind, len(results), len(batch))
		}
	}
	return results
}

func (d *Deliverer) failure(seq int64, attempts int, r destination.Result) store.Failure {
	delay := d.cfg.RetryBase
	for i := 1; i < attempts && delay < d.cfg.RetryMax; i++ {
		delay *= 2
	}
	delay = min(delay, d.cfg.RetryMax)
	if r.RetryAfter > delay {
		delay = r.RetryAfter
	}
	return store.Failure{
		Seq: seq, Attempts: attempts, NextTry: d.cfg.Now().Add(delay), Err: truncate(r.Err.Error(), 1000),
		Dead: r.Permanent || attempts >= d.cfg.MaxAttempts,
	}
}

func (d *Deliverer) logFailures(ctx context.Context, log *slog.Logger, failed []store.Failure) {
	for _, f := range failed {
		if f.Dead {
			log.WarnContext(ctx, "delivery: dead letter", "seq", f.Seq, "attempts", f.Attempts, "err", f.Err)
		} else {
			log.InfoContext(ctx, "delivery: will retry", "seq", f.Seq, "attempts", f.Attempts, "next_try", f.NextTry, "err", f.Err)
		}
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func (d *Deliverer) setErr(id, msg string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if msg == "" {
		delete(d.errs, id)
	} else {
		d.errs[id] = msg
	}
}

// Problem returns why this replica cannot deliver to a destination (it
// cannot be opened), or "" when nothing is known to be wrong.
func (d *Deliverer) Problem(id string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.errs[id]
}
