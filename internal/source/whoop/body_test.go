package whoop

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
)

// documentedBody is WHOOP's v2 UserBodyMeasurement documented example (no
// fixture file exists for it).
const documentedBody = `{"height_meter": 1.8288, "weight_kilogram": 90.7185, "max_heart_rate": 200}`

func TestBodyDocumentedExample(t *testing.T) {
	// Read at 23:30 UTC on 2024-03-09: filed under that UTC day.
	at := time.Date(2024, 3, 9, 23, 30, 0, 0, time.UTC)
	m := newMapper()
	rec, err := m.body(json.RawMessage(documentedBody), at)
	if err != nil {
		t.Fatal(err)
	}
	validate(t, rec)
	b := rec.Data.(*model.Body)
	eq(t, "type", rec.Type, model.TypeBody)
	eq(t, "key", rec.Key, "2024-03-09")
	eq(t, "day", rec.Day, "2024-03-09")
	eq(t, "start_time", b.Metadata.StartTime, "2024-03-09T00:00:00.000000+00:00")
	eq(t, "end_time", b.Metadata.EndTime, "2024-03-10T00:00:00.000000+00:00")
	ms := b.MeasurementsData.Measurements
	if len(ms) != 1 {
		t.Fatalf("%d measurements, want 1", len(ms))
	}
	heightM := 1.8288 // height_meter
	eq(t, "height cm", val(t, "height", ms[0].HeightCm), heightM*100)
	eq(t, "weight kg", val(t, "weight", ms[0].WeightKg), 90.7185)                                 // weight_kilogram
	eq(t, "user max hr", val(t, "max hr", b.HeartData.HeartRateData.Summary.UserMaxHrBpm), 200.0) // max_heart_rate
	if _, err := m.body(json.RawMessage(`{}`), at); err == nil || !strings.Contains(err.Error(), "no height") {
		t.Errorf("empty measurement: err = %v", err)
	}
}

// TestParseOffset covers the time zone designators WHOOP may send.
func TestParseOffset(t *testing.T) {
	tests := []struct {
		in   string
		want int // seconds east of UTC; -1: error
	}{
		{"-05:00", -5 * 3600}, {"+05:30", 5*3600 + 30*60}, {"Z", 0}, {"+00:00", 0}, {"-0330", -(3*3600 + 30*60)}, {"+14", 14 * 3600},
		{"", -1}, {"EST", -1}, {"+25:00", -1}, {"+5:00", -1}, {"05:00", -1}, {"+05:60", -1},
	}
	for _, tt := range tests {
		loc, err := parseOffset(tt.in)
		if tt.want == -1 {
			if err == nil {
				t.Errorf("parseOffset(%q) = %v, want an error", tt.in, loc)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseOffset(%q): %v", tt.in, err)
			continue
		}
		_, off := time.Date(2024, 1, 1, 0, 0, 0, 0, loc).Zone()
		eq(t, "offset of "+tt.in, off, tt.want)
	}
}
