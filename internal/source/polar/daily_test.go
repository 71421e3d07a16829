package polar

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
)

// TestContinuousHeartRate maps continuous_heart_rate.json. Its sample
// times are zone-less; they are read in the offset given, which the pull
// takes from the user's sleeps (here +03:00, the offset of
// sleep_get.json's sleep_end_time).
func TestContinuousHeartRate(t *testing.T) {
	raw := fixture(t, "continuous_heart_rate.json")
	rec, err := newMapper().heartRateDay(raw, dayOffset{seconds: 3 * 3600, from: "sleep 2020-01-01"})
	if err != nil {
		t.Fatal(err)
	}
	validate(t, rec)
	d := rec.Data.(*model.Daily)
	eq(t, "Key", rec.Key, "heart_rate:2022-09-12") // date
	eq(t, "Day", rec.Day, "2022-09-12")
	eq(t, "Type", rec.Type, model.TypeDaily)
	eq(t, "start_time", d.Metadata.StartTime, "2022-09-12T00:00:00.000000+03:00")
	eq(t, "end_time", d.Metadata.EndTime, "2022-09-13T00:00:00.000000+03:00")
	eq(t, "Start", rec.Start.UTC(), time.Date(2022, 9, 11, 21, 0, 0, 0, time.UTC))
	eq(t, "upload", d.Metadata.UploadType, model.UploadTypeAutomatic)
	s := d.HeartRateData.Detailed.HrSamples
	eq(t, "samples", len(s), 2)
	eq(t, "sample 0 time", val(t, "ts", s[0].Timestamp), "2022-09-12T00:02:08.000000+03:00") // sample_time 00:02:08
	eq(t, "sample 0", val(t, "bpm", s[0].Bpm), 63)                                           // heart_rate 63
	eq(t, "sample 1 time", val(t, "ts", s[1].Timestamp), "2022-09-12T00:07:08.000000+03:00") // sample_time 00:07:08
	eq(t, "sample 1", val(t, "bpm", s[1].Bpm), 62)                                           // heart_rate 62
	if string(rec.Raw) != string(raw) {
		t.Error("Raw is not the day as received")
	}

	// The same day read in Newfoundland time: the wall times stay, the
	// instants move.
	rec, err = newMapper().heartRateDay(raw, dayOffset{seconds: -(3*3600 + 1800)})
	if err != nil {
		t.Fatal(err)
	}
	validate(t, rec)
	s = rec.Data.(*model.Daily).HeartRateData.Detailed.HrSamples
	eq(t, "sample 0 time at -03:30", val(t, "ts", s[0].Timestamp), "2022-09-12T00:02:08.000000-03:30")
	eq(t, "Start at -03:30", rec.Start.UTC(), time.Date(2022, 9, 12, 3, 30, 0, 0, time.UTC))
}

// activityExample is the example activity summary of AccessLink's "Get
// activity summary" (there is no recorded one in the fixtures).
const activityExample = `{"id":1234,"polar-user":"https://www.polaraccesslink/v3/users/1","transaction-id":179879,"date":"2010-12-31","created":"2016-04-27T20:11:33.000Z","calories":2329,"active-calories":428,"duration":"PT2H44M","active-steps":250}`

func TestActivitySummary(t *testing.T) {
	rec, err := newMapper().activityDay(json.RawMessage(activityExample), dayOffset{seconds: 2 * 3600})
	if err != nil {
		t.Fatal(err)
	}
	validate(t, rec)
	d := rec.Data.(*model.Daily)
	eq(t, "Key", rec.Key, "activity:2010-12-31") // date
	eq(t, "Day", rec.Day, "2010-12-31")
	eq(t, "start_time", d.Metadata.StartTime, "2010-12-31T00:00:00.000000+02:00")
	eq(t, "end_time", d.Metadata.EndTime, "2011-01-01T00:00:00.000000+02:00")
	eq(t, "total calories", val(t, "total", d.CaloriesData.TotalBurnedCalories), 2329)      // calories
	eq(t, "active calories", val(t, "active", d.CaloriesData.NetActivityCalories), 428)     // active-calories
	eq(t, "steps", val(t, "steps", d.DistanceData.Steps), 250)                              // active-steps
	eq(t, "active seconds", val(t, "seconds", d.ActiveDurationsData.ActivitySeconds), 9840) // duration PT2H44M
}

func TestDailyBadItems(t *testing.T) {
	off := dayOffset{}
	for name, raw := range map[string]string{
		"chr not json": `{"date":`,
		"chr bad date": `{"date":"12.09.2022","heart_rate_samples":[]}`,
		"chr bad time": `{"date":"2022-09-12","heart_rate_samples":[{"heart_rate":60,"sample_time":"7 am"}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := newMapper().heartRateDay(json.RawMessage(raw), off); err == nil {
				t.Error("no error")
			}
		})
	}
	for name, raw := range map[string]string{
		"activity not json":     `[`,
		"activity no date":      `{"calories":1}`,
		"activity bad duration": `{"date":"2010-12-31","duration":"long"}`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := newMapper().activityDay(json.RawMessage(raw), off); err == nil {
				t.Error("no error")
			}
		})
	}
}
