package sqs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/wearbridge/wearbridge/internal/destination"
	"github.com/wearbridge/wearbridge/internal/destination/destinationtest"
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
	testSecret = "whsec_sqs_test"
	testKeyID  = "AKIDTEST"
	testKey    = "s3cr3t-Sqs-key-do-not-show"
)

// fixedNow is the clock the kind signs with in these tests.
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

func settingsJSON(queueURL, endpoint string) json.RawMessage {
	b, _ := json.Marshal(Settings{QueueURL: queueURL, Region: "us-east-1", Endpoint: endpoint, AccessKeyID: testKeyID, SecretAccessKey: testKey})
	return b
}

// stubOffloader returns wearbridge-style payload URLs valid for 7 days.
type stubOffloader struct {
	mu   sync.Mutex
	seqs []int64
	err  error
}

func (o *stubOffloader) Offload(_ context.Context, ev destination.Event) (string, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.err != nil {
		return "", o.err
	}
	o.seqs = append(o.seqs, ev.Seq)
	return fmt.Sprintf("https://wb.example/payloads/%d?exp=%d&sig=abc", ev.Seq, fixedNow.Add(7*24*time.Hour).Unix()), nil
}

// ---------------------------------------------------------------- unit tests

func TestParseSettings(t *testing.T) {
	const q = "https://sqs.eu-west-1.amazonaws.com/123456789012/events"
	tests := []struct {
		name, raw  string
		wantRegion string
		wantFIFO   bool
		wantErr    string
	}{
		{"region from url", `{"queue_url":"` + q + `","access_key_id":"a","secret_access_key":"b"}`, "eu-west-1", false, ""},
		{"fifo", `{"queue_url":"` + q + `.fifo","access_key_id":"a","secret_access_key":"b"}`, "eu-west-1", true, ""},
		{"legacy host", `{"queue_url":"https://us-west-2.queue.amazonaws.com/1/q","access_key_id":"a","secret_access_key":"b"}`, "us-west-2", false, ""},
		{"own region", `{"queue_url":"http://127.0.0.1:54566/000000000000/q","region":"us-east-1","endpoint":"http://127.0.0.1:54566","access_key_id":"a","secret_access_key":"b"}`, "us-east-1", false, ""},
		{"empty", ``, "", false, "queue_url is required"},
		{"no url", `{"region":"us-east-1"}`, "", false, "queue_url is required"},
		{"unknown field", `{"queue_url":"` + q + `","queue":"x"}`, "", false, `unknown field "queue"`},
		{"not a url", `{"queue_url":"events","access_key_id":"a","secret_access_key":"b"}`, "", false, "queue_url"},
		{"no queue in path", `{"queue_url":"https://sqs.eu-west-1.amazonaws.com/123","access_key_id":"a","secret_access_key":"b"}`, "", false, "/<account>/<queue name>"},
		{"bad queue name", `{"queue_url":"https://sqs.eu-west-1.amazonaws.com/1/a b","access_key_id":"a","secret_access_key":"b"}`, "", false, "queue_url"},
		{"no region", `{"queue_url":"http://127.0.0.1:54566/0/q","access_key_id":"a","secret_access_key":"b"}`, "", false, "region is required"},
		{"bad region", `{"queue_url":"` + q + `","region":"Europe West","access_key_id":"a","secret_access_key":"b"}`, "", false, "region"},
		{"bad endpoint", `{"queue_url":"` + q + `","endpoint":"127.0.0.1:54566","access_key_id":"a","secret_access_key":"b"}`, "", false, "endpoint"},
		{"no key id", `{"queue_url":"` + q + `","secret_access_key":"b"}`, "", false, "access_key_id is required"},
		{"no secret", `{"queue_url":"` + q + `","access_key_id":"a"}`, "", false, "secret_access_key is required"},
		{"trailing", `{"queue_url":"` + q + `"} {}`, "", false, "trailing data"},
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
			if s.region != tc.wantRegion || s.fifo != tc.wantFIFO {
				t.Errorf("region, fifo = %q, %v; want %q, %v", s.region, s.fifo, tc.wantRegion, tc.wantFIFO)
			}
		})
	}
}

func TestOpenNeedsSecret(t *testing.T) {
	_, err := NewKind(Options{}).Open(t.Context(), destination.Config{ID: "dst_1", Settings: settingsJSON("http://127.0.0.1:1/0/q", "http://127.0.0.1:1")})
	if err == nil || !strings.Contains(err.Error(), "signing secret") {
		t.Fatalf("Open without a secret: %v", err)
	}
}

func TestFIFOID(t *testing.T) {
	tests := []struct{ in, want string }{
		{"dst_1-42", "dst_1-42"},
		{strings.Repeat("a", 128), strings.Repeat("a", 128)},
		// The hashes come from sha256sum.
		{strings.Repeat("a", 129), "sha256-c12cb024a2e5551cca0e08fce8f1c5e314555cc3fef6329ee994a3db752166ae"},
		{"with space", "sha256-b8b8f25a5fc711caea1cfebfe02359e3ce2b9a8f9ce02d18fdcb1ba47ff095f1"},
	}
	for _, tc := range tests {
		if got := fifoID(tc.in); got != tc.want {
			t.Errorf("fifoID(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestPack(t *testing.T) {
	msgs := func(sizes ...int) []message {
		out := make([]message, len(sizes))
		for i, s := range sizes {
			out[i] = message{index: i, size: s}
		}
		return out
	}
	count := func(b [][]message) []int {
		var n []int
		for _, x := range b {
			n = append(n, len(x))
		}
		return n
	}
	tests := []struct {
		name  string
		sizes []int
		want  []int
	}{
		{"none", nil, nil},
		{"25 small", make([]int, 25), []int{10, 10, 5}},
		{"bytes", []int{100, 100, 100, 100, 100}, []int{2, 2, 1}},
		{"exactly the limit", []int{150, 100, 1}, []int{2, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := count(pack(msgs(tc.sizes...), 250)); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("pack = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestExpiresIn(t *testing.T) {
	now := fixedNow // 2026-12-03T17:30:00Z = 1796319000 unix
	tests := []struct {
		name, url string
		want      int64
	}{
		{"wearbridge", "https://wb.example/payloads/7?exp=1796322600&sig=x", 3600},
		{"s3 v4", "https://b.s3.amazonaws.com/k?X-Amz-Date=20261203T173000Z&X-Amz-Expires=600&X-Amz-Signature=x", 600},
		{"s3 v4 signed earlier", "https://b.s3.amazonaws.com/k?X-Amz-Date=20261203T172500Z&X-Amz-Expires=600", 300},
		{"gcs v4", "https://storage.googleapis.com/b/k?X-Goog-Date=20261203T173000Z&X-Goog-Expires=900", 900},
		{"azure sas", "https://a.blob.core.windows.net/c/k?se=2026-12-03T18:30:00Z&sig=x", 3600},
		{"v2 presign", "https://b.s3.amazonaws.com/k?Expires=1796319060&Signature=x", 60},
		{"expired", "https://wb.example/payloads/7?exp=1796318400", 0},
		{"unknown", "https://wb.example/payloads/7", 0},
		{"garbage", "https://wb.example/payloads/7?exp=soon", 0},
	}
	for _, tc := range tests {
		if got := offload.ExpiresIn(tc.url, now); got != tc.want {
			t.Errorf("%s: expiresIn = %d, want %d", tc.name, got, tc.want)
		}
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
	// An event about no user has no user object.
	body, err = offload.PayloadBody([]byte(hcBody), link, fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(body), `"user"`) {
		t.Errorf("healthcheck s3_payload has a user: %s", body)
	}
}

func TestExplainHidesSecret(t *testing.T) {
	q := &Queue{name: "q", url: "u", scrubs: []string{testKey}}
	err := q.explain("send", fmt.Errorf("boom: key %s leaked", testKey))
	if strings.Contains(err.Error(), testKey) {
		t.Errorf("error shows the secret key: %v", err)
	}
}

// ---------------------------------------------------------------- server tests

// endpoint returns TEST_SQS_ENDPOINT, or skips (fails when the servers are
// required).
func endpoint(t *testing.T) string {
	t.Helper()
	e := os.Getenv("TEST_SQS_ENDPOINT")
	if e == "" {
		if os.Getenv("WB_REQUIRE_SERVERS") == "1" {
			t.Fatal("TEST_SQS_ENDPOINT is not set (run: eval \"$(scripts/test-servers up)\")")
		}
		t.Skip("needs TEST_SQS_ENDPOINT (eval \"$(scripts/test-servers up)\")")
	}
	return e
}

// admin is a client of the test server.
func admin(t *testing.T) *sqs.Client {
	return sqs.New(sqs.Options{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint: aws.String(endpoint(t)),
	})
}

// newQueue creates a queue with a unique name, deleted when the test ends,
// and returns its URL.
func newQueue(t *testing.T, fifo bool) string {
	t.Helper()
	c := admin(t)
	name := fmt.Sprintf("wbt-%d-%08x", time.Now().UnixNano()%1e9, rand.Uint32())
	in := &sqs.CreateQueueInput{QueueName: aws.String(name)}
	if fifo {
		in.QueueName = aws.String(name + ".fifo")
		in.Attributes = map[string]string{"FifoQueue": "true"}
	}
	out, err := c.CreateQueue(t.Context(), in)
	if err != nil {
		t.Fatalf("create queue: %v", err)
	}
	t.Cleanup(func() {
		_, _ = c.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: out.QueueUrl})
	})
	return aws.ToString(out.QueueUrl)
}

// openQueue opens a destination on queueURL through endpoint ep.
func openQueue(t *testing.T, queueURL, ep string, off destination.Offloader) *Queue {
	t.Helper()
	d, err := NewKind(Options{Logger: testLogger(t), Now: func() time.Time { return fixedNow }, Timeout: 20 * time.Second}).Open(t.Context(),
		destination.Config{ID: "dst_t", Kind: KindName, Settings: settingsJSON(queueURL, ep), Secret: testSecret, Offload: off})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d.(*Queue)
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

// messages returns every visible message in the queue, leaving them there.
func messages(t *testing.T, q *Queue) []types.Message {
	t.Helper()
	var all []types.Message
	if err := q.peek(t.Context(), func(m types.Message) (bool, bool) {
		all = append(all, m)
		return false, false
	}); err != nil {
		t.Fatalf("peek: %v", err)
	}
	return all
}

// drain receives and deletes every message, as a consumer would; on a FIFO
// queue that is the only way to see past the first message of each group.
func drain(t *testing.T, q *Queue) []types.Message {
	t.Helper()
	var all []types.Message
	for {
		n := len(all)
		if err := q.peek(t.Context(), func(m types.Message) (bool, bool) {
			all = append(all, m)
			return true, false
		}); err != nil {
			t.Fatalf("drain: %v", err)
		}
		if len(all) == n {
			return all
		}
	}
}

// byDelivery indexes messages by their delivery_id attribute.
func byDelivery(msgs []types.Message) map[string][]types.Message {
	out := map[string][]types.Message{}
	for _, m := range msgs {
		id := attr(m, attrDeliveryID)
		out[id] = append(out[id], m)
	}
	return out
}

// checkMessage checks a message's body and attributes against ev.
func checkMessage(t *testing.T, m types.Message, ev destination.Event, wantType string) {
	t.Helper()
	body := aws.ToString(m.Body)
	if wantType == ev.Type && body != string(ev.Body) {
		t.Errorf("%s: body\n got  %s\n want %s", ev.DeliveryID, body, ev.Body)
	}
	want := map[string]string{attrType: wantType, attrDeliveryID: ev.DeliveryID, attrUserID: ev.UserID}
	if ev.RecordKey != "" {
		want[attrRecordKey] = ev.RecordKey
		want[attrVersion] = fmt.Sprint(ev.Version)
	}
	for name, v := range want {
		if got := attr(m, name); got != v {
			t.Errorf("%s: attribute %s = %q, want %q", ev.DeliveryID, name, got, v)
		}
	}
	if ev.RecordKey == "" {
		for _, name := range []string{attrRecordKey, attrVersion} {
			if _, ok := m.MessageAttributes[name]; ok {
				t.Errorf("%s: non-data event has attribute %s", ev.DeliveryID, name)
			}
		}
	}
	if err := signature.Verify(testSecret, attr(m, attrSignature), []byte(body), fixedNow, signature.DefaultTolerance); err != nil {
		t.Errorf("%s: signature does not verify: %v", ev.DeliveryID, err)
	}
}

func TestReadBack(t *testing.T) {
	t.Parallel()
	q := openQueue(t, newQueue(t, false), endpoint(t), nil)
	events := []destination.Event{sleepEvent(1, "dst_t-11"), dailyEvent(), authEvent(), healthcheckEvent()}
	deliverOK(t, q, events...)
	for _, ev := range events {
		got, err := q.ReadBack(t.Context(), ev)
		if err != nil {
			t.Fatalf("ReadBack %s: %v", ev.DeliveryID, err)
		}
		if string(got) != string(ev.Body) {
			t.Errorf("ReadBack %s:\n got  %s\n want %s", ev.DeliveryID, got, ev.Body)
		}
	}
	msgs := byDelivery(messages(t, q))
	if len(msgs) != len(events) {
		t.Fatalf("%d delivery ids in the queue, want %d", len(msgs), len(events))
	}
	for _, ev := range events {
		if len(msgs[ev.DeliveryID]) != 1 {
			t.Fatalf("%s: %d messages, want 1", ev.DeliveryID, len(msgs[ev.DeliveryID]))
		}
		checkMessage(t, msgs[ev.DeliveryID][0], ev, ev.Type)
	}
	if _, err := q.ReadBack(t.Context(), sleepEvent(1, "dst_t-missing")); !errors.Is(err, destination.ErrNotFound) {
		t.Errorf("ReadBack of an undelivered event: %v, want ErrNotFound", err)
	}
}

// TestFIFO checks the group and deduplication ids, and that a FIFO queue
// keeps one message per delivery id when a batch is delivered again.
func TestFIFO(t *testing.T) {
	t.Parallel()
	q := openQueue(t, newQueue(t, true), endpoint(t), nil)
	events := []destination.Event{sleepEvent(1, "dst_t-11"), sleepEvent(2, "dst_t-12"), dailyEvent(), healthcheckEvent()}
	deliverOK(t, q, events...)
	deliverOK(t, q, events...) // a retry within the deduplication interval
	msgs := drain(t, q)
	if len(msgs) != len(events) {
		t.Fatalf("%d messages, want %d (one per delivery id)", len(msgs), len(events))
	}
	idx := byDelivery(msgs)
	wantGroup := map[string]string{"dst_t-11": whoopUser, "dst_t-12": whoopUser, "dst_t-20": ouraUser, "healthcheck-abc": "healthcheck"}
	for _, ev := range events {
		m := idx[ev.DeliveryID]
		if len(m) != 1 {
			t.Fatalf("%s: %d messages", ev.DeliveryID, len(m))
		}
		checkMessage(t, m[0], ev, ev.Type)
		if g := m[0].Attributes[string(types.MessageSystemAttributeNameMessageGroupId)]; g != wantGroup[ev.DeliveryID] {
			t.Errorf("%s: MessageGroupId = %q, want %q", ev.DeliveryID, g, wantGroup[ev.DeliveryID])
		}
		if d := m[0].Attributes[string(types.MessageSystemAttributeNameMessageDeduplicationId)]; d != ev.DeliveryID {
			t.Errorf("%s: MessageDeduplicationId = %q, want the delivery id", ev.DeliveryID, d)
		}
	}
	// Within the WHOOP user's group, v1 comes before v2.
	var order []string
	for _, m := range msgs {
		if attr(m, attrUserID) == whoopUser {
			order = append(order, attr(m, attrVersion))
		}
	}
	if !reflect.DeepEqual(order, []string{"1", "2"}) {
		t.Errorf("versions in the WHOOP group arrive as %v, want [1 2]", order)
	}
}

// TestStandardQueueDuplicates documents that a standard queue keeps a
// redelivered event twice: consumers drop duplicates by delivery_id.
func TestStandardQueueDuplicates(t *testing.T) {
	t.Parallel()
	q := openQueue(t, newQueue(t, false), endpoint(t), nil)
	ev := sleepEvent(1, "dst_t-11")
	deliverOK(t, q, ev)
	deliverOK(t, q, ev)
	if n := len(byDelivery(messages(t, q))[ev.DeliveryID]); n != 2 {
		t.Errorf("%d messages for a twice-delivered event, want 2", n)
	}
}

// TestBatches delivers more events than one SendMessageBatch takes, by
// count and by bytes.
func TestBatches(t *testing.T) {
	t.Parallel()
	q := openQueue(t, newQueue(t, false), endpoint(t), nil)
	var events []destination.Event
	for i := range 23 {
		events = append(events, sleepEvent(1, fmt.Sprintf("dst_t-small-%d", i)))
	}
	for i := range 6 {
		events = append(events, bigSleepEvent(100_000, fmt.Sprintf("dst_t-big-%d", i))) // 3 per 256 KiB batch at most
	}
	deliverOK(t, q, events...)
	idx := byDelivery(messages(t, q))
	for _, ev := range events {
		if len(idx[ev.DeliveryID]) != 1 {
			t.Fatalf("%s: %d messages, want 1", ev.DeliveryID, len(idx[ev.DeliveryID]))
		}
		checkMessage(t, idx[ev.DeliveryID][0], ev, ev.Type)
	}
}

// TestOneBadEventInBatch: a message SQS rejects fails alone.
func TestOneBadEventInBatch(t *testing.T) {
	t.Parallel()
	q := openQueue(t, newQueue(t, false), endpoint(t), nil)
	bad := sleepEvent(1, "dst_t-bad")
	// U+FFFF is valid JSON but not a character SQS accepts.
	bad.Body = json.RawMessage(strings.Replace(sleepBody, `"demo-whoop"`, "\"demo-whoop\uffff\"", 1))
	events := []destination.Event{sleepEvent(1, "dst_t-1"), bad, dailyEvent()}
	res := q.Deliver(t.Context(), events)
	if res[0].Err != nil || res[2].Err != nil {
		t.Fatalf("good events failed: %+v", res)
	}
	if res[1].Err == nil || !res[1].Permanent || !strings.Contains(res[1].Err.Error(), "InvalidMessageContents") {
		t.Fatalf("bad event: %+v, want a permanent InvalidMessageContents error", res[1])
	}
	t.Logf("bad event: %v", res[1].Err)
	if n := len(messages(t, q)); n != 2 {
		t.Errorf("%d messages, want 2", n)
	}
}

func TestRejectsBadEvents(t *testing.T) {
	t.Parallel()
	q := openQueue(t, newQueue(t, false), endpoint(t), nil)
	tests := []struct {
		name    string
		ev      destination.Event
		wantErr string
	}{
		{"no delivery id", func() destination.Event { ev := authEvent(); ev.DeliveryID = ""; return ev }(), "no delivery id"},
		{"not a JSON object", func() destination.Event { ev := authEvent(); ev.Body = json.RawMessage(`["type"]`); return ev }(), "not a JSON object"},
		{"empty body", func() destination.Event { ev := authEvent(); ev.Body = nil; return ev }(), "not a JSON object"},
		{"too large, no offloader", bigSleepEvent(300_000, "dst_t-big"), "no offloader"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := q.Deliver(t.Context(), []destination.Event{tc.ev})
			if res[0].Err == nil || !res[0].Permanent || !strings.Contains(res[0].Err.Error(), tc.wantErr) {
				t.Fatalf("result = %+v, want a permanent error containing %q", res[0], tc.wantErr)
			}
		})
	}
}

func TestOversizedIsOffloaded(t *testing.T) {
	t.Parallel()
	off := &stubOffloader{}
	q := openQueue(t, newQueue(t, false), endpoint(t), off)
	big := bigSleepEvent(300_000, "dst_t-11") // over 256 KiB
	small := dailyEvent()
	deliverOK(t, q, big, small)
	if !reflect.DeepEqual(off.seqs, []int64{11}) {
		t.Errorf("offloaded seqs %v, want [11] (the big event only)", off.seqs)
	}
	got, err := q.ReadBack(t.Context(), big)
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
		t.Errorf("offloaded message:\n got  %s\n want %s", got, want)
	}
	idx := byDelivery(messages(t, q))
	checkMessage(t, idx[big.DeliveryID][0], big, "s3_payload")
	checkMessage(t, idx[small.DeliveryID][0], small, "daily")

	// A failing offloader is a retryable failure of that event only.
	off.err = errors.New("payload store down")
	res := q.Deliver(t.Context(), []destination.Event{bigSleepEvent(300_000, "dst_t-12"), authEvent()})
	if res[0].Err == nil || res[0].Permanent || !strings.Contains(res[0].Err.Error(), "payload store down") {
		t.Errorf("offload failure: %+v, want a retryable error", res[0])
	}
	if res[1].Err != nil {
		t.Errorf("small event: %v", res[1].Err)
	}
}

func TestHealthcheckRemoved(t *testing.T) {
	t.Parallel()
	q := openQueue(t, newQueue(t, false), endpoint(t), nil)
	hc, other := healthcheckEvent(), authEvent()
	deliverOK(t, q, other, hc)
	if err := q.RemoveHealthcheck(t.Context(), hc); err != nil {
		t.Fatalf("RemoveHealthcheck: %v", err)
	}
	if _, err := q.ReadBack(t.Context(), hc); !errors.Is(err, destination.ErrNotFound) {
		t.Errorf("ReadBack after removal: %v, want ErrNotFound", err)
	}
	if err := q.RemoveHealthcheck(t.Context(), hc); !errors.Is(err, destination.ErrNotFound) {
		t.Errorf("second RemoveHealthcheck: %v, want ErrNotFound", err)
	}
	// The other message is still there, and visible.
	if _, err := q.ReadBack(t.Context(), other); err != nil {
		t.Errorf("ReadBack of the other event: %v", err)
	}
}

func TestMissingQueue(t *testing.T) {
	t.Parallel()
	ep := endpoint(t)
	queueURL := newQueue(t, false)
	missing := queueURL[:strings.LastIndexByte(queueURL, '/')+1] + "wbt-no-such-queue"
	_, err := NewKind(Options{}).Open(t.Context(), destination.Config{ID: "dst_t", Settings: settingsJSON(missing, ep), Secret: testSecret})
	if err == nil || !strings.Contains(err.Error(), `queue "wbt-no-such-queue" does not exist`) {
		t.Fatalf("Open on a missing queue: %v", err)
	}
	t.Logf("Open: %v", err)

	// Deleted after Open: deliveries fail retryably, saying why.
	q := openQueue(t, queueURL, ep, nil)
	if _, err := admin(t).DeleteQueue(t.Context(), &sqs.DeleteQueueInput{QueueUrl: aws.String(queueURL)}); err != nil {
		t.Fatal(err)
	}
	res := q.Deliver(t.Context(), []destination.Event{authEvent()})
	if res[0].Err == nil || res[0].Permanent || !strings.Contains(res[0].Err.Error(), "does not exist") {
		t.Fatalf("deliver to a deleted queue: %+v, want a retryable 'does not exist'", res[0])
	}
	if strings.Contains(res[0].Err.Error(), testKey) {
		t.Errorf("error shows the secret key: %v", res[0].Err)
	}
}

// TestOutage delivers through a TCP proxy that the test cuts and restores.
func TestOutage(t *testing.T) {
	t.Parallel()
	ep := endpoint(t)
	queueURL := newQueue(t, true)
	u, err := url.Parse(ep)
	if err != nil {
		t.Fatal(err)
	}
	p := destinationtest.StartProxy(t, u.Host)
	q := openQueue(t, queueURL, "http://"+p.Addr, nil)
	events := []destination.Event{sleepEvent(1, "dst_t-11"), dailyEvent(), authEvent()}

	p.Stop()
	start := time.Now()
	for i, r := range q.Deliver(t.Context(), events) {
		if r.Err == nil || r.Permanent {
			t.Fatalf("event %d during the outage: %+v, want a retryable error", i, r)
		}
		if !strings.Contains(r.Err.Error(), "cannot reach http://"+p.Addr) {
			t.Errorf("outage error does not say the endpoint is unreachable: %v", r.Err)
		}
	}
	t.Logf("outage answered in %v", time.Since(start))

	p.Start(t)
	deliverOK(t, q, events...)
	deliverOK(t, q, events...) // the pipeline's retry of a batch that half-landed
	idx := byDelivery(messages(t, q))
	for _, ev := range events {
		if len(idx[ev.DeliveryID]) != 1 {
			t.Errorf("%s: %d messages after recovery, want 1", ev.DeliveryID, len(idx[ev.DeliveryID]))
		}
	}
}

// TestOpenUnreachable: an endpoint that does not answer is not an Open
// error.
func TestOpenUnreachable(t *testing.T) {
	t.Parallel()
	q := openQueue(t, "http://127.0.0.1:1/000000000000/q", "http://127.0.0.1:1", nil)
	res := q.Deliver(t.Context(), []destination.Event{authEvent()})
	if res[0].Err == nil || res[0].Permanent || !strings.Contains(res[0].Err.Error(), "connection refused") {
		t.Fatalf("deliver to a closed port: %+v, want a retryable connection refused", res[0])
	}
	t.Logf("closed port: %v", res[0].Err)
}

// TestBadCredentials answers like SQS does for an unknown access key (the
// test server accepts any key, so a stub plays SQS here): Open fails
// saying so, and a delivery after Open fails permanently.
func TestBadCredentials(t *testing.T) {
	refuse := make(chan bool, 1)
	refuse <- true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := <-refuse
		refuse <- v
		if !v {
			w.Header().Set("Content-Type", "application/x-amz-json-1.0")
			_, _ = io.WriteString(w, `{"Attributes":{"MaximumMessageSize":"262144"}}`)
			return
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Header().Set("x-amzn-query-error", "InvalidClientTokenId;Sender")
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, `{"__type":"com.amazon.coral.service#InvalidClientTokenId","message":"The security token included in the request is invalid."}`)
	}))
	defer srv.Close()
	queueURL := srv.URL + "/000000000000/q"
	_, err := NewKind(Options{}).Open(t.Context(), destination.Config{ID: "dst_t", Settings: settingsJSON(queueURL, srv.URL), Secret: testSecret})
	if err == nil || !strings.Contains(err.Error(), "the credentials were refused") {
		t.Fatalf("Open with refused credentials: %v", err)
	}
	if strings.Contains(err.Error(), testKey) {
		t.Errorf("error shows the secret key: %v", err)
	}
	t.Logf("Open: %v", err)

	<-refuse
	refuse <- false // the key works for Open, then is revoked
	q := openQueue(t, queueURL, srv.URL, nil)
	<-refuse
	refuse <- true
	res := q.Deliver(t.Context(), []destination.Event{authEvent()})
	if res[0].Err == nil || !res[0].Permanent || !strings.Contains(res[0].Err.Error(), "InvalidClientTokenId") {
		t.Fatalf("deliver with refused credentials: %+v, want a permanent error", res[0])
	}
}
