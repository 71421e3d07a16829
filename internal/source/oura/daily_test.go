package oura

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
)

// dailyFixtureDays decodes the four daily fixtures into days.
func dailyFixtureDays(t *testing.T, withActivity bool) map[string]*dailyDay {
	t.Helper()
	days := make(map[string]*dailyDay)
	add := func(coll string, raw json.RawMessage) {
		if err := decodeDaily(days, coll, raw, nil); err != nil {
			t.Fatalf("decode %s: %v", coll, err)
		}
	}
	if withActivity {
		add(collDailyActivity, fixture(t, "daily_activity_single.json"))
	}
	for coll, file := range map[string]string{
		collDailyReadiness: "daily_readiness_2024-11-11_12.json",
		collDailySpO2:      "daily_spo2_2024-11-11_12.json",
		collDailySleep:     "daily_sleep_2024-11-11_12.json",
	} {
		for _, it := range fixtureItems(t, file) {
			add(coll, it)
		}
	}
	return days
}

func TestDailyMerge(t *testing.T) {
	m := newMapper()
	recs, probs := m.dailies(dailyFixtureDays(t, true))
	if len(probs) != 0 || len(m.problems) != 0 {
		t.Fatalf("problems: %+v %+v", probs, m.problems)
	}
	eq(t, "records", len(recs), 2)
	for _, r := range recs {
		validate(t, r)
	}

	r := recs[0]
	d := r.Data.(*model.Daily)
	eq(t, "Key", r.Key, "2024-11-11") // day
	eq(t, "Day", r.Day, "2024-11-11")
	eq(t, "Type", r.Type, model.TypeDaily)
	// daily_activity timestamp 2024-11-11T04:00:00+01:00 gives the offset.
	eq(t, "start_time", d.Metadata.StartTime, "2024-11-11T00:00:00.000000+01:00")
	eq(t, "end_time", d.Metadata.EndTime, "2024-11-12T00:00:00.000000+01:00")
	eq(t, "Start", r.Start.UTC(), time.Date(2024, 11, 10, 23, 0, 0, 0, time.UTC))
	eq(t, "End", r.End.Sub(r.Start), 24*time.Hour)
	eq(t, "upload_type", d.Metadata.UploadType, model.UploadTypeAutomatic)

	eq(t, "steps", val(t, "steps", d.DistanceData.Steps), 15185)                                       // steps
	eq(t, "distance", val(t, "distance", d.DistanceData.DistanceMeters), 17850)                        // equivalent_walking_distance
	eq(t, "active kcal", val(t, "active", d.CaloriesData.NetActivityCalories), 1153)                   // active_calories
	eq(t, "total kcal", val(t, "total", d.CaloriesData.TotalBurnedCalories), 3502)                     // total_calories
	eq(t, "activity score", val(t, "activity", d.Scores.Activity), 95)                                 // daily_activity score
	eq(t, "readiness score", val(t, "recovery", d.Scores.Recovery), 86)                                // daily_readiness 2024-11-11 score
	eq(t, "sleep score", val(t, "sleep", d.Scores.Sleep), 77)                                          // daily_sleep 2024-11-11 score
	eq(t, "spo2", val(t, "spo2", d.OxygenData.AvgSaturationPercentage), 98.072)                        // spo2_percentage.average
	eq(t, "avg MET", val(t, "avg MET", d.METData.AvgLevel), 1.875)                                     // average_met_minutes
	eq(t, "high min", val(t, "high", d.METData.NumHighIntensityMinutes), 41)                           // high_activity_time 2460 s
	eq(t, "moderate min", val(t, "moderate", d.METData.NumModerateIntensityMinutes), 81)               // medium_activity_time 4860 s
	eq(t, "low min", val(t, "low", d.METData.NumLowIntensityMinutes), 301)                             // low_activity_time 18060 s
	eq(t, "inactive min", val(t, "inactive", d.METData.NumInactiveMinutes), 635)                       // sedentary_time 38100 s
	eq(t, "vigorous s", val(t, "vigorous", d.ActiveDurationsData.VigorousIntensitySeconds), 2460)      // high_activity_time
	eq(t, "moderate s", val(t, "moderate", d.ActiveDurationsData.ModerateIntensitySeconds), 4860)      // medium_activity_time
	eq(t, "low s", val(t, "low", d.ActiveDurationsData.LowIntensitySeconds), 18060)                    // low_activity_time
	eq(t, "inactive s", val(t, "inactive", d.ActiveDurationsData.InactivitySeconds), 38100)            // sedentary_time
	eq(t, "rest s", val(t, "rest", d.ActiveDurationsData.RestSeconds), 22860)                          // resting_time
	eq(t, "active s", val(t, "active", d.ActiveDurationsData.ActivitySeconds), 25380)                  // 18060+4860+2460
	eq(t, "inactive periods", val(t, "alerts", d.ActiveDurationsData.NumContinuousInactivePeriods), 0) // inactivity_alerts

	// met: interval 60, 1440 items from 2024-11-11T04:00:00.000+01:00, first and last 0.9.
	met := d.METData.METSamples
	eq(t, "MET samples", len(met), 1440)
	eq(t, "first MET time", val(t, "ts", met[0].Timestamp), "2024-11-11T04:00:00.000000+01:00")
	eq(t, "first MET", val(t, "level", met[0].Level), 0.9)
	eq(t, "last MET time", val(t, "ts", met[1439].Timestamp), "2024-11-12T03:59:00.000000+01:00")
	eq(t, "last MET", val(t, "level", met[1439].Level), 0.9)
	// class_5_min: 288 characters from the timestamp, starting "1", ending "21".
	lv := d.ActiveDurationsData.ActivityLevelsSamples
	eq(t, "level samples", len(lv), 288)
	eq(t, "first level time", val(t, "ts", lv[0].Timestamp), "2024-11-11T04:00:00.000000+01:00")
	eq(t, "first level", val(t, "level", lv[0].ActivityLevel), model.ActivityLevelRest)
	eq(t, "second to last level", val(t, "level", lv[286].ActivityLevel), model.ActivityLevelInactive)
	eq(t, "last level time", val(t, "ts", lv[287].Timestamp), "2024-11-12T03:55:00.000000+01:00")

	var raw map[string]json.RawMessage
	if err := json.Unmarshal(r.Raw, &raw); err != nil {
		t.Fatalf("raw: %v", err)
	}
	for _, k := range []string{"daily_activity", "daily_readiness", "daily_spo2", "daily_sleep"} {
		if len(raw[k]) == 0 {
			t.Errorf("raw has no %s", k)
		}
	}

	// 2024-11-12 has no daily_activity: it borrows the nearest day's offset.
	r = recs[1]
	d = r.Data.(*model.Daily)
	eq(t, "Key", r.Key, "2024-11-12")
	eq(t, "start_time", d.Metadata.StartTime, "2024-11-12T00:00:00.000000+01:00")
	eq(t, "readiness score", val(t, "recovery", d.Scores.Recovery), 87)         // daily_readiness 2024-11-12
	eq(t, "sleep score", val(t, "sleep", d.Scores.Sleep), 83)                   // daily_sleep 2024-11-12
	eq(t, "spo2", val(t, "spo2", d.OxygenData.AvgSaturationPercentage), 96.153) // daily_spo2 2024-11-12
	if d.Scores.Activity != nil || d.DistanceData != nil || d.METData != nil {
		t.Error("activity parts without a daily_activity")
	}
	raw = nil
	if err := json.Unmarshal(r.Raw, &raw); err != nil {
		t.Fatalf("raw: %v", err)
	}
	if _, ok := raw["daily_activity"]; ok {
		t.Error("raw has a daily_activity")
	}
}

// TestDailyWithoutActivity: with no daily_activity at all, days are in UTC.
func TestDailyWithoutActivity(t *testing.T) {
	recs, probs := newMapper().dailies(dailyFixtureDays(t, false))
	if len(probs) != 0 {
		t.Fatalf("problems: %+v", probs)
	}
	eq(t, "records", len(recs), 2)
	d := recs[0].Data.(*model.Daily)
	eq(t, "start_time", d.Metadata.StartTime, "2024-11-11T00:00:00.000000+00:00")
	validate(t, recs[0])
}

func TestDailyBadDocuments(t *testing.T) {
	tests := []struct {
		name, coll, raw string
	}{
		{"not json", collDailyReadiness, `[1,2]`},
		{"no day", collDailySpO2, `{"id":"x"}`},
		{"bad timestamp", collDailyActivity, `{"id":"x","day":"2024-11-11","timestamp":"noon"}`},
		{"bad met", collDailyActivity, `{"id":"x","day":"2024-11-11","timestamp":"2024-11-11T04:00:00+01:00","met":{"interval":-1,"items":[1],"timestamp":"2024-11-11T04:00:00+01:00"}}`},
		{"not daily", "sleep", `{"id":"x","day":"2024-11-11"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := decodeDaily(map[string]*dailyDay{}, tt.coll, json.RawMessage(tt.raw), nil); err == nil {
				t.Error("no error")
			}
		})
	}

	days := make(map[string]*dailyDay)
	doc := json.RawMessage(`{"id":"a","day":"2024-11-11","score":80}`)
	if err := decodeDaily(days, collDailyReadiness, doc, nil); err != nil {
		t.Fatal(err)
	}
	if err := decodeDaily(days, collDailyReadiness, json.RawMessage(`{"id":"b","day":"2024-11-11","score":90}`), nil); err == nil {
		t.Error("second readiness for one day: no error")
	}
	eq(t, "kept score", *days["2024-11-11"].readiness.Score, 80)

	// keep filters by day.
	if err := decodeDaily(days, collDailySleep, json.RawMessage(`{"id":"c","day":"2024-11-13"}`), func(string) bool { return false }); err != nil {
		t.Fatal(err)
	}
	if _, ok := days["2024-11-13"]; ok {
		t.Error("filtered day was kept")
	}
}

// TestDailyUnknownClass notes an unknown class_5_min character once.
func TestDailyUnknownClass(t *testing.T) {
	days := make(map[string]*dailyDay)
	if err := decodeDaily(days, collDailyActivity, json.RawMessage(`{"id":"x","day":"2024-11-11","timestamp":"2024-11-11T04:00:00-05:00","class_5_min":"19911"}`), nil); err != nil {
		t.Fatal(err)
	}
	m := newMapper()
	recs, _ := m.dailies(days)
	eq(t, "records", len(recs), 1)
	validate(t, recs[0])
	d := recs[0].Data.(*model.Daily)
	eq(t, "start_time", d.Metadata.StartTime, "2024-11-11T00:00:00.000000-05:00")
	eq(t, "unknown level", *d.ActiveDurationsData.ActivityLevelsSamples[1].ActivityLevel, model.ActivityLevelUnknown)
	eq(t, "notes", len(m.problems), 1)
}
