package postgres

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/wearbridge/wearbridge/internal/destination"
)

// Statement limits. Rows travel as one array parameter per column (INSERT
// ... SELECT FROM unnest(...)), so PostgreSQL's 65535-parameter limit does
// not apply; the byte budget keeps one statement's payloads in memory
// bounded when events are large.
const (
	maxRows      = 1000
	maxStmtBytes = 16 << 20
)

// item is one event, checked and ready to write.
type item struct {
	ev      *destination.Event
	table   string          // quoted data table; "" for the events table
	userID  string          // the record's user (data events) or the event's ("" for none)
	payload json.RawMessage // data[0] of a data event
	user    *userRow        // from the envelope's user object; nil if it has none
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

// envelopeUser is the part of an envelope's user object the destination
// reads.
type envelopeUser struct {
	UserID      string  `json:"user_id"`
	Provider    string  `json:"provider"`
	ReferenceID *string `json:"reference_id"`
	Active      *bool   `json:"active"`
}

// Deliver writes the events: all of them in one transaction when it can,
// otherwise each on its own. It returns one result per event, in order.
// Events whose body or identity is unusable fail permanently, as do events
// the server rejects for their data; connection failures, timeouts and
// other server errors are retryable, a refused login is permanent.
func (p *Postgres) Deliver(ctx context.Context, events []destination.Event) []destination.Result {
	results := make([]destination.Result, len(events))
	if len(events) == 0 {
		return results
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()

	prepared := make([]item, len(events))
	errs := make([]error, len(events))
	parallel(len(events), func(i int) { prepared[i], errs[i] = p.prepare(&events[i]) })
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
	if err := p.ensureLayout(ctx); err != nil {
		res := p.result("write "+count(len(items)), err)
		for _, i := range index {
			results[i] = res
		}
		p.log.DebugContext(ctx, "postgres delivery failed", "events", len(items), "error", res.Err)
		return results
	}

	err := p.write(ctx, items)
	if err == nil {
		p.log.DebugContext(ctx, "postgres delivered", "events", len(items), "duration", time.Since(start))
		return results
	}
	if len(items) == 1 || !eventSpecific(err) {
		what := "write " + count(len(items))
		if len(items) == 1 {
			what = "write event " + items[0].ev.DeliveryID
		}
		res := p.result(what, err)
		for _, i := range index {
			results[i] = res
		}
		p.log.DebugContext(ctx, "postgres delivery failed", "events", len(items), "error", res.Err)
		return results
	}
	// One event's data broke the batch: write them one by one, so that the
	// others land and only the bad one fails.
	p.log.DebugContext(ctx, "postgres batch failed; writing events one by one", "events", len(items), "error", p.scrub(err))
	failed := 0
	for k := range items {
		err := p.write(ctx, items[k:k+1])
		if err == nil {
			continue
		}
		results[index[k]] = p.result("write event "+items[k].ev.DeliveryID, err)
		failed++
		if !eventSpecific(err) {
			// The server went away (or the deadline passed) meanwhile: the
			// rest fail alike, without trying each.
			res := p.result("write "+count(len(items)-k-1), err)
			for _, i := range index[k+1:] {
				results[i] = res
			}
			failed += len(items) - k - 1
			break
		}
	}
	p.log.DebugContext(ctx, "postgres delivered one by one", "events", len(items), "failed", failed, "duration", time.Since(start))
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
func (p *Postgres) prepare(ev *destination.Event) (item, error) {
	userJSON, data, err := split(ev.Body)
	if err != nil {
		return item{}, fmt.Errorf("postgres: event %s: body is not a JSON envelope: %w", ev.DeliveryID, err)
	}
	it := item{ev: ev, userID: ev.UserID}
	if len(userJSON) > 0 && string(userJSON) != "null" {
		var u envelopeUser
		if err := json.Unmarshal(userJSON, &u); err != nil {
			return item{}, fmt.Errorf("postgres: event %s: user: %w", ev.DeliveryID, err)
		}
		if u.UserID != "" {
			if it.userID == "" {
				it.userID = u.UserID
			}
			it.user = &userRow{id: u.UserID, provider: u.Provider, referenceID: u.ReferenceID, active: u.Active,
				updatedAt: eventTime(ev), fromData: ev.RecordKey != ""}
		}
	}
	if ev.RecordKey == "" {
		if ev.DeliveryID == "" {
			return item{}, fmt.Errorf("postgres: %s event (seq %d) has no delivery id", ev.Type, ev.Seq)
		}
		return it, nil
	}
	table, ok := p.tables[ev.Type]
	if !ok {
		return item{}, fmt.Errorf("postgres: event %s: %q is not a data type, but the event has a record key", ev.DeliveryID, ev.Type)
	}
	switch {
	case it.userID == "":
		return item{}, fmt.Errorf("postgres: event %s: a %s record needs a user id", ev.DeliveryID, ev.Type)
	case len(data) != 1:
		return item{}, fmt.Errorf("postgres: event %s: the envelope has %d records in data, want 1", ev.DeliveryID, len(data))
	case data[0][0] != '{':
		return item{}, fmt.Errorf("postgres: event %s: data[0] is not a JSON object", ev.DeliveryID)
	}
	it.table = table
	it.payload = json.RawMessage(data[0])
	return it, nil
}

// eventTime is when the event was recorded, which orders versions of a
// user row.
func eventTime(ev *destination.Event) time.Time {
	if ev.CreatedAt.IsZero() {
		return time.Now().UTC()
	}
	return ev.CreatedAt
}

// write writes items in one round trip and one (implicit) transaction:
// users, then each data table, then events, each as multi-row statements.
func (p *Postgres) write(ctx context.Context, items []item) error {
	b := &pgx.Batch{}
	users := p.queueUsers(b, items)
	p.queueRecords(b, items)
	p.queueEvents(b, items)
	if b.Len() == 0 {
		return nil
	}
	br := p.pool.SendBatch(ctx, b)
	for range b.Len() {
		if _, err := br.Exec(); err != nil {
			_ = br.Close()
			p.checkMissing(err)
			return err
		}
	}
	if err := br.Close(); err != nil {
		p.checkMissing(err)
		return err
	}
	p.known.add(users)
	return nil
}

// queueUsers queues the writes of the users the items carry. The user
// object of a non-data event (auth, user_reauth, deauth, ...: the events
// that accompany every change of a user's reference id or active flag)
// replaces the row unless the row came from a newer event. The user object
// of a data event only adds a user not yet known: rewriting the same user
// row for every record would double the work of a batch. It returns the
// rows it queued.
func (p *Postgres) queueUsers(b *pgx.Batch, items []item) []*userRow {
	upserts, inserts := pickUsers(items)
	inserts = p.known.unknown(inserts)
	queue := func(rows []*userRow, conflict string) {
		for _, c := range chunks(len(rows), func(int) int { return 128 }) {
			part := rows[c[0]:c[1]]
			ids, providers := make([]string, len(part)), make([]string, len(part))
			refs, active := make([]pgtype.Text, len(part)), make([]pgtype.Bool, len(part))
			updated := make([]time.Time, len(part))
			for k, u := range part {
				ids[k], providers[k], updated[k] = u.id, u.provider, u.updatedAt
				if u.referenceID != nil {
					refs[k] = pgtype.Text{String: *u.referenceID, Valid: true}
				}
				if u.active != nil {
					active[k] = pgtype.Bool{Bool: *u.active, Valid: true}
				}
			}
			b.Queue(`INSERT INTO `+p.users+` AS u (user_id, provider, reference_id, active, updated_at)
				SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::boolean[], $5::timestamptz[])`+conflict,
				ids, providers, refs, active, updated)
		}
	}
	queue(upserts, `
		ON CONFLICT (user_id) DO UPDATE SET provider = excluded.provider,
			reference_id = excluded.reference_id, active = excluded.active, updated_at = excluded.updated_at
		WHERE u.updated_at <= excluded.updated_at`)
	queue(inserts, ` ON CONFLICT (user_id) DO NOTHING`)
	return append(upserts, inserts...)
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

// queueRecords queues the version-guarded upserts of the data events, one
// statement (or chunk) per table. Within the batch the highest version of
// a record wins (later in the batch wins a tie).
func (p *Postgres) queueRecords(b *pgx.Batch, items []item) {
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
	for _, t := range tables {
		rows := byTable[t]
		slices.SortFunc(rows, func(a, b *item) int {
			return cmp.Or(strings.Compare(a.userID, b.userID), strings.Compare(a.ev.RecordKey, b.ev.RecordKey))
		})
		for _, c := range chunks(len(rows), func(i int) int { return len(rows[i].payload) }) {
			part := rows[c[0]:c[1]]
			n := len(part)
			users, providers, keys := make([]string, n), make([]string, n), make([]string, n)
			starts, ends := make([]pgtype.Timestamptz, n), make([]pgtype.Timestamptz, n)
			versions, updated := make([]int64, n), make([]time.Time, n)
			payloads := make([]json.RawMessage, n)
			for k, it := range part {
				ev := it.ev
				users[k], providers[k], keys[k] = it.userID, ev.Provider, ev.RecordKey
				starts[k], ends[k] = timestamptz(ev.Start), timestamptz(ev.End)
				versions[k], updated[k], payloads[k] = int64(ev.Version), eventTime(ev), it.payload
			}
			b.Queue(`INSERT INTO `+t+` AS t (user_id, provider, record_key, start_time, end_time, version, updated_at, payload)
				SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[],
					$6::bigint[], $7::timestamptz[], $8::jsonb[])
				ON CONFLICT (user_id, record_key) DO UPDATE SET provider = excluded.provider,
					start_time = excluded.start_time, end_time = excluded.end_time, version = excluded.version,
					updated_at = excluded.updated_at, payload = excluded.payload
				WHERE t.version <= excluded.version`,
				users, providers, keys, starts, ends, versions, updated, payloads)
		}
	}
}

// queueEvents queues the inserts of the non-data events, once per
// delivery id.
func (p *Postgres) queueEvents(b *pgx.Batch, items []item) {
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
	for _, c := range chunks(len(rows), func(i int) int { return len(rows[i].ev.Body) }) {
		part := rows[c[0]:c[1]]
		n := len(part)
		ids, types, users := make([]string, n), make([]string, n), make([]pgtype.Text, n)
		created, bodies := make([]time.Time, n), make([]json.RawMessage, n)
		for k, it := range part {
			ids[k], types[k], created[k], bodies[k] = it.ev.DeliveryID, it.ev.Type, eventTime(it.ev), it.ev.Body
			users[k] = pgtype.Text{String: it.userID, Valid: it.userID != ""}
		}
		b.Queue(`INSERT INTO `+p.events+` (delivery_id, type, user_id, created_at, body)
			SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::jsonb[])
			ON CONFLICT (delivery_id) DO NOTHING`,
			ids, types, users, created, bodies)
	}
}

// timestamptz maps the zero time (no span) to NULL.
func timestamptz(t time.Time) pgtype.Timestamptz {
	return pgtype.Timestamptz{Time: t, Valid: !t.IsZero()}
}

// chunks splits n rows into [from, to) ranges of at most maxRows rows and
// about maxStmtBytes bytes; size(i) is row i's approximate size in bytes.
func chunks(n int, size func(i int) int) [][2]int {
	var out [][2]int
	from, bytes := 0, 0
	for i := range n {
		s := size(i)
		if i > from && (i-from >= maxRows || bytes+s > maxStmtBytes) {
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

// ReadBack returns what the destination holds for ev: the payload of its
// record (data events) or its stored envelope (other events), as jsonb
// renders it; destination.ErrNotFound if there is none.
func (p *Postgres) ReadBack(ctx context.Context, ev destination.Event) (json.RawMessage, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	var (
		q    string
		args []any
	)
	if ev.RecordKey != "" {
		table, ok := p.tables[ev.Type]
		if !ok {
			return nil, fmt.Errorf("postgres: read back: %q is not a data type", ev.Type)
		}
		userID := ev.UserID
		if userID == "" {
			var u envelopeUser
			if userJSON, _, err := split(ev.Body); err == nil && userJSON != nil && json.Unmarshal(userJSON, &u) == nil {
				userID = u.UserID
			}
		}
		q, args = `SELECT payload::text FROM `+table+` WHERE user_id = $1 AND record_key = $2`, []any{userID, ev.RecordKey}
	} else {
		q, args = `SELECT body::text FROM `+p.events+` WHERE delivery_id = $1`, []any{ev.DeliveryID}
	}
	var s string
	if err := p.pool.QueryRow(ctx, q, args...).Scan(&s); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, destination.ErrNotFound
		}
		return nil, p.describe("read back event "+ev.DeliveryID, err)
	}
	return json.RawMessage(s), nil
}

// RemoveHealthcheck deletes the healthcheck event ev from the events
// table; destination.ErrNotFound if it is not there.
func (p *Postgres) RemoveHealthcheck(ctx context.Context, ev destination.Event) error {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	tag, err := p.pool.Exec(ctx, `DELETE FROM `+p.events+` WHERE delivery_id = $1 AND type = 'healthcheck'`, ev.DeliveryID)
	if err != nil {
		return p.describe("remove healthcheck "+ev.DeliveryID, err)
	}
	if tag.RowsAffected() == 0 {
		return destination.ErrNotFound
	}
	return nil
}
