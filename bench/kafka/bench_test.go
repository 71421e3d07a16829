package kafkabench

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/wearbridge/wearbridge/internal/destination"
	"github.com/wearbridge/wearbridge/internal/destination/kafka"
	"github.com/wearbridge/wearbridge/internal/signature"
)

// Benchmark size: records, and records per Deliver (and ProduceSync) call.
const (
	records   = 100_000
	batchSize = 500
)

// sleepBody is a WHOOP sleep envelope copied from a demo delivery; the
// generator changes its user id, summary id and score per record.
const sleepBody = `{"type":"sleep","user":{"user_id":"bc6cf053-f1cc-43f8-bbc6-250d047fef4c","provider":"WHOOP","created_at":"2026-12-03T17:27:16.786000+00:00","last_webhook_update":"2026-12-03T17:27:21.879687+00:00","scopes":"offline,read:recovery,read:cycles,read:sleep,read:workout,read:profile,read:body_measurement","reference_id":"demo-whoop","active":true},"data":[{"metadata":{"end_time":"2022-04-24T05:25:44.774000-05:00","is_nap":false,"start_time":"2022-04-23T21:25:44.774000-05:00","summary_id":"ecfc6a15-4661-442f-a9a4-f160dd7afae8","upload_type":2},"respiration_data":{"breaths_data":{"avg_breaths_per_min":16.11328125,"start_time":"2022-04-23T21:25:44.774000-05:00","end_time":"2022-04-24T05:25:44.774000-05:00"}},"scores":{"sleep":98},"sleep_durations_data":{"asleep":{"duration_asleep_state_seconds":27415.794,"duration_deep_sleep_state_seconds":6630.37,"duration_light_sleep_state_seconds":14905.851,"duration_REM_sleep_state_seconds":5879.573},"awake":{"duration_awake_state_seconds":1403.507,"num_wakeup_events":12},"other":{"duration_in_bed_seconds":30272.735,"duration_unmeasurable_sleep_seconds":0},"sleep_efficiency":91.69533848}}],"version":"2022-03-16"}`

const secret = "whsec_bench"

// generate returns n sleep events, each about a different user.
func generate(n int) []destination.Event {
	created := time.Date(2026, 12, 3, 17, 30, 0, 0, time.UTC)
	evs := make([]destination.Event, n)
	for i := range evs {
		user := fmt.Sprintf("%08x-0000-4000-8000-%012x", rand.Uint32(), i)
		key := fmt.Sprintf("%08x-1111-4000-8000-%012x", rand.Uint32(), i)
		body := strings.Replace(sleepBody, "bc6cf053-f1cc-43f8-bbc6-250d047fef4c", user, 1)
		body = strings.Replace(body, "ecfc6a15-4661-442f-a9a4-f160dd7afae8", key, 1)
		body = strings.Replace(body, `"scores":{"sleep":98}`, `"scores":{"sleep":`+strconv.Itoa(50+i%50)+`}`, 1)
		evs[i] = destination.Event{
			Seq: int64(i + 1), DeliveryID: "dst_bench-" + strconv.Itoa(i+1), Type: "sleep", UserID: user, Provider: "WHOOP",
			RecordKey: key, Version: 1, CreatedAt: created, Body: json.RawMessage(body),
		}
	}
	return evs
}

// rawRecords returns the records Deliver would produce for evs (same key,
// value and headers), built before the clock starts.
func rawRecords(evs []destination.Event, topic string, now time.Time) []*kgo.Record {
	rs := make([]*kgo.Record, len(evs))
	for i, ev := range evs {
		rs[i] = &kgo.Record{Topic: topic, Key: []byte(ev.UserID), Value: ev.Body, Headers: []kgo.RecordHeader{
			{Key: "type", Value: []byte(ev.Type)},
			{Key: "delivery_id", Value: []byte(ev.DeliveryID)},
			{Key: "signature", Value: []byte(signature.Sign(secret, now, ev.Body))},
			{Key: "user_id", Value: []byte(ev.UserID)},
			{Key: "record_key", Value: []byte(ev.RecordKey)},
			{Key: "version", Value: []byte(strconv.Itoa(ev.Version))},
		}}
	}
	return rs
}

// BenchmarkDeliverVsProduceSync reports records/s for the kafka kind's
// Deliver and for franz-go's ProduceSync of the same records, and
// deliver/raw. Each iteration uses fresh topics; run it with -benchtime 1x.
func BenchmarkDeliverVsProduceSync(b *testing.B) {
	env := os.Getenv("TEST_KAFKA_BROKERS")
	if env == "" {
		b.Skip("needs TEST_KAFKA_BROKERS (eval \"$(scripts/test-servers up)\")")
	}
	brokers := strings.Split(env, ",")
	evs := generate(records)
	warm := generate(batchSize) // sent before each clock starts
	total := 0
	for _, ev := range evs {
		total += len(ev.Body)
	}
	b.Logf("%d sleep records, each about a different user, envelopes %.0f bytes on average", len(evs), float64(total)/float64(len(evs)))

	for b.Loop() {
		ctx := context.Background()
		admCl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
		if err != nil {
			b.Fatal(err)
		}
		adm := kadm.NewClient(admCl)
		suffix := fmt.Sprintf("%08x", rand.Uint32())
		topics := []string{"wbbench-deliver-" + suffix, "wbbench-raw-" + suffix, "wbbench-raw1-" + suffix, "wbbench-rawsign-" + suffix}
		for _, tp := range topics {
			if resp, err := adm.CreateTopic(ctx, 3, 1, nil, tp); err != nil || resp.Err != nil {
				b.Fatalf("create topic %s: %v %v", tp, err, resp.Err)
			}
		}

		deliverRate := deliver(b, ctx, brokers, topics[0], warm, evs)
		now := time.Now()
		rawRate := produce(b, ctx, brokers, rawRecords(warm, topics[1], now), rawRecords(evs, topics[1], now), batchSize)
		oneRate := produce(b, ctx, brokers, rawRecords(warm, topics[2], now), rawRecords(evs, topics[2], now), len(evs))
		signRate := produceSigning(b, ctx, brokers, topics[3], warm, evs)

		for _, tp := range topics {
			ends, err := adm.ListEndOffsets(ctx, tp)
			if err != nil {
				b.Fatal(err)
			}
			var n int64
			ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
			if want := int64(len(warm) + len(evs)); n != want {
				b.Errorf("topic %s holds %d records, want %d", tp, n, want)
			}
		}
		_, _ = adm.DeleteTopics(ctx, topics...)
		admCl.Close()

		b.ReportMetric(deliverRate.perSec, "deliver_rec/s")
		b.ReportMetric(rawRate.perSec, "producesync500_rec/s")
		b.ReportMetric(oneRate.perSec, "producesync_all_rec/s")
		b.ReportMetric(signRate.perSec, "producesync500_signing_rec/s")
		b.ReportMetric(deliverRate.perSec/rawRate.perSec, "deliver/raw")
		avg := float64(total) / float64(len(evs))
		b.Logf("Deliver, %d per call:          %8.0f records/s (%5.1f MB/s), CPU %5.1f µs/record", batchSize, deliverRate.perSec, deliverRate.perSec*avg/1e6, us(deliverRate.cpu))
		b.Logf("ProduceSync, %d per call:      %8.0f records/s (%5.1f MB/s), CPU %5.1f µs/record", batchSize, rawRate.perSec, rawRate.perSec*avg/1e6, us(rawRate.cpu))
		b.Logf("ProduceSync, all in one call:  %8.0f records/s (%5.1f MB/s), CPU %5.1f µs/record", oneRate.perSec, oneRate.perSec*avg/1e6, us(oneRate.cpu))
		b.Logf("ProduceSync, %d, signing too:  %8.0f records/s (%5.1f MB/s), CPU %5.1f µs/record", batchSize, signRate.perSec, signRate.perSec*avg/1e6, us(signRate.cpu))
		b.Logf("Deliver / ProduceSync(%d):     %.2f", batchSize, deliverRate.perSec/rawRate.perSec)
	}
}

// us is d in microseconds.
func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// cpuTime is the process's user plus system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rate is one path's throughput and CPU cost.
type rate struct {
	perSec float64       // records per second
	cpu    time.Duration // process CPU per record
}

// deliver sends warm and then evs through the kafka kind, batchSize per
// call, and returns records/s of evs.
func deliver(b *testing.B, ctx context.Context, brokers []string, topic string, warm, evs []destination.Event) rate {
	settings, _ := json.Marshal(kafka.Settings{Brokers: brokers, Topic: topic})
	d, err := kafka.NewKind(kafka.Options{}).Open(ctx, destination.Config{ID: "dst_bench", Kind: kafka.KindName, Settings: settings, Secret: secret})
	if err != nil {
		b.Fatalf("open: %v", err)
	}
	defer d.Close()
	send := func(batch []destination.Event) {
		for j, r := range d.Deliver(ctx, batch) {
			if r.Err != nil {
				b.Fatalf("deliver %s: %v", batch[j].DeliveryID, r.Err)
			}
		}
	}
	send(warm)
	runtime.GC()
	start, cpu := time.Now(), cpuTime()
	for i := 0; i < len(evs); i += batchSize {
		send(evs[i:min(i+batchSize, len(evs))])
	}
	return rate{float64(len(evs)) / time.Since(start).Seconds(), (cpuTime() - cpu) / time.Duration(len(evs))}
}

// produce sends warm and then rs with kgo's ProduceSync, per calls of size,
// with the kind's producer settings, and returns records/s of rs.
func produce(b *testing.B, ctx context.Context, brokers []string, warm, rs []*kgo.Record, size int) rate {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerBatchCompression(kgo.SnappyCompression()), kgo.ProducerBatchMaxBytes(1_000_000))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx, warm...).FirstErr(); err != nil {
		b.Fatalf("produce: %v", err)
	}
	runtime.GC()
	start, cpu := time.Now(), cpuTime()
	for i := 0; i < len(rs); i += size {
		if err := cl.ProduceSync(ctx, rs[i:min(i+size, len(rs))]...).FirstErr(); err != nil {
			b.Fatalf("produce: %v", err)
		}
	}
	return rate{float64(len(rs)) / time.Since(start).Seconds(), (cpuTime() - cpu) / time.Duration(len(rs))}
}

// produceSigning is produce with batches of batchSize whose records are
// built, signature included, inside the timed loop: what Deliver does
// without its checks and bookkeeping.
func produceSigning(b *testing.B, ctx context.Context, brokers []string, topic string, warm, evs []destination.Event) rate {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerBatchCompression(kgo.SnappyCompression()), kgo.ProducerBatchMaxBytes(1_000_000))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx, rawRecords(warm, topic, time.Now())...).FirstErr(); err != nil {
		b.Fatalf("produce: %v", err)
	}
	runtime.GC()
	start, cpu := time.Now(), cpuTime()
	for i := 0; i < len(evs); i += batchSize {
		rs := rawRecords(evs[i:min(i+batchSize, len(evs))], topic, time.Now())
		if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			b.Fatalf("produce: %v", err)
		}
	}
	return rate{float64(len(evs)) / time.Since(start).Seconds(), (cpuTime() - cpu) / time.Duration(len(evs))}
}
