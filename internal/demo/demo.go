// Package demo runs wearbridge's whole flow once, in one process, on a
// temporary SQLite database: a developer, a local webhook receiver that
// verifies every signature, one Oura sandbox user connected through the real
// OAuth redirect flow, one Garmin sandbox user connected through OAuth with
// PKCE and then pushed the recorded payloads, and the backfill delivered.
package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/wearbridge/wearbridge/internal/app"
	"github.com/wearbridge/wearbridge/internal/pipeline"
	"github.com/wearbridge/wearbridge/internal/signature"
)

// Options configure a demo run.
type Options struct {
	// Out, when set, receives every webhook body as Out/<n>.json.
	Out string
	// DatabaseURL runs the demo on PostgreSQL instead of a temporary SQLite
	// database.
	DatabaseURL string
	// Timeout bounds the whole run. Default 55 s.
	Timeout time.Duration
	// Destination is the destination kind the events go to. Default
	// "webhook" (a local receiver that verifies signatures). Any other kind
	// is configured from DestinationSettings, or else from the variables
	// that scripts/test-servers prints, and what it holds is read back and
	// compared with what was delivered.
	Destination         string
	DestinationSettings json.RawMessage
	// Stdout receives the table and the final line; Logger the logs.
	Stdout io.Writer
	Logger *slog.Logger
}

// Result is what the receiver saw.
type Result struct {
	// Bodies holds every distinct delivery, in arrival order.
	Bodies [][]byte
	// ByType counts deliveries per event type.
	ByType map[string]int
	// Events is the number of events in the store; Delivered the distinct
	// ones received; Verified those whose signature verified; Failed the
	// rest (bad signatures, missing events).
	Events, Delivered, Verified, Failed int
}

// Run runs the demo. It returns an error unless every event was delivered
// and every signature verified.
func Run(ctx context.Context, o Options) (*Result, error) {
	if o.Timeout <= 0 {
		o.Timeout = 55 * time.Second
	}
	if o.Stdout == nil {
		o.Stdout = io.Discard
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()

	dir, err := os.MkdirTemp("", "wearbridge-demo-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	a, err := app.New(ctx, app.Config{
		Addr: ln.Addr().String(), DataDir: dir, DatabaseURL: o.DatabaseURL, Sandbox: true, AllowPrivateWebhooks: true, Logger: o.Logger,
		Delivery: pipeline.DelivererConfig{RetryBase: 500 * time.Millisecond, RetryMax: 2 * time.Second, PollInterval: 200 * time.Millisecond},
	})
	if err != nil {
		ln.Close()
		return nil, err
	}
	defer a.Close()
	runCtx, stopApp := context.WithCancel(ctx)
	runDone := make(chan error, 1)
	go func() { runDone <- a.Run(runCtx, ln) }()
	defer func() { stopApp(); <-runDone }()

	dev, err := a.Store.CreateDeveloper(ctx)
	if err != nil {
		return nil, err
	}
	kind := o.Destination
	if kind == "" {
		kind = "webhook"
	}
	var rcv *receiver
	where := ""
	if kind == "webhook" {
		rcv = newReceiver(dev.SigningSecret)
		rln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		rsrv := &http.Server{Handler: rcv}
		go func() { _ = rsrv.Serve(rln) }()
		defer rsrv.Close()
		settings, _ := json.Marshal(map[string]string{"url": "http://" + rln.Addr().String() + "/webhook"})
		if _, err := a.Destinations.Create(ctx, dev.Developer, pipeline.NewDestination{Kind: "webhook", Settings: settings, Enabled: true, Secret: dev.SigningSecret}); err != nil {
			return nil, err
		}
		where = "webhook receiver at http://" + rln.Addr().String() + "/webhook"
	} else {
		settings := o.DestinationSettings
		if len(settings) == 0 {
			if settings, err = SettingsFromEnv(kind); err != nil {
				return nil, err
			}
		}
		if _, err := a.Destinations.Create(ctx, dev.Developer, pipeline.NewDestination{Kind: kind, Settings: settings, Enabled: true, Secret: dev.SigningSecret}); err != nil {
			return nil, err
		}
		where = kind + " destination " + string(maskedSettings(settings))
	}
	if err := a.Deliverer.Sync(ctx); err != nil {
		return nil, err
	}

	c := &client{base: a.PublicURL(), devID: dev.ID, apiKey: dev.APIKey}
	fmt.Fprintf(o.Stdout, "demo: wearbridge at %s, delivering to the %s\n", a.PublicURL(), where)
	for _, p := range a.Providers.Names() {
		userID, err := c.connect(ctx, p, "demo-"+strings.ToLower(p))
		if err != nil {
			return nil, fmt.Errorf("connect %s: %w", p, err)
		}
		u, err := a.Store.User(ctx, dev.ID, userID)
		if err != nil {
			return nil, err
		}
		n, err := a.SimulatePush(ctx, p, u.ProviderUserID)
		if err != nil {
			return nil, fmt.Errorf("%s push: %w", p, err)
		}
		if n > 0 {
			fmt.Fprintf(o.Stdout, "demo: connected %s user %s; the %s sandbox pushed %d recorded notifications\n", p, userID, p, n)
		} else {
			fmt.Fprintf(o.Stdout, "demo: connected %s user %s through the OAuth redirect flow\n", p, userID)
		}
	}

	// Wait for the backfill and every delivery.
	for {
		idle, err := a.Idle(ctx)
		if err != nil {
			return nil, err
		}
		if idle {
			last, err := a.Store.LastSeq(ctx, dev.ID)
			if err != nil {
				return nil, err
			}
			if last > 0 && (rcv == nil || rcv.distinct() >= int(last)) {
				break
			}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("demo did not finish in %s: %w", o.Timeout, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	evs, err := a.Store.EventsAfter(ctx, dev.ID, 0, 1_000_000)
	if err != nil {
		return nil, err
	}
	var res *Result
	if rcv != nil {
		res = rcv.result(len(evs))
	} else if res, err = readBack(ctx, a, kind, evs); err != nil {
		return nil, err
	}
	if o.Out != "" {
		if err := os.MkdirAll(o.Out, 0o755); err != nil {
			return nil, err
		}
		for i, b := range res.Bodies {
			if err := os.WriteFile(filepath.Join(o.Out, fmt.Sprintf("%d.json", i+1)), b, 0o644); err != nil {
				return nil, err
			}
		}
	}
	printTable(o.Stdout, res)
	fmt.Fprintf(o.Stdout, "demo: %d events delivered, %d signatures verified, %d failed\n", res.Delivered, res.Verified, res.Failed)
	if res.Failed > 0 || res.Delivered != res.Events {
		return res, errors.New("not every event was delivered with a valid signature")
	}
	return res, nil
}

func printTable(w io.Writer, r *Result) {
	types := make([]string, 0, len(r.ByType))
	for t := range r.ByType {
		types = append(types, t)
	}
	sort.Strings(types)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "event type\tdelivered")
	for _, t := range types {
		fmt.Fprintf(tw, "%s\t%d\n", t, r.ByType[t])
	}
	tw.Flush()
}

// receiver is the developer's webhook endpoint: it verifies signatures and
// drops duplicate delivery ids, as a Terra receiver would.
type receiver struct {
	secret string
	mu     sync.Mutex
	seen   map[string]bool
	bodies [][]byte
	types  map[string]int
	bad    int
}

func newReceiver(secret string) *receiver {
	return &receiver{secret: secret, seen: map[string]bool{}, types: map[string]int{}}
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	if err != nil {
		http.Error(w, "read", http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if err := signature.Verify(rc.secret, r.Header.Get(signature.Header), body, time.Now(), signature.DefaultTolerance); err != nil {
		rc.bad++
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	id := r.Header.Get("X-Wearbridge-Delivery")
	if strings.HasPrefix(id, "healthcheck-") {
		w.WriteHeader(http.StatusOK) // the test delivery of a new destination
		return
	}
	if rc.seen[id] {
		w.WriteHeader(http.StatusOK)
		return
	}
	rc.seen[id] = true
	var env struct {
		Type string `json:"type"`
	}
	_ = json.Unmarshal(body, &env)
	rc.types[env.Type]++
	rc.bodies = append(rc.bodies, body)
	w.WriteHeader(http.StatusOK)
}

func (rc *receiver) distinct() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.seen)
}

func (rc *receiver) result(events int) *Result {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	r := &Result{Bodies: rc.bodies, ByType: map[string]int{}, Events: events, Delivered: len(rc.seen), Verified: len(rc.seen)}
	for k, v := range rc.types {
		r.ByType[k] = v
	}
	r.Failed = rc.bad + max(0, events-len(rc.seen))
	return r
}

// client is a Terra API client, as a developer's backend would be.
type client struct {
	base, devID, apiKey string
}

// connect starts a connection and follows auth_url as an end user's browser
// would, through the provider's consent redirect back to the callback.
func (c *client) connect(ctx context.Context, provider, ref string) (string, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/auth/authenticateUser?resource="+provider,
		strings.NewReader(`{"reference_id":"`+ref+`"}`))
	req.Header.Set("dev-id", c.devID)
	req.Header.Set("x-api-key", c.apiKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct {
		Status, UserID, AuthURL, Message string
	}
	var raw map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&raw); err != nil {
		return "", fmt.Errorf("authenticateUser: %w", err)
	}
	out.Status, out.UserID, out.AuthURL, out.Message = raw["status"], raw["user_id"], raw["auth_url"], raw["message"]
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("authenticateUser: %s: %s", resp.Status, out.Message)
	}
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	breq, _ := http.NewRequestWithContext(ctx, http.MethodGet, out.AuthURL, nil)
	bresp, err := browser.Do(breq)
	if err != nil {
		return "", fmt.Errorf("follow auth_url: %w", err)
	}
	b, _ := io.ReadAll(bresp.Body)
	bresp.Body.Close()
	if bresp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("follow auth_url: %s: %s", bresp.Status, strings.TrimSpace(string(b)))
	}
	return out.UserID, nil
}
