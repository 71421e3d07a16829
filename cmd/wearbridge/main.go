// Command wearbridge is the self-hosted health data platform: it connects
// end users' wearables, normalises their data into the Terra v2 format and
// delivers every new or changed record as a signed event.
//
//	wearbridge serve              API, callbacks, pushes and workers in one process
//	wearbridge dev create         create a developer account (dev-id, API key, signing secret)
//	wearbridge destination ...    add, list, test or remove destinations
//	wearbridge demo [--out DIR]   the whole flow on a temporary database, printed
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return // -h: the flags were printed
		}
		fmt.Fprintln(os.Stderr, "wearbridge:", err)
		os.Exit(1)
	}
}

const usage = `usage: wearbridge <command> [flags]

commands:
  serve        run the API, provider callbacks and pushes, and the workers
  dev create   create a developer account and print its dev-id, API key and signing secret
  destination  add, list, test or remove a developer's destinations
  demo         run the whole flow once on a temporary database and print what was delivered

Run "wearbridge <command> -h" for the flags of a command.
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stdout, stderr)
	case "dev":
		if len(args) < 2 || args[1] != "create" {
			return errors.New(`unknown dev command (want "dev create")`)
		}
		return devCreate(ctx, args[2:], stdout, stderr)
	case "destination":
		return destinationCmd(ctx, args[1:], stdout, stderr)
	case "demo":
		return runDemo(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
}

// logger returns a text logger on w at the given level name.
func logger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("bad --log-level %q (want debug, info, warn or error)", level)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}
