package withings

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
)

const (
	fileActivity = "activity_getactivity.json"
	fileIntraday = "intraday_activity.json"
)

func mapDaily(t *testing.T, raw json.RawMessage, body json.RawMessage) (model.Record, *model.Daily, *mapper) {
	t.Helper()
	m := newMapper(New(Config{}))
	d, err := m.activityDay(raw)
	if err != nil {
		t.Fatal(err)
	}
	var samples []intradaySample
	if body != nil {
		if samples, err = m.intraday(body); err != nil {
			t.Fatal(err)
		}
	}
	rec, err := m.daily(d, samples)
	if err != nil {
		t.Fatal(err)
	}
	Validate(t, rec)
	return rec, rec.Data.(*model.Daily), m
}

// TestDailyActivityFixture maps every day of activity_getactivity.json
// (timezone America/Los_Angeles).
func TestDailyActivityFixture(t *testing.T) {
	days := fixtureList(t, fileActivity, "activities")
	Eq(t, "days", len(days), 4)
	tests := []struct {
		date                    string
		start, end              string
		steps                   int
		distance, kcal          float64
		soft, moderate, intense float64
	}{
		// PDT days; date, steps, distance, calories, soft, moderate, intense.
		{"2015-06-18", "2015-06-18T00:00:00.000000-07:00", "2015-06-19T00:00:00.000000-07:00", 2934, 2563, 139, 780, 540, 0},
		{"2015-06-19", "2015-06-19T00:00:00.000000-07:00", "2015-06-20T00:00:00.000000-07:00", 2600, 2387, 130, 600, 420, 120},
		{"2015-06-20", "2015-06-20T00:00:00.000000-07:00", "2015-06-21T00:00:00.000000-07:00", 5458, 4754, 241, 1980, 1140, 0},
		// A PST day, listed last in the answer.
		{"2015-02-21", "2015-02-21T00:00:00.000000-08:00", "2015-02-22T00:00:00.000000-08:00", 1798, 1666, 99, 480, 300, 60},
	}
	for _, tt := range tests {
		t.Run(tt.date, func(t *testing.T) {
			raw := fixtureItem(t, days, "date", `"`+tt.date+`"`)
			rec, d, m := mapDaily(t, raw, nil)
			Eq(t, "Key", rec.Key, tt.date)
			Eq(t, "Day", rec.Day, tt.date)
			Eq(t, "start_time", d.Metadata.StartTime, tt.start)
			Eq(t, "end_time", d.Metadata.EndTime, tt.end)
			Eq(t, "Start", model.FormatTime(rec.Start), tt.start)
			Eq(t, "upload", d.Metadata.UploadType, model.UploadTypeAutomatic)
			Eq(t, "steps", Val(t, "steps", d.DistanceData.Steps), tt.steps)
			Eq(t, "distance", Val(t, "distance", d.DistanceData.DistanceMeters), tt.distance)
			Eq(t, "floors", Val(t, "floors", d.DistanceData.FloorsClimbed), 0) // elevation 0
			Eq(t, "active kcal", Val(t, "kcal", d.CaloriesData.NetActivityCalories), tt.kcal)
			if d.CaloriesData.TotalBurnedCalories != nil {
				t.Error("total kcal invented (no totalcalories in the answer)")
			}
			Eq(t, "soft", Val(t, "soft", d.ActiveDurationsData.LowIntensitySeconds), tt.soft)
			Eq(t, "moderate", Val(t, "moderate", d.ActiveDurationsData.ModerateIntensitySeconds), tt.moderate)
			Eq(t, "intense", Val(t, "intense", d.ActiveDurationsData.VigorousIntensitySeconds), tt.intense)
			if d.HeartRateData != nil || d.DistanceData.Detailed != nil {
				t.Error("heart rate or samples invented")
			}
			Eq(t, "problems", len(m.problems), 0)
			var r dailyRaw
			if err := json.Unmarshal(rec.Raw, &r); err != nil {
				t.Fatal(err)
			}
			if !jsonEqual(t, r.Activity, raw) {
				t.Error("Raw.activity is not the day as received")
			}
		})
	}
}

// TestDailyIntradayFixture merges intraday_activity.json into the day it
// belongs to: its entries run from 1434758640 (2015-06-19 17:04 PDT) to
// 1434760860 (17:41 PDT), inside 2015-06-19 in Los Angeles although they
// are on 2015-06-20 in UTC.
func TestDailyIntradayFixture(t *testing.T) {
	raw := fixtureItem(t, fixtureList(t, fileActivity, "activities"), "date", `"2015-06-19"`)
	rec, d, m := mapDaily(t, raw, fixtureBody(t, fileIntraday))
	Eq(t, "problems", len(m.problems), 0)
	// The totals are still the day's (steps 2600), not the samples' sum.
	Eq(t, "steps", Val(t, "steps", d.DistanceData.Steps), 2600)

	det := d.DistanceData.Detailed
	// Four entries have values; 1434758700 and 1434760260 have only a
	// duration and are left out.
	Eq(t, "step samples", len(det.StepSamples), 4)
	wantSteps := []struct {
		at    string
		steps float64
		dist  float64
	}{
		{"2015-06-19T17:05:00.000000-07:00", 21, 15},   // 1434758640 + 60 s: 21 steps, 15 m
		{"2015-06-19T17:30:00.000000-07:00", 68, 50},   // 1434760140 + 60: +47, +35
		{"2015-06-19T17:31:00.000000-07:00", 88, 67},   // 1434760200 + 60: +20, +17
		{"2015-06-19T17:42:00.000000-07:00", 162, 126}, // 1434760860 + 60: +74, +59
	}
	for i, w := range wantSteps {
		Eq(t, "step time", Val(t, "ts", det.StepSamples[i].Timestamp), w.at)
		Eq(t, "cumulative steps", Val(t, "steps", det.StepSamples[i].Steps), w.steps)
		Eq(t, "distance time", Val(t, "ts", det.DistanceSamples[i].Timestamp), w.at)
		Eq(t, "cumulative distance", Val(t, "m", det.DistanceSamples[i].DistanceMeters), w.dist)
		Eq(t, "cumulative floors", Val(t, "floors", det.FloorsClimbedSamples[i].FloorsClimbed), 0) // elevation 0
	}
	cals := d.CaloriesData.CalorieSamples
	Eq(t, "calorie samples", len(cals), 4)
	wantCals := []struct {
		at   string
		kcal float64
	}{
		{"2015-06-19T17:04:00.000000-07:00", 1}, // 1434758640
		{"2015-06-19T17:29:00.000000-07:00", 2}, // 1434760140
		{"2015-06-19T17:30:00.000000-07:00", 1}, // 1434760200
		{"2015-06-19T17:41:00.000000-07:00", 7}, // 1434760860
	}
	for i, w := range wantCals {
		Eq(t, "calorie time", Val(t, "ts", cals[i].Timestamp), w.at)
		Eq(t, "kcal", Val(t, "kcal", cals[i].Calories), w.kcal)
	}
	var r dailyRaw
	if err := json.Unmarshal(rec.Raw, &r); err != nil {
		t.Fatal(err)
	}
	Eq(t, "raw intraday entries", len(r.Intraday), 4)

	// The same entries are outside 2015-06-20 and 2015-06-18.
	for _, date := range []string{"2015-06-20", "2015-06-18"} {
		other := fixtureItem(t, fixtureList(t, fileActivity, "activities"), "date", `"`+date+`"`)
		_, od, _ := mapDaily(t, other, fixtureBody(t, fileIntraday))
		if od.DistanceData.Detailed != nil || len(od.CaloriesData.CalorieSamples) != 0 {
			t.Errorf("%s got samples of 2015-06-19", date)
		}
	}
}

func TestDailyQuirks(t *testing.T) {
	t.Run("full fields", func(t *testing.T) {
		raw := json.RawMessage(`{"date":"2020-06-24","timezone":"Europe/Paris","brand":18,"is_tracker":false,
			"model":"GoogleFit tracker","steps":6200,"distance":3000.5,"elevation":12,"soft":800,"moderate":1000,
			"intense":700,"active":1700,"calories":1200,"totalcalories":3500,"hr_average":80,"hr_min":50,
			"hr_max":150,"hr_zone_0":100,"hr_zone_1":200,"hr_zone_2":0,"hr_zone_3":0}`)
		body := json.RawMessage(`{"series":{"1592992800":{"heart_rate":62,"duration":60},"1592992860":{"spo2_auto":96.5,"duration":60}}}`)
		_, d, _ := mapDaily(t, raw, body)
		Eq(t, "upload", d.Metadata.UploadType, model.UploadTypeThirdPartyUpload) // brand 18
		Eq(t, "total kcal", Val(t, "total", d.CaloriesData.TotalBurnedCalories), 3500)
		Eq(t, "active s", Val(t, "active", d.ActiveDurationsData.ActivitySeconds), 1700)
		Eq(t, "floors", Val(t, "floors", d.DistanceData.FloorsClimbed), 12)
		Eq(t, "hr avg", Val(t, "hr", d.HeartRateData.Summary.AvgHrBpm), 80)
		Eq(t, "zones", len(d.HeartRateData.Summary.HrZoneData), 4)
		hr := d.HeartRateData.Detailed.HrSamples
		Eq(t, "hr samples", len(hr), 1)
		// 1592992800 = 2020-06-24T10:00:00Z, CEST.
		Eq(t, "hr time", Val(t, "ts", hr[0].Timestamp), "2020-06-24T12:00:00.000000+02:00")
		Eq(t, "spo2", Val(t, "spo2", d.OxygenData.SaturationSamples[0].Percentage), 96.5)
		Eq(t, "device", Val(t, "device", d.DeviceData.Name), "GoogleFit tracker")
	})
	t.Run("empty intraday series is []", func(t *testing.T) {
		m := newMapper(New(Config{}))
		s, err := m.intraday(json.RawMessage(`{"series":[]}`))
		if err != nil || len(s) != 0 {
			t.Errorf("samples %v, err %v", s, err)
		}
	})
	t.Run("unreadable intraday entry is reported and skipped", func(t *testing.T) {
		m := newMapper(New(Config{}))
		s, err := m.intraday(json.RawMessage(`{"series":{"soon":{"steps":1},"1592992800":{"steps":"many"},"1592992860":{"steps":3}}}`))
		if err != nil {
			t.Fatal(err)
		}
		Eq(t, "samples", len(s), 1)
		Eq(t, "problems", len(m.problems), 2)
	})
	t.Run("a day across a DST change is 23 hours", func(t *testing.T) {
		_, d, _ := mapDaily(t, json.RawMessage(`{"date":"2023-03-26","timezone":"Europe/Amsterdam","steps":1}`), nil)
		Eq(t, "start", d.Metadata.StartTime, "2023-03-26T00:00:00.000000+01:00")
		Eq(t, "end", d.Metadata.EndTime, "2023-03-27T00:00:00.000000+02:00")
	})
	t.Run("unknown brand is reported", func(t *testing.T) {
		_, d, m := mapDaily(t, json.RawMessage(`{"date":"2023-03-26","timezone":"UTC","brand":7}`), nil)
		Eq(t, "upload", d.Metadata.UploadType, model.UploadTypeUnknown)
		Eq(t, "problems", len(m.problems), 1)
	})
	t.Run("bad day", func(t *testing.T) {
		if _, err := newMapper(New(Config{})).activityDay(json.RawMessage(`{"date":"yesterday"}`)); err == nil {
			t.Error("no error")
		}
	})
}

func TestDailyWindow(t *testing.T) {
	first, last := dailyDays(time.Date(2015, 6, 19, 0, 0, 0, 0, time.UTC), time.Date(2015, 6, 20, 0, 0, 0, 0, time.UTC))
	Eq(t, "first", first, "2015-06-18")
	Eq(t, "last", last, "2015-06-20")
	first, last = sessionDays(time.Date(2015, 6, 19, 6, 0, 0, 0, time.UTC), time.Date(2015, 6, 21, 0, 0, 0, 0, time.UTC))
	Eq(t, "session first", first, "2015-06-18")
	Eq(t, "session last", last, "2015-06-21")
}

// jsonEqual compares two JSON texts ignoring layout.
func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatal(err)
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return string(xa) == string(ya)
}
