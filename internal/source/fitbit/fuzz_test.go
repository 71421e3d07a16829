package fitbit

import (
	"encoding/json"
	"testing"
	"time"
)

// FuzzMappers feeds arbitrary documents to every mapper: none may panic,
// and whatever maps must marshal.
func FuzzMappers(f *testing.F) {
	for _, it := range fixtureList(f, sleepFixture, "sleep") {
		f.Add([]byte(it))
	}
	for _, it := range fixtureList(f, "activities_date_multiple.json", "activities") {
		f.Add([]byte(it))
	}
	for _, it := range fixtureList(f, "body_log_weight.json", "weight") {
		f.Add([]byte(it))
	}
	for _, name := range []string{"activities_date_empty.json", "heart_1d_1min_intraday.json", "steps_1d_1min_intraday.json"} {
		f.Add(fixture(f, name))
	}
	loc, err := time.LoadLocation("America/Los_Angeles")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		raw := json.RawMessage(b)
		m := newMapper(zone{loc: loc})
		var out []any
		if rec, err := m.sleep(raw); err == nil {
			out = append(out, rec.Data)
		}
		if rec, err := m.activity(raw, activityDistances{"Swimming": 1}, map[string]int{"Swimming": 1}); err == nil {
			out = append(out, rec.Data)
		}
		if rec, err := m.body(bodyLogs{weight: raw}); err == nil {
			out = append(out, rec.Data)
		}
		if rec, err := m.body(bodyLogs{fat: raw}); err == nil {
			out = append(out, rec.Data)
		}
		p := dayParts{actRaw: raw, heartRaw: raw, stepsRaw: raw}
		p.act, _ = decodeActivitiesDay(raw)
		p.heart, _ = decodeHeartDay(raw)
		p.steps, _ = decodeStepsDay(raw)
		if p.act == nil {
			p.act = &activitiesDay{Summary: &daySummary{}}
		}
		if rec, _, err := m.daily("2015-08-21", p); err == nil {
			out = append(out, rec.Data)
			if !json.Valid(rec.Raw) {
				t.Fatalf("daily raw is not JSON: %s", rec.Raw)
			}
		}
		for _, d := range out {
			if _, err := json.Marshal(d); err != nil {
				t.Fatalf("marshal: %v", err)
			}
		}
	})
}
