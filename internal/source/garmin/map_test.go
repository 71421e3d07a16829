package garmin

import (
	"context"
	"encoding/json"
	"io/fs"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
	"github.com/wearbridge/wearbridge/internal/model/terraschema"
	"github.com/wearbridge/wearbridge/internal/sandbox/fixtures"
	"github.com/wearbridge/wearbridge/internal/source"
)

// parseFixture runs ParsePush on a recorded push file and returns its only
// batch, which must belong to "someUser" (the fixtures' userId).
func parseFixture(t *testing.T, file string) source.PushBatch {
	t.Helper()
	body, err := fs.ReadFile(fixtures.FS, "garmin/"+file)
	if err != nil {
		t.Fatal(err)
	}
	batches, err := New(Config{}).ParsePush(context.Background(), nil, body)
	if err != nil {
		t.Fatalf("ParsePush(%s): %v", file, err)
	}
	if len(batches) != 1 || batches[0].ProviderUserID != "someUser" {
		t.Fatalf("ParsePush(%s) batches = %+v, want one for someUser", file, batches)
	}
	return batches[0]
}

// oneRecord returns the batch's only record.
func oneRecord(t *testing.T, b source.PushBatch) model.Record {
	t.Helper()
	if len(b.Records) != 1 {
		t.Fatalf("got %d records, want 1 (problems: %+v)", len(b.Records), b.Problems)
	}
	return b.Records[0]
}

func eq[T comparable](t *testing.T, name string, got *T, want T) {
	t.Helper()
	if got == nil {
		t.Errorf("%s = nil, want %v", name, want)
		return
	}
	if *got != want {
		t.Errorf("%s = %v, want %v", name, *got, want)
	}
}

func approx(t *testing.T, name string, got *float64, want float64) {
	t.Helper()
	if got == nil {
		t.Errorf("%s = nil, want %v", name, want)
		return
	}
	if math.Abs(*got-want) > 1e-9 {
		t.Errorf("%s = %v, want %v", name, *got, want)
	}
}

// wantProblems checks that the batch has exactly the problems whose
// messages contain the given fragments, each with raw JSON kept.
func wantProblems(t *testing.T, b source.PushBatch, fragments ...string) {
	t.Helper()
	if len(b.Problems) != len(fragments) {
		t.Fatalf("got %d problems %+v, want %d", len(b.Problems), b.Problems, len(fragments))
	}
	for i, f := range fragments {
		p := b.Problems[i]
		if !strings.Contains(p.Err, f) {
			t.Errorf("problem %d = %q, want it to mention %q", i, p.Err, f)
		}
		if !json.Valid(p.Raw) {
			t.Errorf("problem %d raw is not the item's JSON: %q", i, p.Raw)
		}
	}
}

func TestMapDailyFixture(t *testing.T) {
	b := parseFixture(t, "push_dailies.json")
	wantProblems(t, b)
	rec := oneRecord(t, b)
	// summaryId " 13896335" (leading space in the fixture).
	if rec.Key != "13896335" || rec.Type != model.TypeDaily {
		t.Errorf("key, type = %q, %q; want 13896335, daily", rec.Key, rec.Type)
	}
	// startTimeInSeconds 1593788400 = 2020-07-03T15:00:00Z; offset 3600;
	// no calendarDate, so the day is the local date of the start.
	if rec.Day != "2020-07-03" {
		t.Errorf("day = %q, want 2020-07-03", rec.Day)
	}
	if !rec.Start.Equal(time.Date(2020, 7, 3, 15, 0, 0, 0, time.UTC)) || rec.End.Sub(rec.Start) != 86400*time.Second {
		t.Errorf("start, end = %v, %v", rec.Start, rec.End)
	}
	if !strings.Contains(string(rec.Raw), `"summaryId": " 13896335"`) {
		t.Errorf("raw is not the item as received: %s", rec.Raw)
	}
	d := rec.Data.(*model.Daily)
	if d.Metadata.StartTime != "2020-07-03T16:00:00.000000+01:00" || d.Metadata.EndTime != "2020-07-04T16:00:00.000000+01:00" {
		t.Errorf("metadata times = %s, %s", d.Metadata.StartTime, d.Metadata.EndTime)
	}
	if d.Metadata.UploadType != model.UploadTypeAutomatic {
		t.Errorf("upload type = %v", d.Metadata.UploadType)
	}
	eq(t, "steps", d.DistanceData.Steps, 3305)
	approx(t, "distance", d.DistanceData.DistanceMeters, 2470.1)
	eq(t, "floors", d.DistanceData.FloorsClimbed, 5)
	approx(t, "active kcal", d.CaloriesData.NetActivityCalories, 304)
	approx(t, "bmr kcal", d.CaloriesData.BMRCalories, 1225)
	approx(t, "total kcal", d.CaloriesData.TotalBurnedCalories, 304+1225)
	approx(t, "consumed kcal", d.CaloriesData.NetIntakeCalories, 1926)
	approx(t, "active s", d.ActiveDurationsData.ActivitySeconds, 7)
	approx(t, "moderate s", d.ActiveDurationsData.ModerateIntensitySeconds, 83160)
	approx(t, "vigorous s", d.ActiveDurationsData.VigorousIntensitySeconds, 3240)

	hr := d.HeartRateData
	approx(t, "min hr", hr.Summary.MinHrBpm, 62)
	approx(t, "max hr", hr.Summary.MaxHrBpm, 122)
	approx(t, "resting hr", hr.Summary.RestingHrBpm, 64)
	// averageHeartRateInBeatsPerMinute (67) is Garmin's 7-day average; the
	// day's average is the mean of the 8 samples:
	// (77+72+71+67+62+65+71+81)/8 = 566/8.
	approx(t, "avg hr", hr.Summary.AvgHrBpm, 566.0/8)
	if n := len(hr.Detailed.HrSamples); n != 8 {
		t.Fatalf("hr samples = %d, want 8", n)
	}
	first, last := hr.Detailed.HrSamples[0], hr.Detailed.HrSamples[7]
	eq(t, "first sample time", first.Timestamp, "2020-07-03T16:00:15.000000+01:00") // offset "15"
	approx(t, "first sample bpm", first.Bpm, 77)
	eq(t, "last sample time", last.Timestamp, "2020-07-03T16:54:15.000000+01:00") // offset "3255"
	approx(t, "last sample bpm", last.Bpm, 81)

	s := d.StressData
	approx(t, "avg stress", s.AvgStressLevel, 37)
	approx(t, "max stress", s.MaxStressLevel, 95)
	approx(t, "stress s", s.StressDurationSeconds, 19080)
	approx(t, "rest stress s", s.RestStressDurationSeconds, 2700)
	approx(t, "activity stress s", s.ActivityStressDurationSeconds, 7260)
	approx(t, "low stress s", s.LowStressDurationSeconds, 7800)
	approx(t, "medium stress s", s.MediumStressDurationSeconds, 8280)
	approx(t, "high stress s", s.HighStressDurationSeconds, 3000)
	eq(t, "stress rating", s.StressRating, model.StressLevelLow) // 37 is in 26-50
}

func TestMapSleepFixture(t *testing.T) {
	b := parseFixture(t, "push_sleeps.json")
	// The fixture is inconsistent: calendarDate 2016-01-10 and
	// sleepLevelsMap ranges in January 2016, for a session starting
	// 2020-07-03. Both are reported; the record still lands.
	wantProblems(t, b, "calendarDate 2016-01-10 is not a local date", "dropped 3 of 3 ranges outside the session")
	rec := oneRecord(t, b)
	if rec.Key != "13896337" || rec.Type != model.TypeSleep || rec.Day != "2016-01-10" {
		t.Errorf("key, type, day = %q, %q, %q", rec.Key, rec.Type, rec.Day)
	}
	if got := rec.End.Sub(rec.Start); got != 15264*time.Second { // durationInSeconds
		t.Errorf("duration = %v, want 15264s", got)
	}
	s := rec.Data.(*model.Sleep)
	// 1593788400 + 3600 offset; + 15264 s = 4 h 14 min 24 s.
	if s.Metadata.StartTime != "2020-07-03T16:00:00.000000+01:00" || s.Metadata.EndTime != "2020-07-03T20:14:24.000000+01:00" {
		t.Errorf("metadata times = %s, %s", s.Metadata.StartTime, s.Metadata.EndTime)
	}
	eq(t, "summary id", s.Metadata.SummaryId, "13896337")
	eq(t, "is nap", s.Metadata.IsNap, false)
	if s.Metadata.UploadType != model.SleepUploadTypeIndeterminate { // validation "DEVICE"
		t.Errorf("upload type = %v", s.Metadata.UploadType)
	}
	dur := s.SleepDurationsData
	approx(t, "deep", dur.Asleep.DurationDeepSleepStateSeconds, 11231)
	approx(t, "light", dur.Asleep.DurationLightSleepStateSeconds, 3541)
	approx(t, "rem", dur.Asleep.DurationREMSleepStateSeconds, 0)
	approx(t, "asleep", dur.Asleep.DurationAsleepStateSeconds, 11231+3541+0)
	approx(t, "awake", dur.Awake.DurationAwakeStateSeconds, 492)
	approx(t, "unmeasurable", dur.Other.DurationUnmeasurableSleepSeconds, 0)
	if len(dur.HypnogramSamples) != 0 {
		t.Errorf("hypnogram = %d samples, want none (all ranges outside the session)", len(dur.HypnogramSamples))
	}
}

func TestMapBodyCompFixture(t *testing.T) {
	b := parseFixture(t, "push_body_comps.json")
	wantProblems(t, b)
	rec := oneRecord(t, b)
	if rec.Key != "bodycomp:13896336" || rec.Type != model.TypeBody || rec.Day != "2020-07-03" {
		t.Errorf("key, type, day = %q, %q, %q", rec.Key, rec.Type, rec.Day)
	}
	body := rec.Data.(*model.Body)
	// measurementTimeInSeconds 1593788400, offset 3600.
	if body.Metadata.StartTime != "2020-07-03T16:00:00.000000+01:00" || body.Metadata.EndTime != body.Metadata.StartTime {
		t.Errorf("metadata times = %s, %s", body.Metadata.StartTime, body.Metadata.EndTime)
	}
	if n := len(body.MeasurementsData.Measurements); n != 1 {
		t.Fatalf("measurements = %d, want 1", n)
	}
	m := body.MeasurementsData.Measurements[0]
	eq(t, "measurement time", m.MeasurementTime, "2020-07-03T16:00:00.000000+01:00")
	approx(t, "weight kg", m.WeightKg, 75.45) // weightInGrams 75450
	approx(t, "bmi", m.BMI, 23.2)
	approx(t, "fat %", m.BodyfatPercentage, 17.1)
	approx(t, "water %", m.WaterPercentage, 59.4)
	approx(t, "bone g", m.BoneMassG, 2437)
	approx(t, "muscle g", m.MuscleMassG, 25478)
}

func TestMapPulseOxFixture(t *testing.T) {
	b := parseFixture(t, "push_pulseox.json")
	// calendarDate 2018-08-27 vs a start on 2020-07-03: reported, kept.
	wantProblems(t, b, "calendarDate 2018-08-27 is not a local date")
	rec := oneRecord(t, b)
	if rec.Key != "pulseox:13896338" || rec.Type != model.TypeBody || rec.Day != "2018-08-27" {
		t.Errorf("key, type, day = %q, %q, %q", rec.Key, rec.Type, rec.Day)
	}
	body := rec.Data.(*model.Body)
	if body.Metadata.StartTime != "2020-07-03T16:00:00.000000+01:00" || body.Metadata.EndTime != "2020-07-04T16:00:00.000000+01:00" {
		t.Errorf("metadata times = %s, %s", body.Metadata.StartTime, body.Metadata.EndTime)
	}
	ss := body.OxygenData.SaturationSamples
	want := []struct {
		at  string
		pct float64
	}{ // timeOffsetSpo2Values "0", "3600", "7200", "10800"
		{"2020-07-03T16:00:00.000000+01:00", 98},
		{"2020-07-03T17:00:00.000000+01:00", 95},
		{"2020-07-03T18:00:00.000000+01:00", 93},
		{"2020-07-03T19:00:00.000000+01:00", 98},
	}
	if len(ss) != len(want) {
		t.Fatalf("samples = %d, want %d", len(ss), len(want))
	}
	for i, w := range want {
		eq(t, "timestamp", ss[i].Timestamp, w.at)
		approx(t, "percentage", ss[i].Percentage, w.pct)
		eq(t, "type", ss[i].Type, model.OxygenSaturationTypeBlood)
	}
	approx(t, "avg", body.OxygenData.AvgSaturationPercentage, (98+95+93+98)/4.0)
}

func TestMapRespirationFixture(t *testing.T) {
	b := parseFixture(t, "push_respiration.json")
	wantProblems(t, b)
	rec := oneRecord(t, b)
	if rec.Key != "respiration:13896339" || rec.Type != model.TypeBody || rec.Day != "2020-07-03" {
		t.Errorf("key, type, day = %q, %q, %q", rec.Key, rec.Type, rec.Day)
	}
	body := rec.Data.(*BodyWithRespiration)
	// durationInSeconds 900.
	if body.Metadata.StartTime != "2020-07-03T16:00:00.000000+01:00" || body.Metadata.EndTime != "2020-07-03T16:15:00.000000+01:00" {
		t.Errorf("metadata times = %s, %s", body.Metadata.StartTime, body.Metadata.EndTime)
	}
	bd := body.RespirationData.BreathsData
	if len(bd.Samples) != 11 {
		t.Fatalf("samples = %d, want 11", len(bd.Samples))
	}
	eq(t, "first time", bd.Samples[0].Timestamp, "2020-07-03T16:00:00.000000+01:00")
	approx(t, "first", bd.Samples[0].BreathsPerMin, 14.63)
	eq(t, "last time", bd.Samples[10].Timestamp, "2020-07-03T16:14:00.000000+01:00") // offset "840"
	approx(t, "last", bd.Samples[10].BreathsPerMin, 14.88)
	approx(t, "min", bd.MinBreathsPerMin, 14.38)
	approx(t, "max", bd.MaxBreathsPerMin, 17.1)
	// Sum of the 11 values in the fixture: 166.85.
	approx(t, "avg", bd.AvgBreathsPerMin, 166.85/11)

	// The extension marshals as a Body plus "respiration_data".
	out, err := json.Marshal(rec.Data)
	if err != nil {
		t.Fatal(err)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(out, &top); err != nil {
		t.Fatal(err)
	}
	if _, ok := top["metadata"]; !ok {
		t.Errorf("marshalled body has no metadata: %s", out)
	}
	if _, ok := top["respiration_data"]; !ok {
		t.Errorf("marshalled body has no respiration_data: %s", out)
	}
}

// TestMappedRecordsMatchTerraSchemas validates every record mapped from the
// recorded pushes against its Terra schema.
func TestMappedRecordsMatchTerraSchemas(t *testing.T) {
	v, err := terraschema.New()
	if err != nil {
		t.Fatal(err)
	}
	schemaOf := map[model.DataType]string{model.TypeDaily: "Daily", model.TypeSleep: "Sleep", model.TypeBody: "Body"}
	for _, f := range []string{"push_dailies.json", "push_sleeps.json", "push_body_comps.json", "push_pulseox.json", "push_respiration.json"} {
		for _, rec := range parseFixture(t, f).Records {
			data, err := json.Marshal(rec.Data)
			if err != nil {
				t.Fatal(err)
			}
			if err := v.Validate(schemaOf[rec.Type], data); err != nil {
				t.Errorf("%s %s: %v\n%s", f, rec.Key, err, data)
			}
		}
	}
}
