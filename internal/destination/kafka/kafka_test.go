package kafka

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/wearbridge/wearbridge/internal/destination"
	"github.com/wearbridge/wearbridge/internal/destination/offload"
	"github.com/wearbridge/wearbridge/internal/model/terraschema"
	"github.com/wearbridge/wearbridge/internal/signature"
)

// Envelopes copied from the bodies `go run ./cmd/wearbridge demo --out DIR`
// delivered (a WHOOP sleep, an Oura daily and a Garmin auth event).
const (
	sleepBody = `{"type":"sleep","user":{"user_id":"bc6cf053-f1cc-43f8-bbc6-250d047fef4c","provider":"WHOOP","created_at":"2026-12-03T17:27:16.786000+00:00","last_webhook_update":"2026-12-03T17:27:21.879687+00:00","scopes":"offline,read:recovery,read:cycles,read:sleep,read:workout,read:profile,read:body_measurement","reference_id":"demo-whoop","active":true},"data":[{"metadata":{"end_time":"2022-04-24T05:25:44.774000-05:00","is_nap":false,"start_time":"2022-04-23T21:25:44.774000-05:00","summary_id":"ecfc6a15-4661-442f-a9a4-f160dd7afae8","upload_type":2},"respiration_data":{"breaths_data":{"avg_breaths_per_min":16.11328125,"start_time":"2022-04-23T21:25:44.774000-05:00","end_time":"2022-04-24T05:25:44.774000-05:00"}},"scores":{"sleep":98},"sleep_durations_data":{"asleep":{"duration_asleep_state_seconds":27415.794,"duration_deep_sleep_state_seconds":6630.37,"duration_light_sleep_state_seconds":14905.851,"duration_REM_sleep_state_seconds":5879.573},"awake":{"duration_awake_state_seconds":1403.507,"num_wakeup_events":12},"other":{"duration_in_bed_seconds":30272.735,"duration_unmeasurable_sleep_seconds":0},"sleep_efficiency":91.69533848}}],"version":"2022-03-16"}`
	dailyBody = `{"type":"daily","user":{"user_id":"d02d7271-066c-41d5-8cdc-f9ad96622f2d","provider":"OURA","created_at":"2026-12-03T17:27:14.536000+00:00","last_webhook_update":"2026-12-03T17:27:17.077268+00:00","reference_id":"demo-oura","active":true},"data":[{"metadata":{"end_time":"2024-11-13T00:00:00.000000+01:00","start_time":"2024-11-12T00:00:00.000000+01:00","upload_type":1},"oxygen_data":{"avg_saturation_percentage":96.153},"scores":{"recovery":87,"sleep":83}}],"version":"2022-03-16"}`
	authBody  = `{"message":"User has successfully authenticated","reference_id":"demo-garmin","status":"success","type":"auth","user":{"user_id":"f9951beb-501b-48a8-869f-57304cefbfbd","provider":"GARMIN","created_at":"2026-12-03T17:27:14.444000+00:00","scopes":"PARTNER_WRITE,PARTNER_READ,CONNECT_READ,CONNECT_WRITE","reference_id":"demo-garmin","active":true},"version":"2022-03-16"}`
	hcBody    = `{"type":"healthcheck","status":"success","message":"wearbridge destination test","creation_timestamp":"2026-12-03T17:30:00.000000+00:00","version":"2022-03-16"}`
)

// Identities of the envelopes above, read from them by hand.
const (
	whoopUser = "bc6cf053-f1cc-43f8-bbc6-250d047fef4c" // sleepBody user.user_id
	sleepKey  = "ecfc6a15-4661-442f-a9a4-f160dd7afae8" // sleepBody data[0].metadata.summary_id
	ouraUser  = "d02d7271-066c-41d5-8cdc-f9ad96622f2d" // dailyBody user.user_id
	dailyKey  = "2024-11-12"                           // the day of dailyBody data[0].metadata.start_time
	garmin    = "f9951beb-501b-48a8-869f-57304cefbfbd" // authBody user.user_id
	// sleepUser is sleepBody's user object, verbatim.
	sleepUser = `{"user_id":"bc6cf053-f1cc-43f8-bbc6-250d047fef4c","provider":"WHOOP","created_at":"2026-12-03T17:27:16.786000+00:00","last_webhook_update":"2026-12-03T17:27:21.879687+00:00","scopes":"offline,read:recovery,read:cycles,read:sleep,read:workout,read:profile,read:body_measurement","reference_id":"demo-whoop","active":true}`
)

const (
	testSecret = "whsec_kafka_test"
	testPass   = "s3cr3t-Kafka-pass-do-not-show"
)

// fixedNow is the clock the kind signs with in these tests:
// 2026-12-03T17:30:00Z, 1796319000 unix seconds.
var fixedNow = time.Date(2026, 12, 3, 17, 30, 0, 0, time.UTC)

func sleepEvent(v int, dlv string) destination.Event {
	body := sleepBody
	if v > 1 {
		body = strings.Replace(body, `"scores":{"sleep":98}`, fmt.Sprintf(`"scores":{"sleep":%d}`, 97+v), 1)
	}
	return destination.Event{
		Seq: int64(10 + v), DeliveryID: dlv, Type: "sleep", UserID: whoopUser, Provider: "WHOOP",
		RecordKey: sleepKey, Version: v, CreatedAt: fixedNow, Body: json.RawMessage(body),
	}
}

func dailyEvent() destination.Event {
	return destination.Event{
		Seq: 20, DeliveryID: "dst_t-20", Type: "daily", UserID: ouraUser, Provider: "OURA",
		RecordKey: dailyKey, Version: 1, CreatedAt: fixedNow, Body: json.RawMessage(dailyBody),
	}
}

func authEvent() destination.Event {
	return destination.Event{
		Seq: 1, DeliveryID: "dst_t-1", Type: "auth", UserID: garmin, Provider: "GARMIN",
		CreatedAt: fixedNow, Body: json.RawMessage(authBody),
	}
}

func healthcheckEvent() destination.Event {
	return destination.Event{DeliveryID: "healthcheck-abc", Type: "healthcheck", CreatedAt: fixedNow, Body: json.RawMessage(hcBody)}
}

// bigSleepEvent is the sleep event with about n bytes of heart-rate samples
// added to its record.
func bigSleepEvent(n int, dlv string) destination.Event {
	ev := sleepEvent(1, dlv)
	sample := `{"timestamp":"2022-04-23T21:25:44.774000-05:00","bpm":55},`
	samples := strings.Repeat(sample, n/len(sample)+1)
	samples = samples[:len(samples)-1]
	ev.Body = json.RawMessage(strings.Replace(sleepBody, `"scores":`, `"heart_rate_data":{"detailed":{"hr_samples":[`+samples+`]}},"scores":`, 1))
	return ev
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// stubOffloader returns wearbridge-style payload URLs valid for 7 days.
type stubOffloader struct {
	mu   sync.Mutex
	seqs []int64
}

func (o *stubOffloader) Offload(_ context.Context, ev destination.Event) (string, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.seqs = append(o.seqs, ev.Seq)
	return fmt.Sprintf("https://wb.example/payloads/%d?exp=%d&sig=abc", ev.Seq, fixedNow.Add(7*24*time.Hour).Unix()), nil
}

// ---------------------------------------------------------------- unit tests

func TestParseSettings(t *testing.T) {
	const b = `"brokers":["k1:9092","10.0.0.2:9093"]`
	tests := []struct {
		name, raw string
		want      func(s Settings) bool
		wantErr   string
	}{
		{"defaults", `{` + b + `,"topic":"events"}`, func(s Settings) bool {
			return s.Partitions == 3 && s.ReplicationFactor == 1 && s.Compression == "snappy" && s.MaxMessageBytes == 1_000_000 && !s.CreateTopic
		}, ""},
		{"everything", `{` + b + `,"topic":"wb.events_1","create_topic":true,"partitions":6,"replication_factor":3,
			"sasl":{"mechanism":"SCRAM-SHA-512","username":"u","password":"p"},"tls":{"enabled":true,"insecure_skip_verify":true},
			"compression":"zstd","max_message_bytes":2000000}`, func(s Settings) bool {
			return s.Partitions == 6 && s.ReplicationFactor == 3 && s.Compression == "zstd" && s.MaxMessageBytes == 2_000_000 && s.SASL.Mechanism == "SCRAM-SHA-512"
		}, ""},
		{"empty", ``, nil, "brokers is required"},
		{"no brokers", `{"topic":"t"}`, nil, "brokers is required"},
		{"broker without port", `{"brokers":["k1"],"topic":"t"}`, nil, `brokers[0] "k1": must be host:port`},
		{"broker bad port", `{"brokers":["k1:0"],"topic":"t"}`, nil, "brokers[0]"},
		{"no topic", `{` + b + `}`, nil, "topic is required"},
		{"bad topic", `{` + b + `,"topic":"a/b"}`, nil, `topic "a/b"`},
		{"dot topic", `{` + b + `,"topic":".."}`, nil, `topic ".."`},
		{"unknown field", `{` + b + `,"topic":"t","acks":"all"}`, nil, `unknown field "acks"`},
		{"bad partitions", `{` + b + `,"topic":"t","partitions":-1}`, nil, "partitions -1"},
		{"bad rf", `{` + b + `,"topic":"t","replication_factor":-2}`, nil, "replication_factor -2"},
		{"bad mechanism", `{` + b + `,"topic":"t","sasl":{"mechanism":"GSSAPI","username":"u","password":"p"}}`, nil, `sasl.mechanism "GSSAPI"`},
		{"no username", `{` + b + `,"topic":"t","sasl":{"mechanism":"PLAIN","password":"p"}}`, nil, "sasl.username is required"},
		{"no password", `{` + b + `,"topic":"t","sasl":{"mechanism":"PLAIN","username":"u"}}`, nil, "sasl.password is required"},
		{"bad ca", `{` + b + `,"topic":"t","tls":{"enabled":true,"ca_pem":"nope"}}`, nil, "tls.ca_pem: no PEM certificate"},
		{"ca without tls", `{` + b + `,"topic":"t","tls":{"ca_pem":"x"}}`, nil, "tls.enabled is false"},
		{"bad compression", `{` + b + `,"topic":"t","compression":"brotli"}`, nil, `compression "brotli"`},
		{"tiny max", `{` + b + `,"topic":"t","max_message_bytes":100}`, nil, "max_message_bytes 100"},
		{"trailing", `{` + b + `,"topic":"t"} {}`, nil, "trailing data"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := parseSettings(json.RawMessage(tc.raw))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.want(s) {
				t.Errorf("settings %+v", s)
			}
		})
	}
}

func TestParseSettingsHidesPassword(t *testing.T) {
	raw := `{"brokers":["k1:9092"],"topic":"t","sasl":{"mechanism":"MD5","username":"u","password":"` + testPass + `"}}`
	_, err := NewKind(Options{}).Open(t.Context(), destination.Config{ID: "dst_1", Settings: json.RawMessage(raw), Secret: testSecret})
	if err == nil || strings.Contains(err.Error(), testPass) {
		t.Fatalf("Open: %v", err)
	}
}

func TestOpenNeedsSecret(t *testing.T) {
	_, err := NewKind(Options{}).Open(t.Context(), destination.Config{ID: "dst_1", Settings: json.RawMessage(`{"brokers":["127.0.0.1:1"],"topic":"t"}`)})
	if err == nil || !strings.Contains(err.Error(), "signing secret") {
		t.Fatalf("Open without a secret: %v", err)
	}
}

func TestRecordSize(t *testing.T) {
	r := &kgo.Record{Key: []byte("user"), Value: []byte("0123456789"), Headers: []kgo.RecordHeader{{Key: "type", Value: []byte("sleep")}}}
	// 65 batch + 36 record + 4 key + 10 value + (10 + 4 + 5) header.
	if got, want := recordSize(r), 134; got != want {
		t.Errorf("recordSize = %d, want %d", got, want)
	}
}

func TestRecordResult(t *testing.T) {
	d := &Kafka{topic: "t", brokers: "b:9092", timeout: time.Second, scrubs: []string{testPass}}
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name      string
		ctx       context.Context
		err       error
		permanent bool
		wantErr   string
	}{
		{"ok", context.Background(), nil, false, ""},
		{"too large", context.Background(), kerr.MessageTooLarge, true, "MESSAGE_TOO_LARGE"},
		{"corrupt", context.Background(), kerr.CorruptMessage, true, "CORRUPT_MESSAGE"},
		{"leader moved", context.Background(), kerr.NotLeaderForPartition, false, "NOT_LEADER"},
		{"acl", context.Background(), kerr.TopicAuthorizationFailed, false, "not authorized"},
		{"sasl", context.Background(), kerr.SaslAuthenticationFailed, true, "refused the SASL login"},
		{"unknown topic", context.Background(), kerr.UnknownTopicOrPartition, false, `topic "t" does not exist`},
		{"timeout", context.Background(), context.DeadlineExceeded, false, "not acknowledged within 1s"},
		{"record timeout", context.Background(), kgo.ErrRecordTimeout, false, "not acknowledged"},
		{"caller canceled", canceled, context.Canceled, false, "not sent"},
		{"password in error", context.Background(), errors.New("login " + testPass + " failed"), false, "xxxxx"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := d.recordResult(tc.ctx, tc.err)
			if tc.wantErr == "" {
				if res.Err != nil {
					t.Fatalf("result %+v, want success", res)
				}
				return
			}
			if res.Err == nil || !strings.Contains(res.Err.Error(), tc.wantErr) || res.Permanent != tc.permanent {
				t.Fatalf("result %+v, want permanent=%v and an error containing %q", res, tc.permanent, tc.wantErr)
			}
			if strings.Contains(res.Err.Error(), testPass) {
				t.Errorf("error shows the password: %v", res.Err)
			}
		})
	}
}

func TestPayloadBodyMatchesSchema(t *testing.T) {
	link := "https://wb.example/payloads/11?exp=1796923800&sig=abc" // fixedNow + 7 days
	body, err := offload.PayloadBody([]byte(sleepBody), link, fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	v, err := terraschema.New()
	if err != nil {
		t.Fatal(err)
	}
	if err := v.ValidateEvent(body); err != nil {
		t.Fatalf("s3_payload event does not match S3PayloadEvent.yaml: %v\n%s", err, body)
	}
	want := `{"type":"s3_payload","status":"success","url":"https://wb.example/payloads/11?exp=1796923800\u0026sig=abc","expires_in":604800,"user":` + sleepUser + `,"version":"2022-03-16"}`
	if string(body) != want {
		t.Errorf("s3_payload body:\n got  %s\n want %s", body, want)
	}
	if got := offload.ExpiresIn("https://b.s3.amazonaws.com/k?X-Amz-Date=20261203T172500Z&X-Amz-Expires=600", fixedNow); got != 300 {
		t.Errorf("expiresIn of an S3 URL signed 5 min ago for 10 min = %d, want 300", got)
	}
}

// ---------------------------------------------------------------- server tests

// brokers returns TEST_KAFKA_BROKERS, or skips (fails when the servers are
// required).
func brokers(t *testing.T) []string {
	t.Helper()
	b := os.Getenv("TEST_KAFKA_BROKERS")
	if b == "" {
		if os.Getenv("WB_REQUIRE_SERVERS") == "1" {
			t.Fatal("TEST_KAFKA_BROKERS is not set (run: eval \"$(scripts/test-servers up)\")")
		}
		t.Skip("needs TEST_KAFKA_BROKERS (eval \"$(scripts/test-servers up)\")")
	}
	return strings.Split(b, ",")
}

// admin is an admin client of the test cluster.
func admin(t *testing.T) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers(t)...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// uniqueTopic returns a fresh topic name, deleted when the test ends.
func uniqueTopic(t *testing.T) string {
	t.Helper()
	adm := admin(t)
	name := fmt.Sprintf("wbt-%d-%08x", time.Now().UnixNano()%1e9, rand.Uint32())
	t.Cleanup(func() { _, _ = adm.DeleteTopics(context.Background(), name) })
	return name
}

// newTopic creates a topic with 3 partitions.
func newTopic(t *testing.T) string {
	t.Helper()
	name := uniqueTopic(t)
	resp, err := admin(t).CreateTopic(t.Context(), 3, 1, nil, name)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic: %v", err)
	}
	return name
}

func settingsJSON(brokers []string, topic string, edit func(s *Settings)) json.RawMessage {
	s := Settings{Brokers: brokers, Topic: topic}
	if edit != nil {
		edit(&s)
	}
	b, _ := json.Marshal(s)
	return b
}

// open opens a destination, closed when the test ends.
func open(t *testing.T, settings json.RawMessage, off destination.Offloader) *Kafka {
	t.Helper()
	d, err := NewKind(Options{Logger: testLogger(t), Now: func() time.Time { return fixedNow }, Timeout: 10 * time.Second}).Open(t.Context(),
		destination.Config{ID: "dst_t", Kind: KindName, Settings: settings, Secret: testSecret, Offload: off})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d.(*Kafka)
}

// deliverOK delivers events and fails on any error.
func deliverOK(t *testing.T, d destination.Destination, events ...destination.Event) {
	t.Helper()
	res := d.Deliver(t.Context(), events)
	if len(res) != len(events) {
		t.Fatalf("%d results for %d events", len(res), len(events))
	}
	for i, r := range res {
		if r.Err != nil {
			t.Fatalf("event %d (%s): %v", i, events[i].DeliveryID, r.Err)
		}
	}
}

// records returns every record in the topic, in offset order per
// partition.
func records(t *testing.T, d *Kafka) []*kgo.Record {
	t.Helper()
	var all []*kgo.Record
	if err := d.scan(t.Context(), func(r *kgo.Record) bool {
		all = append(all, r)
		return false
	}); err != nil {
		t.Fatalf("scan: %v", err)
	}
	return all
}

// byDelivery indexes records by their delivery_id header.
func byDelivery(rs []*kgo.Record) map[string][]*kgo.Record {
	out := map[string][]*kgo.Record{}
	for _, r := range rs {
		id := header(r, headerDeliveryID)
		out[id] = append(out[id], r)
	}
	return out
}

// checkRecord checks a record's key, value and headers against ev.
func checkRecord(t *testing.T, r *kgo.Record, ev destination.Event, wantType string) {
	t.Helper()
	wantKey := ev.UserID
	if wantKey == "" {
		wantKey = ev.Type
	}
	if string(r.Key) != wantKey {
		t.Errorf("%s: key %q, want %q", ev.DeliveryID, r.Key, wantKey)
	}
	if wantType == ev.Type && string(r.Value) != string(ev.Body) {
		t.Errorf("%s: value\n got  %s\n want %s", ev.DeliveryID, r.Value, ev.Body)
	}
	want := map[string]string{headerType: wantType, headerDeliveryID: ev.DeliveryID, headerUserID: ev.UserID}
	if ev.RecordKey != "" {
		want[headerRecordKey] = ev.RecordKey
		want[headerVersion] = fmt.Sprint(ev.Version)
	}
	for k, v := range want {
		if got := header(r, k); got != v {
			t.Errorf("%s: header %s = %q, want %q", ev.DeliveryID, k, got, v)
		}
	}
	if ev.RecordKey == "" && (header(r, headerRecordKey) != "" || header(r, headerVersion) != "") {
		t.Errorf("%s: non-data event has record_key/version headers", ev.DeliveryID)
	}
	if err := signature.Verify(testSecret, header(r, headerSignature), r.Value, fixedNow, signature.DefaultTolerance); err != nil {
		t.Errorf("%s: signature does not verify: %v", ev.DeliveryID, err)
	}
}

func TestReadBack(t *testing.T) {
	t.Parallel()
	d := open(t, settingsJSON(brokers(t), newTopic(t), nil), nil)
	events := []destination.Event{sleepEvent(1, "dst_t-11"), dailyEvent(), authEvent(), healthcheckEvent()}
	deliverOK(t, d, events...)
	for _, ev := range events {
		got, err := d.ReadBack(t.Context(), ev)
		if err != nil {
			t.Fatalf("ReadBack %s: %v", ev.DeliveryID, err)
		}
		if string(got) != string(ev.Body) {
			t.Errorf("ReadBack %s:\n got  %s\n want %s", ev.DeliveryID, got, ev.Body)
		}
	}
	idx := byDelivery(records(t, d))
	if len(idx) != len(events) {
		t.Fatalf("%d delivery ids in the topic, want %d", len(idx), len(events))
	}
	for _, ev := range events {
		if len(idx[ev.DeliveryID]) != 1 {
			t.Fatalf("%s: %d records, want 1", ev.DeliveryID, len(idx[ev.DeliveryID]))
		}
		checkRecord(t, idx[ev.DeliveryID][0], ev, ev.Type)
	}
	if _, err := d.ReadBack(t.Context(), sleepEvent(1, "dst_t-missing")); !errors.Is(err, destination.ErrNotFound) {
		t.Errorf("ReadBack of an undelivered event: %v, want ErrNotFound", err)
	}
}

// TestReadBackEmptyTopic: nothing delivered, nothing found.
func TestReadBackEmptyTopic(t *testing.T) {
	t.Parallel()
	d := open(t, settingsJSON(brokers(t), newTopic(t), nil), nil)
	if _, err := d.ReadBack(t.Context(), authEvent()); !errors.Is(err, destination.ErrNotFound) {
		t.Errorf("ReadBack on an empty topic: %v, want ErrNotFound", err)
	}
}

// TestPerUserOrder: a user's events share a partition and keep their
// order; replaying appends them again (Kafka is append-only: consumers
// drop duplicates by delivery_id).
func TestPerUserOrder(t *testing.T) {
	t.Parallel()
	d := open(t, settingsJSON(brokers(t), newTopic(t), nil), nil)
	var events []destination.Event
	for v := 1; v <= 5; v++ {
		events = append(events, sleepEvent(v, fmt.Sprintf("dst_t-1%d", v)))
		events = append(events, destination.Event{Seq: int64(100 + v), DeliveryID: fmt.Sprintf("dst_t-10%d", v), Type: "daily",
			UserID: fmt.Sprintf("user-%d", v), RecordKey: dailyKey, Version: 1, CreatedAt: fixedNow, Body: json.RawMessage(dailyBody)})
	}
	deliverOK(t, d, events...)
	deliverOK(t, d, events[:2]...) // a replay of the first two
	var versions []string
	partitions := map[int32]bool{}
	all := records(t, d)
	for _, r := range all {
		if string(r.Key) == whoopUser {
			versions = append(versions, header(r, headerVersion))
			partitions[r.Partition] = true
		}
	}
	if want := []string{"1", "2", "3", "4", "5", "1"}; !reflect.DeepEqual(versions, want) {
		t.Errorf("WHOOP user's versions in offset order %v, want %v", versions, want)
	}
	if len(partitions) != 1 {
		t.Errorf("WHOOP user's records are in %d partitions, want 1", len(partitions))
	}
	if n := len(byDelivery(all)["dst_t-101"]); n != 2 {
		t.Errorf("replayed event appears %d times, want 2", n)
	}
}

func TestCompression(t *testing.T) {
	t.Parallel()
	for _, c := range []string{"snappy", "lz4", "zstd", "gzip", "none"} {
		t.Run(c, func(t *testing.T) {
			t.Parallel()
			d := open(t, settingsJSON(brokers(t), newTopic(t), func(s *Settings) { s.Compression = c }), nil)
			ev := sleepEvent(1, "dst_t-11")
			deliverOK(t, d, ev)
			got, err := d.ReadBack(t.Context(), ev)
			if err != nil || string(got) != string(ev.Body) {
				t.Fatalf("ReadBack: %v\n%s", err, got)
			}
		})
	}
}

func TestOversizedIsOffloaded(t *testing.T) {
	t.Parallel()
	off := &stubOffloader{}
	d := open(t, settingsJSON(brokers(t), newTopic(t), func(s *Settings) { s.MaxMessageBytes = 10_000 }), off)
	big := bigSleepEvent(20_000, "dst_t-11") // over max_message_bytes
	small := dailyEvent()
	deliverOK(t, d, big, small)
	if !reflect.DeepEqual(off.seqs, []int64{11}) {
		t.Errorf("offloaded seqs %v, want [11] (the big event only)", off.seqs)
	}
	got, err := d.ReadBack(t.Context(), big)
	if err != nil {
		t.Fatal(err)
	}
	v, err := terraschema.New()
	if err != nil {
		t.Fatal(err)
	}
	if err := v.ValidateEvent(got); err != nil {
		t.Errorf("delivered s3_payload does not match S3PayloadEvent.yaml: %v", err)
	}
	// url from stubOffloader for seq 11; expires_in 7 days = 604800 s.
	want := `{"type":"s3_payload","status":"success","url":"https://wb.example/payloads/11?exp=1796923800\u0026sig=abc","expires_in":604800,"user":` + sleepUser + `,"version":"2022-03-16"}`
	if string(got) != want {
		t.Errorf("offloaded record:\n got  %s\n want %s", got, want)
	}
	idx := byDelivery(records(t, d))
	checkRecord(t, idx[big.DeliveryID][0], big, "s3_payload")
	checkRecord(t, idx[small.DeliveryID][0], small, "daily")

	// Without an offloader the big event fails alone, permanently.
	d2 := open(t, settingsJSON(brokers(t), d.topic, func(s *Settings) { s.MaxMessageBytes = 10_000 }), nil)
	res := d2.Deliver(t.Context(), []destination.Event{bigSleepEvent(20_000, "dst_t-12"), authEvent()})
	if res[0].Err == nil || !res[0].Permanent || !strings.Contains(res[0].Err.Error(), "no offloader") {
		t.Errorf("big event without an offloader: %+v", res[0])
	}
	if res[1].Err != nil {
		t.Errorf("small event: %v", res[1].Err)
	}
}

func TestRejectsBadEvents(t *testing.T) {
	t.Parallel()
	d := open(t, settingsJSON(brokers(t), newTopic(t), nil), nil)
	noID := authEvent()
	noID.DeliveryID = ""
	notJSON := authEvent()
	notJSON.Body = json.RawMessage(`["type"]`)
	res := d.Deliver(t.Context(), []destination.Event{noID, dailyEvent(), notJSON})
	if res[0].Err == nil || !res[0].Permanent || !strings.Contains(res[0].Err.Error(), "no delivery id") {
		t.Errorf("no delivery id: %+v", res[0])
	}
	if res[1].Err != nil {
		t.Errorf("good event: %v", res[1].Err)
	}
	if res[2].Err == nil || !res[2].Permanent || !strings.Contains(res[2].Err.Error(), "not a JSON object") {
		t.Errorf("not JSON: %+v", res[2])
	}
}

func TestMissingTopic(t *testing.T) {
	t.Parallel()
	b := brokers(t)
	topic := uniqueTopic(t)
	_, err := NewKind(Options{}).Open(t.Context(), destination.Config{ID: "dst_t", Settings: settingsJSON(b, topic, nil), Secret: testSecret})
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("topic %q does not exist", topic)) || !strings.Contains(err.Error(), "create_topic") {
		t.Fatalf("Open on a missing topic: %v", err)
	}
	t.Logf("Open: %v", err)
	// Open must not have created it.
	topics, err := admin(t).ListTopics(t.Context(), topic)
	if err != nil {
		t.Fatal(err)
	}
	if td := topics[topic]; td.Err == nil {
		t.Errorf("Open created the topic")
	}

	// With create_topic, Open creates it with the partitions asked for.
	d := open(t, settingsJSON(b, topic, func(s *Settings) { s.CreateTopic, s.Partitions = true, 2 }), nil)
	topics, err = admin(t).ListTopics(t.Context(), topic)
	if err != nil {
		t.Fatal(err)
	}
	if td := topics[topic]; td.Err != nil || len(td.Partitions) != 2 {
		t.Errorf("created topic: %v, %d partitions, want 2", td.Err, len(td.Partitions))
	}
	deliverOK(t, d, authEvent())
	// Opening again finds it.
	open(t, settingsJSON(b, topic, func(s *Settings) { s.CreateTopic = true }), nil)
}

// TestOutage: brokers that do not answer are not an Open error; deliveries
// fail retryably; once the brokers answer, the same events land once.
func TestOutage(t *testing.T) {
	t.Parallel()
	topic := newTopic(t)
	dead := open(t, settingsJSON([]string{"127.0.0.1:1"}, topic, nil), nil)
	events := []destination.Event{sleepEvent(1, "dst_t-11"), dailyEvent(), authEvent()}
	start := time.Now()
	for i, r := range dead.Deliver(t.Context(), events) {
		if r.Err == nil || r.Permanent || !strings.Contains(r.Err.Error(), "cannot connect to brokers 127.0.0.1:1") {
			t.Fatalf("event %d during the outage: %+v, want a retryable 'cannot connect'", i, r)
		}
		if i == 0 {
			t.Logf("outage: %v (after %v)", r.Err, time.Since(start))
		}
	}
	live := open(t, settingsJSON(brokers(t), topic, nil), nil)
	deliverOK(t, live, events...)
	idx := byDelivery(records(t, live))
	for _, ev := range events {
		if len(idx[ev.DeliveryID]) != 1 {
			t.Errorf("%s: %d records after recovery, want 1", ev.DeliveryID, len(idx[ev.DeliveryID]))
		}
	}
}

// TestCallerCancels: a canceled Deliver returns promptly with retryable
// errors.
func TestCallerCancels(t *testing.T) {
	t.Parallel()
	d := open(t, settingsJSON(brokers(t), newTopic(t), nil), nil)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for i, r := range d.Deliver(ctx, []destination.Event{authEvent(), dailyEvent()}) {
		if r.Err == nil || r.Permanent {
			t.Errorf("event %d: %+v, want a retryable error", i, r)
		}
	}
}

// kfakesrvBin is the kfake wrapper scripts/test-servers builds.
const kfakesrvBin = "../../../bin/kfakesrv"

// TestBrokerRestart stops a private kfake cluster under an open
// destination and starts it again, empty (kfake keeps topics in memory):
// deliveries fail retryably meanwhile, and afterwards the destination
// recreates the topic (create_topic) and its records land. It needs the
// kfakesrv binary; it skips without it.
func TestBrokerRestart(t *testing.T) {
	t.Parallel()
	brokers(t)
	if _, err := os.Stat(kfakesrvBin); err != nil {
		t.Skip("needs bin/kfakesrv (scripts/test-servers up builds it)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	start := func() *exec.Cmd {
		c := exec.Command(kfakesrvBin, "-port", strconv.Itoa(port))
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		for range 100 {
			if conn, err := net.Dial("tcp", ln.Addr().String()); err == nil {
				_ = conn.Close()
				return c
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatal("kfakesrv did not start")
		return nil
	}
	stop := func(c *exec.Cmd) {
		_ = c.Process.Signal(syscall.SIGTERM)
		_ = c.Wait()
	}
	c := start()
	k := NewKind(Options{Logger: testLogger(t), Now: func() time.Time { return fixedNow }, Timeout: 3 * time.Second})
	dst, err := k.Open(t.Context(), destination.Config{ID: "dst_t", Secret: testSecret,
		Settings: settingsJSON([]string{ln.Addr().String()}, "restart", func(s *Settings) { s.CreateTopic = true })})
	if err != nil {
		stop(c)
		t.Fatal(err)
	}
	d := dst.(*Kafka)
	defer d.Close()
	deliverOK(t, d, authEvent())

	stop(c)
	events := []destination.Event{sleepEvent(1, "dst_t-11"), dailyEvent()}
	for _, attempt := range []string{"first", "second"} {
		for i, r := range d.Deliver(t.Context(), events) {
			if r.Err == nil || r.Permanent {
				t.Fatalf("%s delivery while down, event %d: %+v, want a retryable error", attempt, i, r)
			}
		}
	}

	c = start()
	defer stop(c)
	var res []destination.Result
	for range 5 { // the pipeline retries until the client has found the new topic
		if res = d.Deliver(t.Context(), events); res[0].Err == nil && res[1].Err == nil {
			break
		}
		t.Logf("after the restart: %v", res[0].Err)
	}
	if res[0].Err != nil || res[1].Err != nil {
		t.Fatalf("after the restart: %+v", res)
	}
	idx := byDelivery(records(t, d))
	for _, ev := range events {
		if len(idx[ev.DeliveryID]) != 1 {
			t.Errorf("%s: %d records, want 1", ev.DeliveryID, len(idx[ev.DeliveryID]))
		}
	}
}

// TestMismatchedSecurity: TLS or SASL settings that the brokers do not
// expect give a clear Open error (the test broker has neither), and the
// password does not show.
func TestMismatchedSecurity(t *testing.T) {
	t.Parallel()
	b := brokers(t)
	tests := []struct {
		name string
		edit func(s *Settings)
	}{
		{"tls", func(s *Settings) { s.TLS = &TLS{Enabled: true} }},
		{"sasl", func(s *Settings) { s.SASL = &SASL{Mechanism: "SCRAM-SHA-256", Username: "wb", Password: testPass} }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewKind(Options{Timeout: 3 * time.Second}).Open(t.Context(), destination.Config{ID: "dst_t", Secret: testSecret,
				Settings: settingsJSON(b, newTopic(t), tc.edit)})
			if err == nil || !strings.Contains(err.Error(), "check the tls and sasl settings") {
				t.Fatalf("Open: %v, want a hint at the tls and sasl settings", err)
			}
			if strings.Contains(err.Error(), testPass) {
				t.Errorf("error shows the password: %v", err)
			}
			t.Logf("Open: %v", err)
		})
	}
}
