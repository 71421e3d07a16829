package kafka

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/wearbridge/wearbridge/internal/destination"
)

// ReadBack returns the value of the topic's first record carrying ev's
// delivery id (the envelope, or the s3_payload event that stood in for
// it), or destination.ErrNotFound. It reads the whole topic, from its first
// offsets to the ends it finds when it starts, within the kind's timeout,
// so it is meant for tests and demos, not for large topics.
func (d *Kafka) ReadBack(ctx context.Context, ev destination.Event) (json.RawMessage, error) {
	var found json.RawMessage
	err := d.scan(ctx, func(r *kgo.Record) bool {
		if header(r, headerDeliveryID) != ev.DeliveryID {
			return false
		}
		found = json.RawMessage(r.Value)
		return true
	})
	if err != nil {
		return nil, err
	}
	if found == nil {
		return nil, destination.ErrNotFound
	}
	return found, nil
}

// header returns the value of a record's header called key ("" if none).
func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// scan reads the topic from its start offsets to the end offsets it has
// when scan begins, calling visit on each record until visit returns true.
func (d *Kafka) scan(ctx context.Context, visit func(r *kgo.Record) bool) error {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	if err := d.ensureTopic(ctx); err != nil {
		return err
	}
	starts, err := d.adm.ListStartOffsets(ctx, d.topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return d.explain("read back: list start offsets", err)
	}
	ends, err := d.adm.ListEndOffsets(ctx, d.topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return d.explain("read back: list end offsets", err)
	}
	end := map[int32]int64{} // partitions left to read, to their end offset
	from := map[int32]kgo.Offset{}
	ends.Each(func(o kadm.ListedOffset) {
		s, ok := starts.Lookup(d.topic, o.Partition)
		if ok && o.Offset > s.Offset {
			end[o.Partition] = o.Offset
			from[o.Partition] = kgo.NewOffset().At(s.Offset)
		}
	})
	if len(end) == 0 {
		return nil
	}
	opts := append(append([]kgo.Opt(nil), d.connOpts...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{d.topic: from}))
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("kafka: read back: %w", d.scrub(err))
	}
	defer cl.Close()
	for len(end) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return d.explain(fmt.Sprintf("read back: %d partitions not read to the end", len(end)), ctx.Err())
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) {
			if ferr == nil && !errors.Is(err, context.Canceled) {
				ferr = err
			}
		})
		if ferr != nil {
			return d.explain("read back", ferr)
		}
		stop := false
		fs.EachRecord(func(r *kgo.Record) {
			if stop {
				return
			}
			if visit(r) {
				stop = true
				return
			}
			if e, ok := end[r.Partition]; ok && r.Offset+1 >= e {
				delete(end, r.Partition)
			}
		})
		if stop {
			return nil
		}
	}
	return nil
}
