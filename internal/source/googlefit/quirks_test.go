package googlefit

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
)

// at is 2024-03-10 (UTC) plus h hours and m minutes.
func at(h, m int) time.Time { return time.Date(2024, 3, 10, h, m, 0, 0, time.UTC) }

// intPoint writes a data point with one intVal.
func intPoint(dataType, origin string, start, end time.Time, v int) string {
	return fmt.Sprintf(`{"startTimeNanos":"%d","endTimeNanos":"%d","dataTypeName":%q,"originDataSourceId":%q,"value":[{"intVal":%d,"mapVal":[]}],"modifiedTimeMillis":"1710100000000"}`,
		start.UnixNano(), end.UnixNano(), dataType, origin, v)
}

// fpPoint writes a data point with one fpVal.
func fpPoint(dataType string, start, end time.Time, v float64) string {
	return fmt.Sprintf(`{"startTimeNanos":"%d","endTimeNanos":"%d","dataTypeName":%q,"originDataSourceId":"","value":[{"fpVal":%v}]}`,
		start.UnixNano(), end.UnixNano(), dataType, v)
}

const (
	stageOrigin = "raw:com.google.sleep.segment:com.example.sleep:"
	gmsSegments = "derived:com.google.activity.segment:com.google.android.gms:detailed"
)

// TestSleepSessionWithStages: a sleep session's hypnogram and durations
// come from the sleep-stage stream; a session inside it is not a second
// night; heart rate outside the night is not attached.
func TestSleepSessionWithStages(t *testing.T) {
	sessions := rawSessions(t,
		// 2024-03-09T23:00Z to 2024-03-10T07:00Z
		`{"id":"sleep-1","name":"Night","startTimeMillis":"1710025200000","endTimeMillis":"1710054000000","activityType":72,"application":{"packageName":"com.example.sleep"}}`,
		// 01:00 to 02:00, inside sleep-1
		`{"id":"inner","startTimeMillis":"1710032400000","endTimeMillis":"1710036000000","activityType":72}`,
		// a run is not sleep
		`{"id":"run","startTimeMillis":"1710064800000","endTimeMillis":"1710068400000","activityType":8}`,
	)
	st := "com.google.sleep.segment"
	prev := time.Date(2024, 3, 9, 23, 0, 0, 0, time.UTC)
	stages := rawPoints(t,
		intPoint(st, stageOrigin, prev, prev.Add(20*time.Minute), 1),     // awake 20 min
		intPoint(st, stageOrigin, prev.Add(20*time.Minute), at(1, 0), 4), // light 100 min
		intPoint(st, stageOrigin, at(1, 0), at(2, 30), 5),                // deep 90 min
		intPoint(st, stageOrigin, at(2, 30), at(3, 0), 6),                // REM 30 min
		intPoint(st, stageOrigin, at(3, 0), at(3, 5), 3),                 // out of bed 5 min
		intPoint(st, stageOrigin, at(3, 5), at(5, 0), 4),                 // light 115 min
		intPoint(st, stageOrigin, at(5, 0), at(6, 30), 6),                // REM 90 min
		intPoint(st, stageOrigin, at(6, 30), at(7, 0), 1),                // awake 30 min
		intPoint(st, stageOrigin, at(12, 0), at(12, 30), 4),              // another day's nap stage
	)
	hr := rawPoints(t,
		fpPoint("com.google.heart_rate.bpm", at(3, 0), at(3, 0), 50),
		fpPoint("com.google.heart_rate.bpm", at(8, 0), at(8, 0), 70),
	)
	m := newMapper()
	nights := m.nights(sessions, nil)
	eq(t, "nights", len(nights), 1)
	rec := m.sleep(nights[0], stages, m.heartRates(model.TypeSleep, hr))
	validate(t, rec)
	s := rec.Data.(*model.Sleep)
	eq(t, "Key", rec.Key, "sleep-1")
	eq(t, "Day", rec.Day, "2024-03-10") // the UTC day it ends
	eq(t, "start_time", s.Metadata.StartTime, "2024-03-09T23:00:00.000000+00:00")
	eq(t, "end_time", s.Metadata.EndTime, "2024-03-10T07:00:00.000000+00:00")
	eq(t, "upload_type", s.Metadata.UploadType, model.SleepUploadTypeAutomatic)
	d := s.SleepDurationsData
	eq(t, "in bed", val(t, "in bed", d.Other.DurationInBedSeconds), 8*3600)
	eq(t, "light", val(t, "light", d.Asleep.DurationLightSleepStateSeconds), (100+115)*60)
	eq(t, "deep", val(t, "deep", d.Asleep.DurationDeepSleepStateSeconds), 90*60)
	eq(t, "rem", val(t, "rem", d.Asleep.DurationREMSleepStateSeconds), (30+90)*60)
	eq(t, "asleep", val(t, "asleep", d.Asleep.DurationAsleepStateSeconds), (100+115+90+30+90)*60)
	eq(t, "awake", val(t, "awake", d.Awake.DurationAwakeStateSeconds), (20+30+5)*60)
	eq(t, "rem events", val(t, "rem events", d.Asleep.NumREMEvents), 2)
	eq(t, "wakeups", val(t, "wakeups", d.Awake.NumWakeupEvents), 2)
	eq(t, "out of bed", val(t, "out of bed", d.Awake.NumOutOfBedEvents), 1)
	eq(t, "hypnogram", len(d.HypnogramSamples), 8)
	eq(t, "first level", val(t, "level", d.HypnogramSamples[0].Level), model.SleepLevelAwake)
	eq(t, "fifth level", val(t, "level", d.HypnogramSamples[4].Level), model.SleepLevelOutOfBed)
	eq(t, "fifth time", val(t, "ts", d.HypnogramSamples[4].Timestamp), "2024-03-10T03:00:00.000000+00:00")
	eq(t, "hr samples", len(s.HeartRateData.Detailed.HrSamples), 1)
	eq(t, "hr avg", val(t, "avg", s.HeartRateData.Summary.AvgHrBpm), 50)
	var raw sleepRaw
	if err := json.Unmarshal(rec.Raw, &raw); err != nil {
		t.Fatal(err)
	}
	eq(t, "raw stages", len(raw.SleepSegments), 8)
	if !strings.Contains(string(raw.Session), `"sleep-1"`) {
		t.Errorf("raw session = %s", raw.Session)
	}
	eq(t, "problems", len(m.problems), 0)
}

// TestSleepLegacySegments: nights recorded as sleep-type activity segments
// (72, 109-112) are grouped into runs; a run overlapping a sleep session
// is that session's.
func TestSleepLegacySegments(t *testing.T) {
	seg := "com.google.activity.segment"
	d9 := func(h, m int) time.Time { return time.Date(2024, 3, 9, h, m, 0, 0, time.UTC) }
	segments := rawPoints(t,
		intPoint(seg, gmsSegments, d9(22, 0), d9(22, 30), 72), // sleeping 30 min
		intPoint(seg, gmsSegments, d9(22, 30), at(0, 0), 109), // light 90 min
		intPoint(seg, gmsSegments, at(0, 0), at(1, 0), 110),   // deep 60 min
		intPoint(seg, gmsSegments, at(1, 0), at(1, 10), 112),  // awake 10 min
		intPoint(seg, gmsSegments, at(1, 20), at(2, 0), 111),  // REM 40 min, after a 10 min gap
		intPoint(seg, gmsSegments, at(7, 0), at(7, 30), 7),    // walking: not sleep
		intPoint(seg, gmsSegments, at(13, 0), at(13, 40), 72), // a nap, 11 h later
		intPoint(seg, gmsSegments, at(22, 0), at(23, 0), 72),  // inside the session below
	)
	sessions := rawSessions(t,
		// 2024-03-10T21:30Z to 2024-03-11T06:00Z
		`{"id":"s2","startTimeMillis":"1710106200000","endTimeMillis":"1710136800000","activityType":72}`)
	m := newMapper()
	nights := m.nights(sessions, segments)
	eq(t, "nights", len(nights), 3)
	first := m.sleep(nights[0], nil, nil)
	validate(t, first)
	s := first.Data.(*model.Sleep)
	eq(t, "Key", first.Key, fmt.Sprintf("segment:%d:%s", d9(22, 0).UnixNano(), gmsSegments))
	eq(t, "start_time", s.Metadata.StartTime, "2024-03-09T22:00:00.000000+00:00")
	eq(t, "end_time", s.Metadata.EndTime, "2024-03-10T02:00:00.000000+00:00")
	d := s.SleepDurationsData
	eq(t, "in bed", val(t, "in bed", d.Other.DurationInBedSeconds), 4*3600)
	eq(t, "asleep", val(t, "asleep", d.Asleep.DurationAsleepStateSeconds), (30+90+60+40)*60)
	eq(t, "light", val(t, "light", d.Asleep.DurationLightSleepStateSeconds), 90*60)
	eq(t, "deep", val(t, "deep", d.Asleep.DurationDeepSleepStateSeconds), 60*60)
	eq(t, "rem", val(t, "rem", d.Asleep.DurationREMSleepStateSeconds), 40*60)
	eq(t, "awake", val(t, "awake", d.Awake.DurationAwakeStateSeconds), 10*60)
	eq(t, "hypnogram", len(d.HypnogramSamples), 5)
	eq(t, "nap key", nights[1].key, fmt.Sprintf("segment:%d:%s", at(13, 0).UnixNano(), gmsSegments))
	eq(t, "session night", nights[2].key, "s2")
	eq(t, "session's legacy segments", len(nights[2].legacy), 1)
	// The session has no stage stream: its legacy segment (72) gives one
	// "sleeping" stretch; the rest of the session has no stage.
	sess := m.sleep(nights[2], nil, nil)
	validate(t, sess)
	sd := sess.Data.(*model.Sleep).SleepDurationsData
	eq(t, "session asleep", val(t, "asleep", sd.Asleep.DurationAsleepStateSeconds), 3600)
}

// TestSleepUnknownStage: a stage value Google did not define is kept as an
// Unknown hypnogram level and reported once.
func TestSleepUnknownStage(t *testing.T) {
	sessions := rawSessions(t, `{"id":"n","startTimeMillis":"1710025200000","endTimeMillis":"1710054000000","activityType":72}`)
	st := "com.google.sleep.segment"
	stages := rawPoints(t,
		intPoint(st, stageOrigin, at(0, 0), at(1, 0), 9),
		intPoint(st, stageOrigin, at(1, 0), at(2, 0), 9),
		intPoint(st, stageOrigin, at(2, 0), at(3, 0), 2),
	)
	m := newMapper()
	rec := m.sleep(m.nights(sessions, nil)[0], stages, nil)
	validate(t, rec)
	d := rec.Data.(*model.Sleep).SleepDurationsData
	eq(t, "level", val(t, "level", d.HypnogramSamples[0].Level), model.SleepLevelUnknown)
	eq(t, "asleep", val(t, "asleep", d.Asleep.DurationAsleepStateSeconds), 3600) // only the "sleeping" hour
	eq(t, "problems", len(m.problems), 1)
	if !strings.Contains(m.problems[0].Err, "sleep_segment_type") {
		t.Errorf("problem = %q", m.problems[0].Err)
	}
}

// TestActivitySessions: sessions are activities with their aggregate
// totals; segments a session covers, background segments and sleep are
// not; an unknown type is kept as Other and reported.
func TestActivitySessions(t *testing.T) {
	sessions := rawSessions(t,
		// 08:00 to 09:00
		`{"id":"run-1","name":"Morning run","startTimeMillis":"1710057600000","endTimeMillis":"1710061200000","activeTimeMillis":"3300000","activityType":8,"application":{"packageName":"com.strava"}}`,
		`{"id":"night","startTimeMillis":"1710025200000","endTimeMillis":"1710054000000","activityType":72}`,
		// 18:00 to 18:30, a type Google may add later
		`{"id":"new","startTimeMillis":"1710093600000","endTimeMillis":"1710095400000","activityType":250,"application":{"packageName":"com.google.android.apps.fitness"}}`,
	)
	seg := "com.google.activity.segment"
	segments := rawPoints(t,
		intPoint(seg, gmsSegments, at(8, 5), at(8, 55), 8),    // covered by run-1
		intPoint(seg, gmsSegments, at(9, 0), at(12, 0), 3),    // still
		intPoint(seg, gmsSegments, at(12, 0), at(12, 45), 1),  // biking, detected by Google
		intPoint(seg, gmsSegments, at(13, 0), at(13, 10), 5),  // tilting
		intPoint(seg, gmsSegments, at(14, 0), at(14, 20), 2),  // on foot
		intPoint(seg, gmsSegments, at(23, 0), at(23, 30), 72), // sleep
	)
	buckets := []json.RawMessage{json.RawMessage(`{"startTimeMillis":"1710057600000","endTimeMillis":"1710061200000",
		"session":{"id":"run-1","activityType":8},
		"dataset":[
		{"dataSourceId":"derived:com.google.step_count.delta:com.google.android.gms:aggregated","point":[{"startTimeNanos":"1710057600000000000","endTimeNanos":"1710061200000000000","dataTypeName":"com.google.step_count.delta","originDataSourceId":"","value":[{"intVal":9000,"mapVal":[]}]}]},
		{"dataSourceId":"derived:com.google.distance.delta:com.google.android.gms:aggregated","point":[{"startTimeNanos":"1710057600000000000","endTimeNanos":"1710061200000000000","dataTypeName":"com.google.distance.delta","originDataSourceId":"","value":[{"fpVal":10000.5,"mapVal":[]}]}]},
		{"dataSourceId":"derived:com.google.calories.expended:com.google.android.gms:aggregated","point":[{"startTimeNanos":"1710057600000000000","endTimeNanos":"1710061200000000000","dataTypeName":"com.google.calories.expended","originDataSourceId":"","value":[{"fpVal":650.25,"mapVal":[]}]}]}
		]}`)}
	m := newMapper()
	totals := m.sessionTotalsFrom(buckets)
	items := m.activityItems(activityInput{sessions: sessions, segments: segments})
	eq(t, "activities", len(items), 4) // run-1, biking, on foot, new
	recs := map[string]model.Record{}
	for _, it := range items {
		rec := m.activity(it, nil, totals)
		validate(t, rec)
		recs[rec.Key] = rec
	}
	run := recs["run-1"].Data.(*model.Activity)
	eq(t, "name", val(t, "name", run.Metadata.Name), "Morning run")
	eq(t, "type", run.Metadata.Type, model.ActivityTypeRunning)
	eq(t, "upload", run.Metadata.UploadType, model.UploadTypeThirdPartyUpload)
	eq(t, "steps", val(t, "steps", run.DistanceData.Summary.Steps), 9000)
	eq(t, "meters", val(t, "meters", run.DistanceData.Summary.DistanceMeters), 10000.5)
	eq(t, "kcal", val(t, "kcal", run.CaloriesData.TotalBurnedCalories), 650.25)
	eq(t, "active s", val(t, "active", run.ActiveDurationsData.ActivitySeconds), 3300)

	bike := recs[fmt.Sprintf("segment:%d:%s", at(12, 0).UnixNano(), gmsSegments)].Data.(*model.Activity)
	eq(t, "bike type", bike.Metadata.Type, model.ActivityTypeBiking)
	eq(t, "bike upload", bike.Metadata.UploadType, model.UploadTypeAutomatic)
	onFoot := recs[fmt.Sprintf("segment:%d:%s", at(14, 0).UnixNano(), gmsSegments)].Data.(*model.Activity)
	eq(t, "on foot type", onFoot.Metadata.Type, model.ActivityTypeWalking)
	eq(t, "on foot name", val(t, "name", onFoot.Metadata.Name), "On foot")

	nw := recs["new"].Data.(*model.Activity)
	eq(t, "unknown type", nw.Metadata.Type, model.ActivityTypeOther)
	eq(t, "unknown upload", nw.Metadata.UploadType, model.UploadTypeAutomatic)
	eq(t, "problems", len(m.problems), 1)
	if !strings.Contains(m.problems[0].Err, "250") || !strings.Contains(string(m.problems[0].Raw), `"new"`) {
		t.Errorf("problem = %+v", m.problems[0])
	}
}

// TestActivityHeartRate attaches the samples inside the activity.
func TestActivityHeartRate(t *testing.T) {
	seg := "com.google.activity.segment"
	segments := rawPoints(t, intPoint(seg, gmsSegments, at(12, 0), at(12, 30), 8))
	hr := rawPoints(t,
		fpPoint("com.google.heart_rate.bpm", at(11, 59), at(11, 59), 70),
		fpPoint("com.google.heart_rate.bpm", at(12, 0), at(12, 0), 120),
		fpPoint("com.google.heart_rate.bpm", at(12, 15), at(12, 15), 160),
		fpPoint("com.google.heart_rate.bpm", at(12, 30), at(12, 30), 140),
		fpPoint("com.google.heart_rate.bpm", at(12, 31), at(12, 31), 100),
	)
	m := newMapper()
	items := m.activityItems(activityInput{segments: segments})
	rec := m.activity(items[0], m.heartRates(model.TypeActivity, hr), nil)
	validate(t, rec)
	h := rec.Data.(*model.Activity).HeartRateData
	eq(t, "samples", len(h.Detailed.HrSamples), 3)
	eq(t, "avg", val(t, "avg", h.Summary.AvgHrBpm), 140) // (120+160+140)/3
	eq(t, "max", val(t, "max", h.Summary.MaxHrBpm), 160)
	eq(t, "min", val(t, "min", h.Summary.MinHrBpm), 120)
}

// TestActivityTypesAreGoogleNumbers: Terra's activity numbers are
// Google's, so every mapped type keeps its number, except "on foot" (2).
func TestActivityTypesAreGoogleNumbers(t *testing.T) {
	for g, k := range activityTypes {
		if g == 2 {
			eq(t, "on foot", k.typ, model.ActivityTypeWalking)
			continue
		}
		if int(k.typ) != g {
			t.Errorf("Google type %d (%s) maps to Terra %d", g, k.name, k.typ)
		}
		if isSleepType(g) {
			t.Errorf("sleep type %d in the activity table", g)
		}
	}
	// Google's list without sleep: 0-5, 7-71, 73-106, 108, 113-120, 122.
	eq(t, "table size", len(activityTypes), 115)
}

// TestDailyBucket maps one day bucket of every aggregated type.
func TestDailyBucket(t *testing.T) {
	// 2024-03-10T00:00Z to 2024-03-11T00:00Z
	raw := json.RawMessage(`{"startTimeMillis":"1710028800000","endTimeMillis":"1710115200000","dataset":[
	{"dataSourceId":"derived:com.google.step_count.delta:com.google.android.gms:aggregated","point":[{"startTimeNanos":"1710040000000000000","endTimeNanos":"1710100000000000000","dataTypeName":"com.google.step_count.delta","originDataSourceId":"","value":[{"intVal":8421,"mapVal":[]}]}]},
	{"dataSourceId":"derived:com.google.distance.delta:com.google.android.gms:aggregated","point":[{"startTimeNanos":"1710040000000000000","endTimeNanos":"1710100000000000000","dataTypeName":"com.google.distance.delta","originDataSourceId":"","value":[{"fpVal":6123.4,"mapVal":[]}]}]},
	{"dataSourceId":"derived:com.google.calories.expended:com.google.android.gms:aggregated","point":[{"startTimeNanos":"1710028800000000000","endTimeNanos":"1710115200000000000","dataTypeName":"com.google.calories.expended","originDataSourceId":"","value":[{"fpVal":2100.5,"mapVal":[]}]}]},
	{"dataSourceId":"derived:com.google.active_minutes:com.google.android.gms:aggregated","point":[{"startTimeNanos":"1710040000000000000","endTimeNanos":"1710100000000000000","dataTypeName":"com.google.active_minutes","originDataSourceId":"","value":[{"intVal":45,"mapVal":[]}]}]},
	{"dataSourceId":"derived:com.google.heart_rate.summary:com.google.android.gms:aggregated","point":[{"startTimeNanos":"1710040000000000000","endTimeNanos":"1710100000000000000","dataTypeName":"com.google.heart_rate.summary","originDataSourceId":"","value":[{"fpVal":64.5,"mapVal":[]},{"fpVal":150,"mapVal":[]},{"fpVal":48,"mapVal":[]}]}]}
	]}`)
	m := newMapper()
	rec, ok, err := m.daily(raw)
	if err != nil || !ok {
		t.Fatalf("ok=%v err=%v", ok, err)
	}
	validate(t, rec)
	d := rec.Data.(*model.Daily)
	eq(t, "Key", rec.Key, "2024-03-10")
	eq(t, "start_time", d.Metadata.StartTime, "2024-03-10T00:00:00.000000+00:00")
	eq(t, "end_time", d.Metadata.EndTime, "2024-03-11T00:00:00.000000+00:00")
	eq(t, "steps", val(t, "steps", d.DistanceData.Steps), 8421)
	eq(t, "meters", val(t, "meters", d.DistanceData.DistanceMeters), 6123.4)
	eq(t, "kcal", val(t, "kcal", d.CaloriesData.TotalBurnedCalories), 2100.5)
	eq(t, "active s", val(t, "active", d.ActiveDurationsData.ActivitySeconds), 45*60)
	eq(t, "avg hr", val(t, "avg", d.HeartRateData.Summary.AvgHrBpm), 64.5)
	eq(t, "max hr", val(t, "max", d.HeartRateData.Summary.MaxHrBpm), 150)
	eq(t, "min hr", val(t, "min", d.HeartRateData.Summary.MinHrBpm), 48)
	eq(t, "raw", string(rec.Raw), string(raw))

	tests := []struct {
		name, raw string
		ok        bool
		err       bool
	}{
		{"empty day", `{"startTimeMillis":"1710028800000","endTimeMillis":"1710115200000","dataset":[{"dataSourceId":"x:com.google.step_count.delta:y","point":[]}]}`, false, false},
		{"part of a day", `{"startTimeMillis":"1710028800000","endTimeMillis":"1710032400000","dataset":[{"dataSourceId":"x","point":[{"startTimeNanos":"1710028800000000000","endTimeNanos":"1710028800000000000","dataTypeName":"com.google.step_count.delta","value":[{"intVal":1}]}]}]}`, false, false},
		{"steps without intVal", `{"startTimeMillis":"1710028800000","endTimeMillis":"1710115200000","dataset":[{"dataSourceId":"x","point":[{"startTimeNanos":"1710028800000000000","endTimeNanos":"1710028800000000000","dataTypeName":"com.google.step_count.delta","value":[{"fpVal":1.5}]}]}]}`, false, true},
		{"no times", `{"dataset":[]}`, false, true},
		{"not a bucket", `[1,2]`, false, true},
	}
	for _, tt := range tests {
		_, ok, err := newMapper().daily(json.RawMessage(tt.raw))
		if ok != tt.ok || (err != nil) != tt.err {
			t.Errorf("%s: ok=%v err=%v", tt.name, ok, err)
		}
	}
}

// TestBodySameDay: weight and heart rate of one UTC day are one Body; a
// point without a value is a problem and the rest of the day lands.
func TestBodySameDay(t *testing.T) {
	weights := rawPoints(t,
		fpPoint("com.google.weight", at(7, 0), at(7, 0), 80.25),
		fpPoint("com.google.weight", at(21, 0), at(21, 0), 81.75),
		`{"startTimeNanos":"1710061200000000000","endTimeNanos":"1710061200000000000","dataTypeName":"com.google.weight","value":[]}`,
	)
	hr := rawPoints(t,
		fpPoint("com.google.heart_rate.bpm", at(23, 59), at(23, 59), 60),
		// 2024-03-11T00:00Z is the next UTC day
		fpPoint("com.google.heart_rate.bpm", at(24, 0), at(24, 0), 62),
	)
	m := newMapper()
	recs := m.bodies(bodyDays(weights, hr, allDays))
	eq(t, "bodies", len(recs), 2)
	b := recs[0].Data.(*model.Body)
	validate(t, recs[0])
	eq(t, "day", recs[0].Key, "2024-03-10")
	eq(t, "measurements", len(b.MeasurementsData.Measurements), 2)
	eq(t, "day avg", val(t, "avg", b.MeasurementsData.DayAvgWeightKg), 81)
	eq(t, "hr samples", len(b.HeartData.HeartRateData.Detailed.HrSamples), 1)
	eq(t, "next day", recs[1].Key, "2024-03-11")
	eq(t, "problems", len(m.problems), 1)
}

func TestUploadTypes(t *testing.T) {
	tests := []struct {
		origin string
		want   model.UploadType
	}{
		{"raw:com.google.activity.segment:com.google.android.apps.fitness:user_input", model.UploadTypeManual},
		{"derived:com.google.activity.segment:com.google.android.gms:merge_activity_segments", model.UploadTypeAutomatic},
		{"derived:com.google.activity.segment:com.strava:session_activity_segment", model.UploadTypeThirdPartyUpload},
		{"raw:com.google.activity.segment:407408718192:Example:Tablet:1000001:MyDataSource", model.UploadTypeThirdPartyUpload},
		{"", model.UploadTypeUnknown},
	}
	for _, tt := range tests {
		eq(t, tt.origin, segmentUploadType(tt.origin), tt.want)
	}
}

func TestDecodePoint(t *testing.T) {
	tests := []struct {
		name, raw string
		ok        bool
	}{
		{"string int64s", `{"startTimeNanos":"1","endTimeNanos":"2","value":[{"intVal":7}]}`, true},
		{"number int64s", `{"startTimeNanos":1,"endTimeNanos":2}`, true},
		{"no end", `{"startTimeNanos":"1"}`, false},
		{"end before start", `{"startTimeNanos":"2","endTimeNanos":"1"}`, false},
		{"not digits", `{"startTimeNanos":"soon","endTimeNanos":"2"}`, false},
		{"not an object", `"x"`, false},
	}
	for _, tt := range tests {
		_, err := decodePoint(json.RawMessage(tt.raw))
		if (err == nil) != tt.ok {
			t.Errorf("%s: err = %v", tt.name, err)
		}
	}
}
