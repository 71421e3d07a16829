package strava

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/wearbridge/wearbridge/internal/model"
)

// act builds an activity JSON from a base and extra fields.
func act(extra string) json.RawMessage {
	base := `"id":7,"name":"t","type":"Ride","sport_type":"Ride","start_date":"2024-03-10T06:59:59Z","start_date_local":"2024-03-10T01:59:59Z","elapsed_time":600`
	if extra != "" {
		base += "," + extra
	}
	return json.RawMessage("{" + base + "}")
}

// TestWorkIsNotCalories: kilojoules is mechanical work and goes to
// work_data; calories (kcal) to calories_data; neither feeds the other.
func TestWorkIsNotCalories(t *testing.T) {
	tests := []struct {
		name           string
		extra          string
		work, calories *float64
	}{
		{"work only", `"kilojoules":520.3`, ptr(520.3), nil},
		{"both", `"kilojoules":520.3,"calories":600`, ptr(520.3), ptr(600.0)},
		{"calories only", `"calories":600`, nil, ptr(600.0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, _ := mapOne(t, fetched{activity: act(tt.extra)})
			Validate(t, rec)
			a := rec.Data.(*model.Activity)
			if tt.work == nil {
				if a.WorkData != nil {
					t.Errorf("work_data = %+v", a.WorkData)
				}
			} else {
				approx(t, "work kJ", a.WorkData.WorkKilojoules, *tt.work)
			}
			if tt.calories == nil {
				if a.CaloriesData != nil {
					t.Errorf("calories_data = %+v", a.CaloriesData)
				}
			} else {
				approx(t, "kcal", a.CaloriesData.TotalBurnedCalories, *tt.calories)
			}
			if a.EnergyData != nil {
				t.Errorf("energy_data = %+v: work is not energy expended", a.EnergyData)
			}
		})
	}
}

// TestStreamSamples: every stream becomes samples at start + time[i],
// shown in the start's offset even across a DST change (2024-03-10 02:00
// in New York), with nulls and empty positions skipped.
func TestStreamSamples(t *testing.T) {
	streams := []byte(`{
		"time": {"data": [0, 1, 3], "series_type": "distance", "original_size": 3, "resolution": "high"},
		"heartrate": {"data": [120, null, 125]},
		"latlng": {"data": [[40.1, -73.9], [40.2, -73.8], []]},
		"distance": {"data": [0, 2.5, 7.0]},
		"altitude": {"data": [10, 10.4, 11]},
		"watts": {"data": [200, 210, 205]},
		"cadence": {"data": [80, 81, 82]},
		"velocity_smooth": {"data": [0, 2.5, 2.25]},
		"moving": {"data": [false, true, true]}
	}`)
	rec, probs := mapOne(t, fetched{activity: act(`"average_watts":205,"max_watts":210`), streams: streams})
	if len(probs) != 0 {
		t.Errorf("problems: %+v", probs)
	}
	Validate(t, rec)
	a := rec.Data.(*model.Activity)
	ts := []string{"2024-03-10T01:59:59.000000-05:00", "2024-03-10T02:00:00.000000-05:00", "2024-03-10T02:00:02.000000-05:00"}

	hr := a.HeartRateData.Detailed.HrSamples
	Eq(t, "hr samples", len(hr), 2)
	Eq(t, "hr[0] time", Val(t, "ts", hr[0].Timestamp), ts[0])
	Eq(t, "hr[1] time", Val(t, "ts", hr[1].Timestamp), ts[2])
	approx(t, "hr[1]", hr[1].Bpm, 125)

	pos := a.PositionData.PositionSamples
	Eq(t, "positions", len(pos), 2)
	Eq(t, "pos[1]", [2]float64(pos[1].CoordsLatLngDeg), [2]float64{40.2, -73.8})
	Eq(t, "pos[1] time", Val(t, "ts", pos[1].Timestamp), ts[1])

	d := a.DistanceData.Detailed
	Eq(t, "distance samples", len(d.DistanceSamples), 3)
	approx(t, "distance[2]", d.DistanceSamples[2].DistanceMeters, 7.0)
	Eq(t, "distance[2] time", Val(t, "ts", d.DistanceSamples[2].Timestamp), ts[2])
	Eq(t, "elevation samples", len(d.ElevationSamples), 3)
	approx(t, "elevation[1]", d.ElevationSamples[1].ElevMeters, 10.4)

	Eq(t, "power samples", len(a.PowerData.PowerSamples), 3)
	approx(t, "watts[1]", a.PowerData.PowerSamples[1].Watts, 210)
	approx(t, "avg watts", a.PowerData.AvgWatts, 205)
	Eq(t, "cadence samples", len(a.MovementData.CadenceSamples), 3)
	approx(t, "cadence[2]", a.MovementData.CadenceSamples[2].CadenceRpm, 82)
	Eq(t, "speed samples", len(a.MovementData.SpeedSamples), 3)
	approx(t, "speed[2]", a.MovementData.SpeedSamples[2].SpeedMetersPerSecond, 2.25)
	if hr[0].TimerDurationSeconds != nil {
		t.Error("timer_duration_seconds set from elapsed time")
	}
}

func TestStreamShapes(t *testing.T) {
	tests := []struct {
		name      string
		streams   string
		hrSamples int
		problem   string // fragment of the one expected problem, "" for none
	}{
		{"list form", `[{"type":"time","data":[0,5]},{"type":"heartrate","data":[100,101]}]`, 2, ""},
		{"shorter stream", `{"time":{"data":[0,1,2]},"heartrate":{"data":[100,101]}}`, 2, "heartrate has 2 points but time has 3"},
		{"longer stream", `{"time":{"data":[0]},"heartrate":{"data":[100,101]}}`, 1, "only the first 1"},
		{"no time", `{"heartrate":{"data":[100,101]}}`, 0, "heartrate (2 points)"},
		{"not numbers", `{"time":{"data":[0,1]},"heartrate":{"data":["a","b"]}}`, 0, "heartrate is not a list of numbers"},
		{"not streams", `<html>oops</html>`, 0, "not a streams answer"},
		{"empty", `{}`, 0, ""},
		{"empty list", `[]`, 0, ""},
		{"only moving", `{"time":{"data":[0]},"moving":{"data":[true]}}`, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, probs := mapOne(t, fetched{activity: act(""), streams: []byte(tt.streams)})
			Validate(t, rec)
			a := rec.Data.(*model.Activity)
			n := 0
			if a.HeartRateData != nil && a.HeartRateData.Detailed != nil {
				n = len(a.HeartRateData.Detailed.HrSamples)
			}
			Eq(t, "hr samples", n, tt.hrSamples)
			if tt.problem == "" {
				if len(probs) != 0 {
					t.Errorf("problems: %+v", probs)
				}
				return
			}
			p := wantProblem(t, probs, tt.problem)
			if string(p.Raw) != tt.streams {
				t.Errorf("problem raw = %s", p.Raw)
			}
			if !json.Valid(rec.Raw) {
				t.Errorf("Raw is not JSON: %s", rec.Raw)
			}
		})
	}
}

func TestActivityTypes(t *testing.T) {
	tests := []struct {
		sport, typ string
		want       model.ActivityType
		unknown    []string
	}{
		{"Run", "Run", model.ActivityTypeRunning, nil},
		{"MountainBikeRide", "Ride", model.ActivityTypeMountainBiking, nil},
		{"", "Ride", model.ActivityTypeBiking, nil},
		{"VirtualRide", "VirtualRide", model.ActivityTypeStationaryBiking, nil},
		{"WeightTraining", "WeightTraining", model.ActivityTypeStrengthTraining, nil},
		{"Pickleball", "Workout", model.ActivityTypeOther, nil},
		{"Quidditch", "Ride", model.ActivityTypeBiking, []string{"sport_type=Quidditch"}},
		{"Quidditch", "Broom", model.ActivityTypeOther, []string{"sport_type=Quidditch", "type=Broom"}},
		{"", "", model.ActivityTypeUnknown, []string{"no sport_type or type"}},
	}
	for _, tt := range tests {
		got, unknown := activityType(tt.sport, tt.typ)
		Eq(t, tt.sport+"/"+tt.typ, got, tt.want)
		Eq(t, tt.sport+"/"+tt.typ+" unknown", strings.Join(unknown, " "), strings.Join(tt.unknown, " "))
	}
}

// TestUnknownSportReportedOnce: an unknown sport_type keeps the record
// (as Other) and is reported once per pull, with the raw activity.
func TestUnknownSportReportedOnce(t *testing.T) {
	m := newMapper()
	for i := range 2 {
		raw := json.RawMessage(strings.Replace(string(act("")), `"type":"Ride","sport_type":"Ride"`, `"type":"Broom","sport_type":"Quidditch"`, 1))
		rec, err := m.activity(fetched{activity: raw})
		if err != nil {
			t.Fatal(err)
		}
		Eq(t, "type", rec.Data.(*model.Activity).Metadata.Type, model.ActivityTypeOther)
		if i == 0 && len(m.problems) != 2 {
			t.Fatalf("problems after the first: %+v", m.problems)
		}
	}
	Eq(t, "problems", len(m.problems), 2)
	for _, p := range m.problems {
		if !strings.Contains(string(p.Raw), "Quidditch") {
			t.Errorf("problem raw = %s", p.Raw)
		}
	}
}

func TestActivityFields(t *testing.T) {
	tests := []struct {
		name   string
		raw    string
		check  func(t *testing.T, a *model.Activity)
		notes  int
		errMsg string
	}{
		{"manual", `{"id":1,"type":"Run","start_date":"2024-01-01T10:00:00Z","start_date_local":"2024-01-01T11:00:00Z","elapsed_time":60,"manual":true,"start_latlng":[],"end_latlng":null}`,
			func(t *testing.T, a *model.Activity) {
				Eq(t, "upload", a.Metadata.UploadType, model.UploadTypeManual)
				Eq(t, "start", a.Metadata.StartTime, "2024-01-01T11:00:00.000000+01:00")
				if a.PositionData != nil {
					t.Errorf("position from empty latlng: %+v", a.PositionData)
				}
			}, 0, ""},
		{"utc_offset only", `{"id":2,"type":"Run","start_date":"2024-01-01T10:00:00Z","utc_offset":19800,"elapsed_time":60}`,
			func(t *testing.T, a *model.Activity) {
				Eq(t, "start", a.Metadata.StartTime, "2024-01-01T15:30:00.000000+05:30")
				Eq(t, "upload", a.Metadata.UploadType, model.UploadTypeUnknown)
			}, 0, ""},
		{"no local time", `{"id":3,"type":"Run","start_date":"2024-01-01T10:00:00Z","elapsed_time":60}`,
			func(t *testing.T, a *model.Activity) {
				Eq(t, "start", a.Metadata.StartTime, "2024-01-01T10:00:00.000000+00:00")
			}, 1, ""},
		{"local time and utc_offset disagree: local wins", `{"id":4,"type":"Run","start_date":"2024-01-01T10:00:00Z","start_date_local":"2024-01-01T12:00:00Z","utc_offset":3600,"elapsed_time":60}`,
			func(t *testing.T, a *model.Activity) {
				Eq(t, "start", a.Metadata.StartTime, "2024-01-01T12:00:00.000000+02:00")
			}, 0, ""},
		{"moving time when no elapsed", `{"id":5,"type":"Run","start_date":"2024-01-01T10:00:00Z","start_date_local":"2024-01-01T10:00:00Z","moving_time":90}`,
			func(t *testing.T, a *model.Activity) {
				Eq(t, "end", a.Metadata.EndTime, "2024-01-01T10:01:30.000000+00:00")
			}, 0, ""},
		{"unknown fields", `{"id":6,"type":"Run","start_date":"2024-01-01T10:00:00Z","start_date_local":"2024-01-01T10:00:00Z","elapsed_time":1,"brand_new":{"x":[1,2]}}`,
			nil, 0, ""},
		{"no id", `{"type":"Run","start_date":"2024-01-01T10:00:00Z"}`, nil, 0, "no id"},
		{"bad start", `{"id":8,"type":"Run","start_date":"yesterday"}`, nil, 0, "bad start_date"},
		{"negative elapsed", `{"id":9,"type":"Run","start_date":"2024-01-01T10:00:00Z","elapsed_time":-5}`, nil, 0, "out of range"},
		{"not an object", `[1,2]`, nil, 0, "decode activity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMapper()
			rec, err := m.activity(fetched{activity: json.RawMessage(tt.raw)})
			if tt.errMsg != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errMsg) {
					t.Fatalf("err = %v, want %q", err, tt.errMsg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			Validate(t, rec)
			Eq(t, "notes", len(m.problems), tt.notes)
			if tt.check != nil {
				tt.check(t, rec.Data.(*model.Activity))
			}
		})
	}
}

func TestBadLapsKeepTheRest(t *testing.T) {
	laps := `[{"start_date":"2024-03-10T06:59:59Z","elapsed_time":60,"distance":100},{"start_date":"never"},"junk"]`
	rec, probs := mapOne(t, fetched{activity: act(""), laps: []byte(laps)})
	Validate(t, rec)
	a := rec.Data.(*model.Activity)
	if a.LapData == nil || len(a.LapData.Laps) != 1 {
		t.Fatalf("laps = %+v, want the good one", a.LapData)
	}
	Eq(t, "lap end", Val(t, "end", a.LapData.Laps[0].EndTime), "2024-03-10T02:00:59.000000-05:00")
	Eq(t, "problems", len(probs), 2)

	rec, probs = mapOne(t, fetched{activity: act(""), laps: []byte(`{"not":"a list"}`)})
	Validate(t, rec)
	wantProblem(t, probs, "not a list of laps")
}
