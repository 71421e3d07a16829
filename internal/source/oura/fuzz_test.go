package oura

import (
	"encoding/json"
	"testing"
)

// FuzzMappers feeds arbitrary documents to every mapper: none may panic,
// and whatever maps must marshal.
func FuzzMappers(f *testing.F) {
	for _, name := range []string{"sleep_2024-10-09_11-03.json", "session_2024-10-09_11-03.json", "daily_readiness_2024-11-11_12.json", "daily_spo2_2024-11-11_12.json", "daily_sleep_2024-11-11_12.json"} {
		for _, it := range fixtureItems(f, name) {
			f.Add([]byte(it))
		}
	}
	f.Add(fixture(f, "daily_activity_single.json"))
	f.Add([]byte(`{"bpm":60,"source":"rest","timestamp":"2024-12-13T12:31:21+00:00"}`))
	f.Add([]byte(`{"id":"w","activity":"walking","day":"2024-11-11","start_datetime":"2024-11-11T08:05:00+01:00","end_datetime":"2024-11-11T08:42:00+01:00","source":"manual"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		raw := json.RawMessage(b)
		m := newMapper()
		var out []any
		if rec, ok, err := m.sleep(raw, map[string]float64{}); err == nil && ok {
			out = append(out, rec.Data)
		}
		if rec, err := m.workout(raw); err == nil {
			out = append(out, rec.Data)
		}
		if rec, err := m.session(raw); err == nil {
			out = append(out, rec.Data)
		}
		if r, err := m.heartRateRow(raw); err == nil {
			days := map[string]*hrDay{}
			addHeartRate(days, r, raw)
			recs, err := m.bodies(days)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, recs[0].Data)
		}
		days := map[string]*dailyDay{}
		for _, c := range []string{collDailyActivity, collDailyReadiness, collDailySpO2, collDailySleep} {
			_ = decodeDaily(days, c, raw, nil)
		}
		recs, _ := m.dailies(days)
		for _, r := range recs {
			out = append(out, r.Data)
		}
		for _, d := range out {
			if _, err := json.Marshal(d); err != nil {
				t.Fatalf("marshal: %v", err)
			}
		}
	})
}
