package fitbit

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
)

// mapDayActivities maps the logged activities of a recorded day summary as
// the activity pull does.
func mapDayActivities(t *testing.T, m *mapper, body []byte) ([]model.Record, []error) {
	t.Helper()
	act, err := decodeActivitiesDay(body)
	if err != nil {
		t.Fatal(err)
	}
	named := map[string]int{}
	for _, it := range act.Activities {
		var h struct {
			Name string `json:"name"`
		}
		if json.Unmarshal(it, &h) == nil {
			named[h.Name]++
		}
	}
	var recs []model.Record
	var errs []error
	for _, it := range act.Activities {
		rec, err := m.activity(it, act.Summary.distances(), named)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		recs = append(recs, rec)
	}
	return recs, errs
}

// TestActivityFixture maps the three logged activities of
// activities_date_multiple.json in Los Angeles (PDT, -07:00, in June).
func TestActivityFixture(t *testing.T) {
	m := newMapper(zoneOf(t, "America/Los_Angeles"))
	recs, errs := mapDayActivities(t, m, fixture(t, "activities_date_multiple.json"))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	eq(t, "activities", len(recs), 3)
	tests := []struct {
		key, name  string
		typ        model.ActivityType
		start, end string
		startUTC   time.Time
		calories   *float64
		meters     float64
		steps      int
	}{
		// activities[0]: logId 253202765 "Run", startTime 11:55,
		// duration 1440000 ms, calories 150, distance 6.43738 km,
		// steps 6761.
		{"253202765", "Run", model.ActivityTypeRunning,
			"2015-06-23T11:55:00.000000-07:00", "2015-06-23T12:19:00.000000-07:00",
			time.Date(2015, 6, 23, 18, 55, 0, 0, time.UTC), ptr(150.0), 6437.38, 6761},
		// activities[1]: logId 253246706 "Swimming", startTime 10:00,
		// no duration, calories or distance; summary.distances
		// "Swimming" 3.21869 km; steps 0.
		{"253246706", "Swimming", model.ActivityTypeSwimming,
			"2015-06-23T10:00:00.000000-07:00", "2015-06-23T10:00:00.000000-07:00",
			time.Date(2015, 6, 23, 17, 0, 0, 0, time.UTC), nil, 3218.69, 0},
		// activities[2]: logId 253202766 "Walk", startTime 15:00
		// (hasStartTime false), duration 3600000 ms, calories 200,
		// distance 6.43738 km, steps 8481.
		{"253202766", "Walk", model.ActivityTypeWalking,
			"2015-06-23T15:00:00.000000-07:00", "2015-06-23T16:00:00.000000-07:00",
			time.Date(2015, 6, 23, 22, 0, 0, 0, time.UTC), ptr(200.0), 6437.38, 8481},
	}
	for i, tt := range tests {
		rec := recs[i]
		validate(t, rec)
		eq(t, "type", rec.Type, model.TypeActivity)
		eq(t, "key", rec.Key, tt.key)
		eq(t, "day (startDate)", rec.Day, "2015-06-23")
		if !rec.Start.Equal(tt.startUTC) {
			t.Errorf("%s: Start = %v, want %v", tt.key, rec.Start.UTC(), tt.startUTC)
		}
		a := rec.Data.(*model.Activity)
		eq(t, tt.key+" start_time", a.Metadata.StartTime, tt.start)
		eq(t, tt.key+" end_time", a.Metadata.EndTime, tt.end)
		eq(t, tt.key+" summary_id", a.Metadata.SummaryId, tt.key)
		eq(t, tt.key+" name", val(t, "name", a.Metadata.Name), tt.name)
		eq(t, tt.key+" activity type", a.Metadata.Type, tt.typ)
		eq(t, tt.key+" upload type (no logType)", a.Metadata.UploadType, model.UploadTypeUnknown)
		if tt.calories == nil {
			if a.CaloriesData != nil {
				t.Errorf("%s: calories %+v, want none", tt.key, a.CaloriesData)
			}
		} else {
			eq(t, tt.key+" calories", val(t, "calories", a.CaloriesData.TotalBurnedCalories), *tt.calories)
		}
		near(t, tt.key+" meters", val(t, "meters", a.DistanceData.Summary.DistanceMeters), tt.meters)
		eq(t, tt.key+" steps", val(t, "steps", a.DistanceData.Summary.Steps), tt.steps)
	}
	eq(t, "problems", len(m.problems), 0)
}

// TestActivityEmptyFixture: activities_date_empty.json has no logged
// activity.
func TestActivityEmptyFixture(t *testing.T) {
	recs, errs := mapDayActivities(t, newMapper(zoneOf(t, "UTC")), fixture(t, "activities_date_empty.json"))
	eq(t, "activities", len(recs), 0)
	eq(t, "errors", len(errs), 0)
}

func TestActivityQuirks(t *testing.T) {
	m := newMapper(zoneOf(t, "Europe/Berlin"))
	two := map[string]int{"Swimming": 2}
	dists := activityDistances{"Swimming": 1.5}

	// Two swims on one day: the summary's per-name distance is theirs
	// together, so neither gets it.
	rec, err := m.activity(json.RawMessage(`{"logId":7,"name":"Swimming","startDate":"2024-03-31","startTime":"09:30"}`), dists, two)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Data.(*model.Activity).DistanceData != nil {
		t.Error("distance given to one of two swims")
	}
	// Berlin moved to +02:00 at 02:00 that morning.
	eq(t, "start_time", rec.Data.(*model.Activity).Metadata.StartTime, "2024-03-31T09:30:00.000000+02:00")

	// Unknown activity names and log types are kept and reported once;
	// a known parent name is used when the name is not known.
	for i, raw := range []string{
		`{"logId":8,"name":"Underwater Hockey","startDate":"2024-04-01","startTime":"10:00:00","duration":600000}`,
		`{"logId":9,"name":"Underwater Hockey","startDate":"2024-04-02","startTime":"10:00","logType":"telepathy"}`,
		`{"logId":10,"name":"Evening jog","activityParentName":"Run","startDate":"2024-04-02","startTime":"19:00","logType":"manual"}`,
	} {
		rec, err := m.activity(json.RawMessage(raw), nil, nil)
		if err != nil {
			t.Fatal(i, err)
		}
		validate(t, rec)
		want := model.ActivityTypeOther
		if i == 2 {
			want = model.ActivityTypeRunning
			eq(t, "upload type", rec.Data.(*model.Activity).Metadata.UploadType, model.UploadTypeManual)
		}
		eq(t, "activity type", rec.Data.(*model.Activity).Metadata.Type, want)
	}
	eq(t, "problems (name once, logType once)", len(m.problems), 2)

	for _, tt := range []struct{ raw, want string }{
		{`{"logId":1,"startDate":"2024-04-02","startTime":"25:00","name":"Run"}`, "startTime"},
		{`{"logId":1,"startDate":"","startTime":"10:00","name":"Run"}`, "startDate"},
		{`{"logId":-1,"startDate":"2024-04-02","startTime":"10:00","name":"Run"}`, "unsigned"},
		{`{"logId":1,"startDate":"2024-04-02","startTime":"10:00","name":"Run","duration":-5}`, "duration"},
		{`[1,2]`, "decode"},
	} {
		if _, err := m.activity(json.RawMessage(tt.raw), nil, nil); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want one saying %q", tt.raw, err, tt.want)
		}
	}
}
