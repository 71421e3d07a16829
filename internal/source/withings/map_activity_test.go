package withings

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
)

const fileWorkouts = "workouts_getworkouts.json"

func mapWorkout(t *testing.T, raw json.RawMessage) (model.Record, *model.Activity, *mapper) {
	t.Helper()
	m := newMapper(New(Config{}))
	rec, err := m.workout(raw)
	if err != nil {
		t.Fatal(err)
	}
	Validate(t, rec)
	if string(rec.Raw) != string(raw) {
		t.Error("Raw is not the workout as received")
	}
	return rec, rec.Data.(*model.Activity), m
}

// TestWorkoutFixture maps workouts of workouts_getworkouts.json (all
// category 1 "Walk", model 1055 Google Fit, attrib 0, Europe/Amsterdam).
func TestWorkoutFixture(t *testing.T) {
	series := fixtureList(t, fileWorkouts, "series")
	Eq(t, "series entries", len(series), 11)

	t.Run("full data", func(t *testing.T) {
		rec, a, m := mapWorkout(t, fixtureItem(t, series, "id", "3661300277"))
		Eq(t, "Key", rec.Key, "3661300277")
		Eq(t, "Day", rec.Day, "2023-08-29")
		// startdate 1693336011 = 2023-08-29T19:06:51Z, enddate 1693336513 (502 s later), CEST.
		Eq(t, "Start", rec.Start.UTC(), time.Date(2023, 8, 29, 19, 6, 51, 0, time.UTC))
		Eq(t, "End", rec.End.Sub(rec.Start), 502*time.Second)
		Eq(t, "start_time", a.Metadata.StartTime, "2023-08-29T21:06:51.000000+02:00")
		Eq(t, "end_time", a.Metadata.EndTime, "2023-08-29T21:15:13.000000+02:00")
		Eq(t, "summary_id", a.Metadata.SummaryId, "3661300277")
		Eq(t, "type", a.Metadata.Type, model.ActivityTypeWalking)                // category 1
		Eq(t, "name", Val(t, "name", a.Metadata.Name), "Walk")                   // category 1
		Eq(t, "upload", a.Metadata.UploadType, model.UploadTypeThirdPartyUpload) // model 1055 GoogleFit tracker
		// calories 47 measured; manual_calories 70 only stands in for a missing value.
		Eq(t, "active kcal", Val(t, "kcal", a.CaloriesData.NetActivityCalories), 47)
		if a.CaloriesData.TotalBurnedCalories != nil {
			t.Error("active kcal reported as total")
		}
		sum := a.DistanceData.Summary
		Eq(t, "distance", Val(t, "distance", sum.DistanceMeters), 680) // distance (manual_distance 60 ignored)
		Eq(t, "steps", Val(t, "steps", sum.Steps), 779)
		Eq(t, "floors", Val(t, "floors", sum.FloorsClimbed), 10) // elevation
		hr := a.HeartRateData.Summary
		Eq(t, "hr avg", Val(t, "avg", hr.AvgHrBpm), 80)
		Eq(t, "hr min", Val(t, "min", hr.MinHrBpm), 70)
		Eq(t, "hr max", Val(t, "max", hr.MaxHrBpm), 80)
		Eq(t, "zones", len(hr.HrZoneData), 4)
		for i, want := range []float64{100, 200, 300, 400} { // hr_zone_0 .. hr_zone_3
			Eq(t, "zone index", Val(t, "zone", hr.HrZoneData[i].Zone), i)
			Eq(t, "zone seconds", Val(t, "seconds", hr.HrZoneData[i].DurationSeconds), want)
		}
		Eq(t, "zone 0 name", Val(t, "name", hr.HrZoneData[0].Name), "light")
		Eq(t, "spo2", Val(t, "spo2", a.OxygenData.AvgSaturationPercentage), 15) // spo2_average
		Eq(t, "problems", len(m.problems), 0)
	})
	t.Run("no data", func(t *testing.T) {
		_, a, _ := mapWorkout(t, fixtureItem(t, series, "id", "3661300290"))
		Eq(t, "start_time", a.Metadata.StartTime, "2023-08-31T10:08:27.000000+02:00") // startdate 1693469307
		Eq(t, "end_time", a.Metadata.EndTime, "2023-08-31T10:18:44.000000+02:00")     // enddate 1693469924
		if a.CaloriesData != nil || a.DistanceData != nil || a.HeartRateData != nil || a.OxygenData != nil {
			t.Errorf("values invented for a workout with no data: %+v", a)
		}
	})
	t.Run("zero heart rate is no heart rate", func(t *testing.T) {
		_, a, _ := mapWorkout(t, fixtureItem(t, series, "id", "3661300269"))
		Eq(t, "active kcal", Val(t, "kcal", a.CaloriesData.NetActivityCalories), 82)
		Eq(t, "distance", Val(t, "distance", a.DistanceData.Summary.DistanceMeters), 1294)
		Eq(t, "steps", Val(t, "steps", a.DistanceData.Summary.Steps), 1450)
		Eq(t, "floors", Val(t, "floors", a.DistanceData.Summary.FloorsClimbed), 18)
		if a.HeartRateData != nil {
			t.Errorf("heart rate from hr_* = 0: %+v", a.HeartRateData.Summary)
		}
		if a.OxygenData != nil {
			t.Error("spo2 from spo2_average null")
		}
	})
	t.Run("every entry maps", func(t *testing.T) {
		m := newMapper(New(Config{}))
		keys := map[string]int{}
		for _, it := range series {
			rec, err := m.workout(it)
			if err != nil {
				t.Fatal(err)
			}
			Validate(t, rec)
			keys[rec.Key]++
		}
		Eq(t, "distinct ids", len(keys), 10)
		Eq(t, "3752609174 listed twice", keys["3752609174"], 2)
		Eq(t, "problems", len(m.problems), 0)
	})
}

func TestWorkoutQuirks(t *testing.T) {
	const base = `"timezone":"Europe/Paris","startdate":1594245600,"enddate":1594249200,"date":"2020-07-09"`
	tests := []struct {
		name    string
		raw     string
		problem string
		check   func(t *testing.T, a *model.Activity)
	}{
		{
			name: "manual workout uses manual values",
			raw:  `{"id":1,"category":2,"attrib":2,` + base + `,"data":{"calories":0,"manual_calories":300,"manual_distance":5000}}`,
			check: func(t *testing.T, a *model.Activity) {
				Eq(t, "type", a.Metadata.Type, model.ActivityTypeRunning)
				Eq(t, "upload", a.Metadata.UploadType, model.UploadTypeManual)
				Eq(t, "kcal", Val(t, "kcal", a.CaloriesData.NetActivityCalories), 300)
				Eq(t, "distance", Val(t, "distance", a.DistanceData.Summary.DistanceMeters), 5000)
			},
		},
		{
			name: "device workout", raw: `{"id":2,"category":7,"attrib":0,"model":93,` + base + `,"data":{"pool_laps":40,"strokes":800,"pool_length":25}}`,
			check: func(t *testing.T, a *model.Activity) {
				Eq(t, "type", a.Metadata.Type, model.ActivityTypeSwimming)
				Eq(t, "upload", a.Metadata.UploadType, model.UploadTypeAutomatic)
				sw := a.DistanceData.Summary.Swimming
				Eq(t, "laps", Val(t, "laps", sw.NumLaps), 40)
				Eq(t, "strokes", Val(t, "strokes", sw.NumStrokes), 800)
				Eq(t, "pool", Val(t, "pool", sw.PoolLengthMeters), 25)
			},
		},
		{
			name: "unknown category is kept as Other and reported", problem: "workout.category: unknown value 9999",
			raw: `{"id":3,"category":9999,"attrib":0,` + base + `,"data":{}}`,
			check: func(t *testing.T, a *model.Activity) {
				Eq(t, "type", a.Metadata.Type, model.ActivityTypeOther)
				Eq(t, "name", Val(t, "name", a.Metadata.Name), "category 9999")
			},
		},
		{
			name: "unknown attrib is reported", problem: "workout.attrib: unknown value 42",
			raw: `{"id":4,"category":1,"attrib":42,` + base + `,"data":{}}`,
			check: func(t *testing.T, a *model.Activity) {
				Eq(t, "upload", a.Metadata.UploadType, model.UploadTypeUnknown)
			},
		},
		{
			name: "id as a string", raw: `{"id":"5","category":28,"attrib":7,` + base + `,"data":{}}`,
			check: func(t *testing.T, a *model.Activity) {
				Eq(t, "summary_id", a.Metadata.SummaryId, "5")
				Eq(t, "type", a.Metadata.Type, model.ActivityTypeYoga)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, a, m := mapWorkout(t, json.RawMessage(tt.raw))
			if tt.problem == "" {
				Eq(t, "problems", len(m.problems), 0)
			} else if len(m.problems) != 1 || !strings.Contains(m.problems[0].Err, tt.problem) {
				t.Errorf("problems = %+v, want one with %q", m.problems, tt.problem)
			}
			tt.check(t, a)
		})
	}
}

func TestWorkoutErrors(t *testing.T) {
	for _, raw := range []string{
		`{"category":1,"startdate":1,"enddate":2,"date":"2020-01-01","data":{}}`,
		`{"id":1,"category":1,"startdate":1594245600,"enddate":1594249200,"date":"","data":{}}`,
		`{"id":1,"category":1,"startdate":0,"enddate":1594249200,"date":"2020-07-09","data":{}}`,
		`{"id":1,"category":1,"startdate":1594245600,"enddate":1594249200,"date":"2020-07-09","data":[]}`,
	} {
		if _, err := newMapper(New(Config{})).workout(json.RawMessage(raw)); err == nil {
			t.Errorf("no error for %s", raw)
		}
	}
}
