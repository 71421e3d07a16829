package mongodb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/wearbridge/wearbridge/internal/destination"
	"github.com/wearbridge/wearbridge/internal/destination/destinationtest"
)

// Envelopes copied from the bodies `go run ./cmd/wearbridge demo --out DIR`
// delivered (a WHOOP sleep, an Oura daily and a Garmin auth event).
const (
	sleepBody = `{"type":"sleep","user":{"user_id":"bc6cf053-f1cc-43f8-bbc6-250d047fef4c","provider":"WHOOP","created_at":"2026-12-03T17:27:16.786000+00:00","last_webhook_update":"2026-12-03T17:27:21.879687+00:00","scopes":"offline,read:recovery,read:cycles,read:sleep,read:workout,read:profile,read:body_measurement","reference_id":"demo-whoop","active":true},"data":[{"metadata":{"end_time":"2022-04-24T05:25:44.774000-05:00","is_nap":false,"start_time":"2022-04-23T21:25:44.774000-05:00","summary_id":"ecfc6a15-4661-442f-a9a4-f160dd7afae8","upload_type":2},"respiration_data":{"breaths_data":{"avg_breaths_per_min":16.11328125,"start_time":"2022-04-23T21:25:44.774000-05:00","end_time":"2022-04-24T05:25:44.774000-05:00"}},"scores":{"sleep":98},"sleep_durations_data":{"asleep":{"duration_asleep_state_seconds":27415.794,"duration_deep_sleep_state_seconds":6630.37,"duration_light_sleep_state_seconds":14905.851,"duration_REM_sleep_state_seconds":5879.573},"awake":{"duration_awake_state_seconds":1403.507,"num_wakeup_events":12},"other":{"duration_in_bed_seconds":30272.735,"duration_unmeasurable_sleep_seconds":0},"sleep_efficiency":91.69533848}}],"version":"2022-03-16"}`
	dailyBody = `{"type":"daily","user":{"user_id":"d02d7271-066c-41d5-8cdc-f9ad96622f2d","provider":"OURA","created_at":"2026-12-03T17:27:14.536000+00:00","last_webhook_update":"2026-12-03T17:27:17.077268+00:00","reference_id":"demo-oura","active":true},"data":[{"metadata":{"end_time":"2024-11-13T00:00:00.000000+01:00","start_time":"2024-11-12T00:00:00.000000+01:00","upload_type":1},"oxygen_data":{"avg_saturation_percentage":96.153},"scores":{"recovery":87,"sleep":83}}],"version":"2022-03-16"}`
	authBody  = `{"message":"User has successfully authenticated","reference_id":"demo-garmin","status":"success","type":"auth","user":{"user_id":"f9951beb-501b-48a8-869f-57304cefbfbd","provider":"GARMIN","created_at":"2026-12-03T17:27:14.444000+00:00","scopes":"PARTNER_WRITE,PARTNER_READ,CONNECT_READ,CONNECT_WRITE","reference_id":"demo-garmin","active":true},"version":"2022-03-16"}`
)

// Identities of the envelopes above, read from them by hand.
const (
	whoopUser = "bc6cf053-f1cc-43f8-bbc6-250d047fef4c" // sleepBody user.user_id
	sleepKey  = "ecfc6a15-4661-442f-a9a4-f160dd7afae8" // sleepBody data[0].metadata.summary_id
	ouraUser  = "d02d7271-066c-41d5-8cdc-f9ad96622f2d" // dailyBody user.user_id
	dailyKey  = "2024-11-12"                           // the day of dailyBody data[0].metadata.start_time
	garmin    = "f9951beb-501b-48a8-869f-57304cefbfbd" // authBody user.user_id
	created   = "2026-12-03T17:30:00Z"                 // when the test events were "appended"
	sleepFrom = "2022-04-23T21:25:44.774-05:00"        // sleepBody data[0].metadata.start_time
	sleepTo   = "2022-04-24T05:25:44.774-05:00"        // sleepBody data[0].metadata.end_time
	dailyFrom = "2024-11-12T00:00:00+01:00"            // dailyBody data[0].metadata.start_time
	dailyTo   = "2024-11-13T00:00:00+01:00"            // dailyBody data[0].metadata.end_time
	password  = "hunter2-Mongo-pw"                     // a password that must never show
	closedURI = "mongodb://127.0.0.1:1/"               // nothing listens on port 1
)

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// sleepEvent is the WHOOP sleep at version v; v2 and later carry a sleep
// score of 97+v instead of 98, so versions are told apart by content.
func sleepEvent(t testing.TB, v int) destination.Event {
	body := sleepBody
	if v > 1 {
		body = strings.Replace(body, `"scores":{"sleep":98}`, fmt.Sprintf(`"scores":{"sleep":%d}`, 97+v), 1)
	}
	return destination.Event{
		Seq: int64(10 + v), DeliveryID: fmt.Sprintf("dlv_sleep_v%d", v), Type: "sleep",
		UserID: whoopUser, Provider: "WHOOP", RecordKey: sleepKey, Version: v,
		Start: mustTime(t, sleepFrom), End: mustTime(t, sleepTo),
		CreatedAt: mustTime(t, created).Add(time.Duration(v) * time.Minute), Body: json.RawMessage(body),
	}
}

// otherSleep is a second WHOOP sleep record (another summary_id), version 1.
func otherSleep(t testing.TB, n int) destination.Event {
	key := fmt.Sprintf("other-sleep-%04d", n)
	ev := sleepEvent(t, 1)
	ev.Seq, ev.DeliveryID, ev.RecordKey = int64(1000+n), "dlv_"+key, key
	ev.Body = json.RawMessage(strings.Replace(sleepBody, sleepKey, key, 1))
	return ev
}

func dailyEvent(t testing.TB) destination.Event {
	return destination.Event{
		Seq: 20, DeliveryID: "dlv_daily_1", Type: "daily", UserID: ouraUser, Provider: "OURA",
		RecordKey: dailyKey, Version: 1, Start: mustTime(t, dailyFrom), End: mustTime(t, dailyTo),
		CreatedAt: mustTime(t, created), Body: json.RawMessage(dailyBody),
	}
}

func authEvent(t testing.TB) destination.Event {
	return destination.Event{
		Seq: 1, DeliveryID: "dlv_auth_1", Type: "auth", UserID: garmin, Provider: "GARMIN",
		CreatedAt: mustTime(t, created), Body: json.RawMessage(authBody),
	}
}

func healthcheckEvent(t testing.TB) destination.Event {
	return destination.Event{
		DeliveryID: "healthcheck-abc", Type: "healthcheck", CreatedAt: mustTime(t, created),
		Body: json.RawMessage(`{"type":"healthcheck","status":"success","message":"wearbridge destination test","creation_timestamp":"2026-12-03T17:30:00.000000+00:00","version":"2022-03-16"}`),
	}
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// sameJSON fails unless got and want hold the same JSON value.
func sameJSON(t *testing.T, what string, got, want []byte) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: stored value is not JSON: %v: %s", what, err, got)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("%s: want is not JSON: %v", what, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got  %s\n want %s", what, got, want)
	}
}

// dataOf returns data[0] of an envelope.
func dataOf(t *testing.T, body []byte) []byte {
	t.Helper()
	var env struct{ Data []json.RawMessage }
	if err := json.Unmarshal(body, &env); err != nil || len(env.Data) != 1 {
		t.Fatalf("envelope: %v (%d records)", err, len(env.Data))
	}
	return env.Data[0]
}

func settingsJSON(uri, database string) json.RawMessage {
	b, _ := json.Marshal(Settings{URI: uri, Database: database})
	return b
}

// testKind is the kind with short timeouts, so outages show within seconds.
func testKind(t *testing.T) *Kind {
	return NewKind(Options{Logger: testLogger(t), ServerSelectionTimeout: 2 * time.Second, ConnectTimeout: 2 * time.Second})
}

// ---------------------------------------------------------------- unit tests

func TestParseSettings(t *testing.T) {
	tests := []struct {
		name, raw string
		wantDB    string
		wantErr   string
	}{
		{"default database", `{"uri":"mongodb://h/"}`, DefaultDatabase, ""},
		{"no path", `{"uri":"mongodb://h:27017"}`, DefaultDatabase, ""},
		{"database from uri", `{"uri":"mongodb://u:p@h1:1,h2:2/health?authSource=admin"}`, "health", ""},
		{"setting beats uri", `{"uri":"mongodb://h/health","database":"other-db_2"}`, "other-db_2", ""},
		{"srv", `{"uri":"mongodb+srv://cluster0.example.net/app"}`, "app", ""},
		{"empty", ``, "", "uri is required"},
		{"no uri", `{"database":"x"}`, "", "uri is required"},
		{"blank uri", `{"uri":"  "}`, "", "uri is required"},
		{"wrong scheme", `{"uri":"postgres://h/db"}`, "", `must start with "mongodb://"`},
		{"unknown field", `{"uri":"mongodb://h/","collection":"x"}`, "", `unknown field "collection"`},
		{"bad database", `{"uri":"mongodb://h/","database":"a.b"}`, "", `database "a.b"`},
		{"bad database in uri", `{"uri":"mongodb://h/a$b"}`, "", `database "a$b"`},
		{"database too long", `{"uri":"mongodb://h/","database":"` + strings.Repeat("a", 64) + `"}`, "", "database"},
		{"trailing", `{"uri":"mongodb://h/"} {}`, "", "trailing data"},
		{"not an object", `[1]`, "", "settings:"},
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
			if s.Database != tc.wantDB {
				t.Errorf("database = %q, want %q", s.Database, tc.wantDB)
			}
		})
	}
}

func TestURIParts(t *testing.T) {
	tests := []struct {
		uri, authority, database string
		passwords                []string
	}{
		{"mongodb://h", "h", "", nil},
		{"mongodb://h:1/db", "h:1", "db", nil},
		{"mongodb://u@h/db?x=1", "u@h", "db", nil},
		{"mongodb://u:pw@h1:1,h2:2/db?authSource=admin", "u:pw@h1:1,h2:2", "db", []string{"pw"}},
		{"mongodb://u:p%40ss%2Fw@h/", "u:p%40ss%2Fw@h", "", []string{"p%40ss%2Fw", "p@ss/w"}},
		{"mongodb://u:p/w@h/db", "u:p/w@h", "db", []string{"p/w"}},
		{"mongodb://u:@h/db", "u:@h", "db", nil},
		{"mongodb://h/?authMechanismProperties=a:b@c", "h", "", nil},
		{"mongodb+srv://u:pw@c.example.net/my%2Ddb", "u:pw@c.example.net", "my-db", []string{"pw"}},
	}
	for _, tc := range tests {
		if got := authority(tc.uri); got != tc.authority {
			t.Errorf("authority(%q) = %q, want %q", tc.uri, got, tc.authority)
		}
		if got := databaseOf(tc.uri); got != tc.database {
			t.Errorf("databaseOf(%q) = %q, want %q", tc.uri, got, tc.database)
		}
		if got := passwordsOf(tc.uri); !slices.Equal(got, tc.passwords) {
			t.Errorf("passwordsOf(%q) = %q, want %q", tc.uri, got, tc.passwords)
		}
	}
}

func TestOpenBadURIHidesPassword(t *testing.T) {
	tests := []struct{ name, uri string }{
		{"bad port", "mongodb://u:" + password + "@127.0.0.1:notaport/db"},
		{"bad option", "mongodb://u:" + password + "@127.0.0.1/db?connectTimeoutMS=soon"},
		{"bad auth mechanism", "mongodb://u:" + password + "@127.0.0.1/db?authMechanism=NOPE"},
		{"encoded password, bad option", "mongodb://u:" + strings.ReplaceAll(password, "-", "%2D") + "@127.0.0.1/db?w=x&journal=maybe"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewKind(Options{}).Open(t.Context(), destination.Config{ID: "dst_1", Settings: settingsJSON(tc.uri, "")})
			if err == nil {
				t.Fatal("Open succeeded")
			}
			t.Logf("error: %v", err)
			if strings.Contains(err.Error(), password) || strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error shows the password: %v", err)
			}
			if !strings.Contains(err.Error(), "uri") {
				t.Errorf("error does not name the uri: %v", err)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name                       string
		err                        error
		permanent, unreach, dupKey bool
	}{
		{"auth failed", mongo.CommandError{Code: 18, Message: "Authentication failed."}, true, false, false},
		{"auth failed wrapped", fmt.Errorf("handshake: %w", mongo.CommandError{Code: 18}), true, false, false},
		{"auth failed in a network-labelled handshake", mongo.CommandError{Code: 18, Labels: []string{"NetworkError"}}, true, false, false},
		{"not authorized", mongo.CommandError{Code: 13}, false, false, false},
		{"bad field name", mongo.WriteException{WriteErrors: mongo.WriteErrors{{Code: 2, Message: "invalid key"}}}, true, false, false},
		{"too large", mongo.WriteError{Code: 10334}, true, false, false},
		{"validation", mongo.BulkWriteError{WriteError: mongo.WriteError{Code: 121}}, true, false, false},
		{"duplicate key", mongo.WriteException{WriteErrors: mongo.WriteErrors{{Code: 11000}}}, false, false, true},
		{"shutdown", mongo.CommandError{Code: 91, Labels: []string{"RetryableWriteError"}}, false, false, false},
		{"network", mongo.CommandError{Labels: []string{"NetworkError"}, Message: "connection reset"}, false, true, false},
		{"refused", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, false, true, false},
		{"timeout", fmt.Errorf("server selection error: %w", context.DeadlineExceeded), false, true, false},
		{"eof", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), false, true, false},
		{"disconnected", mongo.ErrClientDisconnected, false, true, false},
		{"other", errors.New("tls: handshake failure"), false, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := permanent(tc.err); got != tc.permanent {
				t.Errorf("permanent = %v, want %v", got, tc.permanent)
			}
			if got := unreachable(tc.err); got != tc.unreach {
				t.Errorf("unreachable = %v, want %v", got, tc.unreach)
			}
			if got := duplicateKey(tc.err); got != tc.dupKey {
				t.Errorf("duplicateKey = %v, want %v", got, tc.dupKey)
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	m := &MongoDB{hosts: "db.example.net:27017", dbName: "health", secrets: []string{password}}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"unreachable", context.DeadlineExceeded, "cannot reach the server at db.example.net:27017"},
		{"login", mongo.CommandError{Code: 18, Message: "auth as u:" + password}, "refused the login"},
		{"privilege", mongo.CommandError{Code: 13, Message: "not authorized"}, "needs the readWrite role"},
		{"other", errors.New("boom"), "mongodb: write: boom"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := m.describe("write", tc.err).Error()
			if !strings.Contains(got, tc.want) {
				t.Errorf("describe = %q, want it to contain %q", got, tc.want)
			}
			if strings.Contains(got, password) {
				t.Errorf("describe shows the password: %q", got)
			}
		})
	}
}

func TestScrub(t *testing.T) {
	err := scrub(errors.New("login as u:pw-123 (p@ss) failed"), []string{"pw-123", "p@ss"})
	if got, want := err.Error(), "login as u:xxxxx (xxxxx) failed"; got != want {
		t.Errorf("scrub = %q, want %q", got, want)
	}
	plain := errors.New("no secret here")
	if scrub(plain, []string{"pw-123", ""}) != plain {
		t.Error("scrub changed an error without the secret")
	}
}

// offline returns a destination whose server is never reached.
func offline(t *testing.T) *MongoDB {
	t.Helper()
	m, err := testKind(t).connect(destination.Config{ID: "dst_1", Settings: settingsJSON(closedURI, "")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m
}

// TestRejectsBadEvents needs no server: events that cannot be stored fail
// permanently before anything is sent.
func TestRejectsBadEvents(t *testing.T) {
	d := offline(t)
	good := sleepEvent(t, 1)
	tests := []struct {
		name    string
		edit    func(ev *destination.Event)
		wantErr string
	}{
		{"body not JSON", func(ev *destination.Event) { ev.Body = json.RawMessage(`{"type":`) }, "not a JSON envelope"},
		{"no records", func(ev *destination.Event) {
			ev.Body = json.RawMessage(strings.Replace(sleepBody, `"data":[{`, `"data":[],"x":[{`, 1))
		}, "holds 0"},
		{"two records", func(ev *destination.Event) {
			ev.Body = json.RawMessage(strings.Replace(sleepBody, `"data":[{`, `"data":[{},{`, 1))
		}, "holds 2"},
		{"record not an object", func(ev *destination.Event) {
			ev.Body = json.RawMessage(strings.Replace(sleepBody, `"data":[{`, `"data":[null],"x":[{`, 1))
		}, "not a JSON object"},
		{"record too deep", func(ev *destination.Event) {
			deep := strings.Repeat(`{"a":`, maxDepth+1) + "1" + strings.Repeat("}", maxDepth+1)
			ev.Body = json.RawMessage(strings.Replace(sleepBody, `"scores":{"sleep":98}`, `"scores":`+deep, 1))
		}, "nested deeper"},
		{"record too large", func(ev *destination.Event) {
			big := strings.Repeat("x", 17<<20)
			ev.Body = json.RawMessage(strings.Replace(sleepBody, `"is_nap":false`, `"is_nap":false,"note":"`+big+`"`, 1))
		}, "16 MiB"},
		{"unknown type", func(ev *destination.Event) { ev.Type = "steps" }, `"steps" is not a data type`},
		{"events collection as type", func(ev *destination.Event) { ev.Type = eventsCollection }, "is not a data type"},
		{"no user", func(ev *destination.Event) {
			ev.UserID = ""
			ev.Body = json.RawMessage(`{"type":"sleep","data":[{}]}`)
		}, "needs a user id"},
		{"data not an array", func(ev *destination.Event) {
			ev.Body = json.RawMessage(strings.Replace(sleepBody, `"data":[{`, `"data":{"x":1},"y":[{`, 1))
		}, "exactly 1 record"},
		{"no delivery id", func(ev *destination.Event) { ev.RecordKey, ev.DeliveryID = "", "" }, "no delivery id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := good
			tc.edit(&ev)
			res := d.Deliver(t.Context(), []destination.Event{ev})
			if len(res) != 1 {
				t.Fatalf("%d results", len(res))
			}
			if res[0].Err == nil || !res[0].Permanent || !strings.Contains(res[0].Err.Error(), tc.wantErr) {
				// An attempt to reach the (closed) server would fail
				// retryably instead.
				t.Fatalf("result = %+v, want a permanent error containing %q", res[0], tc.wantErr)
			}
		})
	}
}

// ---------------------------------------------------------------- server tests

// serverURI returns TEST_MONGODB_URI, or skips (fails when the servers are
// required).
func serverURI(t *testing.T) string {
	t.Helper()
	u := os.Getenv("TEST_MONGODB_URI")
	if u == "" {
		if os.Getenv("WB_REQUIRE_SERVERS") == "1" {
			t.Fatal("TEST_MONGODB_URI is not set (run: eval \"$(scripts/test-servers up)\")")
		}
		t.Skip("needs TEST_MONGODB_URI (eval \"$(scripts/test-servers up)\")")
	}
	return u
}

// uniqueName returns prefix plus a random suffix.
func uniqueName(prefix string) string {
	return fmt.Sprintf("%s_%d_%08x", prefix, time.Now().UnixNano()%1e9, rand.Uint32())
}

// admin returns a client of the test server, disconnected when the test
// ends.
func admin(t *testing.T) *mongo.Client {
	t.Helper()
	c, err := mongo.Connect(options.Client().ApplyURI(serverURI(t)).SetServerSelectionTimeout(5 * time.Second))
	if err != nil {
		t.Fatalf("connect to TEST_MONGODB_URI: %v", err)
	}
	t.Cleanup(func() { _ = c.Disconnect(context.Background()) })
	return c
}

// newDatabase returns a fresh database name, dropped when the test ends.
func newDatabase(t *testing.T) string {
	t.Helper()
	c := admin(t)
	name := uniqueName("wbt")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = c.Database(name).Drop(ctx)
	})
	return name
}

// openDest opens a destination on uri and database, closed when the test
// ends.
func openDest(t *testing.T, uri, database string) *MongoDB {
	t.Helper()
	d, err := testKind(t).Open(t.Context(), destination.Config{ID: "dst_test", Kind: KindName, Settings: settingsJSON(uri, database)})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d.(*MongoDB)
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

// readBack reads back ev, failing on errors.
func readBack(t *testing.T, d *MongoDB, ev destination.Event) json.RawMessage {
	t.Helper()
	got, err := d.ReadBack(t.Context(), ev)
	if err != nil {
		t.Fatalf("ReadBack(%s): %v", ev.DeliveryID, err)
	}
	return got
}

// dump returns every document of the database's collections as canonical
// Extended JSON, in _id order.
func dump(t *testing.T, c *mongo.Client, database string) string {
	t.Helper()
	var sb strings.Builder
	for _, name := range collectionNames() {
		cur, err := c.Database(database).Collection(name).Find(t.Context(), bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
		if err != nil {
			t.Fatalf("dump %s: %v", name, err)
		}
		fmt.Fprintf(&sb, "%s:\n", name)
		for cur.Next(t.Context()) {
			j, err := bson.MarshalExtJSON(cur.Current, true, false)
			if err != nil {
				t.Fatal(err)
			}
			sb.Write(j)
			sb.WriteByte('\n')
		}
		if err := cur.Err(); err != nil {
			t.Fatalf("dump %s: %v", name, err)
		}
		_ = cur.Close(t.Context())
	}
	return sb.String()
}

// countDocs counts a collection's documents.
func countDocs(t *testing.T, c *mongo.Client, database, coll string) int64 {
	t.Helper()
	n, err := c.Database(database).Collection(coll).CountDocuments(t.Context(), bson.D{})
	if err != nil {
		t.Fatalf("count %s: %v", coll, err)
	}
	return n
}

// findDoc returns the document with _id id.
func findDoc(t *testing.T, c *mongo.Client, database, coll, id string) bson.Raw {
	t.Helper()
	raw, err := c.Database(database).Collection(coll).FindOne(t.Context(), bson.D{{Key: "_id", Value: id}}).Raw()
	if err != nil {
		t.Fatalf("find %s in %s: %v", id, coll, err)
	}
	return raw
}

func TestReadBack(t *testing.T) {
	t.Parallel()
	uri, db := serverURI(t), newDatabase(t)
	d := openDest(t, uri, db)
	sleep, daily, auth, hc := sleepEvent(t, 1), dailyEvent(t), authEvent(t), healthcheckEvent(t)
	deliverOK(t, d, sleep, daily, auth, hc)

	sameJSON(t, "sleep data", readBack(t, d, sleep), dataOf(t, sleep.Body))
	sameJSON(t, "daily data", readBack(t, d, daily), dataOf(t, daily.Body))
	sameJSON(t, "auth envelope", readBack(t, d, auth), auth.Body)
	sameJSON(t, "healthcheck envelope", readBack(t, d, hc), hc.Body)

	// The record's fields next to its data.
	c := admin(t)
	doc := findDoc(t, c, db, "sleep", whoopUser+":"+sleepKey)
	for field, want := range map[string]string{
		"user_id": whoopUser, "provider": "WHOOP", "record_key": sleepKey, "delivery_id": "dlv_sleep_v1",
	} {
		if got := doc.Lookup(field).StringValue(); got != want {
			t.Errorf("sleep %s = %q, want %q", field, got, want)
		}
	}
	if v := doc.Lookup("version").AsInt64(); v != 1 {
		t.Errorf("sleep version = %d, want 1", v)
	}
	for field, want := range map[string]time.Time{
		"start_time": mustTime(t, sleepFrom), "end_time": mustTime(t, sleepTo),
		"updated_at": mustTime(t, created).Add(time.Minute), // sleepEvent(1).CreatedAt
	} {
		if got := doc.Lookup(field).Time(); !got.Equal(want) {
			t.Errorf("sleep %s = %s, want %s", field, got, want)
		}
	}
	// Numbers stay numbers: an integer and a float of the sleep record.
	data := doc.Lookup("data").Document()
	if v := data.Lookup("sleep_durations_data", "awake", "num_wakeup_events"); v.Type != bson.TypeInt32 || v.Int32() != 12 {
		t.Errorf("num_wakeup_events = %s %v, want int32 12", v.Type, v) // sleepBody ...awake.num_wakeup_events
	}
	if v := data.Lookup("sleep_durations_data", "sleep_efficiency"); v.Type != bson.TypeDouble || v.Double() != 91.69533848 {
		t.Errorf("sleep_efficiency = %s %v, want double 91.69533848", v.Type, v) // sleepBody ...sleep_efficiency
	}

	ev := findDoc(t, c, db, eventsCollection, "dlv_auth_1")
	if got := ev.Lookup("type").StringValue(); got != "auth" {
		t.Errorf("auth type = %q", got)
	}
	if got := ev.Lookup("user_id").StringValue(); got != garmin {
		t.Errorf("auth user_id = %q, want %q", got, garmin)
	}
	if got := ev.Lookup("created_at").Time(); !got.Equal(mustTime(t, created)) {
		t.Errorf("auth created_at = %s", got)
	}
	if got := findDoc(t, c, db, eventsCollection, "healthcheck-abc").Lookup("user_id").Type; got != bson.TypeNull {
		t.Errorf("healthcheck user_id is a %s, want null", got)
	}
	if n := countDocs(t, c, db, eventsCollection); n != 2 {
		t.Errorf("user_events has %d documents, want 2 (auth, healthcheck)", n)
	}

	// The healthcheck can be removed, once.
	if err := d.RemoveHealthcheck(t.Context(), hc); err != nil {
		t.Fatalf("RemoveHealthcheck: %v", err)
	}
	if _, err := d.ReadBack(t.Context(), hc); !errors.Is(err, destination.ErrNotFound) {
		t.Errorf("ReadBack after removal: %v, want ErrNotFound", err)
	}
	if err := d.RemoveHealthcheck(t.Context(), hc); !errors.Is(err, destination.ErrNotFound) {
		t.Errorf("second RemoveHealthcheck: %v, want ErrNotFound", err)
	}
	// Only healthchecks are removed.
	notHC := auth
	if err := d.RemoveHealthcheck(t.Context(), notHC); !errors.Is(err, destination.ErrNotFound) {
		t.Errorf("RemoveHealthcheck of the auth event: %v, want ErrNotFound", err)
	}
	// Records that were never delivered are not found.
	other := sleepEvent(t, 1)
	other.RecordKey = "no-such-record"
	if _, err := d.ReadBack(t.Context(), other); !errors.Is(err, destination.ErrNotFound) {
		t.Errorf("ReadBack of an unknown record: %v, want ErrNotFound", err)
	}
	// A non-data event is stored whatever the shape of its data and user.
	odd := destination.Event{
		Seq: 40, DeliveryID: "dlv_odd", Type: "large_request_processing", CreatedAt: mustTime(t, created),
		Body: json.RawMessage(`{"type":"large_request_processing","user":null,"data":{"reference":"r-1","pages":3},"version":"2022-03-16"}`),
	}
	deliverOK(t, d, odd)
	sameJSON(t, "odd envelope", readBack(t, d, odd), odd.Body)
	// The user id may come from the envelope alone.
	noUser := sleep
	noUser.UserID = ""
	sameJSON(t, "sleep data by the envelope's user", readBack(t, d, noUser), dataOf(t, sleep.Body))
}

func TestIdempotent(t *testing.T) {
	t.Parallel()
	uri, db := serverURI(t), newDatabase(t)
	d := openDest(t, uri, db)
	c := admin(t)
	v1, v2, daily, auth := sleepEvent(t, 1), sleepEvent(t, 2), dailyEvent(t), authEvent(t)

	deliverOK(t, d, v1, daily, auth)
	once := dump(t, c, db)
	deliverOK(t, d, v1, daily, auth)
	if twice := dump(t, c, db); twice != once {
		t.Errorf("delivering twice changed the database:\nonce:\n%s\ntwice:\n%s", once, twice)
	}

	// v2 replaces v1; a stale retry of v1 afterwards changes nothing.
	deliverOK(t, d, v2)
	sameJSON(t, "after v2", readBack(t, d, v2), dataOf(t, v2.Body))
	afterV2 := dump(t, c, db)
	if afterV2 == once {
		t.Fatal("v2 changed nothing")
	}
	deliverOK(t, d, v1)
	sameJSON(t, "after stale v1", readBack(t, d, v1), dataOf(t, v2.Body))
	if got := dump(t, c, db); got != afterV2 {
		t.Errorf("a stale v1 changed the database:\nbefore:\n%s\nafter:\n%s", afterV2, got)
	}

	// Replaying the whole range, in order, leaves the database as it was.
	deliverOK(t, d, v1, daily, auth, v2)
	if got := dump(t, c, db); got != afterV2 {
		t.Errorf("a replay changed the database:\nbefore:\n%s\nafter:\n%s", afterV2, got)
	}
	// Both versions in one batch, in either order: v2 wins.
	for _, batch := range [][]destination.Event{{v2, v1}, {v1, v2}} {
		deliverOK(t, d, batch...)
		if got := dump(t, c, db); got != afterV2 {
			t.Errorf("batch %s,%s changed the database", batch[0].DeliveryID, batch[1].DeliveryID)
		}
	}

	// A stale event ahead of new records of the same collection: the bulk
	// write reports the stale one's duplicate key (FerretDB v1 stops
	// there); the new ones still land, once.
	news := []destination.Event{otherSleep(t, 1), otherSleep(t, 2)}
	deliverOK(t, d, v1, news[0], news[1])
	for _, ev := range news {
		sameJSON(t, "new record after a stale one", readBack(t, d, ev), dataOf(t, ev.Body))
	}
	sameJSON(t, "stale v1 in a mixed batch", readBack(t, d, v1), dataOf(t, v2.Body))
	if n := countDocs(t, c, db, "sleep"); n != 3 {
		t.Errorf("sleep has %d documents, want 3", n)
	}
}

// TestOneBadEventInBatch checks that an event the server rejects fails
// alone: FerretDB (and MongoDB) refuse field names starting with "$" in an
// update.
func TestOneBadEventInBatch(t *testing.T) {
	t.Parallel()
	uri, db := serverURI(t), newDatabase(t)
	d := openDest(t, uri, db)
	bad := dailyEvent(t)
	bad.DeliveryID, bad.RecordKey = "dlv_bad", "2024-11-13"
	bad.Body = json.RawMessage(strings.Replace(dailyBody, `"upload_type":1`, `"upload_type":1,"$where":"x"`, 1))
	later := dailyEvent(t)
	later.DeliveryID, later.RecordKey = "dlv_daily_2", "2024-11-14"
	events := []destination.Event{sleepEvent(t, 1), bad, dailyEvent(t), authEvent(t), later}
	res := d.Deliver(t.Context(), events)
	for i, r := range res {
		if i == 1 {
			if r.Err == nil || !r.Permanent || !strings.Contains(r.Err.Error(), "dlv_bad") {
				t.Errorf("bad event: %+v, want a permanent error naming it", r)
			}
			t.Logf("bad event: %v", r.Err)
			continue
		}
		if r.Err != nil {
			t.Errorf("event %s: %v", events[i].DeliveryID, r.Err)
		}
	}
	for _, i := range []int{0, 2, 4} {
		sameJSON(t, events[i].DeliveryID, readBack(t, d, events[i]), dataOf(t, events[i].Body))
	}
	sameJSON(t, "auth", readBack(t, d, events[3]), events[3].Body)
	if _, err := d.ReadBack(t.Context(), bad); !errors.Is(err, destination.ErrNotFound) {
		t.Errorf("bad event read back: %v, want ErrNotFound", err)
	}
}

// TestLargeBatch delivers a batch of many records of one collection. It
// stays at 50 events: FerretDB v1 scans the whole collection for every
// version-guarded update, so 500 take about a minute there.
func TestLargeBatch(t *testing.T) {
	t.Parallel()
	uri, db := serverURI(t), newDatabase(t)
	d := openDest(t, uri, db)
	c := admin(t)
	const sleeps = 48
	events := make([]destination.Event, 0, sleeps+2)
	for n := range sleeps {
		events = append(events, otherSleep(t, n))
	}
	events = append(events, dailyEvent(t), authEvent(t))
	start := time.Now()
	deliverOK(t, d, events...)
	t.Logf("%d events in %s", len(events), time.Since(start))
	deliverOK(t, d, events...) // again: nothing changes
	for coll, want := range map[string]int64{"sleep": sleeps, "daily": 1, eventsCollection: 1} {
		if n := countDocs(t, c, db, coll); n != want {
			t.Errorf("%s has %d documents, want %d", coll, n, want)
		}
	}
	sameJSON(t, "last sleep", readBack(t, d, events[sleeps-1]), dataOf(t, events[sleeps-1].Body))
}

func TestIndexes(t *testing.T) {
	t.Parallel()
	uri, db := serverURI(t), newDatabase(t)
	openDest(t, uri, db)
	openDest(t, uri, db) // a second Open finds them and creates nothing
	c := admin(t)
	for _, name := range collectionNames() {
		specs, err := c.Database(db).Collection(name).Indexes().ListSpecifications(t.Context())
		if err != nil {
			t.Fatalf("list indexes of %s: %v", name, err)
		}
		var got []string
		for _, s := range specs {
			var keys bson.D
			if err := bson.Unmarshal(s.KeysDocument, &keys); err != nil {
				t.Fatal(err)
			}
			got = append(got, keyString(keys))
		}
		slices.Sort(got)
		want := []string{"_id:1", "record_key:1", "start_time:1", "user_id:1"}
		if name == eventsCollection {
			want = []string{"_id:1", "user_id:1,created_at:1"}
		}
		if !slices.Equal(got, want) {
			t.Errorf("indexes of %s = %v, want %v", name, got, want)
		}
	}
}

// TestConcurrentOpen opens several destinations on one new database at once.
func TestConcurrentOpen(t *testing.T) {
	t.Parallel()
	uri, db := serverURI(t), newDatabase(t)
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Go(func() {
			d, err := testKind(t).Open(t.Context(), destination.Config{ID: "dst_1", Settings: settingsJSON(uri, db)})
			if err == nil {
				_ = d.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open %d: %v", i, err)
		}
	}
}

// TestOutage delivers through a TCP proxy that the test cuts and restores:
// while it is down every event fails retryably, within seconds; afterwards
// the same destination delivers them and each lands once.
func TestOutage(t *testing.T) {
	t.Parallel()
	uri, db := serverURI(t), newDatabase(t)
	target := authority(uri)
	if i := strings.LastIndexByte(target, '@'); i >= 0 {
		target = target[i+1:]
	}
	px := destinationtest.StartProxy(t, target)
	d := openDest(t, "mongodb://"+px.Addr+"/", db)
	c := admin(t)

	deliverOK(t, d, authEvent(t))
	px.Stop()
	events := []destination.Event{sleepEvent(t, 1), dailyEvent(t), healthcheckEvent(t)}
	start := time.Now()
	for i, r := range d.Deliver(t.Context(), events) {
		if r.Err == nil || r.Permanent {
			t.Fatalf("event %d during the outage: %+v, want a retryable error", i, r)
		}
		if !strings.Contains(r.Err.Error(), px.Addr) {
			t.Errorf("event %d: error does not name the server %s: %v", i, px.Addr, r.Err)
		}
		t.Logf("during the outage: %v", r.Err)
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Errorf("failing during the outage took %s", el)
	}
	if _, err := d.ReadBack(t.Context(), events[0]); err == nil || errors.Is(err, destination.ErrNotFound) {
		t.Errorf("ReadBack during the outage: %v, want a connection error", err)
	}
	px.Start(t)
	deliverOK(t, d, events...)
	deliverOK(t, d, events...) // the core may retry an event that landed
	for coll, want := range map[string]int64{"sleep": 1, "daily": 1, eventsCollection: 2} {
		if n := countDocs(t, c, db, coll); n != want {
			t.Errorf("%s has %d documents, want %d", coll, n, want)
		}
	}
}

// TestUnreachableOpen points a destination at a port where nothing listens:
// Open fails within seconds, with the default timeouts, names the server
// and hides the password.
func TestUnreachableOpen(t *testing.T) {
	t.Parallel()
	start := time.Now()
	uri := "mongodb://wb:" + password + "@127.0.0.1:1/health"
	_, err := NewKind(Options{}).Open(t.Context(), destination.Config{ID: "dst_1", Settings: settingsJSON(uri, "")})
	el := time.Since(start)
	if err == nil {
		t.Fatal("Open succeeded")
	}
	t.Logf("after %s: %v", el, err)
	if el > DefaultServerSelectionTimeout+3*time.Second {
		t.Errorf("Open took %s", el)
	}
	for _, want := range []string{"dst_1", "cannot reach the server at 127.0.0.1:1", "connection refused"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q", want)
		}
	}
	if strings.Contains(err.Error(), password) {
		t.Errorf("error shows the password: %v", err)
	}
}

// TestOpenHonoursContext: a caller's deadline shorter than the server
// selection timeout ends Open.
func TestOpenHonoursContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := NewKind(Options{}).Open(ctx, destination.Config{ID: "dst_1", Settings: settingsJSON(closedURI, "")})
	if err == nil {
		t.Fatal("Open succeeded")
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("Open took %s with a 300ms deadline", el)
	}
}
