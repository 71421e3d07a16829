package whoop

import (
	"encoding/json"
	"testing"
	"time"
)

// FuzzMappers feeds arbitrary documents to every mapper: none may panic,
// and whatever maps must marshal.
func FuzzMappers(f *testing.F) {
	for _, name := range []string{"cycle_collection.json", "recovery_collection.json", "sleep_collection.json"} {
		for _, it := range fixtureRecords(f, name) {
			f.Add([]byte(it))
		}
	}
	f.Add([]byte(documentedWorkout))
	f.Add([]byte(documentedBody))
	f.Fuzz(func(t *testing.T, b []byte) {
		raw := json.RawMessage(b)
		m := newMapper()
		var out []any
		rec, _ := decodeRecovery(raw)
		if r, err := m.daily(raw, nil); err == nil {
			out = append(out, r.Data)
		}
		if r, err := m.sleep(raw, "", nil); err == nil {
			out = append(out, r.Data)
		}
		if rec != nil {
			if r, err := m.sleep(raw, "", &recoveryItem{doc: recoveryDoc{SleepID: rec.doc.SleepID, ScoreState: rec.doc.ScoreState, Score: rec.doc.Score}, raw: raw}); err == nil {
				out = append(out, r.Data)
			}
		}
		if r, err := m.workout(raw); err == nil {
			out = append(out, r.Data)
		}
		if r, err := m.body(raw, time.Unix(0, 0)); err == nil {
			out = append(out, r.Data)
		}
		_, _, _ = cycleDay(raw)
		for _, d := range out {
			if _, err := json.Marshal(d); err != nil {
				t.Fatalf("marshal: %v", err)
			}
		}
	})
}
