package polar

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
)

// TestExerciseGet checks exercise_get.json field by field.
func TestExerciseGet(t *testing.T) {
	raw := fixture(t, "exercise_get.json")
	m := newMapper()
	rec, err := m.exercise(raw)
	if err != nil {
		t.Fatal(err)
	}
	validate(t, rec)
	a := rec.Data.(*model.Activity)

	eq(t, "Key", rec.Key, "2AC312F") // id
	eq(t, "Type", rec.Type, model.TypeActivity)
	eq(t, "Day", rec.Day, "2008-10-13") // local date of start_time
	eq(t, "summary_id", a.Metadata.SummaryId, "2AC312F")
	// start_time 2008-10-13T10:40:02, start_time_utc_offset 180 (minutes)
	eq(t, "start_time", a.Metadata.StartTime, "2008-10-13T10:40:02.000000+03:00")
	eq(t, "Start", rec.Start.UTC(), time.Date(2008, 10, 13, 7, 40, 2, 0, time.UTC))
	// duration PT2H44M
	eq(t, "end_time", a.Metadata.EndTime, "2008-10-13T13:24:02.000000+03:00")
	eq(t, "End", rec.End.Sub(rec.Start), 2*time.Hour+44*time.Minute)
	// detailed_sport_info WATERSPORTS_WATERSKI (sport OTHER)
	eq(t, "type", a.Metadata.Type, model.ActivityTypeWaterSkiing)
	eq(t, "name", val(t, "name", a.Metadata.Name), "WATERSPORTS_WATERSKI")
	// device "Polar M400"
	eq(t, "upload_type", a.Metadata.UploadType, model.UploadTypeAutomatic)
	eq(t, "device", val(t, "device name", a.DeviceData.Name), "Polar M400")
	eq(t, "manufacturer", val(t, "manufacturer", a.DeviceData.Manufacturer), "Polar")

	eq(t, "calories", val(t, "calories", a.CaloriesData.TotalBurnedCalories), 530)     // calories
	eq(t, "distance", val(t, "distance", a.DistanceData.Summary.DistanceMeters), 1600) // distance
	eq(t, "avg hr", val(t, "avg hr", a.HeartRateData.Summary.AvgHrBpm), 129)           // heart_rate.average
	eq(t, "max hr", val(t, "max hr", a.HeartRateData.Summary.MaxHrBpm), 147)           // heart_rate.maximum

	// heart_rate_zones: index 1, lower-limit 110, upper-limit 130, in-zone PT4S
	z := a.HeartRateData.Summary.HrZoneData
	eq(t, "zones", len(z), 1)
	eq(t, "zone", val(t, "zone", z[0].Zone), 1)
	eq(t, "zone duration", val(t, "zone duration", z[0].DurationSeconds), 4)
	eq(t, "zone name", val(t, "zone name", z[0].Name), "110-130 bpm")

	// samples: sample-type "1" (speed, km/h), recording-rate 5, 27 values.
	sp := a.MovementData.SpeedSamples
	eq(t, "speed samples", len(sp), 27)
	eq(t, "speed 0 time", val(t, "ts", sp[0].Timestamp), "2008-10-13T10:40:02.000000+03:00")
	eq(t, "speed 0", val(t, "speed", sp[0].SpeedMetersPerSecond), 0)
	eq(t, "speed 1 time", val(t, "ts", sp[1].Timestamp), "2008-10-13T10:40:07.000000+03:00")
	eq(t, "speed 1", val(t, "speed", sp[1].SpeedMetersPerSecond), 100.0/3.6) // "100" km/h
	eq(t, "speed 26 time", val(t, "ts", sp[26].Timestamp), "2008-10-13T10:42:12.000000+03:00")
	eq(t, "speed 26", val(t, "speed", sp[26].SpeedMetersPerSecond), 122.0/3.6) // last value "122"
	if a.HeartRateData.Detailed != nil {
		t.Error("a speed series became heart-rate samples")
	}

	// route: latitude 60.21982833, longitude 25.13925, time PT210.026S
	pos := a.PositionData.PositionSamples
	eq(t, "route points", len(pos), 1)
	eq(t, "route time", val(t, "ts", pos[0].Timestamp), "2008-10-13T10:43:32.026000+03:00")
	eq(t, "lat", pos[0].CoordsLatLngDeg[0], 60.21982833)
	eq(t, "lng", pos[0].CoordsLatLngDeg[1], 25.13925)
	eq(t, "start pos", a.PositionData.StartPosLatLngDeg[0], 60.21982833)

	if string(rec.Raw) != string(raw) {
		t.Error("Raw is not the exercise as received")
	}
	if len(m.problems) != 0 {
		t.Errorf("unexpected notes: %+v", m.problems)
	}
}

// TestExercisesList maps the one item of exercises_list.json; it is the
// same exercise as exercise_get.json.
func TestExercisesList(t *testing.T) {
	var items []json.RawMessage
	if err := json.Unmarshal(fixture(t, "exercises_list.json"), &items); err != nil {
		t.Fatal(err)
	}
	eq(t, "items", len(items), 1)
	rec, err := newMapper().exercise(items[0])
	if err != nil {
		t.Fatal(err)
	}
	validate(t, rec)
	a := rec.Data.(*model.Activity)
	eq(t, "Key", rec.Key, "2AC312F")                                               // id
	eq(t, "start_time", a.Metadata.StartTime, "2008-10-13T10:40:02.000000+03:00")  // start_time, +180 min
	eq(t, "calories", val(t, "calories", a.CaloriesData.TotalBurnedCalories), 530) // calories
	eq(t, "speed samples", len(a.MovementData.SpeedSamples), 27)                   // samples[0].data
	eq(t, "zone", val(t, "zone", a.HeartRateData.Summary.HrZoneData[0].Zone), 1)   // heart_rate_zones[0].index

	var h exerciseHead
	if err := json.Unmarshal(items[0], &h); err != nil {
		t.Fatal(err)
	}
	eq(t, "polar user", polarUserID(h.PolarUser), "1") // polar_user .../v3/users/1
}

// TestExerciseSamplesDeprecated reads exercise_samples_deprecated.json, the
// sample series of the deprecated exercise transactions, with the same
// decoder: speed (type "1") every 5 s.
func TestExerciseSamplesDeprecated(t *testing.T) {
	var s exerciseSample
	if err := json.Unmarshal(fixture(t, "exercise_samples_deprecated.json"), &s); err != nil {
		t.Fatal(err)
	}
	eq(t, "type", rawIDOrString(s.SampleType), sampleSpeed) // sample-type "1"
	start := time.Date(2008, 10, 13, 10, 40, 2, 0, zone(3*3600))
	pts, err := s.points(start)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "points", len(pts), 27)
	eq(t, "point 3 time", pts[3].t.Sub(start), 15*time.Second) // recording-rate 5
	eq(t, "point 3", pts[3].v, 97)                             // data: 0,100,102,97,...
	eq(t, "point 26", pts[26].v, 122)
}

// TestExerciseSampleKinds maps the other series and skips nulls; an unknown
// sample type is noted once and the exercise kept.
func TestExerciseSampleKinds(t *testing.T) {
	raw := json.RawMessage(`{"id":"X1","start_time":"2024-03-31T01:30:00","start_time_utc_offset":60,"duration":"PT1M",
		"device":"Polar Vantage V3","sport":"RUNNING","detailed_sport_info":"TRAIL_RUNNING",
		"samples":[
			{"recording-rate":1,"sample-type":"0","data":"120,null,122"},
			{"recording-rate":2,"sample-type":"3","data":"10.5,11"},
			{"recording-rate":1,"sample-type":4,"data":"200"},
			{"recording-rate":1,"sample-type":"10","data":"0,3.5"},
			{"recording-rate":1,"sample-type":"2","data":"80"},
			{"recording-rate":null,"sample-type":"11","data":"800,null,810"},
			{"recording-rate":1,"sample-type":"42","data":"1"},
			{"recording-rate":1,"sample-type":"43","data":"1"},
			{"recording-rate":1,"sample-type":"43","data":"1"},
			{"recording-rate":1,"sample-type":"0","data":"1,x"}
		]}`)
	m := newMapper()
	rec, err := m.exercise(raw)
	if err != nil {
		t.Fatal(err)
	}
	validate(t, rec)
	a := rec.Data.(*model.Activity)
	eq(t, "type", a.Metadata.Type, model.ActivityTypeTrailRunning)
	hr := a.HeartRateData.Detailed.HrSamples
	eq(t, "hr samples", len(hr), 2) // the null is skipped; the broken series is left out
	eq(t, "hr 2 time", val(t, "ts", hr[1].Timestamp), "2024-03-31T01:30:02.000000+01:00")
	eq(t, "elevation", len(a.DistanceData.Detailed.ElevationSamples), 2)
	eq(t, "elevation 2 time", val(t, "ts", a.DistanceData.Detailed.ElevationSamples[1].Timestamp), "2024-03-31T01:30:02.000000+01:00")
	eq(t, "power", val(t, "watts", a.PowerData.PowerSamples[0].Watts), 200)
	eq(t, "distance", val(t, "m", a.DistanceData.Detailed.DistanceSamples[1].DistanceMeters), 3.5)
	eq(t, "cadence", val(t, "rpm", a.MovementData.CadenceSamples[0].CadenceRpm), 80)
	// Notes: 42 and 43 once each, and the series with "x".
	eq(t, "notes", len(m.problems), 3)
	for _, p := range m.problems {
		if string(p.Raw) != string(raw) {
			t.Error("note without the raw exercise")
		}
	}
}

func TestExerciseUnknownSport(t *testing.T) {
	m := newMapper()
	rec, err := m.exercise(json.RawMessage(`{"id":"X2","start_time":"2024-01-01T10:00:00","start_time_utc_offset":-300,"duration":"PT30M","sport":"UNDERWATER_HOCKEY"}`))
	if err != nil {
		t.Fatal(err)
	}
	validate(t, rec)
	a := rec.Data.(*model.Activity)
	eq(t, "type", a.Metadata.Type, model.ActivityTypeOther)
	eq(t, "upload", a.Metadata.UploadType, model.UploadTypeUnknown) // no device
	eq(t, "start", a.Metadata.StartTime, "2024-01-01T10:00:00.000000-05:00")
	eq(t, "notes", len(m.problems), 1)
	if !strings.Contains(m.problems[0].Err, "UNDERWATER_HOCKEY") {
		t.Errorf("note %q does not name the value", m.problems[0].Err)
	}
}

func TestExerciseBadItems(t *testing.T) {
	for name, raw := range map[string]string{
		"not json":     `{"id":`,
		"no id":        `{"start_time":"2024-01-01T10:00:00","start_time_utc_offset":0,"duration":"PT1M"}`,
		"no offset":    `{"id":"a","start_time":"2024-01-01T10:00:00","duration":"PT1M"}`,
		"odd offset":   `{"id":"a","start_time":"2024-01-01T10:00:00","start_time_utc_offset":1.5,"duration":"PT1M"}`,
		"huge offset":  `{"id":"a","start_time":"2024-01-01T10:00:00","start_time_utc_offset":100000,"duration":"PT1M"}`,
		"bad start":    `{"id":"a","start_time":"yesterday","start_time_utc_offset":0,"duration":"PT1M"}`,
		"bad duration": `{"id":"a","start_time":"2024-01-01T10:00:00","start_time_utc_offset":0,"duration":"2 hours"}`,
		"bad zone":     `{"id":"a","start_time":"2024-01-01T10:00:00","start_time_utc_offset":0,"duration":"PT1M","heart_rate_zones":[{"index":0,"in-zone":"4s"}]}`,
		"bad route":    `{"id":"a","start_time":"2024-01-01T10:00:00","start_time_utc_offset":0,"duration":"PT1M","route":[{"latitude":1,"longitude":2,"time":"soon"}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := newMapper().exercise(json.RawMessage(raw)); err == nil {
				t.Error("no error")
			}
		})
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"PT2H44M", 2*time.Hour + 44*time.Minute, true},             // exercise duration
		{"PT4S", 4 * time.Second, true},                             // heart_rate_zones in-zone
		{"PT210.026S", 210*time.Second + 26*time.Millisecond, true}, // route time
		{"PT18H23M30S", 18*time.Hour + 23*time.Minute + 30*time.Second, true},
		{"P1DT2H", 26 * time.Hour, true},
		{"PT0S", 0, true},
		{"P1M", 0, false}, // months have no fixed length
		{"P1Y", 0, false},
		{"PT", 0, false},
		{"P", 0, false},
		{"PT-5S", 0, false},
		{"PT5", 0, false},
		{"T5S", 0, false},
		{"PT1e3S", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		got, err := parseDuration(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}
