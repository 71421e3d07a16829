package mysql

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wearbridge/wearbridge/internal/destination"
)

// Statement limits: a prepared statement takes at most 65535 placeholders
// (parameters are interpolated, but keep within it anyway); the byte budget
// keeps each statement well under max_allowed_packet (16 MiB by default on
// MariaDB, 64 MiB on MySQL 8).
const (
	maxParams    = 65535
	maxRows      = 1000
	maxStmtBytes = 4 << 20
)

// item is one event, checked and ready to write.
type item struct {
	ev      *destination.Event
	table   string // quoted data table; "" for the events table
	userID  string // the record's user (data events) or the event's ("" for none)
	payload string // data[0] of a data event
	user    *userRow
}

// userRow is a users table row.
type userRow struct {
	id          string
	provider    string
	referenceID *string
	active      *bool
	updatedAt   time.Time
	// fromData marks a user object taken from a data event: it only adds
	// users not yet known (see queueUsers).
	fromData bool
}

// envelope is the part of an event body the destination reads.
type envelope struct {
	User *struct {
		UserID      string  `json:"user_id"`
		Provider    string  `json:"provider"`
		ReferenceID *string `json:"reference_id"`
		Active      *bool   `json:"active"`
	} `json:"user"`
	Data []json.RawMessage `json:"data"`
}

// stmt is one statement and its arguments.
type stmt struct {
	sql  string
	args []any
}

// Deliver writes the events: all of them in one transaction when it can,
// otherwise each on its own. It returns one result per event, in order.
// Events whose body or identity is unusable fail permanently, as do events
// the server rejects for their data; connection failures, timeouts and
// other server errors are retryable, a refused login is permanent.
func (m *MySQL) Deliver(ctx context.Context, events []destination.Event) []destination.Result {
	results := make([]destination.Result, len(events))
	if len(events) == 0 {
		return results
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()

	prepared := make([]item, len(events))
	errs := make([]error, len(events))
	parallel(len(events), func(i int) { prepared[i], errs[i] = m.prepare(&events[i]) })
	items := make([]item, 0, len(events))
	index := make([]int, 0, len(events)) // items[k] is events[index[k]]
	for i := range events {
		if errs[i] != nil {
			results[i] = destination.Result{Err: errs[i], Permanent: true}
			continue
		}
		items = append(items, prepared[i])
		index = append(index, i)
	}
	if len(items) == 0 {
		return results
	}
	if err := m.ensureLayout(ctx); err != nil {
		res := m.result("write "+count(len(items)), err)
		for _, i := range index {
			results[i] = res
		}
		m.log.DebugContext(ctx, "mysql delivery failed", "events", len(items), "error", res.Err)
		return results
	}

	err := m.write(ctx, items)
	if err == nil {
		m.log.DebugContext(ctx, "mysql delivered", "events", len(items), "duration", time.Since(start))
		return results
	}
	if len(items) == 1 || !eventSpecific(err) {
		what := "write " + count(len(items))
		if len(items) == 1 {
			what = "write event " + items[0].ev.DeliveryID
		}
		res := m.result(what, err)
		for _, i := range index {
			results[i] = res
		}
		m.log.DebugContext(ctx, "mysql delivery failed", "events", len(items), "error", res.Err)
		return results
	}
	// One event's data broke the batch: write them one by one, so that the
	// others land and only the bad one fails.
	m.log.DebugContext(ctx, "mysql batch failed; writing events one by one", "events", len(items), "error", m.scrub(err))
	failed := 0
	for k := range items {
		err := m.write(ctx, items[k:k+1])
		if err == nil {
			continue
		}
		results[index[k]] = m.result("write event "+items[k].ev.DeliveryID, err)
		failed++
		if !eventSpecific(err) {
			// The server went away (or the deadline passed) meanwhile: the
			// rest fail alike, without trying each.
			res := m.result("write "+count(len(items)-k-1), err)
			for _, i := range index[k+1:] {
				results[i] = res
			}
			failed += len(items) - k - 1
			break
		}
	}
	m.log.DebugContext(ctx, "mysql delivered one by one", "events", len(items), "failed", failed, "duration", time.Since(start))
	return results
}

// parallel calls f(0) ... f(n-1), spread over the CPUs: decoding a batch's
// envelopes is the client's largest share of a delivery.
func parallel(n int, f func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), (n+63)/64)
	if workers <= 1 {
		for i := range n {
			f(i)
		}
		return
	}
	var wg sync.WaitGroup
	per := (n + workers - 1) / workers
	for from := 0; from < n; from += per {
		wg.Go(func() {
			for i := from; i < min(from+per, n); i++ {
				f(i)
			}
		})
	}
	wg.Wait()
}

// count renders n events.
func count(n int) string {
	if n == 1 {
		return "1 event"
	}
	return strconv.Itoa(n) + " events"
}

// prepare checks an event and extracts what the tables need.
func (m *MySQL) prepare(ev *destination.Event) (item, error) {
	var env envelope
	if err := json.Unmarshal(ev.Body, &env); err != nil {
		return item{}, fmt.Errorf("mysql: event %s: body is not a JSON envelope: %w", ev.DeliveryID, err)
	}
	it := item{ev: ev, userID: ev.UserID}
	if u := env.User; u != nil && u.UserID != "" {
		if it.userID == "" {
			it.userID = u.UserID
		}
		it.user = &userRow{id: u.UserID, provider: u.Provider, referenceID: u.ReferenceID, active: u.Active,
			updatedAt: eventTime(ev), fromData: ev.RecordKey != ""}
	}
	if ev.RecordKey == "" {
		if ev.DeliveryID == "" {
			return item{}, fmt.Errorf("mysql: %s event (seq %d) has no delivery id", ev.Type, ev.Seq)
		}
		return it, nil
	}
	table, ok := m.tables[ev.Type]
	if !ok {
		return item{}, fmt.Errorf("mysql: event %s: %q is not a data type, but the event has a record key", ev.DeliveryID, ev.Type)
	}
	switch {
	case it.userID == "":
		return item{}, fmt.Errorf("mysql: event %s: a %s record needs a user id", ev.DeliveryID, ev.Type)
	case len(env.Data) != 1:
		return item{}, fmt.Errorf("mysql: event %s: the envelope has %d records in data, want 1", ev.DeliveryID, len(env.Data))
	case len(env.Data[0]) == 0 || env.Data[0][0] != '{':
		return item{}, fmt.Errorf("mysql: event %s: data[0] is not a JSON object", ev.DeliveryID)
	}
	it.table = table
	it.payload = string(env.Data[0])
	return it, nil
}

// eventTime is when the event was recorded, which orders versions of a
// user row.
func eventTime(ev *destination.Event) time.Time {
	if ev.CreatedAt.IsZero() {
		return time.Now().UTC()
	}
	return ev.CreatedAt.UTC()
}

// nullTime maps the zero time (no span) to NULL and others to UTC.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC()
}

// nullString maps "" to NULL.
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// write writes items in one transaction: users, then each data table, then
// events, each as multi-row statements.
func (m *MySQL) write(ctx context.Context, items []item) error {
	var stmts []stmt
	stmts, users := m.userStmts(stmts, items)
	stmts = m.recordStmts(stmts, items)
	stmts = m.eventStmts(stmts, items)
	if len(stmts) == 0 {
		return nil
	}
	tx, err := m.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, s.sql, s.args...); err != nil {
			_ = tx.Rollback()
			m.checkMissing(err)
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	m.known.add(users)
	return nil
}

// userStmts adds the writes of the users the items carry. The user object
// of a non-data event (auth, user_reauth, deauth, ...: the events that
// accompany every change of a user's reference id or active flag) replaces
// the row unless the row came from a newer event. The user object of a
// data event only adds a user not yet known: rewriting the same user row
// for every record would double the work of a batch. It also returns the
// rows it writes.
func (m *MySQL) userStmts(out []stmt, items []item) ([]stmt, []*userRow) {
	upserts, inserts := pickUsers(items)
	inserts = m.known.unknown(inserts)
	const cols = 5
	add := func(rows []*userRow, conflict string) {
		for _, c := range chunks(len(rows), cols, func(int) int { return 128 }) {
			args := make([]any, 0, (c[1]-c[0])*cols)
			for _, u := range rows[c[0]:c[1]] {
				args = append(args, u.id, u.provider, u.referenceID, u.active, u.updatedAt)
			}
			out = append(out, stmt{`INSERT INTO ` + m.users + ` (user_id, provider, reference_id, active, updated_at) VALUES ` +
				placeholders(c[1]-c[0], cols) + conflict, args})
		}
	}
	add(upserts, `
		ON DUPLICATE KEY UPDATE
			provider = IF(VALUES(updated_at) >= updated_at, VALUES(provider), provider),
			reference_id = IF(VALUES(updated_at) >= updated_at, VALUES(reference_id), reference_id),
			active = IF(VALUES(updated_at) >= updated_at, VALUES(active), active),
			updated_at = IF(VALUES(updated_at) >= updated_at, VALUES(updated_at), updated_at)`)
	add(inserts, ` ON DUPLICATE KEY UPDATE user_id = user_id`)
	return out, append(upserts, inserts...)
}

// pickUsers returns, per user, the newest user object of a non-data event
// (to upsert) or, for users without one in the batch, the newest of a data
// event (to insert if absent); later in the batch wins a tie. Both lists
// are sorted by user id, a stable order that keeps concurrent batches from
// deadlocking.
func pickUsers(items []item) (upserts, inserts []*userRow) {
	latest := map[string]*userRow{}
	for k := range items {
		u := items[k].user
		if u == nil {
			continue
		}
		cur, ok := latest[u.id]
		switch {
		case !ok,
			cur.fromData && !u.fromData,
			cur.fromData == u.fromData && !u.updatedAt.Before(cur.updatedAt):
			latest[u.id] = u
		}
	}
	for _, u := range latest {
		if u.fromData {
			inserts = append(inserts, u)
		} else {
			upserts = append(upserts, u)
		}
	}
	byID := func(a, b *userRow) int { return strings.Compare(a.id, b.id) }
	slices.SortFunc(upserts, byID)
	slices.SortFunc(inserts, byID)
	return upserts, inserts
}

// recordStmts adds the version-guarded upserts of the data events, one
// statement (or chunk) per table. Within the batch the highest version of a
// record wins (later in the batch wins a tie). The assignments run left to
// right, each seeing the columns already assigned, so version comes last.
func (m *MySQL) recordStmts(out []stmt, items []item) []stmt {
	type key struct{ table, user, record string }
	best := map[key]*item{}
	for k := range items {
		it := &items[k]
		if it.table == "" {
			continue
		}
		id := key{it.table, it.userID, it.ev.RecordKey}
		if cur, ok := best[id]; !ok || it.ev.Version >= cur.ev.Version {
			best[id] = it
		}
	}
	byTable := map[string][]*item{}
	for _, it := range best {
		byTable[it.table] = append(byTable[it.table], it)
	}
	tables := make([]string, 0, len(byTable))
	for t := range byTable {
		tables = append(tables, t)
	}
	slices.Sort(tables)
	const cols = 8
	for _, t := range tables {
		rows := byTable[t]
		slices.SortFunc(rows, func(a, b *item) int {
			return cmp.Or(strings.Compare(a.userID, b.userID), strings.Compare(a.ev.RecordKey, b.ev.RecordKey))
		})
		for _, c := range chunks(len(rows), cols, func(i int) int { return len(rows[i].payload) }) {
			args := make([]any, 0, (c[1]-c[0])*cols)
			for _, it := range rows[c[0]:c[1]] {
				ev := it.ev
				args = append(args, it.userID, ev.Provider, ev.RecordKey, nullTime(ev.Start), nullTime(ev.End),
					int64(ev.Version), eventTime(ev), it.payload)
			}
			out = append(out, stmt{`INSERT INTO ` + t + ` (user_id, provider, record_key, start_time, end_time, version, updated_at, payload) VALUES ` +
				placeholders(c[1]-c[0], cols) + `
				ON DUPLICATE KEY UPDATE
					provider = IF(VALUES(version) >= version, VALUES(provider), provider),
					start_time = IF(VALUES(version) >= version, VALUES(start_time), start_time),
					end_time = IF(VALUES(version) >= version, VALUES(end_time), end_time),
					updated_at = IF(VALUES(version) >= version, VALUES(updated_at), updated_at),
					payload = IF(VALUES(version) >= version, VALUES(payload), payload),
					version = IF(VALUES(version) >= version, VALUES(version), version)`, args})
		}
	}
	return out
}

// eventStmts adds the inserts of the non-data events, once per delivery
// id. The no-op update (rather than INSERT IGNORE, which would also turn
// data errors into warnings) skips rows that exist.
func (m *MySQL) eventStmts(out []stmt, items []item) []stmt {
	seen := map[string]bool{}
	var rows []*item
	for k := range items {
		it := &items[k]
		if it.table != "" || seen[it.ev.DeliveryID] {
			continue
		}
		seen[it.ev.DeliveryID] = true
		rows = append(rows, it)
	}
	slices.SortFunc(rows, func(a, b *item) int { return strings.Compare(a.ev.DeliveryID, b.ev.DeliveryID) })
	const cols = 5
	for _, c := range chunks(len(rows), cols, func(i int) int { return len(rows[i].ev.Body) }) {
		args := make([]any, 0, (c[1]-c[0])*cols)
		for _, it := range rows[c[0]:c[1]] {
			args = append(args, it.ev.DeliveryID, it.ev.Type, nullString(it.userID), eventTime(it.ev), string(it.ev.Body))
		}
		out = append(out, stmt{`INSERT INTO ` + m.events + ` (delivery_id, type, user_id, created_at, body) VALUES ` +
			placeholders(c[1]-c[0], cols) + ` ON DUPLICATE KEY UPDATE delivery_id = delivery_id`, args})
	}
	return out
}

// chunks splits n rows of cols parameters each into [from, to) ranges
// that respect the parameter, row and byte limits; size(i) is row i's
// approximate size in bytes.
func chunks(n, cols int, size func(i int) int) [][2]int {
	limit := min(maxRows, maxParams/cols)
	var out [][2]int
	from, bytes := 0, 0
	for i := range n {
		s := size(i)
		if i > from && (i-from >= limit || bytes+s > maxStmtBytes) {
			out = append(out, [2]int{from, i})
			from, bytes = i, 0
		}
		bytes += s
	}
	if n > from {
		out = append(out, [2]int{from, n})
	}
	return out
}

// placeholders returns "(?,?),(?,?)" for rows rows of cols columns.
func placeholders(rows, cols int) string {
	row := "(" + strings.Repeat("?,", cols-1) + "?)"
	var sb strings.Builder
	sb.Grow(rows * (len(row) + 1))
	for r := range rows {
		if r > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(row)
	}
	return sb.String()
}

// ReadBack returns what the destination holds for ev: the payload of its
// record (data events) or its stored envelope (other events);
// destination.ErrNotFound if there is none.
func (m *MySQL) ReadBack(ctx context.Context, ev destination.Event) (json.RawMessage, error) {
	ctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	var (
		q    string
		args []any
	)
	if ev.RecordKey != "" {
		table, ok := m.tables[ev.Type]
		if !ok {
			return nil, fmt.Errorf("mysql: read back: %q is not a data type", ev.Type)
		}
		userID := ev.UserID
		if userID == "" {
			var env envelope
			if err := json.Unmarshal(ev.Body, &env); err == nil && env.User != nil {
				userID = env.User.UserID
			}
		}
		q, args = `SELECT payload FROM `+table+` WHERE user_id = ? AND record_key = ?`, []any{userID, ev.RecordKey}
	} else {
		q, args = `SELECT body FROM `+m.events+` WHERE delivery_id = ?`, []any{ev.DeliveryID}
	}
	var b []byte
	if err := m.db.QueryRowContext(ctx, q, args...).Scan(&b); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, destination.ErrNotFound
		}
		return nil, m.describe("read back event "+ev.DeliveryID, err)
	}
	return json.RawMessage(b), nil
}

// RemoveHealthcheck deletes the healthcheck event ev from the events
// table; destination.ErrNotFound if it is not there.
func (m *MySQL) RemoveHealthcheck(ctx context.Context, ev destination.Event) error {
	ctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	res, err := m.db.ExecContext(ctx, `DELETE FROM `+m.events+` WHERE delivery_id = ? AND type = 'healthcheck'`, ev.DeliveryID)
	if err != nil {
		return m.describe("remove healthcheck "+ev.DeliveryID, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return destination.ErrNotFound
	}
	return nil
}
