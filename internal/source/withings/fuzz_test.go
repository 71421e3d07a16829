package withings

import (
	"encoding/json"
	"testing"
)

// FuzzMappers feeds arbitrary documents to every mapper: none may panic,
// and whatever maps must marshal.
func FuzzMappers(f *testing.F) {
	for _, it := range fixtureList(f, fileMeasureBody, "measuregrps") {
		f.Add([]byte(it))
	}
	for _, it := range listGroups(f)[:8] {
		f.Add([]byte(it))
	}
	for _, name := range []struct{ file, key string }{{fileSleep, "series"}, {fileWorkouts, "series"}, {fileActivity, "activities"}} {
		for _, it := range fixtureList(f, name.file, name.key)[:2] {
			f.Add([]byte(it))
		}
	}
	f.Add([]byte(fixtureBody(f, fileIntraday)))
	f.Add([]byte(`{"series":{"1":{"steps":1e308,"duration":1e308}}}`))
	f.Add([]byte(`{"grpid":1,"date":1,"measures":[{"type":1,"unit":-30,"value":1e308}]}`))
	p := New(Config{})
	f.Fuzz(func(t *testing.T, b []byte) {
		raw := json.RawMessage(b)
		m := newMapper(p)
		var out []any
		if rec, ok, err := m.measureGroup(raw, "Europe/Paris"); err == nil && ok {
			out = append(out, rec.Data)
		}
		if rec, err := m.sleep(raw); err == nil {
			out = append(out, rec.Data)
		}
		if rec, err := m.workout(raw); err == nil {
			out = append(out, rec.Data)
		}
		samples, _ := m.intraday(raw)
		if d, err := m.activityDay(raw); err == nil {
			if rec, err := m.daily(d, samples); err == nil {
				out = append(out, rec.Data)
			}
		}
		if d, err := m.activityDay(json.RawMessage(`{"date":"2015-06-19","timezone":"America/Los_Angeles"}`)); err == nil {
			if rec, err := m.daily(d, samples); err == nil {
				out = append(out, rec.Data)
			}
		}
		for _, d := range out {
			if _, err := json.Marshal(d); err != nil {
				t.Fatalf("marshal: %v", err)
			}
		}
	})
}
