package mysql

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	gomysql "github.com/go-sql-driver/mysql"

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
	whoopUser = "bc6cf053-f1cc-43f8-bbc6-250d047fef4c"          // sleepBody user.user_id
	sleepKey  = "ecfc6a15-4661-442f-a9a4-f160dd7afae8"          // sleepBody data[0].metadata.summary_id
	ouraUser  = "d02d7271-066c-41d5-8cdc-f9ad96622f2d"          // dailyBody user.user_id
	dailyKey  = "2024-11-12"                                    // the day of dailyBody data[0].metadata.start_time
	garmin    = "f9951beb-501b-48a8-869f-57304cefbfbd"          // authBody user.user_id
	created   = "2026-12-03T17:30:00Z"                          // when the test events were "appended"
	sleepFrom = "2022-04-23T21:25:44.774-05:00"                 // sleepBody data[0].metadata.start_time
	sleepTo   = "2022-04-24T05:25:44.774-05:00"                 // sleepBody data[0].metadata.end_time
	dailyFrom = "2024-11-12T00:00:00+01:00"                     // dailyBody data[0].metadata.start_time
	dailyTo   = "2024-11-13T00:00:00+01:00"                     // dailyBody data[0].metadata.end_time
	password  = "hunter2-My-password"                           // the test users' password
	badPass   = "wrong-My-password"                             // a password the server refuses
	closedDSN = "u:p-closed@tcp(127.0.0.1:1)/test?timeout=2s"   // nothing listens on port 1
	noDBDSN   = "u:p-nodb-secret@tcp(127.0.0.1:1)/?timeout=2s"  // no database named
	badDSN    = "u:p-bad-secret@tcp(127.0.0.1:1)/test?loc=Nope" // unknown time zone
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

// sameJSON fails unless got and want hold the same JSON value (MySQL
// reorders keys and changes whitespace; MariaDB keeps the text).
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

func settingsJSON(dsn, prefix string) json.RawMessage {
	b, _ := json.Marshal(Settings{DSN: dsn, TablePrefix: prefix})
	return b
}

// ---------------------------------------------------------------- unit tests

func TestParseSettings(t *testing.T) {
	tests := []struct {
		name, raw  string
		wantPrefix string
		wantErr    string
	}{
		{"no prefix", `{"dsn":"u:p@tcp(h:3306)/db"}`, "", ""},
		{"prefix", `{"dsn":"u:p@tcp(h:3306)/db","table_prefix":"Wb_2_"}`, "Wb_2_", ""},
		{"empty", ``, "", "dsn is required"},
		{"no dsn", `{"table_prefix":"x"}`, "", "dsn is required"},
		{"unknown field", `{"dsn":"u:p@tcp(h:3306)/db","schema":"x"}`, "", `unknown field "schema"`},
		{"dash", `{"dsn":"u:p@tcp(h:3306)/db","table_prefix":"a-b"}`, "", `table_prefix "a-b"`},
		{"backtick", "{\"dsn\":\"u:p@tcp(h:3306)/db\",\"table_prefix\":\"a`\"}", "", "table_prefix"},
		{"too long", `{"dsn":"u:p@tcp(h:3306)/db","table_prefix":"` + strings.Repeat("a", 41) + `"}`, "", "table_prefix"},
		{"trailing", `{"dsn":"u:p@tcp(h:3306)/db"} {}`, "", "trailing data"},
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
			if s.TablePrefix != tc.wantPrefix {
				t.Errorf("table_prefix = %q, want %q", s.TablePrefix, tc.wantPrefix)
			}
		})
	}
}

func TestOpenBadDSN(t *testing.T) {
	tests := []struct{ name, dsn, secret, want string }{
		{"no database", noDBDSN, "p-nodb-secret", "no database"},
		{"bad option", badDSN, "p-bad-secret", "dsn"},
		{"not a dsn", "u:p-secret-x@127.0.0.1:3306/db", "p-secret-x", "dsn"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewKind(Options{}).Open(t.Context(), destination.Config{ID: "dst_1", Settings: settingsJSON(tc.dsn, "")})
			if err == nil {
				t.Fatal("Open succeeded")
			}
			t.Logf("error: %v", err)
			if strings.Contains(err.Error(), tc.secret) {
				t.Errorf("error shows the password: %v", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error does not say %q: %v", tc.want, err)
			}
		})
	}
}

func TestPasswordOf(t *testing.T) {
	tests := []struct{ dsn, want string }{
		{"u:pw@tcp(h:3306)/db", "pw"},
		{"u:p@w@tcp(h)/db", "p@w"},
		{"u@tcp(h)/db", ""},
		{"/db", ""},
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
		n, cols    int
		size       func(int) int
		wantChunks [][2]int
	}{
		{"none", 0, 8, one, nil},
		{"one chunk", 500, 8, one, [][2]int{{0, 500}}},
		{"row limit", 2500, 8, one, [][2]int{{0, 1000}, {1000, 2000}, {2000, 2500}}},
		{"byte limit", 5, 8, func(int) int { return 3 << 20 }, [][2]int{{0, 1}, {1, 2}, {2, 3}, {3, 4}, {4, 5}}},
		{"small rows share", 4, 8, func(int) int { return 1 << 20 }, [][2]int{{0, 4}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := chunks(tc.n, tc.cols, tc.size); !reflect.DeepEqual(got, tc.wantChunks) {
				t.Errorf("chunks = %v, want %v", got, tc.wantChunks)
			}
		})
	}
}

func TestPlaceholders(t *testing.T) {
	if got, want := placeholders(2, 3), "(?,?,?),(?,?,?)"; got != want {
		t.Errorf("placeholders(2, 3) = %q, want %q", got, want)
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name                               string
		err                                error
		permanent, eventSpecific, unreachd bool
	}{
		{"wrong password", &gomysql.MySQLError{Number: 1045}, true, false, false},
		{"data too long", fmt.Errorf("x: %w", &gomysql.MySQLError{Number: 1406}), true, true, false},
		{"bad json (mariadb)", &gomysql.MySQLError{Number: 4025}, true, true, false},
		{"packet too large (client)", gomysql.ErrPktTooLarge, true, true, false},
		{"no privilege", &gomysql.MySQLError{Number: 1142}, false, false, false},
		{"no database", &gomysql.MySQLError{Number: 1049}, false, false, false},
		{"deadlock", &gomysql.MySQLError{Number: 1213}, false, false, false},
		{"lock wait", &gomysql.MySQLError{Number: 1205}, false, false, false},
		{"refused", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, false, false, true},
		{"bad conn", gomysql.ErrInvalidConn, false, false, true},
		{"timeout", context.DeadlineExceeded, false, false, true},
		{"dial guard", &net.OpError{Op: "dial", Err: &refusedError{errors.New("private")}}, true, false, false},
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
			if len(res) != 1 || res[0].Err == nil || !res[0].Permanent || !strings.Contains(res[0].Err.Error(), tc.wantErr) {
				t.Fatalf("results = %+v, want one permanent error containing %q", res, tc.wantErr)
			}
		})
	}
}

// TestDialControl: an address the operator's dial guard refuses fails Open,
// naming the guard's reason.
func TestDialControl(t *testing.T) {
	refuse := func(network, address string, _ syscall.RawConn) error {
		return fmt.Errorf("refusing to connect to %s: not allowed", address)
	}
	_, err := NewKind(Options{DialControl: refuse}).Open(t.Context(), destination.Config{ID: "dst_1", Settings: settingsJSON(closedDSN, "")})
	if err == nil || !strings.Contains(err.Error(), "not allowed") {
		t.Fatalf("Open = %v, want the guard's refusal", err)
	}
}

// ---------------------------------------------------------------- server tests

// serverDSN returns TEST_MYSQL_DSN, or skips (fails when the servers are
// required).
func serverDSN(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv("TEST_MYSQL_DSN")
	if dsn == "" {
		if os.Getenv("WB_REQUIRE_SERVERS") == "1" {
			t.Fatal("TEST_MYSQL_DSN is not set (run: eval \"$(scripts/test-servers up)\")")
		}
		t.Skip("needs TEST_MYSQL_DSN (eval \"$(scripts/test-servers up)\")")
	}
	return dsn
}

// uniqueName returns prefix plus a random suffix.
func uniqueName(prefix string) string {
	return fmt.Sprintf("%s%d_%08x", prefix, time.Now().UnixNano()%1e9, rand.Uint32())
}

// admin opens the test server as the test user, reading DATETIME columns
// as UTC times.
func admin(t *testing.T) *sql.DB {
	t.Helper()
	mc, err := gomysql.ParseDSN(serverDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	mc.ParseTime, mc.Loc = true, time.UTC
	db, err := sql.Open("mysql", mc.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// newPrefix returns a fresh table prefix; its tables are dropped when the
// test ends.
func newPrefix(t *testing.T) string {
	t.Helper()
	dsn := serverDSN(t)
	prefix := uniqueName("t") + "_"
	t.Cleanup(func() {
		db, err := sql.Open("mysql", dsn)
		if err != nil {
			return
		}
		defer db.Close()
		for _, table := range tableList {
			_, _ = db.Exec("DROP TABLE IF EXISTS `" + prefix + table + "`")
		}
	})
	return prefix
}

var tableList = []string{"users", "events", "activity", "sleep", "daily", "body", "nutrition", "menstruation", "athlete"}

// openDest opens a destination on dsn and prefix, closed when the test ends.
func openDest(t *testing.T, dsn, prefix string) *MySQL {
	t.Helper()
	d, err := NewKind(Options{Logger: testLogger(t)}).Open(t.Context(), destination.Config{ID: "dst_test", Kind: KindName, Settings: settingsJSON(dsn, prefix)})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d.(*MySQL)
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
func readBack(t *testing.T, d *MySQL, ev destination.Event) json.RawMessage {
	t.Helper()
	got, err := d.ReadBack(t.Context(), ev)
	if err != nil {
		t.Fatalf("ReadBack(%s): %v", ev.DeliveryID, err)
	}
	return got
}

// dump returns every row of the prefix's tables as text, in key order.
func dump(t *testing.T, db *sql.DB, prefix string) string {
	t.Helper()
	var sb strings.Builder
	for _, table := range tableList {
		rows, err := db.QueryContext(t.Context(), "SELECT * FROM `"+prefix+table+"` ORDER BY 1, 2")
		if err != nil {
			t.Fatalf("dump %s: %v", table, err)
		}
		cols, _ := rows.Columns()
		fmt.Fprintf(&sb, "%s:\n", table)
		for rows.Next() {
			vals := make([]sql.RawBytes, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for _, v := range vals {
				fmt.Fprintf(&sb, "%q ", v)
			}
			sb.WriteByte('\n')
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return sb.String()
}

func TestReadBack(t *testing.T) {
	t.Parallel()
	dsn, prefix := serverDSN(t), newPrefix(t)
	d := openDest(t, dsn, prefix)
	sleep, daily, auth, hc := sleepEvent(t, 1), dailyEvent(t), authEvent(t), healthcheckEvent(t)
	deliverOK(t, d, sleep, daily, auth, hc)

	sameJSON(t, "sleep payload", readBack(t, d, sleep), dataOf(t, sleep.Body))
	sameJSON(t, "daily payload", readBack(t, d, daily), dataOf(t, daily.Body))
	sameJSON(t, "auth body", readBack(t, d, auth), auth.Body)
	sameJSON(t, "healthcheck body", readBack(t, d, hc), hc.Body)

	db := admin(t)
	var (
		provider            string
		start, end, updated time.Time
		version             int64
	)
	err := db.QueryRowContext(t.Context(), "SELECT provider, start_time, end_time, version, updated_at FROM `"+prefix+"sleep` WHERE user_id = ? AND record_key = ?",
		whoopUser, sleepKey).Scan(&provider, &start, &end, &version, &updated)
	if err != nil {
		t.Fatal(err)
	}
	if provider != "WHOOP" || !start.Equal(mustTime(t, sleepFrom)) || !end.Equal(mustTime(t, sleepTo)) || version != 1 ||
		!updated.Equal(mustTime(t, created).Add(time.Minute)) {
		t.Errorf("sleep row = %s %s %s v%d %s", provider, start, end, version, updated)
	}
	for _, want := range []struct{ id, provider, ref string }{
		{whoopUser, "WHOOP", "demo-whoop"}, // sleepBody user
		{ouraUser, "OURA", "demo-oura"},    // dailyBody user
		{garmin, "GARMIN", "demo-garmin"},  // authBody user
	} {
		var provider, ref string
		var active bool
		err := db.QueryRowContext(t.Context(), "SELECT provider, reference_id, active FROM `"+prefix+"users` WHERE user_id = ?", want.id).Scan(&provider, &ref, &active)
		if err != nil {
			t.Fatalf("user %s: %v", want.id, err)
		}
		if provider != want.provider || ref != want.ref || !active {
			t.Errorf("user %s = %s %s %v, want %s %s true", want.id, provider, ref, active, want.provider, want.ref)
		}
	}

	if err := d.RemoveHealthcheck(t.Context(), hc); err != nil {
		t.Fatalf("RemoveHealthcheck: %v", err)
	}
	if _, err := d.ReadBack(t.Context(), hc); !errors.Is(err, destination.ErrNotFound) {
		t.Errorf("ReadBack after removal: %v, want ErrNotFound", err)
	}
	if err := d.RemoveHealthcheck(t.Context(), hc); !errors.Is(err, destination.ErrNotFound) {
		t.Errorf("second RemoveHealthcheck: %v, want ErrNotFound", err)
	}
	// Keys compare case-sensitively: another case is another record.
	other := sleepEvent(t, 1)
	other.RecordKey = strings.ToUpper(sleepKey)
	if _, err := d.ReadBack(t.Context(), other); !errors.Is(err, destination.ErrNotFound) {
		t.Errorf("ReadBack with the key in upper case: %v, want ErrNotFound", err)
	}
}

func TestIdempotent(t *testing.T) {
	t.Parallel()
	dsn, prefix := serverDSN(t), newPrefix(t)
	d := openDest(t, dsn, prefix)
	db := admin(t)
	v1, v2, daily, auth := sleepEvent(t, 1), sleepEvent(t, 2), dailyEvent(t), authEvent(t)

	deliverOK(t, d, v1, daily, auth)
	once := dump(t, db, prefix)
	deliverOK(t, d, v1, daily, auth)
	if twice := dump(t, db, prefix); twice != once {
		t.Errorf("delivering twice changed the tables:\nonce:\n%s\ntwice:\n%s", once, twice)
	}

	deliverOK(t, d, v2)
	sameJSON(t, "after v2", readBack(t, d, v2), dataOf(t, v2.Body))
	afterV2 := dump(t, db, prefix)
	deliverOK(t, d, v1)
	sameJSON(t, "after stale v1", readBack(t, d, v1), dataOf(t, v2.Body))
	if got := dump(t, db, prefix); got != afterV2 {
		t.Errorf("a stale v1 changed the tables:\nbefore:\n%s\nafter:\n%s", afterV2, got)
	}

	deliverOK(t, d, v1, daily, auth, v2)
	if got := dump(t, db, prefix); got != afterV2 {
		t.Errorf("a replay changed the tables:\nbefore:\n%s\nafter:\n%s", afterV2, got)
	}
	for _, batch := range [][]destination.Event{{v2, v1}, {v1, v2}} {
		deliverOK(t, d, batch...)
		if got := dump(t, db, prefix); got != afterV2 {
			t.Errorf("batch %s,%s changed the tables", batch[0].DeliveryID, batch[1].DeliveryID)
		}
	}

	stale := authEvent(t)
	stale.DeliveryID = "dlv_auth_0"
	stale.CreatedAt = stale.CreatedAt.Add(-time.Hour)
	stale.Body = json.RawMessage(strings.Replace(authBody, `"active":true`, `"active":false`, 1))
	deliverOK(t, d, stale)
	var active bool
	if err := db.QueryRowContext(t.Context(), "SELECT active FROM `"+prefix+"users` WHERE user_id = ?", garmin).Scan(&active); err != nil {
		t.Fatal(err)
	}
	if !active {
		t.Error("an older event's user object replaced the newer one")
	}
}

// TestOneBadEventInBatch checks that an event the server rejects fails
// alone: a record key longer than the record_key column.
func TestOneBadEventInBatch(t *testing.T) {
	t.Parallel()
	dsn, prefix := serverDSN(t), newPrefix(t)
	d := openDest(t, dsn, prefix)
	bad := dailyEvent(t)
	bad.DeliveryID, bad.RecordKey = "dlv_bad", strings.Repeat("k", 600)
	events := []destination.Event{sleepEvent(t, 1), bad, dailyEvent(t), authEvent(t)}
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
	sameJSON(t, "sleep", readBack(t, d, events[0]), dataOf(t, events[0].Body))
	sameJSON(t, "daily", readBack(t, d, events[2]), dataOf(t, events[2].Body))
	sameJSON(t, "auth", readBack(t, d, events[3]), events[3].Body)
}

// TestOutage delivers through a TCP proxy that the test cuts and restores:
// while it is down every event fails retryably; afterwards the same
// destination delivers them and each lands once.
func TestOutage(t *testing.T) {
	t.Parallel()
	dsn, prefix := serverDSN(t), newPrefix(t)
	mc, err := gomysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	px := destinationtest.StartProxy(t, mc.Addr)
	mc.Addr = px.Addr
	d := openDest(t, mc.FormatDSN(), prefix)
	db := admin(t)

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
	deliverOK(t, d, events...)
	for _, table := range []string{"sleep", "daily", "events"} {
		var n int
		if err := db.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM `"+prefix+table+"`").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("%s has %d rows, want 1", table, n)
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
		if r.Err == nil || r.Permanent || !strings.Contains(r.Err.Error(), "127.0.0.1:1") || strings.Contains(r.Err.Error(), "p-closed") {
			t.Errorf("event %d: %+v, want a retryable error naming the server", i, r)
		}
	}
	t.Logf("error: %v", res[0].Err)
}

func TestBadCredentials(t *testing.T) {
	t.Parallel()
	dsn := serverDSN(t)
	db := admin(t)
	user := uniqueName("u")
	if _, err := db.ExecContext(t.Context(), fmt.Sprintf("CREATE USER '%s'@'127.0.0.1' IDENTIFIED BY '%s'", user, password)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("mysql", dsn)
		if err == nil {
			_, _ = db.Exec(fmt.Sprintf("DROP USER IF EXISTS '%s'@'127.0.0.1'", user))
			_ = db.Close()
		}
	})
	mc, err := gomysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	withUser := func(u, pass, dbName string) string {
		c := mc.Clone()
		c.User, c.Passwd = u, pass
		if dbName != "" {
			c.DBName = dbName
		}
		return c.FormatDSN()
	}
	tests := []struct{ name, dsn, want string }{
		{"wrong password", withUser(mc.User, badPass, ""), "Access denied for user"},
		{"unknown user", withUser(uniqueName("nobody"), badPass, ""), "Access denied for user"},
		{"unknown database", withUser(mc.User, mc.Passwd, uniqueName("nodb")), "Unknown database"},
		// The user may log in but not use the database.
		{"no privilege", withUser(user, password, ""), "denied"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewKind(Options{}).Open(t.Context(), destination.Config{ID: "dst_1", Settings: settingsJSON(tc.dsn, newPrefix(t))})
			if err == nil {
				t.Fatal("Open succeeded")
			}
			t.Logf("error: %v", err)
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
			for _, secret := range []string{password, badPass, mc.Passwd} {
				if strings.Contains(err.Error(), ":"+secret+"@") || (len(secret) > 4 && strings.Contains(err.Error(), secret)) {
					t.Errorf("error shows a password: %v", err)
				}
			}
		})
	}
}

// TestExistingTablesNeedNoCreate: a user with only DML rights on tables a
// DBA created can deliver.
func TestExistingTablesNeedNoCreate(t *testing.T) {
	t.Parallel()
	dsn, prefix := serverDSN(t), newPrefix(t)
	openDest(t, dsn, prefix) // creates the tables as the test user
	db := admin(t)
	mc, err := gomysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	user := uniqueName("dml")
	stmts := []string{fmt.Sprintf("CREATE USER '%s'@'127.0.0.1' IDENTIFIED BY '%s'", user, password)}
	for _, table := range tableList {
		stmts = append(stmts, fmt.Sprintf("GRANT SELECT, INSERT, UPDATE, DELETE ON `%s`.`%s%s` TO '%s'@'127.0.0.1'", mc.DBName, prefix, table, user))
	}
	for _, q := range stmts {
		if _, err := db.ExecContext(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	t.Cleanup(func() {
		db, err := sql.Open("mysql", dsn)
		if err == nil {
			_, _ = db.Exec(fmt.Sprintf("DROP USER IF EXISTS '%s'@'127.0.0.1'", user))
			_ = db.Close()
		}
	})
	c := mc.Clone()
	c.User, c.Passwd = user, password
	d := openDest(t, c.FormatDSN(), prefix)
	ev := sleepEvent(t, 1)
	deliverOK(t, d, ev)
	sameJSON(t, "sleep", readBack(t, d, ev), dataOf(t, ev.Body))
}

// TestTableDroppedIsRecreated: if someone drops a table, a delivery fails
// retryably and the next one creates it again.
func TestTableDroppedIsRecreated(t *testing.T) {
	t.Parallel()
	dsn, prefix := serverDSN(t), newPrefix(t)
	d := openDest(t, dsn, prefix)
	if _, err := admin(t).ExecContext(t.Context(), "DROP TABLE `"+prefix+"sleep`"); err != nil {
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

// TestConcurrentOpen opens several destinations on one new prefix at once.
func TestConcurrentOpen(t *testing.T) {
	t.Parallel()
	dsn, prefix := serverDSN(t), newPrefix(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			d, err := NewKind(Options{}).Open(t.Context(), destination.Config{ID: "dst_1", Settings: settingsJSON(dsn, prefix)})
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
