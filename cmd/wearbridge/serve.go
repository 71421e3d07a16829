package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/wearbridge/wearbridge/internal/app"
	"github.com/wearbridge/wearbridge/internal/pipeline"
)

// storeFlags are the flags that choose the database, shared by commands.
type storeFlags struct {
	dataDir, databaseURL, secretKey string
}

func (f *storeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.dataDir, "data-dir", "wearbridge-data", "folder for the SQLite database and the generated secret key")
	fs.StringVar(&f.databaseURL, "database-url", os.Getenv("WEARBRIDGE_DATABASE_URL"), "postgres://... to run on PostgreSQL (default: SQLite in --data-dir; env WEARBRIDGE_DATABASE_URL)")
	fs.StringVar(&f.secretKey, "secret-key", os.Getenv("WEARBRIDGE_SECRET_KEY"), "32-byte key, base64 or hex, that encrypts tokens and secrets at rest (default: generated in --data-dir; env WEARBRIDGE_SECRET_KEY)")
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var sf storeFlags
	sf.register(fs)
	addr := fs.String("addr", "127.0.0.1:8080", "listen address")
	publicURL := fs.String("public-url", "", "base URL that providers redirect and push to (default http://ADDR)")
	sandbox := fs.Bool("sandbox", true, "serve the sandbox providers (fakes serving recorded data) instead of the real APIs")
	allowPrivate := fs.Bool("allow-private-webhooks", false, "let webhook destinations target private and loopback addresses")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	backfillDays := fs.Int("backfill-days", 28, "how many days of history a new connection backfills (capped at what each provider allows; sandbox mode covers the recorded data instead)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log, err := logger(stderr, *logLevel)
	if err != nil {
		return err
	}
	cfg := app.Config{Addr: *addr, DataDir: sf.dataDir, DatabaseURL: sf.databaseURL, SecretKey: sf.secretKey,
		PublicURL: *publicURL, Sandbox: *sandbox, AllowPrivateWebhooks: *allowPrivate, Logger: log}
	if *backfillDays < 1 {
		return fmt.Errorf("--backfill-days must be at least 1")
	}
	cfg.BackfillDepth = time.Duration(*backfillDays) * 24 * time.Hour
	// Provider app credentials come from the environment:
	// <NAME>_CLIENT_ID, <NAME>_CLIENT_SECRET and <NAME>_PUSH_SECRET.
	cfg.Credentials = map[string]app.Credentials{}
	for _, name := range app.ProviderNames() {
		cfg.Credentials[name] = app.Credentials{ClientID: os.Getenv(name + "_CLIENT_ID"),
			ClientSecret: os.Getenv(name + "_CLIENT_SECRET"), PushSecret: os.Getenv(name + "_PUSH_SECRET")}
	}
	a, err := app.New(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	if !*sandbox && len(a.Providers.Names()) == 0 {
		log.Warn("no provider is configured: set <PROVIDER>_CLIENT_ID and <PROVIDER>_CLIENT_SECRET, or run with --sandbox")
	}
	if *sandbox {
		fmt.Fprintf(stdout, "wearbridge: sandbox providers on (fakes with recorded data at %s/sandbox/)\n", a.PublicURL())
	}
	fmt.Fprintf(stdout, "wearbridge: serving on %s; create a developer with: wearbridge dev create --data-dir %s\n", a.PublicURL(), sf.dataDir)
	fmt.Fprintln(stdout, "wearbridge: push URLs to register at the providers (keep them secret):")
	for _, name := range a.Providers.Names() {
		fmt.Fprintf(stdout, "  %-9s %s\n", name, a.PushURL(name))
	}
	return a.Run(ctx, nil)
}

func devCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dev create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var sf storeFlags
	sf.register(fs)
	asJSON := fs.Bool("json", false, "print one JSON object with dev_id, api_key and signing_secret")
	webhookURL := fs.String("webhook", "", "also add a webhook destination that receives this developer's events")
	allowPrivate := fs.Bool("allow-private-webhooks", false, "allow a --webhook URL on a private or loopback address")
	skipTest := fs.Bool("skip-test", false, "add the --webhook without delivering a test healthcheck event to it first")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log, _ := logger(stderr, "warn")
	a, err := app.New(ctx, app.Config{DataDir: sf.dataDir, DatabaseURL: sf.databaseURL, SecretKey: sf.secretKey,
		AllowPrivateWebhooks: *allowPrivate, Logger: log})
	if err != nil {
		return err
	}
	defer a.Close()
	d, err := a.Store.CreateDeveloper(ctx)
	if err != nil {
		return err
	}
	// Print the account first: it exists even if the webhook is refused.
	if !*asJSON {
		fmt.Fprintf(stdout, "dev-id:          %s\nx-api-key:       %s\nsigning secret:  %s\n", d.ID, d.APIKey, d.SigningSecret)
	}
	var destID string
	if *webhookURL != "" {
		settings, _ := json.Marshal(map[string]string{"url": *webhookURL})
		dst, err := a.Destinations.Create(ctx, d.Developer, pipeline.NewDestination{Kind: "webhook", Settings: settings, Enabled: true,
			Secret: d.SigningSecret, SkipTest: *skipTest})
		if err != nil {
			if *asJSON {
				_ = json.NewEncoder(stdout).Encode(map[string]string{"dev_id": d.ID, "api_key": d.APIKey, "signing_secret": d.SigningSecret})
			}
			return fmt.Errorf("developer %s created, but the webhook was refused: %w", d.ID, err)
		}
		destID = dst.ID
	}
	if *asJSON {
		out := map[string]string{"dev_id": d.ID, "api_key": d.APIKey, "signing_secret": d.SigningSecret}
		if destID != "" {
			out["destination_id"] = destID
		}
		return json.NewEncoder(stdout).Encode(out)
	}
	if destID != "" {
		fmt.Fprintf(stdout, "webhook:         %s (%s)\n", *webhookURL, destID)
	}
	fmt.Fprintln(stdout, "The API key is shown only now; wearbridge stores only its hash.")
	return nil
}
