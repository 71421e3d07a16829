package googlefit

import (
	"encoding/json"
	"testing"

	"github.com/wearbridge/wearbridge/internal/model"
)

// FuzzMappers feeds arbitrary JSON to every decoder and mapper: none may
// panic, and whatever maps must marshal. (Google Fit has no push, so there
// is no ParsePush to fuzz.)
func FuzzMappers(f *testing.F) {
	for _, name := range []string{"merge_activity_segments.json", "merge_activity_segments_only_sleep.json", "merge_heart_rate.json", "merge_weight.json"} {
		for _, p := range fixturePoints(f, name) {
			f.Add([]byte(p.raw))
		}
	}
	f.Add([]byte(`{"id":"s","startTimeMillis":"1710025200000","endTimeMillis":"1710054000000","activityType":72}`))
	f.Add([]byte(`{"id":"r","startTimeMillis":1710057600000,"endTimeMillis":"1710061200000","activityType":8,"activeTimeMillis":"1"}`))
	f.Add([]byte(`{"startTimeMillis":"1710028800000","endTimeMillis":"1710115200000","session":{"id":"r"},"dataset":[{"dataSourceId":"a:com.google.heart_rate.summary:b","point":[{"startTimeNanos":"1","endTimeNanos":"2","dataTypeName":"com.google.heart_rate.summary","value":[{"fpVal":1},{"fpVal":2}]}]}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		raw := json.RawMessage(b)
		m := newMapper()
		var out []any
		if p, err := decodePoint(raw); err == nil {
			pts := []point{p}
			for _, it := range m.activityItems(activityInput{segments: pts}) {
				out = append(out, m.activity(it, m.heartRates(model.TypeActivity, pts), nil).Data)
			}
			for _, n := range m.nights(nil, pts) {
				out = append(out, m.sleep(n, pts, nil).Data)
			}
			for _, r := range m.bodies(bodyDays(pts, pts, allDays)) {
				out = append(out, r.Data)
			}
		}
		if s, err := decodeSession(raw); err == nil {
			ss := []session{s}
			for _, it := range m.activityItems(activityInput{sessions: ss}) {
				out = append(out, m.activity(it, nil, nil).Data)
			}
			for _, n := range m.nights(ss, nil) {
				out = append(out, m.sleep(n, nil, nil).Data)
			}
		}
		if rec, ok, err := m.daily(raw); err == nil && ok {
			out = append(out, rec.Data)
		}
		_ = m.sessionTotalsFrom([]json.RawMessage{raw})
		for _, d := range out {
			if _, err := json.Marshal(d); err != nil {
				t.Fatalf("marshal: %v", err)
			}
		}
	})
}
