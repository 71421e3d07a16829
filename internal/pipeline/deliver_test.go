package pipeline_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/wearbridge/wearbridge/internal/destination"
	"github.com/wearbridge/wearbridge/internal/destination/webhook"
	"github.com/wearbridge/wearbridge/internal/model"
	"github.com/wearbridge/wearbridge/internal/pipeline"
	"github.com/wearbridge/wearbridge/internal/signature"
	"github.com/wearbridge/wearbridge/internal/store"
	"github.com/wearbridge/wearbridge/internal/store/storetest"
)

const waitTimeout = 15 * time.Second

// fixture is a store with a developer, one connected user and the real
// webhook destination kind.
type fixture struct {
	ctx   context.Context
	st    *store.Store
	dev   store.NewDeveloper
	user  store.User
	in    *pipeline.Ingest
	kinds *destination.Registry
}

func setup(t *testing.T, dialect string) *fixture {
	t.Helper()
	ctx := context.Background()
	st := storetest.Open(t, dialect)
	dev, err := st.CreateDeveloper(ctx)
	if err != nil {
		t.Fatal(err)
	}
	u := store.User{ID: "user-1", DeveloperID: dev.ID, Provider: "OURA", ProviderUserID: "oura-1"}
	err = st.InTx(ctx, func(tx *store.Tx) error {
		u, _, err = tx.Connect(ctx, u, &oauth2.Token{AccessToken: "a", RefreshToken: "r", Expiry: time.Now().Add(time.Hour)})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	kinds, err := destination.NewRegistry(webhook.NewKind(webhook.Options{AllowPrivate: true}))
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{ctx: ctx, st: st, dev: dev, user: u, in: pipeline.NewIngest(st, discard(), nil), kinds: kinds}
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// addWebhook stores a webhook destination to url signed with the
// developer's secret.
func (f *fixture) addWebhook(t *testing.T, url, timeout string) store.Destination {
	t.Helper()
	s := map[string]string{"url": url}
	if timeout != "" {
		s["timeout"] = timeout
	}
	settings, _ := json.Marshal(s)
	d, err := f.st.CreateDestination(f.ctx, store.Destination{DeveloperID: f.dev.ID, Kind: webhook.KindName, Settings: settings, Secret: f.dev.SigningSecret, Enabled: true}, false)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// run starts a Deliverer with cfg until the test ends.
func (f *fixture) run(t *testing.T, cfg pipeline.DelivererConfig) *pipeline.Deliverer {
	t.Helper()
	cfg.Logger = discard()
	dl := pipeline.NewDeliverer(f.st, f.kinds, cfg)
	f.st.OnEvents(dl.Notify)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = dl.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return dl
}

// apply stores one sleep record per key, each of which appends one event.
func (f *fixture) apply(t *testing.T, keys ...string) []store.Event {
	t.Helper()
	last, err := f.st.LastSeq(f.ctx, f.dev.ID)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2024, 10, 9, 23, 1, 59, 0, time.UTC)
	recs := make([]model.Record, len(keys))
	for i, k := range keys {
		recs[i] = model.Record{Type: model.TypeSleep, Key: k, Start: start, End: start.Add(8 * time.Hour), Day: "2024-10-10",
			Data: map[string]any{"metadata": map[string]any{"summary_id": k, "start_time": "2024-10-10T01:01:59+02:00"}}}
	}
	c, err := f.in.Apply(f.ctx, f.user, recs, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Stored != len(keys) {
		t.Fatalf("stored %d records, want %d", c.Stored, len(keys))
	}
	evs, err := f.st.EventsAfter(f.ctx, f.dev.ID, last, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// hook is a webhook receiver. It verifies signatures and answers what
// answer says (200 by default); with hang set, it holds every request until
// the request is cancelled or release is called.
type hook struct {
	secret string
	srv    *httptest.Server

	answer   func(n int) int
	hang     chan struct{}
	mu       sync.Mutex
	reqs     []hookReq
	inFlight atomic.Int64
	finished atomic.Int64
}

type hookReq struct {
	id, ref string
	body    []byte
	sigErr  error
	status  int
	at      time.Time
}

func newHook(t *testing.T, secret string, answer func(n int) int, hang bool) *hook {
	h := &hook{secret: secret, answer: answer}
	if hang {
		h.hang = make(chan struct{})
	}
	h.srv = httptest.NewServer(h)
	t.Cleanup(func() {
		h.release()
		h.srv.Close()
	})
	return h
}

func (h *hook) url() string { return h.srv.URL + "/hook" }

func (h *hook) release() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.hang != nil {
		select {
		case <-h.hang:
		default:
			close(h.hang)
		}
	}
}

func (h *hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.inFlight.Add(1)
	defer h.inFlight.Add(-1)
	body, _ := io.ReadAll(r.Body)
	if h.hang != nil {
		select {
		case <-h.hang:
		case <-r.Context().Done():
			return
		}
	}
	rq := hookReq{id: r.Header.Get("X-Wearbridge-Delivery"), ref: r.Header.Get("terra-reference"), body: body, at: time.Now(),
		sigErr: signature.Verify(h.secret, r.Header.Get(signature.Header), body, time.Now(), signature.DefaultTolerance)}
	h.mu.Lock()
	rq.status = http.StatusOK
	if h.answer != nil {
		rq.status = h.answer(len(h.reqs) + 1)
	}
	h.reqs = append(h.reqs, rq)
	h.mu.Unlock()
	h.finished.Add(1)
	w.WriteHeader(rq.status)
}

func (h *hook) all() []hookReq {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.reqs)
}

// ok counts distinct delivery ids answered 2xx.
func (h *hook) ok() int {
	seen := map[string]bool{}
	for _, r := range h.all() {
		if r.status/100 == 2 {
			seen[r.id] = true
		}
	}
	return len(seen)
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestRetryKeepsDeliveryID: a receiver that fails twice and then accepts
// gets three tries of the same event, each with the same delivery id in
// both headers and a valid signature, and nothing after the success.
func TestRetryKeepsDeliveryID(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(storetest.Name(d), func(t *testing.T) {
			f := setup(t, d)
			h := newHook(t, f.dev.SigningSecret, func(n int) int {
				if n <= 2 {
					return http.StatusInternalServerError
				}
				return http.StatusOK
			}, false)
			dst := f.addWebhook(t, h.url(), "")
			f.run(t, pipeline.DelivererConfig{RetryBase: 20 * time.Millisecond, RetryMax: 100 * time.Millisecond, PollInterval: 20 * time.Millisecond, MaxAttempts: 5})
			evs := f.apply(t, "sleep-1")
			if len(evs) != 1 {
				t.Fatalf("events = %d, want 1", len(evs))
			}
			ev := evs[0]
			waitFor(t, "the successful try", waitTimeout, func() bool { return h.ok() == 1 })
			// Nothing more may come: wait past RetryMax and a few polls.
			time.Sleep(200 * time.Millisecond)

			reqs := h.all()
			if len(reqs) != 3 {
				t.Fatalf("receiver got %d requests, want 3 (500, 500, 200)", len(reqs))
			}
			wantID := pipeline.DeliveryID(dst.ID, ev.Seq)
			for i, r := range reqs {
				wantStatus := []int{500, 500, 200}[i]
				if r.status != wantStatus {
					t.Errorf("try %d answered %d, want %d", i+1, r.status, wantStatus)
				}
				if r.id != wantID || r.ref != wantID {
					t.Errorf("try %d: X-Wearbridge-Delivery %q, terra-reference %q, want %q", i+1, r.id, r.ref, wantID)
				}
				if r.sigErr != nil {
					t.Errorf("try %d: signature: %v", i+1, r.sigErr)
				}
				if !bytes.Equal(r.body, ev.Body) {
					t.Errorf("try %d: body differs from the event body", i+1)
				}
			}
			if n, err := f.st.PendingRetries(f.ctx, dst.ID); err != nil || n != 0 {
				t.Errorf("pending retries = %d, %v; want 0", n, err)
			}
			if dl, err := f.st.DeadLetters(f.ctx, f.dev.ID, dst.ID, 10); err != nil || len(dl) != 0 {
				t.Errorf("dead letters = %v, %v; want none", dl, err)
			}
			got, err := f.st.Destination(f.ctx, f.dev.ID, dst.ID)
			if err != nil || got.Cursor != ev.Seq {
				t.Errorf("cursor = %d, %v; want %d", got.Cursor, err, ev.Seq)
			}
		})
	}
}

// TestSlowDestinationDoesNotDelayOthers: a destination whose receiver hangs
// holds up only its own loop. Once the slow destination is stuck on a
// first event, a healthy destination of the same developer gets every
// following event promptly, while the slow one is still waiting for its
// (5 s) timeout.
func TestSlowDestinationDoesNotDelayOthers(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(storetest.Name(d), func(t *testing.T) {
			f := setup(t, d)
			slow := newHook(t, f.dev.SigningSecret, nil, true)
			fast := newHook(t, f.dev.SigningSecret, nil, false)
			f.addWebhook(t, slow.url(), "5s")
			f.addWebhook(t, fast.url(), "5s")
			f.run(t, pipeline.DelivererConfig{RetryBase: 20 * time.Millisecond, PollInterval: 20 * time.Millisecond})

			f.apply(t, "sleep-first")
			waitFor(t, "the slow receiver to hold the first event", waitTimeout, func() bool { return slow.inFlight.Load() == 1 })
			waitFor(t, "the healthy receiver to get the first event", waitTimeout, func() bool { return fast.ok() == 1 })

			keys := make([]string, 20)
			for i := range keys {
				keys[i] = fmt.Sprintf("sleep-%02d", i)
			}
			begin := time.Now()
			f.apply(t, keys...)
			// Well before the slow destination's 5 s timeout.
			waitFor(t, "the healthy destination to get every event", 2500*time.Millisecond, func() bool { return fast.ok() == 1+len(keys) })
			t.Logf("healthy destination got %d events in %s while the slow one hung", len(keys), time.Since(begin).Round(time.Millisecond))
			if n, done := slow.inFlight.Load(), slow.finished.Load(); n != 1 || done != 0 {
				t.Errorf("slow receiver: %d requests open, %d finished; want it still stuck on the first event", n, done)
			}
			for _, r := range fast.all() {
				if r.sigErr != nil {
					t.Errorf("delivery %s: signature: %v", r.id, r.sigErr)
				}
			}
		})
	}
}

// TestDestinationAddedWhileRunning: a destination created while the
// Deliverer runs starts delivering as soon as Sync is called, even when
// Sync's context is short-lived (the API calls it with the request's
// context), not only at the next periodic sync (LeaseTTL/3, 10 s by
// default).
func TestDestinationAddedWhileRunning(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(storetest.Name(d), func(t *testing.T) {
			f := setup(t, d)
			first := newHook(t, f.dev.SigningSecret, nil, false)
			f.addWebhook(t, first.url(), "")
			dl := f.run(t, pipeline.DelivererConfig{PollInterval: 20 * time.Millisecond})
			f.apply(t, "sleep-1")
			// The first delivery proves the Deliverer's own first sync ran.
			waitFor(t, "the first destination's delivery", waitTimeout, func() bool { return first.ok() == 1 })

			second := newHook(t, f.dev.SigningSecret, nil, false)
			f.addWebhook(t, second.url(), "")
			reqCtx, endRequest := context.WithCancel(context.Background())
			if err := dl.Sync(reqCtx); err != nil {
				t.Fatal(err)
			}
			endRequest() // as an HTTP handler's context ends with its request
			f.apply(t, "sleep-2")
			waitFor(t, "the new destination to get both events", 3*time.Second, func() bool { return second.ok() == 2 })
		})
	}
}
