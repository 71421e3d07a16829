package objectstoretest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wearbridge/wearbridge/internal/destination"
	"github.com/wearbridge/wearbridge/internal/destination/objectstore"
)

// Server is one kind's test server, as the suite uses it.
type Server struct {
	// Kind is the kind under test.
	Kind destination.Kind
	// Addr is the server's host:port; the outage test puts a proxy in
	// front of it.
	Addr string
	// MetaSep joins the words of metadata names ("-" or "_").
	MetaSep string
	// NewBucket creates an empty bucket (container) with a unique name,
	// deleted or left to the throwaway server when the test ends.
	NewBucket func(t *testing.T) string
	// Settings returns the kind's settings for bucket and prefix, reaching
	// the server at addr (host:port).
	Settings func(addr, bucket, prefix string) json.RawMessage
}

// Require returns the value of the environment variable name, or skips
// the test; with WB_REQUIRE_SERVERS=1 it fails instead.
func Require(t *testing.T, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		if os.Getenv("WB_REQUIRE_SERVERS") == "1" {
			t.Fatalf("%s is not set (run: eval \"$(scripts/test-servers up)\")", name)
		}
		t.Skipf("needs %s (eval \"$(scripts/test-servers up)\")", name)
	}
	return v
}

// UniqueName returns prefix plus a random lowercase suffix, a valid
// bucket or container name.
func UniqueName(prefix string) string {
	return fmt.Sprintf("%s-%d-%08x", prefix, time.Now().UnixNano()%1e9, rand.Uint32())
}

// Logger logs to the test at debug level.
func Logger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// ClosedAddr returns a loopback host:port where nothing listens.
func ClosedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// Run runs the conformance tests against srv.
func Run(t *testing.T, srv Server) {
	t.Run("ReadBack", func(t *testing.T) { t.Parallel(); testReadBack(t, srv) })
	t.Run("Idempotent", func(t *testing.T) { t.Parallel(); testIdempotent(t, srv) })
	t.Run("MovedStart", func(t *testing.T) { t.Parallel(); testMovedStart(t, srv) })
	t.Run("Prefix", func(t *testing.T) { t.Parallel(); testPrefix(t, srv) })
	t.Run("ManyEvents", func(t *testing.T) { t.Parallel(); testManyEvents(t, srv) })
	t.Run("BadEvents", func(t *testing.T) { t.Parallel(); testBadEvents(t, srv) })
	t.Run("Outage", func(t *testing.T) { t.Parallel(); testOutage(t, srv) })
	t.Run("Unreachable", func(t *testing.T) { t.Parallel(); testUnreachable(t, srv) })
	t.Run("MissingBucket", func(t *testing.T) { t.Parallel(); testMissingBucket(t, srv) })
	t.Run("Conditions", func(t *testing.T) { t.Parallel(); testConditions(t, srv) })
}

// open opens a destination on settings, closed when the test ends.
func open(t *testing.T, srv Server, settings json.RawMessage) *objectstore.Dest {
	t.Helper()
	d, err := srv.Kind.Open(t.Context(), destination.Config{ID: "dst_test", Kind: srv.Kind.Name(), Settings: settings})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = d.Close() })
	od, ok := d.(*objectstore.Dest)
	if !ok {
		t.Fatalf("Open returned %T, want *objectstore.Dest", d)
	}
	return od
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
func readBack(t *testing.T, d *objectstore.Dest, ev destination.Event) string {
	t.Helper()
	got, err := d.ReadBack(t.Context(), ev)
	if err != nil {
		t.Fatalf("ReadBack(%s): %v", ev.DeliveryID, err)
	}
	return string(got)
}

// names lists every object in the store, sorted.
func names(t *testing.T, d *objectstore.Dest) []string {
	t.Helper()
	var out []string
	if err := d.Store().List(t.Context(), "", func(n string) error { out = append(out, n); return nil }); err != nil {
		t.Fatalf("list: %v", err)
	}
	slices.Sort(out)
	return out
}

// dump renders every object: name, wearbridge metadata and body.
func dump(t *testing.T, d *objectstore.Dest) string {
	t.Helper()
	var sb strings.Builder
	for _, n := range names(t, d) {
		a, err := d.Store().Head(t.Context(), n)
		if err != nil {
			t.Fatalf("head %s: %v", n, err)
		}
		body, err := d.Store().Get(t.Context(), n)
		if err != nil {
			t.Fatalf("get %s: %v", n, err)
		}
		fmt.Fprintf(&sb, "%s\n  %s\n  %s\n", n, metaLine(a.Meta), body)
	}
	return sb.String()
}

// metaLine renders the wearbridge metadata, names lowercased, sorted.
func metaLine(m map[string]string) string {
	var kv []string
	for k, v := range m {
		if k = strings.ToLower(k); strings.HasPrefix(k, "wearbridge") {
			kv = append(kv, k+"="+v)
		}
	}
	slices.Sort(kv)
	return strings.Join(kv, " ")
}

// meta returns the wanted metadata line for pairs of words and values.
func meta(sep string, pairs ...string) string {
	var kv []string
	for i := 0; i < len(pairs); i += 2 {
		kv = append(kv, "wearbridge"+sep+strings.ReplaceAll(pairs[i], "-", sep)+"="+pairs[i+1])
	}
	slices.Sort(kv)
	return strings.Join(kv, " ")
}

func testReadBack(t *testing.T, srv Server) {
	bucket := srv.NewBucket(t)
	d := open(t, srv, srv.Settings(srv.Addr, bucket, ""))
	w := withingsEvents(t)
	events := []destination.Event{sleepEvent(t, 1), dailyEvent(t), garminEvent(t), w[0], w[1], authEvent(t), healthcheckEvent(t)}
	deliverOK(t, d, events...)

	// Each event reads back byte for byte.
	for _, ev := range events {
		if got := readBack(t, d, ev); got != string(ev.Body) {
			t.Errorf("ReadBack(%s):\n got  %s\n want %s", ev.DeliveryID, got, ev.Body)
		}
	}
	// The objects are named as the layout says; the two Withings records
	// with the same start get an object each.
	want := []string{authName, garminName, weightName, pwvName, dailyName, hcName, sleepName}
	slices.Sort(want)
	if got := names(t, d); !slices.Equal(got, want) {
		t.Errorf("objects:\n got  %q\n want %q", got, want)
	}
	// Metadata.
	sep := srv.MetaSep
	for _, c := range []struct{ name, want string }{
		{sleepName, meta(sep, "version", "1", "delivery-id", "dlv_sleep_v1", "record-key", sleepKey, "user-id", whoopUser, "provider", "WHOOP", "type", "sleep")},
		{garminName, meta(sep, "version", "1", "delivery-id", "dlv_body_garmin", "record-key", garminKey, "user-id", garminUser, "provider", "GARMIN", "type", "body")},
		{authName, meta(sep, "delivery-id", "dlv_auth_1", "user-id", garminUser, "provider", "GARMIN", "type", "auth")},
		{hcName, meta(sep, "delivery-id", "healthcheck-abc", "type", "healthcheck")},
	} {
		a, err := d.Store().Head(t.Context(), c.name)
		if err != nil {
			t.Fatalf("head %s: %v", c.name, err)
		}
		if got := metaLine(a.Meta); got != c.want {
			t.Errorf("metadata of %s:\n got  %s\n want %s", c.name, got, c.want)
		}
		if a.ContentType != "application/json" {
			t.Errorf("content type of %s: %q", c.name, a.ContentType)
		}
	}

	// The healthcheck can be removed, once.
	hc := healthcheckEvent(t)
	if err := d.RemoveHealthcheck(t.Context(), hc); err != nil {
		t.Fatalf("RemoveHealthcheck: %v", err)
	}
	if _, err := d.ReadBack(t.Context(), hc); !errors.Is(err, destination.ErrNotFound) {
		t.Errorf("ReadBack after removal: %v, want ErrNotFound", err)
	}
	if err := d.RemoveHealthcheck(t.Context(), hc); !errors.Is(err, destination.ErrNotFound) {
		t.Errorf("second RemoveHealthcheck: %v, want ErrNotFound", err)
	}
	if err := d.RemoveHealthcheck(t.Context(), authEvent(t)); err == nil {
		t.Error("RemoveHealthcheck removed an auth event")
	}
	// Records that were never delivered are not found.
	other := sleepEvent(t, 1)
	other.RecordKey = "no-such-record"
	if _, err := d.ReadBack(t.Context(), other); !errors.Is(err, destination.ErrNotFound) {
		t.Errorf("ReadBack of an unknown record: %v, want ErrNotFound", err)
	}
}

func testIdempotent(t *testing.T, srv Server) {
	bucket := srv.NewBucket(t)
	d := open(t, srv, srv.Settings(srv.Addr, bucket, ""))
	v1, v2, daily, auth := sleepEvent(t, 1), sleepEvent(t, 2), dailyEvent(t), authEvent(t)

	deliverOK(t, d, v1, daily, auth)
	once := dump(t, d)
	deliverOK(t, d, v1, daily, auth)
	if twice := dump(t, d); twice != once {
		t.Errorf("delivering twice changed the bucket:\nonce:\n%s\ntwice:\n%s", once, twice)
	}

	// v2 replaces v1; a stale retry of v1 afterwards changes nothing.
	deliverOK(t, d, v2)
	if got := readBack(t, d, v2); got != string(v2.Body) {
		t.Errorf("after v2: %s", got)
	}
	afterV2 := dump(t, d)
	if !strings.Contains(afterV2, `"scores":{"sleep":99}`) || strings.Contains(afterV2, `"scores":{"sleep":98}`) {
		t.Errorf("after v2 the bucket does not hold v2 only:\n%s", afterV2)
	}
	deliverOK(t, d, v1)
	if got := readBack(t, d, v1); got != string(v2.Body) {
		t.Errorf("after a stale v1: %s, want v2", got)
	}
	if got := dump(t, d); got != afterV2 {
		t.Errorf("a stale v1 changed the bucket:\nbefore:\n%s\nafter:\n%s", afterV2, got)
	}

	// Replaying the whole range, in order, leaves the bucket as it was.
	deliverOK(t, d, v1, daily, auth, v2)
	if got := dump(t, d); got != afterV2 {
		t.Errorf("a replay changed the bucket:\nbefore:\n%s\nafter:\n%s", afterV2, got)
	}
	// Both versions in one batch, in either order: v2 wins.
	for _, batch := range [][]destination.Event{{v2, v1}, {v1, v2}} {
		deliverOK(t, d, batch...)
		if got := dump(t, d); got != afterV2 {
			t.Errorf("batch %s,%s changed the bucket:\n%s", batch[0].DeliveryID, batch[1].DeliveryID, got)
		}
	}
	// v1, v2 and v3 delivered concurrently, in separate calls: v3 stays.
	v3 := sleepEvent(t, 3)
	done := make(chan struct{})
	for _, ev := range []destination.Event{v1, v3, v2} {
		go func() {
			defer func() { done <- struct{}{} }()
			if r := d.Deliver(t.Context(), []destination.Event{ev}); r[0].Err != nil {
				t.Errorf("concurrent %s: %v", ev.DeliveryID, r[0].Err)
			}
		}()
	}
	for range 3 {
		<-done
	}
	if got := readBack(t, d, v1); got != string(v3.Body) {
		t.Errorf("after concurrent v1, v2, v3: %s, want v3", got)
	}
	if got := names(t, d); len(got) != 3 {
		t.Errorf("objects after all that: %q, want 3", got)
	}
}

// testMovedStart: a record whose start time changes between versions
// keeps one object, under its newest start.
func testMovedStart(t *testing.T, srv Server) {
	bucket := srv.NewBucket(t)
	d := open(t, srv, srv.Settings(srv.Addr, bucket, ""))
	v1, v2 := sleepEvent(t, 1), sleepEvent(t, 2)
	v2.Start = v2.Start.Add(5 * time.Minute)

	deliverOK(t, d, v1)
	deliverOK(t, d, v2)
	if got, want := names(t, d), []string{sleepMovedTo}; !slices.Equal(got, want) {
		t.Errorf("objects after v2 moved: %q, want %q", got, want)
	}
	// A stale v1 does not come back under the old name.
	deliverOK(t, d, v1)
	if got, want := names(t, d), []string{sleepMovedTo}; !slices.Equal(got, want) {
		t.Errorf("objects after a stale v1: %q, want %q", got, want)
	}
	// Reading back by the old event finds the record under its new name.
	if got := readBack(t, d, v1); got != string(v2.Body) {
		t.Errorf("ReadBack(v1) = %s, want v2", got)
	}
	// Moving back (v3) leaves one object again.
	v3 := sleepEvent(t, 3)
	deliverOK(t, d, v3, v1, v2)
	if got, want := names(t, d), []string{sleepName}; !slices.Equal(got, want) {
		t.Errorf("objects after v3 moved back: %q, want %q", got, want)
	}
	if got := readBack(t, d, v2); got != string(v3.Body) {
		t.Errorf("ReadBack(v2) = %s, want v3", got)
	}
}

func testPrefix(t *testing.T, srv Server) {
	bucket := srv.NewBucket(t)
	d := open(t, srv, srv.Settings(srv.Addr, bucket, "/health/prod/"))
	deliverOK(t, d, sleepEvent(t, 1), authEvent(t))
	want := []string{"health/prod/" + authName, "health/prod/" + sleepName}
	if got := names(t, d); !slices.Equal(got, want) {
		t.Errorf("objects: %q, want %q", got, want)
	}
	if got := readBack(t, d, sleepEvent(t, 1)); got != sleepBody {
		t.Errorf("ReadBack = %s", got)
	}
}

// testManyEvents delivers more events than the concurrency bound.
func testManyEvents(t *testing.T, srv Server) {
	bucket := srv.NewBucket(t)
	d := open(t, srv, srv.Settings(srv.Addr, bucket, ""))
	const n = 120
	events := make([]destination.Event, n)
	for i := range events {
		ev := sleepEvent(t, 1)
		ev.DeliveryID = "dlv_many_" + strconv.Itoa(i)
		ev.RecordKey = "record-" + strconv.Itoa(i)
		ev.Start = ev.Start.Add(time.Duration(i) * time.Hour)
		events[i] = ev
	}
	deliverOK(t, d, events...)
	if got := len(names(t, d)); got != n {
		t.Errorf("%d objects, want %d", got, n)
	}
	for _, i := range []int{0, 57, n - 1} {
		if got := readBack(t, d, events[i]); got != sleepBody {
			t.Errorf("event %d reads back %s", i, got)
		}
	}
}

// testBadEvents: events that cannot be written fail alone, permanently.
func testBadEvents(t *testing.T, srv Server) {
	bucket := srv.NewBucket(t)
	d := open(t, srv, srv.Settings(srv.Addr, bucket, ""))
	noUser := dailyEvent(t)
	noUser.DeliveryID, noUser.UserID = "dlv_no_user", ""
	noUser.Body = json.RawMessage(`{"type":"daily","data":[{}],"version":"2022-03-16"}`)
	badType := authEvent(t)
	badType.DeliveryID, badType.Type = "dlv_bad_type", "../auth"
	notJSON := authEvent(t)
	notJSON.DeliveryID, notJSON.Body = "dlv_not_json", json.RawMessage(`{"type":`)
	events := []destination.Event{sleepEvent(t, 1), noUser, badType, notJSON, authEvent(t)}
	res := d.Deliver(t.Context(), events)
	for i, r := range res {
		bad := i >= 1 && i <= 3
		switch {
		case bad && (r.Err == nil || !r.Permanent || !strings.Contains(r.Err.Error(), events[i].DeliveryID)):
			t.Errorf("event %s: %+v, want a permanent error naming it", events[i].DeliveryID, r)
		case !bad && r.Err != nil:
			t.Errorf("event %s: %v", events[i].DeliveryID, r.Err)
		}
	}
	want := []string{authName, sleepName}
	if got := names(t, d); !slices.Equal(got, want) {
		t.Errorf("objects: %q, want %q", got, want)
	}
}

// testOutage delivers through a proxy that the test cuts and restores:
// while it is down every event fails retryably; afterwards the same
// destination delivers them and each lands once.
func testOutage(t *testing.T, srv Server) {
	bucket := srv.NewBucket(t)
	px := StartProxy(t, srv.Addr)
	d := open(t, srv, srv.Settings(px.Addr, bucket, ""))
	deliverOK(t, d, authEvent(t))

	px.Stop()
	events := []destination.Event{sleepEvent(t, 1), dailyEvent(t), healthcheckEvent(t)}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	for i, r := range d.Deliver(ctx, events) {
		if r.Err == nil || r.Permanent {
			t.Fatalf("event %d during the outage: %+v, want a retryable error", i, r)
		}
		if !strings.Contains(r.Err.Error(), px.Addr) {
			t.Errorf("event %d: error %q does not name %s", i, r.Err, px.Addr)
		}
		t.Logf("during the outage: %v", r.Err)
	}
	px.Start(t)
	deliverOK(t, d, events...)
	deliverOK(t, d, events...) // the core may retry an event that landed
	want := []string{authName, dailyName, hcName, sleepName}
	if got := names(t, d); !slices.Equal(got, want) {
		t.Errorf("objects: %q, want %q", got, want)
	}
}

// testUnreachable opens a destination on a closed port: Open succeeds (the
// server may come back), deliveries fail retryably and say where.
func testUnreachable(t *testing.T, srv Server) {
	addr := ClosedAddr(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	d, err := srv.Kind.Open(ctx, destination.Config{ID: "dst_down", Kind: srv.Kind.Name(), Settings: srv.Settings(addr, "some-bucket", "")})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer d.Close()
	for i, r := range d.Deliver(ctx, []destination.Event{sleepEvent(t, 1), healthcheckEvent(t)}) {
		if r.Err == nil || r.Permanent || !strings.Contains(r.Err.Error(), addr) {
			t.Errorf("event %d: %+v, want a retryable error naming %s", i, r, addr)
		}
		t.Logf("error: %v", r.Err)
	}
}

// testMissingBucket: Open refuses a bucket that does not exist and names
// it.
func testMissingBucket(t *testing.T, srv Server) {
	missing := UniqueName("wb-missing")
	_, err := srv.Kind.Open(t.Context(), destination.Config{ID: "dst_nob", Kind: srv.Kind.Name(), Settings: srv.Settings(srv.Addr, missing, "")})
	if err == nil {
		t.Fatal("Open succeeded on a missing bucket")
	}
	t.Logf("error: %v", err)
	if !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("error %q does not say that %s does not exist", err, missing)
	}
}

// testConditions checks the store's conditional writes and deletes, which
// the version guard rests on.
func testConditions(t *testing.T, srv Server) {
	bucket := srv.NewBucket(t)
	st := open(t, srv, srv.Settings(srv.Addr, bucket, "")).Store()
	ctx := t.Context()
	const name = "cond/object.json"
	if _, err := st.Head(ctx, name); !errors.Is(err, destination.ErrNotFound) {
		t.Fatalf("Head of a missing object: %v, want ErrNotFound", err)
	}
	if _, err := st.Get(ctx, name); !errors.Is(err, destination.ErrNotFound) {
		t.Fatalf("Get of a missing object: %v, want ErrNotFound", err)
	}
	if err := st.Put(ctx, name, []byte(`{"v":1}`), nil, objectstore.Cond{IfAbsent: true}); err != nil {
		t.Fatalf("Put if absent: %v", err)
	}
	if err := st.Put(ctx, name, []byte(`{"v":2}`), nil, objectstore.Cond{IfAbsent: true}); !errors.Is(err, objectstore.ErrConflict) {
		t.Fatalf("second Put if absent: %v, want ErrConflict", err)
	}
	a1, err := st.Head(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Put(ctx, name, []byte(`{"v":3}`), nil, objectstore.Cond{IfToken: a1.Token}); err != nil {
		t.Fatalf("Put if token: %v", err)
	}
	if err := st.Put(ctx, name, []byte(`{"v":4}`), nil, objectstore.Cond{IfToken: a1.Token}); !errors.Is(err, objectstore.ErrConflict) {
		t.Fatalf("Put with a stale token: %v, want ErrConflict", err)
	}
	if b, err := st.Get(ctx, name); err != nil || string(b) != `{"v":3}` {
		t.Fatalf("Get = %s, %v; want {\"v\":3}", b, err)
	}
	if err := st.Delete(ctx, name, a1.Token); err != nil && !errors.Is(err, objectstore.ErrConflict) {
		t.Fatalf("Delete with a stale token: %v", err)
	} else if err == nil {
		t.Logf("the server ignores the condition of a delete")
		return
	}
	a2, err := st.Head(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Delete(ctx, name, a2.Token); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := st.Head(ctx, name); !errors.Is(err, destination.ErrNotFound) {
		t.Fatalf("Head after Delete: %v, want ErrNotFound", err)
	}
}
