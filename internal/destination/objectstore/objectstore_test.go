package objectstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wearbridge/wearbridge/internal/destination"
)

// memStore is an in-memory Store with conditional writes; tokens count
// writes. beforePut, when set, runs before each Put (to simulate another
// writer); failPut makes Put of a name fail.
type memStore struct {
	mu        sync.Mutex
	objs      map[string]memObj
	gen       int
	beforePut func(name string)
	failPut   map[string]error
	lists     int
}

type memObj struct {
	body  string
	meta  map[string]string
	token string
}

func newMem() *memStore { return &memStore{objs: map[string]memObj{}, failPut: map[string]error{}} }

func (m *memStore) Head(ctx context.Context, name string) (Attrs, error) {
	if err := ctx.Err(); err != nil {
		return Attrs{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.objs[name]
	if !ok {
		return Attrs{}, destination.ErrNotFound
	}
	return Attrs{Token: o.token, Meta: maps.Clone(o.meta), ContentType: "application/json"}, nil
}

func (m *memStore) Get(_ context.Context, name string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.objs[name]
	if !ok {
		return nil, destination.ErrNotFound
	}
	return []byte(o.body), nil
}

func (m *memStore) Put(ctx context.Context, name string, body []byte, meta map[string]string, cond Cond) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if f := m.beforePut; f != nil {
		f(name)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.failPut[name]; err != nil {
		return err
	}
	o, exists := m.objs[name]
	if (cond.IfAbsent && exists) || (cond.IfToken != "" && (!exists || o.token != cond.IfToken)) {
		return fmt.Errorf("put %s: %w", name, ErrConflict)
	}
	m.gen++
	m.objs[name] = memObj{body: string(body), meta: maps.Clone(meta), token: strconv.Itoa(m.gen)}
	return nil
}

func (m *memStore) Delete(_ context.Context, name, token string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.objs[name]
	if !ok {
		return destination.ErrNotFound
	}
	if token != "" && o.token != token {
		return ErrConflict
	}
	delete(m.objs, name)
	return nil
}

func (m *memStore) List(ctx context.Context, prefix string, fn func(string) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	m.lists++
	var names []string
	for n := range m.objs {
		if strings.HasPrefix(n, prefix) {
			names = append(names, n)
		}
	}
	m.mu.Unlock()
	slices.Sort(names)
	for _, n := range names {
		if err := fn(n); err != nil {
			return err
		}
	}
	return nil
}

func (m *memStore) Close() error { return nil }

// names returns the stored names, sorted.
func (m *memStore) names() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Sorted(maps.Keys(m.objs))
}

func (m *memStore) body(name string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.objs[name].body
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// record returns a data event of user u1 at version v, its body naming v.
func record(t *testing.T, key string, v int, start string) destination.Event {
	return destination.Event{
		DeliveryID: fmt.Sprintf("dlv_%s_v%d", key, v), Type: "sleep", UserID: "u1", Provider: "OURA",
		RecordKey: key, Version: v, Start: mustTime(t, start), CreatedAt: mustTime(t, "2026-12-03T17:30:00Z"),
		Body: json.RawMessage(fmt.Sprintf(`{"type":"sleep","v":%d}`, v)),
	}
}

func TestObjectName(t *testing.T) {
	d := New(Config{Kind: "test", Store: newMem()})
	dp := New(Config{Kind: "test", Store: newMem(), Prefix: "a/b"})
	created := mustTime(t, "2026-12-03T17:30:00.9Z")
	tests := []struct {
		name string
		d    *Dest
		ev   destination.Event
		want string // or the error's substring, after "error: "
	}{
		{"record", d, destination.Event{Type: "sleep", UserID: "u-1", RecordKey: "abc", Version: 1,
			Start: mustTime(t, "2024-10-10T03:01:59.5+02:00"), Body: json.RawMessage(`{}`)},
			"2022-03-16/sleep/u-1-20241010T010159Z-abc.json"},
		{"escaped key", d, destination.Event{Type: "body", UserID: "u1", RecordKey: "bodycomp:1 2/~ü", Version: 1,
			Start: mustTime(t, "2020-07-03T16:00:00+01:00"), Body: json.RawMessage(`{}`)},
			"2022-03-16/body/u1-20200703T150000Z-bodycomp~3A1~202~2F~7E~C3~BC.json"},
		{"user from envelope", d, destination.Event{Type: "daily", RecordKey: "2024-11-12", Version: 1,
			Start: mustTime(t, "2024-11-12T00:00:00+01:00"), Body: json.RawMessage(`{"user":{"user_id":"env-user"}}`)},
			"2022-03-16/daily/env-user-20241111T230000Z-2024-11-12.json"},
		{"prefix", dp, destination.Event{Type: "sleep", UserID: "u1", RecordKey: "k", Version: 1,
			Start: mustTime(t, "2024-10-10T01:01:59Z"), Body: json.RawMessage(`{}`)},
			"a/b/2022-03-16/sleep/u1-20241010T010159Z-k.json"},
		{"auth", d, destination.Event{DeliveryID: "dst_1-42", Type: "auth", UserID: "u1", CreatedAt: created, Body: json.RawMessage(`{}`)},
			"2022-03-16/auth/u1-20261203T173000Z-dst_1-42.json"},
		{"healthcheck", d, destination.Event{DeliveryID: "healthcheck-x", Type: "healthcheck", CreatedAt: created, Body: json.RawMessage(`{}`)},
			"2022-03-16/healthcheck/20261203T173000Z-healthcheck-x.json"},
		{"no user", d, destination.Event{DeliveryID: "d1", Type: "sleep", RecordKey: "k", Body: json.RawMessage(`{}`)},
			"error: needs a user id"},
		{"bad type", d, destination.Event{DeliveryID: "d1", Type: "Sleep", Body: json.RawMessage(`{}`)},
			"error: cannot name a folder"},
		{"no delivery id", d, destination.Event{Type: "auth", Body: json.RawMessage(`{}`)},
			"error: has no delivery id"},
		{"not json", d, destination.Event{DeliveryID: "d1", Type: "auth", Body: json.RawMessage(`{`)},
			"error: not JSON"},
		{"year out of range", d, destination.Event{DeliveryID: "d1", Type: "sleep", UserID: "u", RecordKey: "k",
			Start: time.Date(12000, 1, 1, 0, 0, 0, 0, time.UTC), Body: json.RawMessage(`{}`)},
			"error: out of range"},
		{"name too long", d, destination.Event{DeliveryID: "d1", Type: "sleep", UserID: "u", RecordKey: strings.Repeat(":", 400),
			Body: json.RawMessage(`{}`)}, "error: more than 1024"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.d.ObjectName(tc.ev)
			if want, ok := strings.CutPrefix(tc.want, "error: "); ok {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("got %q, %v; want an error saying %q", got, err, want)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestCleanPrefix(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"/", ""},
		{"wearbridge", "wearbridge"},
		{"/a/b/", "a/b"},
		{"a-b_c.d/e~f", "a-b_c.d/e~f"},
		{"a//b", "error"},
		{"a/../b", "error"},
		{"./a", "error"},
		{"a b", "error"},
		{`a\b`, "error"},
		{"ä", "error"},
		{strings.Repeat("x", 513), "error"},
	}
	for _, tc := range tests {
		got, err := CleanPrefix(tc.in)
		if tc.want == "error" {
			if err == nil {
				t.Errorf("CleanPrefix(%q) = %q, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("CleanPrefix(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestSameRecord(t *testing.T) {
	it := &item{folder: "p/2022-03-16/sleep/u1-", escKey: "k-1"}
	tests := []struct {
		name string
		want bool
	}{
		{"p/2022-03-16/sleep/u1-20241010T010159Z-k-1.json", true},
		{"p/2022-03-16/sleep/u1-20200101T000000Z-k-1.json", true},
		{"p/2022-03-16/sleep/u1-20241010T010159Z-k-10.json", false},
		{"p/2022-03-16/sleep/u1-20241010T010159Z-k.json", false},
		{"p/2022-03-16/sleep/u1-x-20241010T010159Z-k-1.json", false}, // user u1-x
		{"p/2022-03-16/sleep/u1-20241010T010159Z-k-1.json.bak", false},
		{"p/2022-03-16/daily/u1-20241010T010159Z-k-1.json", false},
	}
	for _, tc := range tests {
		if got := sameRecord(it, tc.name); got != tc.want {
			t.Errorf("sameRecord(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestMetadata(t *testing.T) {
	ev := record(t, "kéy", 7, "2024-10-10T01:01:59Z")
	for _, tc := range []struct {
		sep  string
		want map[string]string
	}{
		{"-", map[string]string{"wearbridge-version": "7", "wearbridge-delivery-id": "dlv_k%C3%A9y_v7", "wearbridge-record-key": "k%C3%A9y",
			"wearbridge-user-id": "u1", "wearbridge-provider": "OURA", "wearbridge-type": "sleep"}},
		{"_", map[string]string{"wearbridge_version": "7", "wearbridge_delivery_id": "dlv_k%C3%A9y_v7", "wearbridge_record_key": "k%C3%A9y",
			"wearbridge_user_id": "u1", "wearbridge_provider": "OURA", "wearbridge_type": "sleep"}},
	} {
		m := newMem()
		d := New(Config{Kind: "test", Store: m, MetaSep: tc.sep})
		if r := d.Deliver(t.Context(), []destination.Event{ev}); r[0].Err != nil {
			t.Fatal(r[0].Err)
		}
		name := m.names()[0]
		a, _ := m.Head(t.Context(), name)
		if !maps.Equal(a.Meta, tc.want) {
			t.Errorf("sep %q: metadata %v, want %v", tc.sep, a.Meta, tc.want)
		}
		if v := d.storedVersion(Attrs{Meta: map[string]string{strings.ToUpper("wearbridge" + tc.sep + "version"): " 12 "}}); v != 12 {
			t.Errorf("stored version read case-insensitively = %d, want 12", v)
		}
	}
}

// TestVersionGuard: a stale event never replaces a newer version, also
// when another writer gets in between the check and the write.
func TestVersionGuard(t *testing.T) {
	const start = "2024-10-10T01:01:59Z"
	m := newMem()
	d := New(Config{Kind: "test", Store: m})
	deliver := func(evs ...destination.Event) {
		t.Helper()
		for i, r := range d.Deliver(t.Context(), evs) {
			if r.Err != nil {
				t.Fatalf("event %d: %v", i, r.Err)
			}
		}
	}
	const name = "2022-03-16/sleep/u1-20241010T010159Z-k.json"
	deliver(record(t, "k", 2, start))
	deliver(record(t, "k", 1, start))
	if got := m.body(name); got != `{"type":"sleep","v":2}` {
		t.Fatalf("after a stale v1: %s", got)
	}
	// Within a batch the highest version wins, in any order.
	deliver(record(t, "k", 4, start), record(t, "k", 3, start))
	if got := m.body(name); got != `{"type":"sleep","v":4}` {
		t.Fatalf("after batch v4, v3: %s", got)
	}
	// v6 lands between v5's check and its write: v5's conditional write
	// fails, it looks again, sees v6 and gives up.
	var once sync.Once
	m.beforePut = func(string) {
		once.Do(func() {
			d2 := New(Config{Kind: "test", Store: &memNoHook{m}})
			if r := d2.Deliver(t.Context(), []destination.Event{record(t, "k", 6, start)}); r[0].Err != nil {
				t.Errorf("v6: %v", r[0].Err)
			}
		})
	}
	deliver(record(t, "k", 5, start))
	if got := m.body(name); got != `{"type":"sleep","v":6}` {
		t.Fatalf("after v5 raced v6: %s", got)
	}
	// A writer that changes the object every time exhausts the attempts:
	// a retryable error.
	m.beforePut = func(n string) {
		m.mu.Lock()
		m.gen++
		o := m.objs[n]
		o.token = strconv.Itoa(m.gen)
		m.objs[n] = o
		m.mu.Unlock()
	}
	r := d.Deliver(t.Context(), []destination.Event{record(t, "k", 7, start)})[0]
	if r.Err == nil || r.Permanent || !errors.Is(r.Err, ErrConflict) {
		t.Fatalf("endless conflicts: %+v, want a retryable conflict", r)
	}
}

// memNoHook is m without its beforePut hook.
type memNoHook struct{ *memStore }

func (m *memNoHook) Put(ctx context.Context, name string, body []byte, meta map[string]string, cond Cond) error {
	h := m.beforePut
	m.beforePut = nil
	defer func() { m.beforePut = h }()
	return m.memStore.Put(ctx, name, body, meta, cond)
}

// TestMovedStart: one object per record, under the newest start; one
// listing per (user, type) and batch.
func TestMovedStart(t *testing.T) {
	m := newMem()
	d := New(Config{Kind: "test", Store: m})
	a1 := record(t, "a", 1, "2024-10-10T01:00:00Z")
	a2 := record(t, "a", 2, "2024-10-10T02:00:00Z")
	b1 := record(t, "b", 1, "2024-10-10T01:00:00Z")
	for _, r := range d.Deliver(t.Context(), []destination.Event{a1, b1}) {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	if m.lists != 1 {
		t.Errorf("%d listings for one (user, type), want 1", m.lists)
	}
	for _, batch := range [][]destination.Event{{a2}, {a1}, {a1, a2}} {
		for _, r := range d.Deliver(t.Context(), batch) {
			if r.Err != nil {
				t.Fatal(r.Err)
			}
		}
		want := []string{"2022-03-16/sleep/u1-20241010T010000Z-b.json", "2022-03-16/sleep/u1-20241010T020000Z-a.json"}
		if got := m.names(); !slices.Equal(got, want) {
			t.Fatalf("after %s: %q, want %q", batch[0].DeliveryID, got, want)
		}
	}
	got, err := d.ReadBack(t.Context(), a1)
	if err != nil || string(got) != string(a2.Body) {
		t.Errorf("ReadBack(a1) = %s, %v; want a2", got, err)
	}
}

// TestResults: store errors become per-event results with their class.
func TestResults(t *testing.T) {
	m := newMem()
	d := New(Config{Kind: "test", Store: m})
	evs := []destination.Event{
		{DeliveryID: "ok", Type: "auth", CreatedAt: mustTime(t, "2026-12-03T17:30:00Z"), Body: json.RawMessage(`{}`)},
		{DeliveryID: "denied", Type: "auth", CreatedAt: mustTime(t, "2026-12-03T17:30:00Z"), Body: json.RawMessage(`{}`)},
		{DeliveryID: "slow", Type: "auth", CreatedAt: mustTime(t, "2026-12-03T17:30:00Z"), Body: json.RawMessage(`{}`)},
		{DeliveryID: "bad", Type: "auth", Body: json.RawMessage(`nope`)},
	}
	m.failPut["2022-03-16/auth/20261203T173000Z-denied.json"] = &Error{Msg: "put: access denied", Permanent: true}
	m.failPut["2022-03-16/auth/20261203T173000Z-slow.json"] = &Error{Msg: "put: throttled", RetryAfter: time.Second}
	res := d.Deliver(t.Context(), evs)
	if res[0].Err != nil {
		t.Errorf("ok: %v", res[0].Err)
	}
	if r := res[1]; r.Err == nil || !r.Permanent || !strings.Contains(r.Err.Error(), "test: event denied: put: access denied") {
		t.Errorf("denied: %+v", r)
	}
	if r := res[2]; r.Err == nil || r.Permanent || r.RetryAfter != time.Second {
		t.Errorf("slow: %+v", r)
	}
	if r := res[3]; r.Err == nil || !r.Permanent {
		t.Errorf("bad: %+v", r)
	}
	// A cancelled context fails every event, retryably.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for i, r := range d.Deliver(ctx, []destination.Event{record(t, "x", 1, "2024-10-10T01:00:00Z"), record(t, "y", 1, "2024-10-10T01:00:00Z")}) {
		if r.Err == nil || r.Permanent {
			t.Errorf("cancelled event %d: %+v", i, r)
		}
	}
}

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"":                  "",
		"abc-DEF_0.9":       "abc-DEF_0.9",
		"heart_rate:2024":   "heart_rate~3A2024",
		"a~b":               "a~7Eb",
		"a/b c":             "a~2Fb~20c",
		"\x00\xff":          "~00~FF",
		"bodycomp:13896336": "bodycomp~3A13896336",
	} {
		if got := escape(in); got != want {
			t.Errorf("escape(%q) = %q, want %q", in, got, want)
		}
	}
}
