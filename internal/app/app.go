// Package app wires wearbridge together: it opens the store, registers the
// providers and destination kinds (the one place that names them), and runs
// the API, the job runner and the delivery loops in one process.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/wearbridge/wearbridge/internal/api"
	"github.com/wearbridge/wearbridge/internal/connect"
	"github.com/wearbridge/wearbridge/internal/destination"
	"github.com/wearbridge/wearbridge/internal/destination/azureblob"
	"github.com/wearbridge/wearbridge/internal/destination/gcs"
	"github.com/wearbridge/wearbridge/internal/destination/kafka"
	"github.com/wearbridge/wearbridge/internal/destination/mongodb"
	"github.com/wearbridge/wearbridge/internal/destination/mysql"
	"github.com/wearbridge/wearbridge/internal/destination/postgres"
	"github.com/wearbridge/wearbridge/internal/destination/s3"
	"github.com/wearbridge/wearbridge/internal/destination/sqs"
	"github.com/wearbridge/wearbridge/internal/destination/webhook"
	"github.com/wearbridge/wearbridge/internal/jobs"
	"github.com/wearbridge/wearbridge/internal/pipeline"
	"github.com/wearbridge/wearbridge/internal/secretbox"
	"github.com/wearbridge/wearbridge/internal/source"
	"github.com/wearbridge/wearbridge/internal/store"
)

// Config is the whole configuration of a wearbridge process. Zero values
// mean the defaults.
type Config struct {
	// Addr is the listen address. Default 127.0.0.1:8080.
	Addr string
	// DataDir holds the SQLite database and the generated secret key.
	// Default ./wearbridge-data.
	DataDir string
	// DatabaseURL selects PostgreSQL (postgres://...). Empty: SQLite.
	DatabaseURL string
	// PublicURL is the base URL providers redirect and push to. Default
	// http://{Addr}.
	PublicURL string
	// SecretKey (32 bytes, base64 or hex) encrypts tokens and secrets at
	// rest. Default: a key generated once in DataDir/secret.key. Replicas
	// sharing a PostgreSQL database must share it.
	SecretKey string
	// Sandbox turns on the sandbox providers, served by this process under
	// /sandbox/, instead of the real provider APIs.
	Sandbox bool
	// AllowPrivateWebhooks lets webhook destinations target private and
	// loopback addresses.
	AllowPrivateWebhooks bool
	// BackfillDepth is how far back a new connection of a pulled provider
	// is backfilled (each provider caps it). Zero: each provider's default.
	// Sandbox mode ignores it and covers the recorded data.
	BackfillDepth time.Duration
	// Credentials holds each real provider's app credentials, by name
	// ("OURA", ...).
	Credentials map[string]Credentials
	// ProviderOverrides replace the providers of the same names (tests
	// point a provider at a fake of their own with it).
	ProviderOverrides []source.Provider
	// Delivery and Jobs tune the delivery loops and the job runner.
	Delivery pipeline.DelivererConfig
	Jobs     jobs.Config
	Logger   *slog.Logger
}

// SandboxRecordedSince is the first day of the recorded sandbox data; in
// sandbox mode backfills reach back to it.
var SandboxRecordedSince = time.Date(2024, 9, 1, 0, 0, 0, 0, time.UTC)

// App is a wired wearbridge process.
type App struct {
	cfg       Config
	Store     *store.Store
	Providers *source.Registry
	Kinds     *destination.Registry
	// Destinations creates and tests destinations (API and CLI).
	Destinations *pipeline.Destinations
	Connector    *connect.Connector
	Ingest       *pipeline.Ingest
	Deliverer    *pipeline.Deliverer
	Jobs         *jobs.Runner
	handler      http.Handler
	log          *slog.Logger
	pushers      map[string]PushSimulator
	box          *secretbox.Box
}

// New opens the store and wires everything; nothing runs until Run or
// Start.
func New(ctx context.Context, cfg Config) (*App, error) {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:8080"
	}
	if cfg.DataDir == "" {
		cfg.DataDir = "wearbridge-data"
	}
	if cfg.PublicURL == "" {
		cfg.PublicURL = "http://" + cfg.Addr
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	log := cfg.Logger
	key, err := loadKey(cfg)
	if err != nil {
		return nil, err
	}
	box, err := secretbox.New(key)
	if err != nil {
		return nil, err
	}
	st, err := store.Open(ctx, store.Config{URL: cfg.DatabaseURL, DataDir: cfg.DataDir, Box: box, Logger: log})
	if err != nil {
		return nil, err
	}
	a := &App{cfg: cfg, Store: st, log: log, box: box}
	mux := http.NewServeMux()

	// Providers: built from the list in providers.go.
	var provs []source.Provider
	a.pushers = map[string]PushSimulator{}
	overrides := map[string]source.Provider{}
	for _, p := range cfg.ProviderOverrides {
		overrides[p.Name()] = p
	}
	for _, spec := range providers() {
		if p, ok := overrides[spec.name]; ok {
			provs = append(provs, p)
			continue
		}
		if !cfg.Sandbox {
			c := cfg.Credentials[spec.name]
			if c.ClientID == "" {
				continue // not configured: not offered
			}
			provs = append(provs, spec.real(c, cfg.BackfillDepth))
			continue
		}
		path := sandboxPath(spec.name)
		p, fake := spec.sandbox(cfg.PublicURL + path)
		provs = append(provs, p)
		mux.Handle(path+"/", http.StripPrefix(path, fake))
		if spec.push != nil {
			a.pushers[spec.name] = spec.push
		}
	}
	if cfg.Sandbox {
		mux.HandleFunc("POST /sandbox/push/{provider}", a.simulatePush)
	}
	if a.Providers, err = source.NewRegistry(provs...); err != nil {
		st.Close()
		return nil, err
	}

	// Destination kinds: the one place that names them.
	if a.Kinds, err = destination.NewRegistry(
		webhook.NewKind(webhook.Options{AllowPrivate: cfg.AllowPrivateWebhooks, Logger: log}),
		postgres.NewKind(postgres.Options{Logger: log}),
		mysql.NewKind(mysql.Options{Logger: log}),
		mongodb.NewKind(mongodb.Options{Logger: log}),
		s3.NewKind(s3.Options{Logger: log}),
		gcs.NewKind(gcs.Options{Logger: log}),
		azureblob.NewKind(azureblob.Options{Logger: log}),
		sqs.NewKind(sqs.Options{Logger: log}),
		kafka.NewKind(kafka.Options{Logger: log}),
	); err != nil {
		st.Close()
		return nil, err
	}

	a.Connector = connect.New(st, a.Providers, connect.Config{PublicURL: cfg.PublicURL, HTTPClient: &http.Client{Timeout: 60 * time.Second}, Logger: log})
	a.Ingest = pipeline.NewIngest(st, log, nil)
	payloads := &pipeline.PayloadURLs{PublicURL: cfg.PublicURL, Box: box, Store: st}
	a.Destinations = &pipeline.Destinations{Store: st, Kinds: a.Kinds, Offload: payloads}
	dcfg := cfg.Delivery
	dcfg.Logger = log
	dcfg.Offload = payloads
	a.Deliverer = pipeline.NewDeliverer(st, a.Kinds, dcfg)
	st.OnEvents(a.Deliverer.Notify)
	jcfg := cfg.Jobs
	jcfg.Logger = log
	if a.Jobs, err = jobs.New(ctx, st, a.Providers, a.Connector, a.Ingest, jcfg); err != nil {
		st.Close()
		return nil, err
	}
	apiSrv := api.New(api.Deps{Store: st, Providers: a.Providers, Destinations: a.Destinations, Payloads: payloads, Connector: a.Connector,
		Ingest: a.Ingest, Backfiller: a.Jobs, Deliverer: a.Deliverer, Logger: log, PublicURL: cfg.PublicURL, PushToken: a.pushToken})
	mux.Handle("/", apiSrv.Handler())
	a.handler = mux
	return a, nil
}

func loadKey(cfg Config) ([]byte, error) {
	if cfg.SecretKey != "" {
		return secretbox.ParseKey(cfg.SecretKey)
	}
	return secretbox.LoadOrCreateKeyFile(filepath.Join(cfg.DataDir, "secret.key"))
}

// Handler is the HTTP handler of the process (API, callbacks, pushes and,
// in sandbox mode, the sandbox providers).
func (a *App) Handler() http.Handler { return a.handler }

// PublicURL is the base URL the process is reached at.
func (a *App) PublicURL() string { return a.cfg.PublicURL }

// SimulatePush makes a sandbox provider send its recorded pushes for one of
// its users to this process's push endpoint. Pull-only providers push
// nothing (0, nil).
func (a *App) SimulatePush(ctx context.Context, provider, providerUserID string) (int, error) {
	push, ok := a.pushers[provider]
	if !ok {
		return 0, nil
	}
	return push(ctx, &http.Client{Timeout: 30 * time.Second}, a.PushURL(provider), providerUserID)
}

// pushToken is the secret a provider's pushes must carry, derived from the
// server's key (so every replica has the same).
func (a *App) pushToken(provider string) string {
	return a.box.MAC("push-url", []byte(strings.ToUpper(provider)))[:32]
}

// PushURL is the URL to register at a provider for its pushes, webhooks
// or notifications: {public-url}/push/{provider}?push_token=...
func (a *App) PushURL(provider string) string {
	return a.cfg.PublicURL + "/push/" + strings.ToLower(provider) + "?" + api.PushTokenParam + "=" + a.pushToken(provider)
}

// simulatePush serves POST /sandbox/push/{provider}?provider_user_id=...
func (a *App) simulatePush(w http.ResponseWriter, r *http.Request) {
	name := strings.ToUpper(r.PathValue("provider"))
	w.Header().Set("Content-Type", "application/json")
	if _, ok := a.pushers[name]; !ok {
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `{"status":"error","message":%q}`+"\n", "no sandbox push simulator for "+name)
		return
	}
	ids := []string{r.URL.Query().Get("provider_user_id")}
	if ids[0] == "" {
		// Default: every connected user of the provider.
		users, err := a.Store.ActiveUsers(r.Context(), name)
		if err != nil {
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprintf(w, `{"status":"error","message":"internal error"}`+"\n")
			return
		}
		ids = ids[:0]
		seen := map[string]bool{}
		for _, u := range users {
			if !seen[u.ProviderUserID] && len(ids) < 20 {
				seen[u.ProviderUserID] = true
				ids = append(ids, u.ProviderUserID)
			}
		}
	}
	n := 0
	var err error
	for _, id := range ids {
		var k int
		k, err = a.SimulatePush(r.Context(), name, id)
		n += k
		if err != nil {
			break
		}
	}
	if err != nil {
		w.WriteHeader(http.StatusBadGateway)
		fmt.Fprintf(w, `{"status":"error","message":%q}`+"\n", err.Error())
		return
	}
	fmt.Fprintf(w, `{"status":"success","pushed":%d}`+"\n", n)
}

// Run serves HTTP on ln (or cfg.Addr when ln is nil) and runs the workers
// until ctx ends, then shuts down in order.
func (a *App) Run(ctx context.Context, ln net.Listener) error {
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", a.cfg.Addr); err != nil {
			return fmt.Errorf("listen: %w", err)
		}
	}
	srv := &http.Server{Handler: a.handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 2 * time.Minute,
		WriteTimeout: 2 * time.Minute, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 1 << 20}
	if err := a.Jobs.Start(ctx); err != nil {
		return fmt.Errorf("start jobs: %w", err)
	}
	var wg sync.WaitGroup
	wctx, stopWorkers := context.WithCancel(context.WithoutCancel(ctx))
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = a.Deliverer.Run(wctx)
	}()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	a.log.InfoContext(ctx, "wearbridge listening", "addr", ln.Addr().String(), "public_url", a.cfg.PublicURL,
		"database", map[bool]string{true: "postgres", false: "sqlite"}[a.Store.IsPostgres()], "sandbox", a.cfg.Sandbox)
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	_ = a.Jobs.Stop(sctx)
	stopWorkers()
	wg.Wait()
	if errors.Is(serveErr, http.ErrServerClosed) {
		serveErr = nil
	}
	a.log.InfoContext(ctx, "wearbridge stopped")
	return serveErr
}

// Close closes the store.
func (a *App) Close() error { return a.Store.Close() }

// Idle reports whether no pull job is waiting or running and every enabled
// destination has delivered every event (none waiting for a retry).
func (a *App) Idle(ctx context.Context) (bool, error) {
	n, err := a.Jobs.Pending(ctx)
	if err != nil || n > 0 {
		return false, err
	}
	dests, err := a.Store.EnabledDestinations(ctx)
	if err != nil {
		return false, err
	}
	for _, d := range dests {
		last, err := a.Store.LastSeq(ctx, d.DeveloperID)
		if err != nil {
			return false, err
		}
		pending, err := a.Store.PendingRetries(ctx, d.ID)
		if err != nil {
			return false, err
		}
		if d.Cursor < last || pending > 0 {
			return false, nil
		}
	}
	return true, nil
}
