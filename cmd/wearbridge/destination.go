package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/wearbridge/wearbridge/internal/api"
	"github.com/wearbridge/wearbridge/internal/app"
	"github.com/wearbridge/wearbridge/internal/pipeline"
)

const destinationUsage = `usage: wearbridge destination <add|list|test|rm> --dev-id ID [flags]

  add   --kind KIND --settings JSON [--event-types a,b] [--skip-test]
  list
  test  --id DESTINATION_ID
  rm    --id DESTINATION_ID
`

// destinationCmd manages a developer's destinations straight in the
// database (the same checks as the API).
func destinationCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, destinationUsage)
		return errors.New("no destination command given")
	}
	sub := args[0]
	fs := flag.NewFlagSet("destination "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var sf storeFlags
	sf.register(fs)
	devID := fs.String("dev-id", "", "the developer (required)")
	kind := fs.String("kind", "", "add: destination kind (webhook, ...)")
	settings := fs.String("settings", "{}", "add: the kind's settings as JSON")
	types := fs.String("event-types", "", "add: comma-separated event types to deliver (default all)")
	skipTest := fs.Bool("skip-test", false, "add: do not deliver a test healthcheck event first")
	id := fs.String("id", "", "test, rm: the destination id")
	allowPrivate := fs.Bool("allow-private-webhooks", false, "allow webhook URLs on private or loopback addresses")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *devID == "" {
		return errors.New("--dev-id is required")
	}
	log, _ := logger(stderr, "warn")
	a, err := app.New(ctx, app.Config{DataDir: sf.dataDir, DatabaseURL: sf.databaseURL, SecretKey: sf.secretKey, AllowPrivateWebhooks: *allowPrivate, Logger: log})
	if err != nil {
		return err
	}
	defer a.Close()
	dev, err := a.Store.Developer(ctx, *devID)
	if err != nil {
		return fmt.Errorf("developer %s: %w", *devID, err)
	}
	switch sub {
	case "add":
		n := pipeline.NewDestination{Kind: *kind, Settings: json.RawMessage(*settings), Enabled: true, SkipTest: *skipTest}
		if *types != "" {
			n.EventTypes = strings.Split(*types, ",")
		}
		d, err := a.Destinations.Create(ctx, dev, n)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "destination %s (%s) added; signing secret: %s\n", d.ID, d.Kind, d.Secret)
	case "list":
		ds, err := a.Store.Destinations(ctx, dev.ID)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "id\tkind\tenabled\tevent types\tsettings")
		for _, d := range ds {
			masked, _ := json.Marshal(api.MaskSettings(d.Settings))
			et := strings.Join(d.EventTypes, ",")
			if et == "" {
				et = "all"
			}
			fmt.Fprintf(tw, "%s\t%s\t%v\t%s\t%s\n", d.ID, d.Kind, d.Enabled, et, masked)
		}
		return tw.Flush()
	case "test":
		if err := a.Destinations.Test(ctx, dev.ID, *id); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "destination %s: healthcheck delivered\n", *id)
	case "rm":
		if err := a.Store.DeleteDestination(ctx, dev.ID, *id); err != nil {
			return fmt.Errorf("destination %s: %w", *id, err)
		}
		fmt.Fprintf(stdout, "destination %s removed\n", *id)
	default:
		fmt.Fprint(stderr, destinationUsage)
		return fmt.Errorf("unknown destination command %q", sub)
	}
	return nil
}
