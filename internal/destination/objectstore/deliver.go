package objectstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/wearbridge/wearbridge/internal/destination"
)

// Deliver writes one object per event, DefaultConcurrency at a time, and
// returns one result per event, in order. Events that cannot be named
// (no user, bad type, body not JSON) fail permanently; so do writes the
// store refuses for good (refused credentials, a rejected request).
// Unreachable stores, timeouts, throttling, server errors and a missing
// bucket are retryable. Of several events for one record in a batch only
// the highest version is written; the others succeed with it.
func (d *Dest) Deliver(ctx context.Context, events []destination.Event) []destination.Result {
	results := make([]destination.Result, len(events))
	if len(events) == 0 {
		return results
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()

	type job struct {
		it  item
		idx int
	}
	var jobs []job
	best := map[[3]string]int{} // (type, user, record key) -> index in jobs
	for i := range events {
		it, err := d.prepare(&events[i])
		if err != nil {
			results[i] = destination.Result{Err: fmt.Errorf("%s: %w", d.kind, err), Permanent: true}
			continue
		}
		if !it.data {
			jobs = append(jobs, job{it, i})
			continue
		}
		id := [3]string{it.ev.Type, it.userID, it.ev.RecordKey}
		if k, ok := best[id]; ok {
			if it.ev.Version >= jobs[k].it.ev.Version {
				jobs[k] = job{it, i} // the superseded event keeps its nil result
			}
			continue
		}
		best[id] = len(jobs)
		jobs = append(jobs, job{it, i})
	}

	b := &batch{d: d, lists: map[string]*listing{}}
	sem := make(chan struct{}, d.concurrency)
	var wg sync.WaitGroup
	failed := 0
	var mu sync.Mutex
	for _, j := range jobs {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			results[j.idx] = destination.Result{Err: fmt.Errorf("%s: event %s not written: %w", d.kind, j.it.ev.DeliveryID, context.Cause(ctx))}
			mu.Lock()
			failed++
			mu.Unlock()
			continue
		}
		wg.Go(func() {
			defer func() { <-sem }()
			var err error
			if j.it.data {
				err = b.writeRecord(ctx, &j.it)
			} else {
				err = d.store.Put(ctx, j.it.name, j.it.ev.Body, j.it.meta, Cond{})
			}
			if err != nil {
				results[j.idx] = d.result(j.it.ev, err)
				mu.Lock()
				failed++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if failed > 0 {
		d.log.DebugContext(ctx, "object delivery failed in part", "events", len(events), "failed", failed, "duration", time.Since(start))
	} else {
		d.log.DebugContext(ctx, "objects delivered", "events", len(events), "duration", time.Since(start))
	}
	return results
}

// result classifies a failed write of ev.
func (d *Dest) result(ev *destination.Event, err error) destination.Result {
	res := destination.Result{Err: fmt.Errorf("%s: event %s: %w", d.kind, ev.DeliveryID, err)}
	var e *Error
	if errors.As(err, &e) {
		res.Permanent = e.Permanent
		res.RetryAfter = e.RetryAfter
	}
	return res
}

// batch holds what one Deliver call learnt about the store: the listings
// of the (user, type) folders, fetched once each.
type batch struct {
	d     *Dest
	mu    sync.Mutex
	lists map[string]*listing
}

// listing is the names in one folder.
type listing struct {
	once  sync.Once
	names []string
	err   error
}

// folder returns the names under prefix, listing them on first use.
func (b *batch) folder(ctx context.Context, prefix string) ([]string, error) {
	b.mu.Lock()
	l, ok := b.lists[prefix]
	if !ok {
		l = &listing{}
		b.lists[prefix] = l
	}
	b.mu.Unlock()
	l.once.Do(func() {
		l.err = b.d.store.List(ctx, prefix, func(name string) error {
			l.names = append(l.names, name)
			return nil
		})
	})
	return l.names, l.err
}

// other is an object of a record under another start time.
type other struct {
	name    string
	token   string
	version int
}

// others returns the record's objects under names other than it.name.
func (b *batch) others(ctx context.Context, it *item) ([]other, error) {
	names, err := b.folder(ctx, it.folder)
	if err != nil {
		return nil, fmt.Errorf("find earlier objects of record %s: %w", it.ev.RecordKey, err)
	}
	var out []other
	for _, n := range names {
		if n == it.name || !sameRecord(it, n) {
			continue
		}
		a, err := b.d.store.Head(ctx, n)
		if errors.Is(err, destination.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, other{name: n, token: a.Token, version: b.d.storedVersion(a)})
	}
	return out, nil
}

// writeRecord writes a data event unless the store holds a newer version
// of its record, then deletes the record's objects under other names.
func (b *batch) writeRecord(ctx context.Context, it *item) error {
	d := b.d
	olds, err := b.others(ctx, it)
	if err != nil {
		return err
	}
	for _, o := range olds {
		if o.version > it.ev.Version {
			d.log.DebugContext(ctx, "stale event skipped", "delivery_id", it.ev.DeliveryID, "version", it.ev.Version, "stored", o.version, "object", o.name)
			return nil
		}
	}
	for range maxConflicts {
		a, err := d.store.Head(ctx, it.name)
		var cond Cond
		switch {
		case errors.Is(err, destination.ErrNotFound):
			cond.IfAbsent = true
		case err != nil:
			return err
		default:
			if v := d.storedVersion(a); v > it.ev.Version {
				d.log.DebugContext(ctx, "stale event skipped", "delivery_id", it.ev.DeliveryID, "version", it.ev.Version, "stored", v)
				return nil
			}
			cond.IfToken = a.Token
		}
		err = d.store.Put(ctx, it.name, it.ev.Body, it.meta, cond)
		if errors.Is(err, ErrConflict) {
			continue
		}
		if err != nil {
			return err
		}
		for _, o := range olds {
			err := d.store.Delete(ctx, o.name, o.token)
			if err != nil && !errors.Is(err, destination.ErrNotFound) && !errors.Is(err, ErrConflict) {
				return fmt.Errorf("written, but deleting the record's object under its old start time failed: %w", err)
			}
		}
		return nil
	}
	return &Error{Msg: fmt.Sprintf("put %s: the object kept changing while it was written (%d attempts)", it.name, maxConflicts), Err: ErrConflict}
}

// ReadBack returns the envelope stored for ev: the record's object for a
// data event (under whichever start time it is stored), the event's own
// object otherwise; destination.ErrNotFound if there is none.
func (d *Dest) ReadBack(ctx context.Context, ev destination.Event) (json.RawMessage, error) {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	it, err := d.prepare(&ev)
	if err != nil {
		return nil, fmt.Errorf("%s: read back: %w", d.kind, err)
	}
	body, err := d.store.Get(ctx, it.name)
	if err == nil {
		return body, nil
	}
	if !it.data || !errors.Is(err, destination.ErrNotFound) {
		return nil, fmt.Errorf("%s: read back: %w", d.kind, err)
	}
	b := &batch{d: d, lists: map[string]*listing{}}
	names, err := b.folder(ctx, it.folder)
	if err != nil {
		return nil, fmt.Errorf("%s: read back: %w", d.kind, err)
	}
	for _, n := range names {
		if !sameRecord(&it, n) {
			continue
		}
		body, err := d.store.Get(ctx, n)
		if errors.Is(err, destination.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s: read back: %w", d.kind, err)
		}
		return body, nil
	}
	return nil, destination.ErrNotFound
}

// RemoveHealthcheck deletes the object of a healthcheck event;
// destination.ErrNotFound if there is none.
func (d *Dest) RemoveHealthcheck(ctx context.Context, ev destination.Event) error {
	if ev.Type != "healthcheck" || ev.RecordKey != "" {
		return fmt.Errorf("%s: remove healthcheck: event %s is a %s event", d.kind, ev.DeliveryID, ev.Type)
	}
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	it, err := d.prepare(&ev)
	if err != nil {
		return fmt.Errorf("%s: remove healthcheck: %w", d.kind, err)
	}
	// Some stores answer a delete of a missing object with success, so
	// look first.
	a, err := d.store.Head(ctx, it.name)
	if errors.Is(err, destination.ErrNotFound) {
		return destination.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("%s: remove healthcheck: %w", d.kind, err)
	}
	err = d.store.Delete(ctx, it.name, a.Token)
	if err != nil && !errors.Is(err, ErrConflict) {
		if errors.Is(err, destination.ErrNotFound) {
			return destination.ErrNotFound
		}
		return fmt.Errorf("%s: remove healthcheck: %w", d.kind, err)
	}
	return nil
}
