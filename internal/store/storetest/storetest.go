// Package storetest opens throwaway stores for tests: SQLite in a temporary
// folder always, and PostgreSQL when TEST_DATABASE_URL is set (each test in
// a schema of its own). With WB_REQUIRE_POSTGRES=1 a missing
// TEST_DATABASE_URL fails the test instead of skipping PostgreSQL.
package storetest

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wearbridge/wearbridge/internal/secretbox"
	"github.com/wearbridge/wearbridge/internal/store"
)

// Dialects lists the databases a test runs on: "sqlite", and "postgres"
// when TEST_DATABASE_URL is set.
func Dialects(t testing.TB) []string {
	if os.Getenv("TEST_DATABASE_URL") != "" {
		return []string{"sqlite", "postgres"}
	}
	if os.Getenv("WB_REQUIRE_POSTGRES") == "1" {
		t.Fatal("WB_REQUIRE_POSTGRES=1 but TEST_DATABASE_URL is not set (run: eval \"$(scripts/test-servers up)\")")
	}
	return []string{"sqlite"}
}

// Box returns a secret box with a fixed test key.
func Box() *secretbox.Box {
	b, err := secretbox.New(bytes.Repeat([]byte{42}, 32))
	if err != nil {
		panic(err)
	}
	return b
}

var schemaSeq atomic.Int64

// URL returns the database URL for a dialect: "" for SQLite, or a
// TEST_DATABASE_URL pointing at a new, empty schema that is dropped when the
// test ends.
func URL(t testing.TB, dialect string) string {
	t.Helper()
	if dialect == "sqlite" {
		return ""
	}
	base := os.Getenv("TEST_DATABASE_URL")
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to TEST_DATABASE_URL: %v", err)
	}
	defer conn.Close(ctx)
	schema := fmt.Sprintf("t_%d_%d", time.Now().UnixNano(), schemaSeq.Add(1))
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), base)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse TEST_DATABASE_URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Open opens a fresh store of the dialect, closed when the test ends.
func Open(t testing.TB, dialect string) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), store.Config{URL: URL(t, dialect), DataDir: t.TempDir(), Box: Box()})
	if err != nil {
		t.Fatalf("open %s store: %v", dialect, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Name returns a subtest name for a dialect.
func Name(dialect string) string { return strings.ToUpper(dialect[:1]) + dialect[1:] }
