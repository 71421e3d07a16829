// Command ferretsrv runs FerretDB v1 (a MongoDB wire-protocol server) through
// its embeddable package, for the test suite (scripts/test-servers starts
// it). Building FerretDB's own cmd/ferretdb gives a binary that panics at
// start, hence this wrapper. It stops on SIGINT or SIGTERM.
package main

import (
	"context"
	"flag"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	addr := flag.String("listen", "127.0.0.1:57017", "TCP address to listen on")
	handler := flag.String("handler", "sqlite", "backend: sqlite or postgresql")
	sqliteURL := flag.String("sqlite-url", "file:data/", "SQLite directory URI, ending in /")
	pgURL := flag.String("postgresql-url", "", "PostgreSQL URL for -handler postgresql")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:      ferretdb.ListenerConfig{TCP: *addr},
		Handler:       *handler,
		SQLiteURL:     *sqliteURL,
		PostgreSQLURL: *pgURL,
		Logger:        slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		log.Fatalf("ferretsrv: %v", err)
	}
	log.Printf("ferretsrv listening on %s", *addr)
	if err := f.Run(ctx); err != nil && ctx.Err() == nil {
		log.Fatalf("ferretsrv: %v", err)
	}
}
