package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

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
	whoopUser = "bc6cf053-f1cc-43f8-bbc6-250d047fef4c"     // sleepBody user.user_id
	sleepKey  = "ecfc6a15-4661-442f-a9a4-f160dd7afae8"     // sleepBody data[0].metadata.summary_id
	ouraUser  = "d02d7271-066c-41d5-8cdc-f9ad96622f2d"     // dailyBody user.user_id
	dailyKey  = "2024-11-12"                               // the day of dailyBody data[0].metadata.start_time
	garmin    = "f9951beb-501b-48a8-869f-57304cefbfbd"     // authBody user.user_id
	created   = "2026-12-03T17:30:00Z"                     // when the test events were "appended"
	sleepFrom = "2022-04-23T21:25:44.774-05:00"            // sleepBody data[0].metadata.start_time
	sleepTo   = "2022-04-24T05:25:44.774-05:00"            // sleepBody data[0].metadata.end_time
	dailyFrom = "2024-11-12T00:00:00+01:00"                // dailyBody data[0].metadata.start_time
	dailyTo   = "2024-11-13T00:00:00+01:00"                // dailyBody data[0].metadata.end_time
	password  = "hunter2-Pg-password"                      // the test role's password
	badPass   = "wrong-Pg-password"                        // a password the server refuses
	closedDSN = "postgres://postgres@127.0.0.1:1/postgres" // nothing listens on port 1
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

// sameJSON fails unless got and want hold the same JSON value (jsonb
// reorders keys and changes whitespace).
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

func settingsJSON(dsn, schema string) json.RawMessage {
	b, _ := json.Marshal(Settings{DSN: dsn, Schema: schema})
	return b
}

// ---------------------------------------------------------------- unit tests

func TestParseSettings(t *testing.T) {
	tests := []struct {
		name, raw  string
		wantSchema string
		wantErr    string
	}{
		{"default schema", `{"dsn":"postgres://u@h/db"}`, DefaultSchema, ""},
		{"own schema", `{"dsn":"postgres://u@h/db","schema":"health_2"}`, "health_2", ""},
		{"empty", ``, "", "dsn is required"},
		{"no dsn", `{"schema":"x"}`, "", "dsn is required"},
		{"unknown field", `{"dsn":"postgres://u@h/db","table":"x"}`, "", `unknown field "table"`},
		{"upper case", `{"dsn":"postgres://u@h/db","schema":"Health"}`, "", `schema "Health"`},
		{"dash", `{"dsn":"postgres://u@h/db","schema":"a-b"}`, "", `schema "a-b"`},
		{"digit first", `{"dsn":"postgres://u@h/db","schema":"1a"}`, "", `schema "1a"`},
		{"too long", `{"dsn":"postgres://u@h/db","schema":"` + strings.Repeat("a", 64) + `"}`, "", "schema"},
		{"reserved", `{"dsn":"postgres://u@h/db","schema":"pg_x"}`, "", "reserved"},
		{"trailing", `{"dsn":"postgres://u@h/db"} {}`, "", "trailing data"},
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
			if s.Schema != tc.wantSchema {
				t.Errorf("schema = %q, want %q", s.Schema, tc.wantSchema)
			}
		})
	}
}

func TestOpenBadDSNHidesPassword(t *testing.T) {
	tests := []struct{ name, dsn, secret string }{
		{"url with bad port", "postgres://u:s3cr3t-pw@127.0.0.1:notaport/db", "s3cr3t-pw"},
		{"url with bad option", "postgres://u:s3cr3t-pw@127.0.0.1/db?sslmode=sometimes", "s3cr3t-pw"},
		{"key value", "host=127.0.0.1 password=s3cr3t-pw sslmode=sometimes", "s3cr3t-pw"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewKind(Options{}).Open(t.Context(), destination.Config{ID: "dst_1", Settings: settingsJSON(tc.dsn, "")})
			if err == nil {
				t.Fatal("Open succeeded")
			}
			if strings.Contains(err.Error(), tc.secret) {
				t.Errorf("error shows the password: %v", err)
			}
			if !strings.Contains(err.Error(), "dsn") {
				t.Errorf("error does not name the dsn: %v", err)
			}
		})
	}
}

func TestPasswordOf(t *testing.T) {
	tests := []struct{ dsn, want string }{
		{"postgres://u:pw@h/db", "pw"},
		{"postgres://u@h/db", ""},
		{"postgresql://u:p:w@h:5432/db", "p:w"},
		{"host=h password=pw user=u", "pw"},
		{"host=h password='pw' user=u", "pw"},
		{"host=h", ""},
	}
	for _, tc := range tests {
		if got := passwordOf(tc.dsn); got != tc.want {
			t.Errorf("passwordOf(%q) = %q, want %q", tc.dsn, got, tc.want)
		}
	}
}

func TestChunks(t *testing.T) {
	one := func(int) int { return 1 }
	tests := []struct {
		name       string
		n          int
		size       func(int) int
		wantChunks [][2]int
	}{
		{"none", 0, one, nil},
		{"one chunk", 500, one, [][2]int{{0, 500}}},
		{"row limit", 2500, one, [][2]int{{0, 1000}, {1000, 2000}, {2000, 2500}}},
		{"byte limit", 5, func(int) int { return 6 << 20 }, [][2]int{{0, 2}, {2, 4}, {4, 5}}},
		{"huge row alone", 2, func(int) int { return 40 << 20 }, [][2]int{{0, 1}, {1, 2}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := chunks(tc.n, tc.size); !reflect.DeepEqual(got, tc.wantChunks) {
				t.Errorf("chunks = %v, want %v", got, tc.wantChunks)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name                               string
		err                                error
		permanent, eventSpecific, unreachd bool
	}{
		{"wrong password", &pgconn.PgError{Code: "28P01"}, true, false, false},
		{"bad json text", fmt.Errorf("x: %w", &pgconn.PgError{Code: "22P05"}), true, true, false},
		{"not null", &pgconn.PgError{Code: "23502"}, true, true, false},
		{"row too big", &pgconn.PgError{Code: "54000"}, true, true, false},
		{"no privilege", &pgconn.PgError{Code: "42501"}, false, false, false},
		{"no database", &pgconn.PgError{Code: "3D000"}, false, false, false},
		{"shutdown", &pgconn.PgError{Code: "57P01"}, false, false, false},
		{"deadlock", &pgconn.PgError{Code: "40P01"}, false, false, false},
		{"refused", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, false, false, true},
		{"timeout", context.DeadlineExceeded, false, false, true},
		{"eof", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), false, false, true},
		{"other", errors.New("tls: handshake failure"), false, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := permanent(tc.err); got != tc.permanent {
				t.Errorf("permanent = %v, want %v", got, tc.permanent)
			}
			if got := eventSpecific(tc.err); got != tc.eventSpecific {
				t.Errorf("eventSpecific = %v, want %v", got, tc.eventSpecific)
			}
			if got := unreachable(tc.err); got != tc.unreachd {
				t.Errorf("unreachable = %v, want %v", got, tc.unreachd)
			}
		})
	}
}

func TestScrub(t *testing.T) {
	err := scrub(errors.New("login as u:pw-123 failed"), "pw-123")
	if got, want := err.Error(), "login as u:xxxxx failed"; got != want {
		t.Errorf("scrub = %q, want %q", got, want)
	}
	plain := errors.New("no secret here")
	if scrub(plain, "pw-123") != plain {
		t.Error("scrub changed an error without the secret")
	}
}

// TestRejectsBadEvents needs no server: events that cannot be stored fail
// permanently before anything is sent.
func TestRejectsBadEvents(t *testing.T) {
	d, err := NewKind(Options{Logger: testLogger(t)}).Open(t.Context(), destination.Config{ID: "dst_1", Settings: settingsJSON(closedDSN, "")})
	if err != nil {
		t.Fatalf("Open at a closed port: %v", err)
	}
	defer d.Close()
	good := sleepEvent(t, 1)
	tests := []struct {
		name    string
		edit    func(ev *destination.Event)
		wantErr string
	}{
		{"body not JSON", func(ev *destination.Event) { ev.Body = json.RawMessage(`{"type":`) }, "not a JSON envelope"},
		{"no records", func(ev *destination.Event) {
			ev.Body = json.RawMessage(strings.Replace(sleepBody, `"data":[{`, `"data":[],"x":[{`, 1))
		}, "0 records"},
		{"two records", func(ev *destination.Event) {
			ev.Body = json.RawMessage(strings.Replace(sleepBody, `"data":[{`, `"data":[{},{`, 1))
		}, "2 records"},
		{"record not an object", func(ev *destination.Event) {
			ev.Body = json.RawMessage(strings.Replace(sleepBody, `"data":[{`, `"data":[null],"x":[{`, 1))
		}, "not a JSON object"},
		{"unknown type", func(ev *destination.Event) { ev.Type = "steps" }, `"steps" is not a data type`},
		{"no user", func(ev *destination.Event) {
			ev.UserID = ""
			ev.Body = json.RawMessage(`{"type":"sleep","data":[{}]}`)
		}, "needs a user id"},
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
				t.Fatalf("result = %+v, want a permanent error containing %q", res[0], tc.wantErr)
			}
		})
	}
}

// ---------------------------------------------------------------- server tests

// serverURL returns TEST_DATABASE_URL, or skips (fails when the servers are
// required).
func serverURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("TEST_DATABASE_URL")
	if u == "" {
		if os.Getenv("WB_REQUIRE_SERVERS") == "1" || os.Getenv("WB_REQUIRE_POSTGRES") == "1" {
			t.Fatal("TEST_DATABASE_URL is not set (run: eval \"$(scripts/test-servers up)\")")
		}
		t.Skip("needs TEST_DATABASE_URL (eval \"$(scripts/test-servers up)\")")
	}
	return u
}

// uniqueName returns prefix plus a random suffix.
func uniqueName(prefix string) string {
	return fmt.Sprintf("%s_%d_%08x", prefix, time.Now().UnixNano()%1e9, rand.Uint32())
}

// admin connects to the test server as its superuser.
func admin(t *testing.T) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(t.Context(), serverURL(t))
	if err != nil {
		t.Fatalf("connect to TEST_DATABASE_URL: %v", err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

// newSchema returns a fresh schema name, dropped when the test ends.
func newSchema(t *testing.T) string {
	t.Helper()
	base := serverURL(t)
	schema := uniqueName("wbt")
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), base)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), `DROP SCHEMA IF EXISTS "`+schema+`" CASCADE`)
	})
	return schema
}

// openDest opens a destination on dsn and schema, closed when the test ends.
func openDest(t *testing.T, dsn, schema string) *Postgres {
	t.Helper()
	d, err := NewKind(Options{Logger: testLogger(t)}).Open(t.Context(), destination.Config{ID: "dst_test", Kind: KindName, Settings: settingsJSON(dsn, schema)})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d.(*Postgres)
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
func readBack(t *testing.T, d *Postgres, ev destination.Event) json.RawMessage {
	t.Helper()
	got, err := d.ReadBack(t.Context(), ev)
	if err != nil {
		t.Fatalf("ReadBack(%s): %v", ev.DeliveryID, err)
	}
	return got
}

// dump returns every row of the schema's tables as text, in key order.
func dump(t *testing.T, c *pgx.Conn, schema string) string {
	t.Helper()
	var sb strings.Builder
	for _, table := range []string{"users", "events", "activity", "sleep", "daily", "body", "nutrition", "menstruation", "athlete"} {
		rows, err := c.Query(t.Context(), fmt.Sprintf(`SELECT t::text FROM "%s"."%s" t ORDER BY 1`, schema, table))
		if err != nil {
			t.Fatalf("dump %s: %v", table, err)
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatalf("dump %s: %v", table, err)
		}
		fmt.Fprintf(&sb, "%s:\n%s\n", table, strings.Join(lines, "\n"))
	}
	return sb.String()
}

func TestReadBack(t *testing.T) {
	t.Parallel()
	dsn, schema := serverURL(t), newSchema(t)
	d := openDest(t, dsn, schema)
	sleep, daily, auth, hc := sleepEvent(t, 1), dailyEvent(t), authEvent(t), healthcheckEvent(t)
	deliverOK(t, d, sleep, daily, auth, hc)

	sameJSON(t, "sleep payload", readBack(t, d, sleep), dataOf(t, sleep.Body))
	sameJSON(t, "daily payload", readBack(t, d, daily), dataOf(t, daily.Body))
	sameJSON(t, "auth body", readBack(t, d, auth), auth.Body)
	sameJSON(t, "healthcheck body", readBack(t, d, hc), hc.Body)

	// The typed columns hold the event's identity and span.
	c := admin(t)
	var (
		provider   string
		start, end time.Time
		version    int64
		updated    time.Time
	)
	err := c.QueryRow(t.Context(), fmt.Sprintf(`SELECT provider, start_time, end_time, version, updated_at FROM "%s".sleep WHERE user_id = $1 AND record_key = $2`, schema),
		whoopUser, sleepKey).Scan(&provider, &start, &end, &version, &updated)
	if err != nil {
		t.Fatal(err)
	}
	if provider != "WHOOP" || !start.Equal(mustTime(t, sleepFrom)) || !end.Equal(mustTime(t, sleepTo)) || version != 1 ||
		!updated.Equal(mustTime(t, created).Add(time.Minute)) {
		t.Errorf("sleep row = %s %s %s v%d %s", provider, start, end, version, updated)
	}
	// The users table holds each event's user object.
	for _, want := range []struct {
		id, provider, ref string
	}{
		{whoopUser, "WHOOP", "demo-whoop"}, // sleepBody user
		{ouraUser, "OURA", "demo-oura"},    // dailyBody user
		{garmin, "GARMIN", "demo-garmin"},  // authBody user
	} {
		var provider, ref string
		var active bool
		err := c.QueryRow(t.Context(), fmt.Sprintf(`SELECT provider, reference_id, active FROM "%s".users WHERE user_id = $1`, schema), want.id).Scan(&provider, &ref, &active)
		if err != nil {
			t.Fatalf("user %s: %v", want.id, err)
		}
		if provider != want.provider || ref != want.ref || !active {
			t.Errorf("user %s = %s %s %v, want %s %s true", want.id, provider, ref, active, want.provider, want.ref)
		}
	}
	var events int
	if err := c.QueryRow(t.Context(), fmt.Sprintf(`SELECT count(*) FROM "%s".events`, schema)).Scan(&events); err != nil {
		t.Fatal(err)
	}
	if events != 2 {
		t.Errorf("events table has %d rows, want 2 (auth, healthcheck)", events)
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
	// Records that were never delivered are not found.
	other := sleepEvent(t, 1)
	other.RecordKey = "no-such-record"
	if _, err := d.ReadBack(t.Context(), other); !errors.Is(err, destination.ErrNotFound) {
		t.Errorf("ReadBack of an unknown record: %v, want ErrNotFound", err)
	}
}

func TestIdempotent(t *testing.T) {
	t.Parallel()
	dsn, schema := serverURL(t), newSchema(t)
	d := openDest(t, dsn, schema)
	c := admin(t)
	v1, v2, daily, auth := sleepEvent(t, 1), sleepEvent(t, 2), dailyEvent(t), authEvent(t)

	deliverOK(t, d, v1, daily, auth)
	once := dump(t, c, schema)
	deliverOK(t, d, v1, daily, auth)
	if twice := dump(t, c, schema); twice != once {
		t.Errorf("delivering twice changed the tables:\nonce:\n%s\ntwice:\n%s", once, twice)
	}

	// v2 replaces v1; a stale retry of v1 afterwards changes nothing.
	deliverOK(t, d, v2)
	sameJSON(t, "after v2", readBack(t, d, v2), dataOf(t, v2.Body))
	afterV2 := dump(t, c, schema)
	deliverOK(t, d, v1)
	sameJSON(t, "after stale v1", readBack(t, d, v1), dataOf(t, v2.Body))
	if got := dump(t, c, schema); got != afterV2 {
		t.Errorf("a stale v1 changed the tables:\nbefore:\n%s\nafter:\n%s", afterV2, got)
	}

	// Replaying the whole range, in order, leaves the tables as they were.
	deliverOK(t, d, v1, daily, auth, v2)
	if got := dump(t, c, schema); got != afterV2 {
		t.Errorf("a replay changed the tables:\nbefore:\n%s\nafter:\n%s", afterV2, got)
	}
	// Both versions in one batch, in either order: v2 wins.
	for _, batch := range [][]destination.Event{{v2, v1}, {v1, v2}} {
		deliverOK(t, d, batch...)
		if got := dump(t, c, schema); got != afterV2 {
			t.Errorf("batch %s,%s changed the tables", batch[0].DeliveryID, batch[1].DeliveryID)
		}
	}

	// The users row follows the newest event: an older event's user object
	// (here: inactive) does not replace it.
	stale := authEvent(t)
	stale.DeliveryID = "dlv_auth_0"
	stale.CreatedAt = stale.CreatedAt.Add(-time.Hour)
	stale.Body = json.RawMessage(strings.Replace(authBody, `"active":true`, `"active":false`, 1))
	deliverOK(t, d, stale)
	var active bool
	if err := c.QueryRow(t.Context(), fmt.Sprintf(`SELECT active FROM "%s".users WHERE user_id = $1`, schema), garmin).Scan(&active); err != nil {
		t.Fatal(err)
	}
	if !active {
		t.Error("an older event's user object replaced the newer one")
	}
}

// TestOneBadEventInBatch checks that an event the server rejects fails
// alone: PostgreSQL's jsonb refuses \u0000 in strings.
func TestOneBadEventInBatch(t *testing.T) {
	t.Parallel()
	dsn, schema := serverURL(t), newSchema(t)
	d := openDest(t, dsn, schema)
	bad := dailyEvent(t)
	bad.DeliveryID, bad.RecordKey = "dlv_bad", "2024-11-13"
	bad.Body = json.RawMessage(strings.Replace(dailyBody, `"upload_type":1`, `"upload_type":1,"note":"nul\u0000here"`, 1))
	events := []destination.Event{sleepEvent(t, 1), bad, dailyEvent(t), authEvent(t)}
	res := d.Deliver(t.Context(), events)
	for i, r := range res {
		if i == 1 {
			if r.Err == nil || !r.Permanent || !strings.Contains(r.Err.Error(), "dlv_bad") {
				t.Errorf("bad event: %+v, want a permanent error naming it", r)
			}
			continue
		}
		if r.Err != nil {
			t.Errorf("event %s: %v", events[i].DeliveryID, r.Err)
		}
	}
	sameJSON(t, "sleep", readBack(t, d, events[0]), dataOf(t, events[0].Body))
	sameJSON(t, "daily", readBack(t, d, events[2]), dataOf(t, events[2].Body))
	sameJSON(t, "auth", readBack(t, d, events[3]), events[3].Body)
	if _, err := d.ReadBack(t.Context(), bad); !errors.Is(err, destination.ErrNotFound) {
		t.Errorf("bad event read back: %v, want ErrNotFound", err)
	}
}

// TestOutage delivers through a TCP proxy that the test cuts and restores:
// while it is down every event fails retryably; afterwards the same
// destination delivers them and each lands once.
func TestOutage(t *testing.T) {
	t.Parallel()
	base, schema := serverURL(t), newSchema(t)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	px := destinationtest.StartProxy(t, u.Host)
	u.Host = px.Addr
	d := openDest(t, u.String(), schema)
	c := admin(t)

	deliverOK(t, d, authEvent(t))
	px.Stop()
	events := []destination.Event{sleepEvent(t, 1), dailyEvent(t)}
	for i, r := range d.Deliver(t.Context(), events) {
		if r.Err == nil || r.Permanent {
			t.Fatalf("event %d during the outage: %+v, want a retryable error", i, r)
		}
		t.Logf("during the outage: %v", r.Err)
	}
	px.Start(t)
	deliverOK(t, d, events...)
	deliverOK(t, d, events...) // the core may retry an event that landed
	for _, q := range []string{`SELECT count(*) FROM "%s".sleep`, `SELECT count(*) FROM "%s".daily`, `SELECT count(*) FROM "%s".events`} {
		var n int
		if err := c.QueryRow(t.Context(), fmt.Sprintf(q, schema)).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("%s = %d, want 1", fmt.Sprintf(q, schema), n)
		}
	}
}

// TestUnreachable points a destination at a port where nothing listens:
// Open succeeds (the server may come back), deliveries fail retryably and
// say why.
func TestUnreachable(t *testing.T) {
	t.Parallel()
	d, err := NewKind(Options{Logger: testLogger(t)}).Open(t.Context(), destination.Config{ID: "dst_1", Settings: settingsJSON(closedDSN, "")})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer d.Close()
	res := d.Deliver(t.Context(), []destination.Event{sleepEvent(t, 1), healthcheckEvent(t)})
	for i, r := range res {
		if r.Err == nil || r.Permanent || !strings.Contains(r.Err.Error(), "127.0.0.1") {
			t.Errorf("event %d: %+v, want a retryable error naming the server", i, r)
		}
	}
	t.Logf("error: %v", res[0].Err)
}

func TestBadCredentials(t *testing.T) {
	t.Parallel()
	base := serverURL(t)
	c := admin(t)
	role := uniqueName("wbrole")
	if _, err := c.Exec(t.Context(), fmt.Sprintf(`CREATE ROLE %s LOGIN PASSWORD '%s'`, role, password)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), base)
		if err == nil {
			_, _ = c.Exec(context.Background(), "DROP ROLE IF EXISTS "+role)
			_ = c.Close(context.Background())
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	withUser := func(user, pass, db string) string {
		v := *u
		v.User = url.UserPassword(user, pass)
		if db != "" {
			v.Path = "/" + db
		}
		return v.String()
	}
	tests := []struct {
		name, dsn, want string
	}{
		{"wrong password", withUser(role, badPass, ""), "password authentication failed"},
		{"unknown role", withUser(uniqueName("nobody"), badPass, ""), "password authentication failed"},
		{"unknown database", withUser(role, password, uniqueName("nodb")), "does not exist"},
		// The role may log in but not create the schema.
		{"no privilege", withUser(role, password, ""), "permission denied"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewKind(Options{}).Open(t.Context(), destination.Config{ID: "dst_1", Settings: settingsJSON(tc.dsn, newSchema(t))})
			if err == nil {
				t.Fatal("Open succeeded")
			}
			t.Logf("error: %v", err)
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
			for _, secret := range []string{password, badPass} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error shows a password: %v", err)
				}
			}
		})
	}
}

// TestExistingTablesNeedNoCreate: a role with only DML rights on tables a
// DBA created can deliver.
func TestExistingTablesNeedNoCreate(t *testing.T) {
	t.Parallel()
	base, schema := serverURL(t), newSchema(t)
	openDest(t, base, schema) // creates the layout as superuser
	c := admin(t)
	role := uniqueName("wbdml")
	for _, q := range []string{
		fmt.Sprintf(`CREATE ROLE %s LOGIN PASSWORD '%s'`, role, password),
		fmt.Sprintf(`GRANT USAGE ON SCHEMA "%s" TO %s`, schema, role),
		fmt.Sprintf(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "%s" TO %s`, schema, role),
	} {
		if _, err := c.Exec(t.Context(), q); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), base)
		if err == nil {
			_, _ = c.Exec(context.Background(), fmt.Sprintf(`DROP OWNED BY %s; DROP ROLE IF EXISTS %s`, role, role))
			_ = c.Close(context.Background())
		}
	})
	u, _ := url.Parse(base)
	u.User = url.UserPassword(role, password)
	d := openDest(t, u.String(), schema)
	ev := sleepEvent(t, 1)
	deliverOK(t, d, ev)
	sameJSON(t, "sleep", readBack(t, d, ev), dataOf(t, ev.Body))
}

// TestTableDroppedIsRecreated: if someone drops a table, a delivery fails
// retryably and the next one creates it again.
func TestTableDroppedIsRecreated(t *testing.T) {
	t.Parallel()
	dsn, schema := serverURL(t), newSchema(t)
	d := openDest(t, dsn, schema)
	if _, err := admin(t).Exec(t.Context(), fmt.Sprintf(`DROP TABLE "%s".sleep`, schema)); err != nil {
		t.Fatal(err)
	}
	ev := sleepEvent(t, 1)
	res := d.Deliver(t.Context(), []destination.Event{ev})
	if res[0].Err == nil || res[0].Permanent {
		t.Fatalf("first delivery after the drop: %+v, want a retryable error", res[0])
	}
	deliverOK(t, d, ev)
	sameJSON(t, "sleep", readBack(t, d, ev), dataOf(t, ev.Body))
}

// TestConcurrentOpen opens several destinations on one new schema at once.
func TestConcurrentOpen(t *testing.T) {
	t.Parallel()
	dsn, schema := serverURL(t), newSchema(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			d, err := NewKind(Options{}).Open(t.Context(), destination.Config{ID: "dst_1", Settings: settingsJSON(dsn, schema)})
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

// TestDialControl: an address the operator's dial guard refuses fails Open
// (and would fail deliveries permanently), naming the guard's reason.
func TestDialControl(t *testing.T) {
	refuse := func(network, address string, _ syscall.RawConn) error {
		return fmt.Errorf("refusing to connect to %s: not allowed", address)
	}
	_, err := NewKind(Options{DialControl: refuse}).Open(t.Context(), destination.Config{ID: "dst_1", Settings: settingsJSON(closedDSN, "")})
	if err == nil || !strings.Contains(err.Error(), "not allowed") {
		t.Fatalf("Open = %v, want the guard's refusal", err)
	}
	if !permanent(&refusedError{errors.New("x")}) || unreachable(&net.OpError{Op: "dial", Err: &refusedError{errors.New("x")}}) {
		t.Error("a refused address must be permanent, not unreachable")
	}
}
