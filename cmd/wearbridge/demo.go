package main

import (
	"context"
	"flag"
	"io"
	"os"

	"github.com/wearbridge/wearbridge/internal/demo"
)

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "write every webhook body received to DIR/<n>.json")
	dbURL := fs.String("database-url", os.Getenv("WEARBRIDGE_DATABASE_URL"), "run on PostgreSQL instead of a temporary SQLite database")
	logLevel := fs.String("log-level", "error", "debug, info, warn or error")
	dest := fs.String("destination", "webhook", "destination kind to deliver to: webhook (a local receiver), or a kind configured from the variables scripts/test-servers up prints")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log, err := logger(stderr, *logLevel)
	if err != nil {
		return err
	}
	_, err = demo.Run(ctx, demo.Options{Out: *out, DatabaseURL: *dbURL, Destination: *dest, Stdout: stdout, Logger: log})
	return err
}
