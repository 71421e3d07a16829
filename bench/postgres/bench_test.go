package postgresbench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wearbridge/wearbridge/internal/destination"
	"github.com/wearbridge/wearbridge/internal/destination/postgres"
)

// Benchmark size: records, records per Deliver call, users the records are
// spread over, and rounds (each round delivers and copies a slice of the
// records, alternating which goes first, so that both paths see the same
// machine load on average).
const (
	records   = 100_000
	batchSize = 500
	users     = 1_000
	rounds    = 10
)

// record is one generated record with everything both paths need.
type record struct {
	ev      destination.Event
	payload json.RawMessage // data[0] of ev.Body
}

// meter sums the wall time and, when the server runs on this machine, the
// CPU time of the server processes and of this process, for one path.
type meter struct {
	wall, server, client time.Duration
}

// BenchmarkDeliverVsCopy delivers records through the postgres kind and
// copies the same rows with COPY, reporting records/s for both and
// deliver/copy (the target is at least 0.6). Each iteration uses a fresh
// schema; run it with -benchtime 1x.
func BenchmarkDeliverVsCopy(b *testing.B) {
	dsn := os.Getenv("TEST_DATABASE_URL")
	if dsn == "" {
		b.Skip("needs TEST_DATABASE_URL (eval \"$(scripts/test-servers up)\")")
	}
	recs := generate(b, records)
	var size int
	for _, r := range recs {
		size += len(r.payload)
	}
	b.Logf("%d records (%d sleep, %d daily) over %d users, payloads %.0f bytes on average, envelopes %.0f",
		len(recs), len(recs)/2, len(recs)-len(recs)/2, users, float64(size)/float64(len(recs)), avgBody(recs))

	for b.Loop() {
		dm, cm := run(b, dsn, recs)
		n := float64(len(recs))
		deliverRate, copyRate := n/dm.wall.Seconds(), n/cm.wall.Seconds()
		b.Logf("Deliver (batches of %d): %8.0f records/s  (server CPU %5.1fs, client CPU %5.1fs)", batchSize, deliverRate, dm.server.Seconds(), dm.client.Seconds())
		b.Logf("COPY (pgx CopyFrom):     %8.0f records/s  (server CPU %5.1fs, client CPU %5.1fs)", copyRate, cm.server.Seconds(), cm.client.Seconds())
		b.Logf("ratio Deliver/COPY:      %8.2f (target >= 0.60)", deliverRate/copyRate)
		if dm.server > 0 {
			b.Logf("ratio of CPU time, COPY/Deliver (server+client): %.2f", (cm.server+cm.client).Seconds()/(dm.server+dm.client).Seconds())
		}
		b.ReportMetric(deliverRate, "deliver_rec/s")
		b.ReportMetric(copyRate, "copy_rec/s")
		b.ReportMetric(deliverRate/copyRate, "ratio")
	}
}

// run creates a fresh schema, delivers and copies recs in rounds, drops
// the schema and returns the meters of both paths.
func run(b *testing.B, dsn string, recs []record) (deliverM, copyM meter) {
	b.Helper()
	ctx := context.Background()
	schema := fmt.Sprintf("wbbench_%08x", rand.Uint32())
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		b.Fatalf("connect: %v", err)
	}
	defer func() {
		_, _ = admin.Exec(ctx, `DROP SCHEMA IF EXISTS "`+schema+`" CASCADE`)
		_ = admin.Close(ctx)
	}()

	// The destination's connections carry their own application_name, so
	// that their server processes can be found.
	u, err := url.Parse(dsn)
	if err != nil {
		b.Fatalf("TEST_DATABASE_URL: %v", err)
	}
	q := u.Query()
	q.Set("application_name", "wbbench-deliver")
	u.RawQuery = q.Encode()
	settings, _ := json.Marshal(postgres.Settings{DSN: u.String(), Schema: schema})
	d, err := postgres.NewKind(postgres.Options{}).Open(ctx, destination.Config{ID: "dst_bench", Kind: postgres.KindName, Settings: settings})
	if err != nil {
		b.Fatalf("open: %v", err)
	}
	defer d.Close()
	for _, t := range []string{"sleep", "daily"} {
		if _, err := admin.Exec(ctx, fmt.Sprintf(`CREATE TABLE "%s"."copy_%s" (LIKE "%s"."%s" INCLUDING ALL)`, schema, t, schema, t)); err != nil {
			b.Fatalf("create copy table: %v", err)
		}
	}
	adminPID := admin.PgConn().PID()
	deliverPIDs := func() []uint32 {
		rows, err := admin.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE application_name = 'wbbench-deliver'`)
		if err != nil {
			b.Fatalf("find server processes: %v", err)
		}
		pids, err := pgx.CollectRows(rows, pgx.RowTo[uint32])
		if err != nil {
			b.Fatalf("find server processes: %v", err)
		}
		return pids
	}

	per := len(recs) / rounds
	for r := range rounds {
		part := recs[r*per : min((r+1)*per, len(recs))]
		deliverRound := func() {
			// Connect first, so that the pool's server processes exist.
			deliverBatches(b, ctx, d, part[:1])
			pids := deliverPIDs()
			measure(&deliverM, pids, func() { deliverBatches(b, ctx, d, part) })
		}
		copyRound := func() { measure(&copyM, []uint32{adminPID}, func() { copyRows(b, ctx, admin, schema, part) }) }
		if r%2 == 0 {
			deliverRound()
			copyRound()
		} else {
			copyRound()
			deliverRound()
		}
	}
	return deliverM, copyM
}

// measure runs f and adds its wall time and CPU times to m.
func measure(m *meter, pids []uint32, f func()) {
	s0, c0 := serverCPU(pids), clientCPU()
	start := time.Now()
	f()
	m.wall += time.Since(start)
	m.server += serverCPU(pids) - s0
	m.client += clientCPU() - c0
}

// serverCPU sums the CPU time of server processes, read from /proc; zero
// when the server runs elsewhere.
func serverCPU(pids []uint32) time.Duration {
	var ticks int64
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return 0
		}
		// Fields after the command name, which is in parentheses.
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) < 13 {
			return 0
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		s, _ := strconv.ParseInt(f[12], 10, 64)
		ticks += u + s
	}
	return time.Duration(ticks) * time.Second / 100 // USER_HZ
}

// clientCPU is this process's CPU time so far.
func clientCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// deliverBatches delivers recs in batches of batchSize.
func deliverBatches(b *testing.B, ctx context.Context, d destination.Destination, recs []record) {
	b.Helper()
	batch := make([]destination.Event, 0, batchSize)
	for i := 0; i < len(recs); i += batchSize {
		batch = batch[:0]
		for _, r := range recs[i:min(i+batchSize, len(recs))] {
			batch = append(batch, r.ev)
		}
		for k, res := range d.Deliver(ctx, batch) {
			if res.Err != nil {
				b.Fatalf("deliver %s: %v", batch[k].DeliveryID, res.Err)
			}
		}
	}
}

// copyRows copies recs into the copy tables, which have the columns, keys
// and indexes of the destination's sleep and daily tables.
func copyRows(b *testing.B, ctx context.Context, c *pgx.Conn, schema string, recs []record) {
	b.Helper()
	byType := map[string][][]any{}
	for _, r := range recs {
		ev := r.ev
		byType[ev.Type] = append(byType[ev.Type], []any{ev.UserID, ev.Provider, ev.RecordKey, ev.Start, ev.End, int64(ev.Version), ev.CreatedAt, r.payload})
	}
	cols := []string{"user_id", "provider", "record_key", "start_time", "end_time", "version", "updated_at", "payload"}
	for _, t := range []string{"sleep", "daily"} {
		n, err := c.CopyFrom(ctx, pgx.Identifier{schema, "copy_" + t}, cols, pgx.CopyFromRows(byType[t]))
		if err != nil {
			b.Fatalf("copy %s: %v", t, err)
		}
		if int(n) != len(byType[t]) {
			b.Fatalf("copied %d %s rows, want %d", n, t, len(byType[t]))
		}
	}
}

func avgBody(recs []record) float64 {
	n := 0
	for _, r := range recs {
		n += len(r.ev.Body)
	}
	return float64(n) / float64(len(recs))
}

// generate builds n records, alternating sleep and daily, with distinct
// (user, record key) pairs and realistic Terra v2 payloads of 1-2 KB.
func generate(b *testing.B, n int) []record {
	b.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	created := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	day0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	out := make([]record, 0, n)
	for i := range n {
		user := fmt.Sprintf("00000000-0000-4000-8000-%012d", i%users)
		dayIdx := i / users // each user gets one sleep or daily per day
		day := day0.AddDate(0, 0, dayIdx)
		var (
			typ, key   string
			start, end time.Time
			payload    any
		)
		if i%2 == 0 {
			typ = "sleep"
			start = day.Add(-2*time.Hour + time.Duration(rng.IntN(3600))*time.Second)
			end = start.Add(7*time.Hour + time.Duration(rng.IntN(7200))*time.Second)
			key = fmt.Sprintf("sleep-%d-%d", i%users, dayIdx)
			payload = sleepPayload(rng, key, start, end)
		} else {
			typ = "daily"
			start, end = day, day.AddDate(0, 0, 1)
			key = day.Format(time.DateOnly)
			payload = dailyPayload(rng, start, end)
		}
		data, err := json.Marshal(payload)
		if err != nil {
			b.Fatal(err)
		}
		body, err := json.Marshal(map[string]any{
			"type": typ,
			"user": map[string]any{"user_id": user, "provider": "OURA", "reference_id": "ref-" + user[24:],
				"active": true, "created_at": "2026-01-01T00:00:00.000000+00:00"},
			"data":    []json.RawMessage{data},
			"version": "2022-03-16",
		})
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, record{
			ev: destination.Event{
				Seq: int64(i + 1), DeliveryID: fmt.Sprintf("dlv_%d", i+1), Type: typ, UserID: user, Provider: "OURA",
				RecordKey: key, Version: 1, Start: start, End: end, CreatedAt: created.Add(time.Duration(i) * time.Millisecond), Body: body,
			},
			payload: data,
		})
	}
	return out
}

func ts(t time.Time) string { return t.Format("2006-01-02T15:04:05.000000-07:00") }

// sleepPayload is a Terra v2 sleep object like the Oura mapper's.
func sleepPayload(rng *rand.Rand, id string, start, end time.Time) map[string]any {
	dur := end.Sub(start).Seconds()
	samples := make([]map[string]any, 0, 8)
	for k := range 8 {
		samples = append(samples, map[string]any{"timestamp": ts(start.Add(time.Duration(k) * time.Hour)), "bpm": 48 + rng.IntN(20)})
	}
	return map[string]any{
		"metadata": map[string]any{"start_time": ts(start), "end_time": ts(end), "summary_id": id, "upload_type": 1, "is_nap": false},
		"sleep_durations_data": map[string]any{
			"asleep": map[string]any{"duration_asleep_state_seconds": dur * 0.9, "duration_deep_sleep_state_seconds": dur * 0.2,
				"duration_light_sleep_state_seconds": dur * 0.5, "duration_REM_sleep_state_seconds": dur * 0.2, "num_REM_events": 4 + rng.IntN(3)},
			"awake": map[string]any{"duration_awake_state_seconds": dur * 0.1, "num_wakeup_events": rng.IntN(15), "sleep_latency_seconds": 300 + rng.IntN(900),
				"wake_up_latency_seconds": rng.IntN(600), "num_out_of_bed_events": rng.IntN(3)},
			"other":            map[string]any{"duration_in_bed_seconds": dur, "duration_unmeasurable_sleep_seconds": 0},
			"sleep_efficiency": 85 + rng.Float64()*10,
		},
		"heart_rate_data": map[string]any{
			"summary":  map[string]any{"avg_hr_bpm": 50 + rng.Float64()*10, "min_hr_bpm": 44 + rng.IntN(5), "max_hr_bpm": 70 + rng.IntN(20), "avg_hrv_rmssd": 30 + rng.Float64()*40, "resting_hr_bpm": 48 + rng.IntN(8)},
			"detailed": map[string]any{"hr_samples": samples},
		},
		"respiration_data": map[string]any{"breaths_data": map[string]any{"avg_breaths_per_min": 12 + rng.Float64()*6, "start_time": ts(start), "end_time": ts(end)}},
		"temperature_data": map[string]any{"delta": rng.Float64() - 0.5},
		"readiness_data":   map[string]any{"readiness": 60 + rng.IntN(40), "recovery_level": 1 + rng.IntN(5)},
		"scores":           map[string]any{"sleep": 60 + rng.IntN(40)},
		"device_data":      map[string]any{"name": "Oura Ring Gen3", "manufacturer": "Oura", "hardware_version": "3", "software_version": "2.9.30"},
	}
}

// dailyPayload is a Terra v2 daily object like the Oura mapper's.
func dailyPayload(rng *rand.Rand, start, end time.Time) map[string]any {
	samples := make([]map[string]any, 0, 10)
	for k := range 10 {
		samples = append(samples, map[string]any{"timestamp": ts(start.Add(time.Duration(8+k) * time.Hour)), "bpm": 60 + rng.IntN(60)})
	}
	return map[string]any{
		"metadata": map[string]any{"start_time": ts(start), "end_time": ts(end), "upload_type": 1},
		"distance_data": map[string]any{"steps": 2000 + rng.IntN(15000), "distance_meters": 1500 + rng.Float64()*10000,
			"floors_climbed": rng.IntN(20), "detailed": map[string]any{}},
		"calories_data": map[string]any{"total_burned_calories": 1800 + rng.Float64()*1500, "net_activity_calories": 200 + rng.Float64()*900, "BMR_calories": 1600 + rng.Float64()*200},
		"active_durations_data": map[string]any{"activity_seconds": rng.IntN(20000), "low_intensity_seconds": rng.IntN(15000),
			"moderate_intensity_seconds": rng.IntN(5000), "vigorous_intensity_seconds": rng.IntN(3000), "inactivity_seconds": 30000 + rng.IntN(20000), "rest_seconds": 25000 + rng.IntN(5000)},
		"heart_rate_data": map[string]any{
			"summary":  map[string]any{"avg_hr_bpm": 60 + rng.Float64()*20, "min_hr_bpm": 45 + rng.IntN(10), "max_hr_bpm": 120 + rng.IntN(60), "resting_hr_bpm": 50 + rng.IntN(15)},
			"detailed": map[string]any{"hr_samples": samples},
		},
		"oxygen_data": map[string]any{"avg_saturation_percentage": 94 + rng.Float64()*5},
		"stress_data": map[string]any{"avg_stress_level": rng.IntN(100), "rest_stress_duration_seconds": rng.IntN(20000), "high_stress_duration_seconds": rng.IntN(5000)},
		"scores":      map[string]any{"activity": 50 + rng.IntN(50), "recovery": 50 + rng.IntN(50), "sleep": 50 + rng.IntN(50)},
		"device_data": map[string]any{"name": "Oura Ring Gen3", "manufacturer": "Oura"},
	}
}
