package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/wearbridge/wearbridge/internal/model"
)

// ensureLayout creates the schema and tables unless an earlier call did.
// When they all exist already it only reads the catalog, so a role without
// CREATE privileges can use tables a DBA created.
func (p *Postgres) ensureLayout(ctx context.Context) error {
	if p.layoutOK.Load() {
		return nil
	}
	p.layoutMu.Lock()
	defer p.layoutMu.Unlock()
	if p.layoutOK.Load() {
		return nil
	}
	names := p.tableNames()
	var n int
	err := p.pool.QueryRow(ctx,
		`SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = $1 AND tablename = ANY($2)`,
		p.schema, names).Scan(&n)
	if err != nil {
		return fmt.Errorf("check tables in schema %s: %w", p.schema, err)
	}
	if n < len(names) {
		if err := p.createLayout(ctx); err != nil {
			return err
		}
	}
	p.layoutOK.Store(true)
	return nil
}

// tableNames lists the tables the destination uses.
func (p *Postgres) tableNames() []string {
	names := []string{"users", "events"}
	for _, t := range model.DataTypes {
		names = append(names, string(t))
	}
	return names
}

// layoutSQL returns the statements that create the schema and tables.
func (p *Postgres) layoutSQL() []string {
	s := `"` + p.schema + `"`
	stmts := []string{
		`CREATE SCHEMA IF NOT EXISTS ` + s,
		`CREATE TABLE IF NOT EXISTS ` + p.users + ` (
			user_id      text PRIMARY KEY,
			provider     text NOT NULL,
			reference_id text,
			active       boolean,
			updated_at   timestamptz NOT NULL
		)`,
		`CREATE TABLE IF NOT EXISTS ` + p.events + ` (
			delivery_id text PRIMARY KEY,
			type        text NOT NULL,
			user_id     text,
			created_at  timestamptz NOT NULL,
			body        jsonb NOT NULL
		)`,
	}
	for _, t := range model.DataTypes {
		stmts = append(stmts, dataTableSQL(p.tables[string(t)]),
			fmt.Sprintf(`CREATE INDEX IF NOT EXISTS "%s_user_start_idx" ON %s (user_id, start_time)`, t, p.tables[string(t)]))
	}
	return stmts
}

// dataTableSQL returns the CREATE TABLE statement of a data type's table,
// given its quoted name.
func dataTableSQL(table string) string {
	return `CREATE TABLE IF NOT EXISTS ` + table + ` (
		user_id    text NOT NULL,
		provider   text NOT NULL,
		record_key text NOT NULL,
		start_time timestamptz,
		end_time   timestamptz,
		version    bigint NOT NULL,
		updated_at timestamptz NOT NULL,
		payload    jsonb NOT NULL,
		PRIMARY KEY (user_id, record_key)
	)`
}

// createLayout runs the DDL in one transaction, serialised per schema by an
// advisory lock: concurrent CREATE ... IF NOT EXISTS can otherwise fail on
// the catalog's unique indexes.
func (p *Postgres) createLayout(ctx context.Context) error {
	err := pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('wearbridge.layout.' || $1))`, p.schema); err != nil {
			return err
		}
		for _, stmt := range p.layoutSQL() {
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("create tables in schema %s: %w", p.schema, err)
	}
	return nil
}
