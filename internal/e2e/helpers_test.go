package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wearbridge/wearbridge/internal/app"
	"github.com/wearbridge/wearbridge/internal/jobs"
	"github.com/wearbridge/wearbridge/internal/model"
	"github.com/wearbridge/wearbridge/internal/pipeline"
	"github.com/wearbridge/wearbridge/internal/signature"
	"github.com/wearbridge/wearbridge/internal/store"
	"github.com/wearbridge/wearbridge/internal/store/storetest"
)

// waitTimeout bounds every wait of a test; waits poll, so a passing test
// takes only as long as the work.
const waitTimeout = 20 * time.Second

// successURL is the auth_success_redirect_url the tests pass; the browser
// stops at it and reads the user_id wearbridge appended.
const successURL = "http://connected.invalid/done"

// env is a running wearbridge process.
type env struct {
	t    *testing.T
	ctx  context.Context
	a    *app.App
	base string
}

// start runs a sandbox wearbridge on a loopback port for the test, on the
// given database dialect, with fast delivery retries and no periodic poll.
// opts may change the config before app.New.
func start(t *testing.T, dialect string, opts ...func(*app.Config)) *env {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	cfg := app.Config{
		Addr: ln.Addr().String(), DataDir: t.TempDir(), DatabaseURL: storetest.URL(t, dialect),
		Sandbox: true, AllowPrivateWebhooks: true,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
		Delivery: pipeline.DelivererConfig{
			RetryBase: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond, PollInterval: 50 * time.Millisecond,
		},
		Jobs: jobs.Config{PollInterval: -1},
	}
	for _, o := range opts {
		o(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg)
	if err != nil {
		cancel()
		ln.Close()
		t.Fatalf("app.New: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, ln) }()
	began := time.Now()
	t.Cleanup(func() {
		if os.Getenv("WB_E2E_SLOW") != "" && time.Since(began) > 4*time.Second {
			t.Logf("SLOW %s; app logs:\n%s", time.Since(began), logs.tail(30000))
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("app run: %v", err)
		}
		a.Close()
		if t.Failed() {
			t.Logf("app logs (tail):\n%s", logs.tail(12000))
		}
	})
	return &env{t: t, ctx: ctx, a: a, base: a.PublicURL()}
}

// developer is a developer account with its credentials.
type developer struct {
	ID, APIKey, Secret string
}

func (e *env) newDeveloper() developer {
	e.t.Helper()
	d, err := e.a.Store.CreateDeveloper(e.ctx)
	if err != nil {
		e.t.Fatalf("create developer: %v", err)
	}
	return developer{ID: d.ID, APIKey: d.APIKey, Secret: d.SigningSecret}
}

// call makes an API request as dev (no credentials when dev is zero). body
// is nil, a string, []byte, or a value sent as JSON.
func (e *env) call(method, path string, dev developer, body any) (int, []byte) {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(e.ctx, method, e.base+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if dev.ID != "" {
		req.Header.Set("dev-id", dev.ID)
	}
	if dev.APIKey != "" {
		req.Header.Set("x-api-key", dev.APIKey)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return resp.StatusCode, out
}

// callJSON is call expecting status want and a JSON answer decoded into out
// (unless out is nil).
func (e *env) callJSON(method, path string, dev developer, body any, want int, out any) []byte {
	e.t.Helper()
	status, b := e.call(method, path, dev, body)
	if status != want {
		e.t.Fatalf("%s %s: status %d, want %d: %s", method, path, status, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
	return b
}

// addWebhook creates a webhook destination to rc through the API, signed
// with rc's secret, and returns its id. types empty means every event
// type; timeout "" the default. The API tests the destination with a
// healthcheck delivery first.
func (e *env) addWebhook(dev developer, rc *receiver, types []string, timeout string) string {
	e.t.Helper()
	settings := map[string]any{"url": rc.url}
	if timeout != "" {
		settings["timeout"] = timeout
	}
	req := map[string]any{"kind": "webhook", "settings": settings, "signing_secret": rc.secret}
	if types != nil {
		req["event_types"] = types
	}
	var out struct {
		Destination struct {
			ID            string `json:"id"`
			SigningSecret string `json:"signing_secret"`
		} `json:"destination"`
	}
	e.callJSON(http.MethodPost, "/destinations", dev, req, http.StatusCreated, &out)
	if out.Destination.ID == "" || out.Destination.SigningSecret != rc.secret {
		e.t.Fatalf("POST /destinations: id %q, signing_secret %q; want an id and the secret sent", out.Destination.ID, out.Destination.SigningSecret)
	}
	return out.Destination.ID
}

// connect connects a provider account as dev through the real redirect
// flow: POST /auth/authenticateUser, then an end user's browser follows
// auth_url through the provider's consent to wearbridge's callback. For
// OURA, sandboxUser picks the sandbox account ("" for the default one). It
// returns the user id authenticateUser announced and the one the callback
// redirected with.
func (e *env) connect(dev developer, provider, ref, sandboxUser string) (announced, userID string) {
	e.t.Helper()
	var started struct {
		Status  string `json:"status"`
		UserID  string `json:"user_id"`
		AuthURL string `json:"auth_url"`
	}
	e.callJSON(http.MethodPost, "/auth/authenticateUser?resource="+provider, dev,
		map[string]string{"reference_id": ref, "auth_success_redirect_url": successURL}, http.StatusOK, &started)
	authURL := started.AuthURL
	if sandboxUser != "" {
		authURL += "&user=" + url.QueryEscape(sandboxUser)
	}
	browser := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if req.URL.Host == "connected.invalid" {
			return http.ErrUseLastResponse
		}
		if len(via) > 10 {
			return fmt.Errorf("too many redirects")
		}
		return nil
	}}
	req, err := http.NewRequestWithContext(e.ctx, http.MethodGet, authURL, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	resp, err := browser.Do(req)
	if err != nil {
		e.t.Fatalf("follow auth_url: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || loc == nil || loc.Host != "connected.invalid" {
		e.t.Fatalf("follow auth_url: %s (Location %q): %s", resp.Status, resp.Header.Get("Location"), b)
	}
	userID = loc.Query().Get("user_id")
	if userID == "" {
		e.t.Fatalf("success redirect without user_id: %s", loc)
	}
	return started.UserID, userID
}

// user reads a user from the store.
func (e *env) user(dev developer, id string) store.User {
	e.t.Helper()
	u, err := e.a.Store.User(e.ctx, dev.ID, id)
	if err != nil {
		e.t.Fatalf("get user %s: %v", id, err)
	}
	return u
}

// waitIdle waits until no pull job is waiting or running and every
// destination has delivered every event.
func (e *env) waitIdle() {
	e.t.Helper()
	waitFor(e.t, "wearbridge to be idle", func() bool {
		idle, err := e.a.Idle(e.ctx)
		if err != nil {
			e.t.Fatalf("idle: %v", err)
		}
		return idle
	})
}

// events returns every event of dev, in order.
func (e *env) events(dev developer) []store.Event {
	e.t.Helper()
	evs, err := e.a.Store.EventsAfter(e.ctx, dev.ID, 0, 1_000_000)
	if err != nil {
		e.t.Fatalf("read events: %v", err)
	}
	return evs
}

// records returns a user's stored records of type t starting in [from, to).
func (e *env) records(userID string, t model.DataType, from, to time.Time) []store.StoredRecord {
	e.t.Helper()
	recs, err := e.a.Store.Records(e.ctx, userID, t, from, to)
	if err != nil {
		e.t.Fatalf("read records: %v", err)
	}
	return recs
}

// dataEvents keeps the events that carry records (type sleep, daily, ...).
func dataEvents(evs []store.Event) []store.Event {
	var out []store.Event
	for _, ev := range evs {
		if slices.Contains(model.DataTypes, model.DataType(ev.Type)) {
			out = append(out, ev)
		}
	}
	return out
}

// countTypes counts events per type.
func countTypes(evs []store.Event) map[string]int {
	m := map[string]int{}
	for _, ev := range evs {
		m[ev.Type]++
	}
	return m
}

// waitFor polls cond until it is true, failing the test after waitTimeout.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", waitTimeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// delivery is one request a receiver got.
type delivery struct {
	ID, Ref, Type string
	Body          []byte
	SigErr        error
	Status        int
}

// receiver is a developer's webhook endpoint with a signing secret of its
// own: it verifies every signature and answers what answer says (200 by
// default). The test deliveries of a new destination ("healthcheck-..."
// delivery ids) are always accepted and kept apart.
type receiver struct {
	url    string
	secret string

	mu           sync.Mutex
	got          []delivery
	healthchecks []delivery
	answer       func(n int) int // status for the nth request (1-based)
}

var receiverSeq atomic.Int64

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{secret: fmt.Sprintf("whsec_e2e_%d_%d", time.Now().UnixNano(), receiverSeq.Add(1))}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	rc.url = srv.URL + "/hook"
	return rc
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	d := delivery{
		ID: r.Header.Get("X-Wearbridge-Delivery"), Ref: r.Header.Get("terra-reference"), Body: body,
		SigErr: signature.Verify(rc.secret, r.Header.Get(signature.Header), body, time.Now(), signature.DefaultTolerance),
	}
	var head struct {
		Type string `json:"type"`
	}
	_ = json.Unmarshal(body, &head)
	d.Type = head.Type
	rc.mu.Lock()
	d.Status = http.StatusOK
	switch {
	case strings.HasPrefix(d.ID, "healthcheck-"):
		rc.healthchecks = append(rc.healthchecks, d)
	default:
		if rc.answer != nil {
			d.Status = rc.answer(len(rc.got) + 1)
		}
		rc.got = append(rc.got, d)
	}
	rc.mu.Unlock()
	w.WriteHeader(d.Status)
}

func (rc *receiver) setAnswer(f func(n int) int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.answer = f
}

// all returns every request so far.
func (rc *receiver) all() []delivery {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.got)
}

// delivered returns the accepted (2xx) requests, one per delivery id, in
// arrival order.
func (rc *receiver) delivered() []delivery {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	seen := map[string]bool{}
	var out []delivery
	for _, d := range rc.got {
		if d.Status/100 == 2 && !seen[d.ID] {
			seen[d.ID] = true
			out = append(out, d)
		}
	}
	return out
}

// ofType returns the accepted deliveries of one event type.
func (rc *receiver) ofType(typ string) []delivery {
	var out []delivery
	for _, d := range rc.delivered() {
		if d.Type == typ {
			out = append(out, d)
		}
	}
	return out
}

// checkSignatures fails the test for every request (test deliveries
// included) whose signature did not verify or whose two delivery id headers
// differ.
func (rc *receiver) checkSignatures(t *testing.T) {
	t.Helper()
	rc.mu.Lock()
	all := append(slices.Clone(rc.healthchecks), rc.got...)
	rc.mu.Unlock()
	for i, d := range all {
		if d.SigErr != nil {
			t.Errorf("request %d (%s, %s): signature: %v", i+1, d.Type, d.ID, d.SigErr)
		}
		if d.ID == "" || d.ID != d.Ref {
			t.Errorf("request %d: X-Wearbridge-Delivery %q, terra-reference %q: want the same non-empty id", i+1, d.ID, d.Ref)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) tail(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf.String()
	if len(s) > n {
		s = "..." + s[len(s)-n:]
	}
	return s
}

// date parses a YYYY-MM-DD day as UTC midnight.
func date(t *testing.T, s string) time.Time {
	t.Helper()
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// abbreviate shortens a body for a failure message.
func abbreviate(b []byte) string {
	if len(b) > 600 {
		return string(b[:600]) + "..."
	}
	return string(b)
}
