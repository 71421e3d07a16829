package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wearbridge/wearbridge/internal/destination"
	"github.com/wearbridge/wearbridge/internal/signature"
)

const testSecret = "whsec_test"

// fixedNow is the clock the kind signs with in these tests.
var fixedNow = time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)

// request is what a test receiver saw.
type request struct {
	header http.Header
	body   []byte
}

// receiver is an httptest server that records requests and answers with
// respond (204 when nil).
type receiver struct {
	*httptest.Server
	mu      sync.Mutex
	reqs    []request
	respond func(w http.ResponseWriter, r *http.Request)
}

func newReceiver(t *testing.T, respond func(w http.ResponseWriter, r *http.Request)) *receiver {
	t.Helper()
	rc := &receiver{respond: respond}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.reqs = append(rc.reqs, request{header: r.Header.Clone(), body: body})
		rc.mu.Unlock()
		if rc.respond != nil {
			rc.respond(w, r)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) requests() []request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]request(nil), rc.reqs...)
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// newTestKind returns a kind that may reach loopback (httptest servers).
func newTestKind(t *testing.T) *Kind {
	return NewKind(Options{AllowPrivate: true, Logger: testLogger(t), Now: func() time.Time { return fixedNow }})
}

func openWebhook(t *testing.T, k *Kind, settings string) destination.Destination {
	t.Helper()
	d, err := k.Open(t.Context(), destination.Config{ID: "dst_1", Kind: KindName, Settings: json.RawMessage(settings), Secret: testSecret})
	if err != nil {
		t.Fatalf("Open(%s): %v", settings, err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

func urlSettings(u string) string { return fmt.Sprintf(`{"url":%q}`, u) }

func testEvent(id string) destination.Event {
	return destination.Event{
		Seq:        1,
		DeliveryID: id,
		Type:       "auth",
		UserID:     "u1",
		CreatedAt:  time.Date(2026, 12, 3, 9, 59, 58, 123456789, time.UTC),
		Body:       json.RawMessage(`{"type":"auth","status":"success","user":{"user_id":"u1"}}`),
	}
}

func deliverOne(t *testing.T, d destination.Destination, ev destination.Event) destination.Result {
	t.Helper()
	res := d.Deliver(t.Context(), []destination.Event{ev})
	if len(res) != 1 {
		t.Fatalf("Deliver returned %d results, want 1", len(res))
	}
	return res[0]
}

func TestName(t *testing.T) {
	if got := NewKind(Options{}).Name(); got != "webhook" {
		t.Errorf("Name() = %q, want webhook", got)
	}
}

func TestDeliverRequest(t *testing.T) {
	rc := newReceiver(t, nil)
	d := openWebhook(t, newTestKind(t), fmt.Sprintf(`{"url":%q,"headers":{"Authorization":"Bearer abc","x-custom":"1"}}`, rc.URL+"/hook?token=q"))

	ev := testEvent("dlv_123")
	if res := deliverOne(t, d, ev); res.Err != nil {
		t.Fatalf("Deliver: %v", res.Err)
	}
	reqs := rc.requests()
	if len(reqs) != 1 {
		t.Fatalf("receiver got %d requests, want 1", len(reqs))
	}
	got := reqs[0]
	if string(got.body) != string(ev.Body) {
		t.Errorf("body = %s, want it unchanged: %s", got.body, ev.Body)
	}
	wantHeaders := map[string]string{
		"Content-Type":           "application/json",
		"User-Agent":             "wearbridge",
		"terra-reference":        "dlv_123",
		"X-Wearbridge-Delivery":  "dlv_123",
		"X-Wearbridge-Timestamp": "2026-12-03T09:59:58.123456789Z", // testEvent's CreatedAt
		"Authorization":          "Bearer abc",
		"X-Custom":               "1",
	}
	for name, want := range wantHeaders {
		if v := got.header.Get(name); v != want {
			t.Errorf("header %s = %q, want %q", name, v, want)
		}
	}
	sig := got.header.Get("terra-signature")
	if err := signature.Verify(testSecret, sig, got.body, fixedNow, signature.DefaultTolerance); err != nil {
		t.Errorf("receiver-side signature.Verify(%q): %v", sig, err)
	}
	// Signed with the kind's clock: ten minutes later it is stale.
	if err := signature.Verify(testSecret, sig, got.body, fixedNow.Add(10*time.Minute), signature.DefaultTolerance); !errors.Is(err, signature.ErrStale) {
		t.Errorf("Verify 10 minutes later = %v, want ErrStale", err)
	}
	if err := signature.Verify("other", sig, got.body, fixedNow, signature.DefaultTolerance); !errors.Is(err, signature.ErrMismatch) {
		t.Errorf("Verify with another secret = %v, want ErrMismatch", err)
	}
}

func TestTimestampHeaderIsUTC(t *testing.T) {
	rc := newReceiver(t, nil)
	d := openWebhook(t, newTestKind(t), urlSettings(rc.URL))
	ev := testEvent("dlv_1")
	ev.CreatedAt = time.Date(2026, 12, 3, 10, 59, 58, 500000000, time.FixedZone("+01", 3600))
	if res := deliverOne(t, d, ev); res.Err != nil {
		t.Fatal(res.Err)
	}
	if got, want := rc.requests()[0].header.Get("X-Wearbridge-Timestamp"), "2026-12-03T09:59:58.5Z"; got != want {
		t.Errorf("X-Wearbridge-Timestamp = %q, want %q", got, want)
	}
}

func TestSameDeliveryIDOnRedelivery(t *testing.T) {
	rc := newReceiver(t, nil)
	d := openWebhook(t, newTestKind(t), urlSettings(rc.URL))
	ev := testEvent("dlv_same")
	for range 2 {
		if res := deliverOne(t, d, ev); res.Err != nil {
			t.Fatal(res.Err)
		}
	}
	reqs := rc.requests()
	if len(reqs) != 2 {
		t.Fatalf("receiver got %d requests, want 2", len(reqs))
	}
	for i, r := range reqs {
		if got := r.header.Get("terra-reference"); got != "dlv_same" {
			t.Errorf("request %d terra-reference = %q, want dlv_same", i, got)
		}
		if got := r.header.Get("X-Wearbridge-Delivery"); got != "dlv_same" {
			t.Errorf("request %d X-Wearbridge-Delivery = %q, want dlv_same", i, got)
		}
	}
}

func TestDeliverStatusClassification(t *testing.T) {
	tests := []struct {
		name           string
		status         int
		header         map[string]string
		body           string
		wantErr        bool
		wantPermanent  bool
		wantRetryAfter time.Duration
		wantInErr      string
	}{
		{name: "200", status: 200},
		{name: "202", status: 202},
		{name: "204", status: 204},
		{name: "500 retryable", status: 500, body: "boom\n  db down", wantErr: true, wantInErr: "500 Internal Server Error: boom db down"},
		{name: "502 retryable", status: 502, wantErr: true},
		{name: "503 retryable", status: 503, wantErr: true},
		{name: "503 with Retry-After date", status: 503, header: map[string]string{"Retry-After": "Thu, 03 Dec 2026 10:01:30 GMT"}, wantErr: true, wantRetryAfter: 90 * time.Second}, // fixedNow + 90 s
		{name: "408 retryable", status: 408, wantErr: true},
		{name: "425 retryable", status: 425, wantErr: true},
		{name: "429 retryable", status: 429, wantErr: true},
		{name: "429 with Retry-After 7", status: 429, header: map[string]string{"Retry-After": "7"}, wantErr: true, wantRetryAfter: 7 * time.Second},
		{name: "429 with huge Retry-After is capped", status: 429, header: map[string]string{"Retry-After": "99999999999"}, wantErr: true, wantRetryAfter: 24 * time.Hour},
		{name: "429 with garbage Retry-After", status: 429, header: map[string]string{"Retry-After": "soon"}, wantErr: true},
		{name: "500 ignores Retry-After", status: 500, header: map[string]string{"Retry-After": "7"}, wantErr: true},
		{name: "400 permanent", status: 400, body: `{"error":"bad payload"}`, wantErr: true, wantPermanent: true, wantInErr: `400 Bad Request: {"error":"bad payload"}`},
		{name: "401 permanent", status: 401, wantErr: true, wantPermanent: true},
		{name: "404 permanent", status: 404, wantErr: true, wantPermanent: true},
		{name: "410 permanent", status: 410, wantErr: true, wantPermanent: true},
		{name: "302 not followed, retryable", status: 302, header: map[string]string{"Location": "http://127.0.0.1:1/elsewhere"}, wantErr: true, wantInErr: "redirects are not followed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			})
			d := openWebhook(t, newTestKind(t), urlSettings(rc.URL+"/hook?secret=xyz"))
			res := deliverOne(t, d, testEvent("dlv_1"))
			if (res.Err != nil) != tt.wantErr {
				t.Fatalf("Err = %v, want error: %v", res.Err, tt.wantErr)
			}
			if res.Permanent != tt.wantPermanent {
				t.Errorf("Permanent = %v, want %v (err %v)", res.Permanent, tt.wantPermanent, res.Err)
			}
			if res.RetryAfter != tt.wantRetryAfter {
				t.Errorf("RetryAfter = %v, want %v", res.RetryAfter, tt.wantRetryAfter)
			}
			if res.Err != nil {
				msg := res.Err.Error()
				if tt.wantInErr != "" && !strings.Contains(msg, tt.wantInErr) {
					t.Errorf("error %q does not contain %q", msg, tt.wantInErr)
				}
				if strings.Contains(msg, "xyz") {
					t.Errorf("error %q leaks the URL query", msg)
				}
			}
			if n := len(rc.requests()); n != 1 {
				t.Errorf("receiver got %d requests, want 1", n)
			}
		})
	}
}

func TestLargeErrorBodyIsCapped(t *testing.T) {
	rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, strings.Repeat("x", 1<<20))
	})
	d := openWebhook(t, newTestKind(t), urlSettings(rc.URL))
	res := deliverOne(t, d, testEvent("dlv_1"))
	if res.Err == nil || res.Permanent {
		t.Fatalf("result = %+v, want a retryable error", res)
	}
	if n := len(res.Err.Error()); n > 400 {
		t.Errorf("error is %d bytes long, want a short snippet", n)
	}
}

func TestDeliverTimeout(t *testing.T) {
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done(): // the client gave up
		case <-time.After(10 * time.Second):
		}
	})
	d := openWebhook(t, newTestKind(t), fmt.Sprintf(`{"url":%q,"timeout":"100ms"}`, rc.URL))
	start := time.Now()
	res := deliverOne(t, d, testEvent("dlv_1"))
	if res.Err == nil || res.Permanent {
		t.Fatalf("result = %+v, want a retryable error", res)
	}
	if !strings.Contains(res.Err.Error(), "timed out after 100ms") {
		t.Errorf("error = %v, want it to say it timed out", res.Err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("Deliver took %v, want about 100ms", el)
	}
}

func TestDeliverConnectionRefusedIsRetryable(t *testing.T) {
	rc := newReceiver(t, nil)
	u := rc.URL
	rc.Close() // nothing listens there any more
	d := openWebhook(t, newTestKind(t), urlSettings(u))
	res := deliverOne(t, d, testEvent("dlv_1"))
	if res.Err == nil || res.Permanent {
		t.Fatalf("result = %+v, want a retryable error", res)
	}
}

func TestDeliverCanceledContext(t *testing.T) {
	rc := newReceiver(t, nil)
	d := openWebhook(t, newTestKind(t), urlSettings(rc.URL))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	events := make([]destination.Event, 20)
	for i := range events {
		events[i] = testEvent(fmt.Sprintf("dlv_%d", i))
	}
	res := d.Deliver(ctx, events)
	if len(res) != len(events) {
		t.Fatalf("got %d results, want %d", len(res), len(events))
	}
	for i, r := range res {
		if r.Err == nil || r.Permanent {
			t.Errorf("result %d = %+v, want a retryable error", i, r)
		}
	}
}

func TestDeliverBatchBoundedConcurrency(t *testing.T) {
	const n = 50
	var (
		mu       sync.Mutex
		inFlight int
		maxSeen  int
		seen     = map[string]int{}
		full     = make(chan struct{})
		release  = make(chan struct{})
		signaled bool
	)
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		inFlight++
		maxSeen = max(maxSeen, inFlight)
		if inFlight == maxInFlight && !signaled {
			signaled = true
			close(full)
		}
		mu.Unlock()
		select {
		case <-release:
		case <-r.Context().Done():
		}
		mu.Lock()
		inFlight--
		seen[r.Header.Get("X-Wearbridge-Delivery")]++
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	})
	d := openWebhook(t, newTestKind(t), urlSettings(rc.URL))

	events := make([]destination.Event, n)
	for i := range events {
		events[i] = testEvent(fmt.Sprintf("dlv_%02d", i))
	}
	done := make(chan []destination.Result, 1)
	go func() { done <- d.Deliver(t.Context(), events) }()

	// Hold every request until the cap is reached, so the test sees the
	// most requests the webhook will ever have open at once.
	select {
	case <-full:
	case <-time.After(10 * time.Second):
		t.Fatal("fewer than maxInFlight requests arrived together")
	}
	close(release)
	var res []destination.Result
	select {
	case res = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Deliver did not return")
	}

	for i, r := range res {
		if r.Err != nil {
			t.Errorf("result %d: %v", i, r.Err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if maxSeen != maxInFlight {
		t.Errorf("at most %d requests were in flight, want exactly %d", maxSeen, maxInFlight)
	}
	if len(seen) != n {
		t.Errorf("receiver saw %d distinct deliveries, want %d", len(seen), n)
	}
	for id, c := range seen {
		if c != 1 {
			t.Errorf("delivery %s arrived %d times, want once", id, c)
		}
	}
}

func TestDeliverEmptyBatch(t *testing.T) {
	d := openWebhook(t, newTestKind(t), urlSettings("https://example.com/hook"))
	if res := d.Deliver(t.Context(), nil); len(res) != 0 {
		t.Errorf("Deliver(nil) = %v, want no results", res)
	}
}

func TestCheckAddr(t *testing.T) {
	tests := []struct {
		addr    string
		refused bool
	}{
		{"10.0.0.1", true},
		{"172.16.0.1", true},
		{"172.31.255.254", true},
		{"192.168.1.1", true},
		{"127.0.0.1", true},
		{"127.1.2.3", true},
		{"::1", true},
		{"fe80::1", true},
		{"fe80::1%eth0", true},
		{"fc00::1", true},
		{"fd12:3456::1", true},
		{"169.254.169.254", true},
		{"100.64.0.1", true},
		{"100.127.255.254", true},
		{"::ffff:10.0.0.1", true},
		{"::ffff:127.0.0.1", true},
		{"0.0.0.0", true},
		{"::", true},
		{"224.0.0.1", true},
		{"ff02::1", true},
		{"255.255.255.255", true},
		{"64:ff9b::a00:1", true},  // NAT64 of 10.0.0.1
		{"2002:a00:1::1", true},   // 6to4 of 10.0.0.1
		{"2002:7f00:1::1", true},  // 6to4 of 127.0.0.1
		{"::a00:1", true},         // IPv4-compatible 10.0.0.1
		{"2001:db8::1", true},     // documentation
		{"93.184.216.34", false},  // public
		{"8.8.8.8", false},        // public
		{"172.32.0.1", false},     // just above 172.16.0.0/12
		{"172.15.255.255", false}, // just below 172.16.0.0/12
		{"100.128.0.1", false},    // just above 100.64.0.0/10
		{"192.169.0.1", false},    // just above 192.168.0.0/16
		{"11.0.0.1", false},       // just above 10.0.0.0/8
		{"::ffff:93.184.216.34", false},
		{"2606:2800:220:1:248:1893:25c8:1946", false}, // public IPv6
		{"64:ff9b::5db8:d822", false},                 // NAT64 of 93.184.216.34
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			err := checkAddr(netip.MustParseAddr(tt.addr))
			if tt.refused {
				if !errors.Is(err, ErrBlockedAddress) {
					t.Fatalf("checkAddr(%s) = %v, want ErrBlockedAddress", tt.addr, err)
				}
				if !strings.Contains(err.Error(), "allow-private-webhooks") {
					t.Errorf("error %q does not say how to allow it", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("checkAddr(%s) = %v, want nil", tt.addr, err)
			}
		})
	}
	if err := checkAddr(netip.Addr{}); !errors.Is(err, ErrBlockedAddress) {
		t.Errorf("checkAddr(zero Addr) = %v, want ErrBlockedAddress", err)
	}
}

func TestGuardDial(t *testing.T) {
	if err := guardDial("tcp", "not an address", nil); !errors.Is(err, ErrBlockedAddress) {
		t.Errorf("guardDial(garbage) = %v, want ErrBlockedAddress", err)
	}
	if err := guardDial("tcp6", "[fe80::1%eth0]:443", nil); !errors.Is(err, ErrBlockedAddress) {
		t.Errorf("guardDial(link-local) = %v, want ErrBlockedAddress", err)
	}
	if err := guardDial("tcp4", "93.184.216.34:443", nil); err != nil {
		t.Errorf("guardDial(public) = %v, want nil", err)
	}
}

func TestOpenRefusesPrivateLiteral(t *testing.T) {
	k := NewKind(Options{Logger: testLogger(t)})
	for _, u := range []string{"http://127.0.0.1:8080/hook", "http://[::1]/", "http://169.254.169.254/latest/meta-data", "https://10.1.2.3/"} {
		_, err := k.Open(t.Context(), destination.Config{ID: "d", Settings: json.RawMessage(urlSettings(u)), Secret: testSecret})
		if !errors.Is(err, ErrBlockedAddress) {
			t.Errorf("Open(%s) = %v, want ErrBlockedAddress", u, err)
		}
	}
	// Public literal: allowed (Open does not connect).
	openWebhook(t, k, urlSettings("http://93.184.216.34/hook"))
	// allow_private in the settings alone does not lift the check: only the
	// operator can.
	if _, err := k.Open(t.Context(), destination.Config{ID: "d", Settings: json.RawMessage(`{"url":"http://127.0.0.1:8080/hook","allow_private":true}`), Secret: testSecret}); err == nil || !strings.Contains(err.Error(), "allow-private-webhooks") {
		t.Errorf("allow_private without the operator's consent: Open = %v, want a refusal naming --allow-private-webhooks", err)
	}
}

// TestDialGuard checks the guard where it matters: on the resolved address.
// "localhost" passes Open's literal check and resolves to loopback.
func TestDialGuard(t *testing.T) {
	rc := newReceiver(t, nil)
	port := rc.Listener.Addr().(interface{ AddrPort() netip.AddrPort }).AddrPort().Port()
	byName := fmt.Sprintf("http://localhost:%d/hook", port)

	t.Run("refused by default", func(t *testing.T) {
		d := openWebhook(t, NewKind(Options{Logger: testLogger(t)}), urlSettings(byName))
		res := deliverOne(t, d, testEvent("dlv_1"))
		if !res.Permanent || !errors.Is(res.Err, ErrBlockedAddress) {
			t.Fatalf("result = %+v, want a permanent ErrBlockedAddress", res)
		}
		if !strings.Contains(res.Err.Error(), "refusing to connect to 127.0.0.1") && !strings.Contains(res.Err.Error(), "refusing to connect to ::1") {
			t.Errorf("error %q does not name the loopback address", res.Err)
		}
		if n := len(rc.requests()); n != 0 {
			t.Fatalf("receiver got %d requests, want none", n)
		}
	})
	t.Run("allow_private in settings is refused without the operator", func(t *testing.T) {
		_, err := NewKind(Options{Logger: testLogger(t)}).Open(t.Context(), destination.Config{ID: "d", Settings: json.RawMessage(fmt.Sprintf(`{"url":%q,"allow_private":true}`, byName)), Secret: testSecret})
		if err == nil {
			t.Fatal("Open succeeded")
		}
	})
	t.Run("allowed by kind", func(t *testing.T) {
		d := openWebhook(t, NewKind(Options{AllowPrivate: true, Logger: testLogger(t)}), urlSettings(byName))
		if res := deliverOne(t, d, testEvent("dlv_3")); res.Err != nil {
			t.Fatal(res.Err)
		}
	})
	t.Run("custom client is used as is", func(t *testing.T) {
		d := openWebhook(t, NewKind(Options{Client: rc.Client(), Logger: testLogger(t)}), urlSettings(byName))
		if res := deliverOne(t, d, testEvent("dlv_4")); res.Err != nil {
			t.Fatal(res.Err)
		}
	})
}

func TestOpenValidation(t *testing.T) {
	tests := []struct {
		name     string
		settings string
		secret   string
		wantIn   string // substring of the error; "" means Open succeeds
	}{
		{"minimal", `{"url":"https://example.com/hook"}`, testSecret, ""},
		{"all fields", `{"url":"http://example.com:8080/h?x=1","timeout":"2s","headers":{"Authorization":"Bearer t"},"allow_private":false}`, testSecret, ""},
		{"fragment dropped", `{"url":"https://example.com/hook#frag"}`, testSecret, ""},
		{"empty settings", ``, testSecret, "url is required"},
		{"empty object", `{}`, testSecret, "url is required"},
		{"not JSON", `nope`, testSecret, "settings"},
		{"trailing data", `{"url":"https://example.com"} {}`, testSecret, "trailing data"},
		{"unknown field", `{"url":"https://example.com","tiemout":"1s"}`, testSecret, "unknown field"},
		{"relative url", `{"url":"/hook"}`, testSecret, "scheme"},
		{"no host", `{"url":"https:///hook"}`, testSecret, "with a host"},
		{"port only", `{"url":"http://:8080/hook"}`, testSecret, "with a host"},
		{"opaque", `{"url":"http:example.com"}`, testSecret, "with a host"},
		{"ftp", `{"url":"ftp://example.com/hook"}`, testSecret, "must be http or https"},
		{"file", `{"url":"file:///etc/passwd"}`, testSecret, "must be http or https"},
		{"userinfo", `{"url":"https://user:pass@example.com/hook"}`, testSecret, "user:password"},
		{"user only", `{"url":"https://user@example.com/hook"}`, testSecret, "user:password"},
		{"bad timeout", `{"url":"https://example.com","timeout":"8"}`, testSecret, "timeout"},
		{"zero timeout", `{"url":"https://example.com","timeout":"0s"}`, testSecret, "timeout"},
		{"negative timeout", `{"url":"https://example.com","timeout":"-1s"}`, testSecret, "timeout"},
		{"huge timeout", `{"url":"https://example.com","timeout":"1h"}`, testSecret, "timeout"},
		{"reserved header", `{"url":"https://example.com","headers":{"content-type":"text/plain"}}`, testSecret, "cannot be overridden"},
		{"signature header", `{"url":"https://example.com","headers":{"Terra-Signature":"x"}}`, testSecret, "cannot be overridden"},
		{"host header", `{"url":"https://example.com","headers":{"Host":"evil"}}`, testSecret, "cannot be overridden"},
		{"bad header name", `{"url":"https://example.com","headers":{"X Bad":"x"}}`, testSecret, "invalid character"},
		{"empty header name", `{"url":"https://example.com","headers":{"":"x"}}`, testSecret, "empty header name"},
		{"header injection", `{"url":"https://example.com","headers":{"X-A":"a\r\nX-B: b"}}`, testSecret, "control character"},
		{"no secret", `{"url":"https://example.com"}`, "", "secret is required"},
	}
	k := NewKind(Options{Logger: testLogger(t)})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := k.Open(t.Context(), destination.Config{ID: "dst_x", Kind: KindName, Settings: json.RawMessage(tt.settings), Secret: tt.secret})
			if tt.wantIn == "" {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				_ = d.Close()
				_ = d.Close() // twice is fine
				return
			}
			if err == nil {
				_ = d.Close()
				t.Fatalf("Open succeeded, want an error containing %q", tt.wantIn)
			}
			if !strings.Contains(err.Error(), tt.wantIn) {
				t.Errorf("Open error = %q, want it to contain %q", err, tt.wantIn)
			}
			if !strings.Contains(err.Error(), `"dst_x"`) {
				t.Errorf("Open error = %q, want it to name the destination", err)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	tests := []struct {
		v    string
		want time.Duration
	}{
		{"", 0},
		{"7", 7 * time.Second},
		{" 120 ", 2 * time.Minute},
		{"0", 0},
		{"-5", 0},
		{"1.5", 0},
		{"86401", 24 * time.Hour},
		{"Thu, 03 Dec 2026 10:01:30 GMT", 90 * time.Second}, // fixedNow + 1m30s
		{"Thu, 03 Dec 2026 09:00:00 GMT", 0},                // in the past
		{"Fri, 04 Dec 2026 11:00:00 GMT", 24 * time.Hour},   // 25 h away, capped
		{"tomorrow", 0},
	}
	for _, tt := range tests {
		if got := retryAfter(tt.v, fixedNow); got != tt.want {
			t.Errorf("retryAfter(%q) = %v, want %v", tt.v, got, tt.want)
		}
	}
}
