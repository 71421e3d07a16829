package fitbit

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
)

// dayOf decodes the pages of one day as the daily pull does.
func dayOf(t *testing.T, act, heart, steps []byte) dayParts {
	t.Helper()
	p := dayParts{actRaw: act, heartRaw: heart, stepsRaw: steps}
	var err error
	if p.act, err = decodeActivitiesDay(act); err != nil {
		t.Fatal(err)
	}
	if heart != nil {
		if p.heart, err = decodeHeartDay(heart); err != nil {
			t.Fatal(err)
		}
	}
	if steps != nil {
		if p.steps, err = decodeStepsDay(steps); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// TestDailySummaryFixtures maps the two recorded day summaries.
func TestDailySummaryFixtures(t *testing.T) {
	tests := []struct {
		file, day                        string
		start, end                       string
		steps                            int
		meters                           float64
		out, active, bmr                 float64
		sedentary, light, fair, vigorous float64
	}{
		{
			// summary: steps 15242, distances total 12.87 km, caloriesOut
			// 1218, activityCalories 150, caloriesBMR 1069, sedentary
			// 787, lightly 72, fairly 0, very 24 minutes. The day is the
			// activities' startDate, 2015-06-23 (PDT).
			file: "activities_date_multiple.json", day: "2015-06-23",
			start: "2015-06-23T00:00:00.000000-07:00", end: "2015-06-24T00:00:00.000000-07:00",
			steps: 15242, meters: 12870, out: 1218, active: 150, bmr: 1069,
			sedentary: 787, light: 72, fair: 0, vigorous: 24,
		},
		{
			// summary: steps 12517, total 8.56 km, caloriesOut 1892,
			// activityCalories 799, caloriesBMR 1240, sedentary 1260,
			// lightly 112, fairly 26, very 42. The file names no day; a
			// January day (PST) is used.
			file: "activities_date_empty.json", day: "2015-01-15",
			start: "2015-01-15T00:00:00.000000-08:00", end: "2015-01-16T00:00:00.000000-08:00",
			steps: 12517, meters: 8560, out: 1892, active: 799, bmr: 1240,
			sedentary: 1260, light: 112, fair: 26, vigorous: 42,
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			m := newMapper(zoneOf(t, "America/Los_Angeles"))
			rec, measured, err := m.daily(tt.day, dayOf(t, fixture(t, tt.file), nil, nil))
			if err != nil {
				t.Fatal(err)
			}
			if !measured {
				t.Error("a day with steps is not measured")
			}
			validate(t, rec)
			eq(t, "type", rec.Type, model.TypeDaily)
			eq(t, "key", rec.Key, tt.day)
			eq(t, "day", rec.Day, tt.day)
			d := rec.Data.(*model.Daily)
			eq(t, "start_time", d.Metadata.StartTime, tt.start)
			eq(t, "end_time", d.Metadata.EndTime, tt.end)
			eq(t, "steps", val(t, "steps", d.DistanceData.Steps), tt.steps)
			near(t, "meters", val(t, "meters", d.DistanceData.DistanceMeters), tt.meters)
			eq(t, "total calories", val(t, "out", d.CaloriesData.TotalBurnedCalories), tt.out)
			eq(t, "active calories", val(t, "active", d.CaloriesData.NetActivityCalories), tt.active)
			eq(t, "BMR", val(t, "bmr", d.CaloriesData.BMRCalories), tt.bmr)
			a := d.ActiveDurationsData
			eq(t, "inactivity s", val(t, "inactive", a.InactivitySeconds), tt.sedentary*60)
			eq(t, "low s", val(t, "low", a.LowIntensitySeconds), tt.light*60)
			eq(t, "moderate s", val(t, "moderate", a.ModerateIntensitySeconds), tt.fair*60)
			eq(t, "vigorous s", val(t, "vigorous", a.VigorousIntensitySeconds), tt.vigorous*60)
			eq(t, "activity s", val(t, "activity", a.ActivitySeconds), (tt.light+tt.fair+tt.vigorous)*60)
			eq(t, "MET low minutes", val(t, "met low", d.METData.NumLowIntensityMinutes), tt.light)
			if d.HeartRateData != nil {
				t.Errorf("heart rate without heart data: %+v", d.HeartRateData)
			}
			var raw dailyRaw
			if err := json.Unmarshal(rec.Raw, &raw); err != nil || string(raw.Activities) != string(bytes.TrimSpace(fixture(t, tt.file))) {
				t.Errorf("Raw does not keep the day summary: %v", err)
			}
		})
	}
}

// TestDailyIntradayFixtures maps the recorded intraday heart rate and
// steps of 2015-08-21 (PDT) onto a summary that has no steps.
func TestDailyIntradayFixtures(t *testing.T) {
	m := newMapper(zoneOf(t, "America/Los_Angeles"))
	summary := []byte(`{"activities":[],"summary":{"sedentaryMinutes":1440}}`)
	rec, measured, err := m.daily("2015-08-21", dayOf(t, summary, fixture(t, "heart_1d_1min_intraday.json"), fixture(t, "steps_1d_1min_intraday.json")))
	if err != nil {
		t.Fatal(err)
	}
	if !measured {
		t.Error("a day with heart rate samples is not measured")
	}
	validate(t, rec)
	d := rec.Data.(*model.Daily)
	eq(t, "start_time", d.Metadata.StartTime, "2015-08-21T00:00:00.000000-07:00")

	// activities-steps[0].value "3212" stands in for the summary's steps.
	eq(t, "steps", val(t, "steps", d.DistanceData.Steps), 3212)
	// activities-steps-intraday: 00:00:00 7, 14:27:00 0, 14:28:00 52,
	// datasetInterval 1 minute.
	wantSteps := []struct {
		at    string
		steps float64
	}{
		{"2015-08-21T00:00:00.000000-07:00", 7},
		{"2015-08-21T14:27:00.000000-07:00", 0},
		{"2015-08-21T14:28:00.000000-07:00", 52},
	}
	samples := d.DistanceData.Detailed.StepSamples
	eq(t, "step samples", len(samples), len(wantSteps))
	for i, w := range wantSteps {
		eq(t, "step time", val(t, "timestamp", samples[i].Timestamp), w.at)
		eq(t, "steps", val(t, "steps", samples[i].Steps), w.steps)
		eq(t, "step duration", val(t, "duration", samples[i].TimerDurationSeconds), 60)
	}

	// activities-heart-intraday: 00:01 64, 00:02 63, 00:03 64, 00:04 65,
	// 00:05 65.
	hr := d.HeartRateData
	wantHR := []float64{64, 63, 64, 65, 65}
	eq(t, "hr samples", len(hr.Detailed.HrSamples), len(wantHR))
	for i, w := range wantHR {
		eq(t, "bpm", val(t, "bpm", hr.Detailed.HrSamples[i].Bpm), w)
	}
	eq(t, "first hr time", val(t, "timestamp", hr.Detailed.HrSamples[0].Timestamp), "2015-08-21T00:01:00.000000-07:00")
	eq(t, "last hr time", val(t, "timestamp", hr.Detailed.HrSamples[4].Timestamp), "2015-08-21T00:05:00.000000-07:00")
	eq(t, "min", val(t, "min", hr.Summary.MinHrBpm), 63)
	eq(t, "max", val(t, "max", hr.Summary.MaxHrBpm), 65)
	// The old response shape: value "64.2" is not a resting heart rate.
	nilPtr(t, "resting", hr.Summary.RestingHrBpm)
	// heartRateZones: Out of Range 2 minutes, Fat Burn, Cardio and Peak 0.
	wantZones := []struct {
		name string
		zone int
		secs float64
	}{{"Out of Range", 0, 120}, {"Fat Burn", 1, 0}, {"Cardio", 2, 0}, {"Peak", 3, 0}}
	eq(t, "zones", len(hr.Summary.HrZoneData), len(wantZones))
	for i, w := range wantZones {
		z := hr.Summary.HrZoneData[i]
		eq(t, "zone name", val(t, "name", z.Name), w.name)
		eq(t, "zone", val(t, "zone", z.Zone), w.zone)
		eq(t, "zone seconds", val(t, "seconds", z.DurationSeconds), w.secs)
	}
	eq(t, "problems", len(m.problems), 0)
}

// TestDailyCurrentHeartShape reads the current response shape, with zones
// and the resting heart rate inside "value".
func TestDailyCurrentHeartShape(t *testing.T) {
	m := newMapper(zoneOf(t, "Europe/London"))
	heart := []byte(`{"activities-heart":[{"dateTime":"2024-07-01","value":{"customHeartRateZones":[{"name":"Easy","min":90,"max":120,"minutes":30}],
		"heartRateZones":[{"name":"Out of Range","minutes":1000},{"name":"Zone X","minutes":5}],"restingHeartRate":58}}],
		"activities-heart-intraday":{"dataset":[{"time":"12:00:00","value":70}],"datasetInterval":1,"datasetType":"minute"}}`)
	rec, measured, err := m.daily("2024-07-01", dayOf(t, []byte(`{"activities":[],"summary":{"steps":0}}`), heart, nil))
	if err != nil {
		t.Fatal(err)
	}
	validate(t, rec)
	if !measured {
		t.Error("not measured")
	}
	s := rec.Data.(*model.Daily).HeartRateData.Summary
	eq(t, "resting", val(t, "resting", s.RestingHrBpm), 58)
	eq(t, "zones (2 + 1 custom)", len(s.HrZoneData), 3)
	nilPtr(t, "custom zone number", s.HrZoneData[2].Zone)
	eq(t, "problems (unknown zone name)", len(m.problems), 1)
	eq(t, "sample time", *rec.Data.(*model.Daily).HeartRateData.Detailed.HrSamples[0].Timestamp, "2024-07-01T12:00:00.000000+01:00")
}

// TestDailyNothingMeasured: Fitbit's answer for a day without data is not
// a day of data.
func TestDailyNothingMeasured(t *testing.T) {
	m := newMapper(zoneOf(t, "UTC"))
	summary := []byte(`{"activities":[],"summary":{"activeScore":-1,"activityCalories":0,"caloriesBMR":1240,"caloriesOut":1240,
		"distances":[{"activity":"total","distance":0}],"fairlyActiveMinutes":0,"lightlyActiveMinutes":0,"sedentaryMinutes":1440,"steps":0,"veryActiveMinutes":0}}`)
	heart := []byte(`{"activities-heart":[{"dateTime":"2020-01-01","value":{"customHeartRateZones":[],"heartRateZones":[{"name":"Out of Range","minutes":0}]}}],
		"activities-heart-intraday":{"dataset":[],"datasetInterval":1,"datasetType":"minute"}}`)
	steps := []byte(`{"activities-steps":[{"dateTime":"2020-01-01","value":"0"}],"activities-steps-intraday":{"dataset":[{"time":"00:00:00","value":0}],"datasetInterval":1,"datasetType":"minute"}}`)
	rec, measured, err := m.daily("2020-01-01", dayOf(t, summary, heart, steps))
	if err != nil {
		t.Fatal(err)
	}
	if measured {
		t.Error("an empty day counts as measured")
	}
	validate(t, rec)
}

// TestDailySpringForward: the day that loses an hour is 23 hours long and
// shows its end in the offset of its start.
func TestDailySpringForward(t *testing.T) {
	m := newMapper(zoneOf(t, "America/Los_Angeles"))
	rec, _, err := m.daily("2015-03-08", dayOf(t, []byte(`{"activities":[],"summary":{"steps":10}}`), nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	d := rec.Data.(*model.Daily)
	eq(t, "start", d.Metadata.StartTime, "2015-03-08T00:00:00.000000-08:00")
	eq(t, "end", d.Metadata.EndTime, "2015-03-08T23:00:00.000000-08:00")
	eq(t, "length", rec.End.Sub(rec.Start), 23*time.Hour)
}
