package kafka

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/wearbridge/wearbridge/internal/destination"
	"github.com/wearbridge/wearbridge/internal/destination/offload"
	"github.com/wearbridge/wearbridge/internal/signature"
)

// Record header names.
const (
	headerType       = "type"
	headerDeliveryID = "delivery_id"
	headerSignature  = "signature"
	headerUserID     = "user_id"
	headerRecordKey  = "record_key"
	headerVersion    = "version"
)

// Wire overheads used to tell whether a record fits in max_message_bytes:
// a record batch's header, and the most one record's varints (length,
// attributes, timestamp and offset deltas, key and value lengths, header
// count) and one header's varints can take.
const (
	batchOverhead  = 65
	recordOverhead = 36
	headerOverhead = 10
)

// Deliver produces events in one ProduceSync call, which returns when each
// record is acknowledged (acks=all) or has failed, at the latest when the
// kind's timeout ends; it returns one result per event, in order.
func (d *Kafka) Deliver(ctx context.Context, events []destination.Event) []destination.Result {
	results := make([]destination.Result, len(events))
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	err := d.ensureTopic(ctx)
	if err == nil && d.suspect.Load() {
		// The last delivery found the brokers unreachable: fail fast while
		// they still refuse connections.
		err = d.probe(ctx)
	}
	if err != nil {
		res := destination.Result{Err: err, Permanent: isAuth(err)}
		if parent.Err() != nil {
			res.Err = fmt.Errorf("kafka: not sent: %w", context.Cause(parent))
		}
		for i := range results {
			results[i] = res
		}
		return results
	}
	start := time.Now()
	batch := make([]*kgo.Record, 0, len(events))
	index := make(map[*kgo.Record]int, len(events)) // record -> event
	for i := range events {
		r, fail := d.record(ctx, &events[i])
		if fail != nil {
			results[i] = *fail
			continue
		}
		batch = append(batch, r)
		index[r] = i
	}
	// ProduceSync returns when every record is acknowledged or failed;
	// records fail when ctx ends (AllowIdempotentProduceCancellation).
	for _, pr := range d.client.ProduceSync(ctx, batch...) {
		if i, ok := index[pr.Record]; ok {
			results[i] = d.recordResult(parent, pr.Err)
			delete(index, pr.Record)
		}
	}
	for _, i := range index {
		results[i] = destination.Result{Err: fmt.Errorf("kafka: produce to topic %q: the client gave no result for the record", d.topic)}
	}
	failed, down, noTopic := 0, false, false
	for _, r := range results {
		if err := r.Err; err != nil {
			failed++
			down = down || unreachable(err)
			noTopic = noTopic || isUnknownTopic(err)
		}
	}
	d.suspect.Store(down && parent.Err() == nil)
	if noTopic {
		// Deleted since it was checked: forget what the client knows of it
		// (a recreated topic has a new id) and check (or create) it again.
		d.client.PurgeTopicsFromClient(d.topic)
		d.readyMu.Lock()
		d.ready = false
		d.readyMu.Unlock()
	}
	d.log.DebugContext(ctx, "kafka delivered", "events", len(events), "failed", failed, "duration", time.Since(start))
	return results
}

// record builds the record for ev, offloading its value if it is too large.
// A non-nil result is ev's failure.
func (d *Kafka) record(ctx context.Context, ev *destination.Event) (*kgo.Record, *destination.Result) {
	fail := func(permanent bool, format string, args ...any) (*kgo.Record, *destination.Result) {
		err := fmt.Errorf("kafka: event %s: "+format, append([]any{ev.DeliveryID}, args...)...)
		return nil, &destination.Result{Err: err, Permanent: permanent}
	}
	if ev.DeliveryID == "" {
		return fail(true, "no delivery id")
	}
	// The core marshals every body; a full validation would cost more
	// than the rest of the delivery.
	if len(ev.Body) == 0 || ev.Body[0] != '{' {
		return fail(true, "body is not a JSON object")
	}
	key := ev.UserID
	if key == "" {
		key = ev.Type
	}
	value := []byte(ev.Body)
	r := &kgo.Record{Key: []byte(key), Value: value, Headers: d.headers(ev, ev.Type, value)}
	if size := recordSize(r); size > d.maxBytes {
		if d.offload == nil {
			return fail(true, "record of %d bytes is over max_message_bytes %d, and no offloader is configured", size, d.maxBytes)
		}
		link, err := d.offload.Offload(ctx, *ev)
		if err != nil {
			return fail(false, "offload %d-byte record: %w", size, err)
		}
		value, err = offload.PayloadBody(ev.Body, link, d.now())
		if err != nil {
			return fail(true, "offload: %w", err)
		}
		r.Value, r.Headers = value, d.headers(ev, "s3_payload", value)
		if size := recordSize(r); size > d.maxBytes {
			return fail(true, "the s3_payload record standing in for it is %d bytes, over max_message_bytes %d", size, d.maxBytes)
		}
	}
	r.Context = ctx
	return r, nil
}

// headers returns the headers of ev's record whose value, of type typ, is
// value.
func (d *Kafka) headers(ev *destination.Event, typ string, value []byte) []kgo.RecordHeader {
	h := make([]kgo.RecordHeader, 0, 6)
	add := func(k, v string) { h = append(h, kgo.RecordHeader{Key: k, Value: []byte(v)}) }
	add(headerType, typ)
	add(headerDeliveryID, ev.DeliveryID)
	add(headerSignature, signature.Sign(d.secret, d.now(), value))
	if ev.UserID != "" {
		add(headerUserID, ev.UserID)
	}
	if ev.RecordKey != "" {
		add(headerRecordKey, ev.RecordKey)
		add(headerVersion, strconv.Itoa(ev.Version))
	}
	return h
}

// recordSize is an upper bound of the size of a batch holding r alone.
func recordSize(r *kgo.Record) int {
	n := batchOverhead + recordOverhead + len(r.Key) + len(r.Value)
	for _, h := range r.Headers {
		n += headerOverhead + len(h.Key) + len(h.Value)
	}
	return n
}
