package mysql

import (
	"context"
	"fmt"
	"strings"

	"github.com/wearbridge/wearbridge/internal/model"
)

// tableOptions are the options of every table: InnoDB for transactions,
// utf8mb4_bin so that keys compare byte for byte (record keys are
// case-sensitive).
const tableOptions = ` ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`

// ensureLayout creates the tables unless an earlier call did. When they all
// exist already it only reads the catalog, so a user without CREATE
// privileges can use tables a DBA created.
func (m *MySQL) ensureLayout(ctx context.Context) error {
	if m.layoutOK.Load() {
		return nil
	}
	m.layoutMu.Lock()
	defer m.layoutMu.Unlock()
	if m.layoutOK.Load() {
		return nil
	}
	names := m.tableNames()
	args := make([]any, len(names))
	for i, n := range names {
		args[i] = n
	}
	var n int
	err := m.db.QueryRowContext(ctx,
		`SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name IN (?`+
			strings.Repeat(",?", len(names)-1)+`)`, args...).Scan(&n)
	if err != nil {
		return fmt.Errorf("check tables in database %s: %w", m.database, err)
	}
	if n < len(names) {
		for _, stmt := range m.layoutSQL() {
			if _, err := m.db.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("create tables in database %s: %w", m.database, err)
			}
		}
	}
	m.layoutOK.Store(true)
	return nil
}

// tableNames lists the (unquoted) tables the destination uses.
func (m *MySQL) tableNames() []string {
	names := []string{m.prefix + "users", m.prefix + "events"}
	for _, t := range model.DataTypes {
		names = append(names, m.prefix+string(t))
	}
	return names
}

// layoutSQL returns the statements that create the tables. CREATE TABLE IF
// NOT EXISTS is safe to run concurrently.
func (m *MySQL) layoutSQL() []string {
	stmts := []string{
		`CREATE TABLE IF NOT EXISTS ` + m.users + ` (
			user_id      VARCHAR(128) NOT NULL PRIMARY KEY,
			provider     VARCHAR(64) NOT NULL,
			reference_id TEXT NULL,
			active       BOOLEAN NULL,
			updated_at   DATETIME(6) NOT NULL
		)` + tableOptions,
		`CREATE TABLE IF NOT EXISTS ` + m.events + ` (
			delivery_id VARCHAR(255) NOT NULL PRIMARY KEY,
			type        VARCHAR(64) NOT NULL,
			user_id     VARCHAR(128) NULL,
			created_at  DATETIME(6) NOT NULL,
			body        JSON NOT NULL
		)` + tableOptions,
	}
	for _, t := range model.DataTypes {
		stmts = append(stmts, `CREATE TABLE IF NOT EXISTS `+m.tables[string(t)]+` (
			user_id    VARCHAR(128) NOT NULL,
			provider   VARCHAR(64) NOT NULL,
			record_key VARCHAR(512) NOT NULL,
			start_time DATETIME(6) NULL,
			end_time   DATETIME(6) NULL,
			version    BIGINT NOT NULL,
			updated_at DATETIME(6) NOT NULL,
			payload    JSON NOT NULL,
			PRIMARY KEY (user_id, record_key),
			KEY user_start (user_id, start_time)
		)`+tableOptions)
	}
	return stmts
}
