package googlefit

import (
	"testing"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
)

// allDays keeps every day.
func allDays(time.Time) bool { return true }

// TestFixtureActivitySegments maps merge_activity_segments.json: three
// activity segments, each one Activity.
func TestFixtureActivitySegments(t *testing.T) {
	pts := fixturePoints(t, "merge_activity_segments.json")
	m := newMapper()
	items := m.activityItems(activityInput{segments: pts})
	eq(t, "activities", len(items), 3)
	tests := []struct {
		key, start, end, day, name string
		typ                        model.ActivityType
		upload                     model.UploadType
		startUTC                   time.Time
	}{
		{
			// point[0]: startTimeNanos 1420150917000000000, endTimeNanos
			// 1420154989000000000, intVal 7, origin com.strava
			// session_activity_segment.
			key:   "segment:1420150917000000000:derived:com.google.activity.segment:com.strava:session_activity_segment",
			start: "2015-01-01T22:21:57.000000+00:00", end: "2015-01-01T23:29:49.000000+00:00", day: "2015-01-01",
			name: "Walking", typ: model.ActivityTypeWalking, upload: model.UploadTypeThirdPartyUpload,
			startUTC: time.Date(2015, 1, 1, 22, 21, 57, 0, time.UTC),
		},
		{
			// point[1]: 1420417649151000000 to 1420417841151000000, intVal 9
			// (aerobics), origin com.mapmyrun.android2.
			key:   "segment:1420417649151000000:derived:com.google.activity.segment:com.mapmyrun.android2:session_activity_segment",
			start: "2015-01-05T00:27:29.151000+00:00", end: "2015-01-05T00:30:41.151000+00:00", day: "2015-01-05",
			name: "Aerobics", typ: model.ActivityTypeAerobics, upload: model.UploadTypeThirdPartyUpload,
			startUTC: time.Date(2015, 1, 5, 0, 27, 29, 151000000, time.UTC),
		},
		{
			// point[2]: 1436275800000000000 to 1436277600000000000, intVal 8
			// (running), origin Google Fit's user_input stream.
			key:   "segment:1436275800000000000:raw:com.google.activity.segment:com.google.android.apps.fitness:user_input",
			start: "2015-07-07T13:30:00.000000+00:00", end: "2015-07-07T14:00:00.000000+00:00", day: "2015-07-07",
			name: "Running", typ: model.ActivityTypeRunning, upload: model.UploadTypeManual,
			startUTC: time.Date(2015, 7, 7, 13, 30, 0, 0, time.UTC),
		},
	}
	for i, tt := range tests {
		rec := m.activity(items[i], nil, nil)
		validate(t, rec)
		a := rec.Data.(*model.Activity)
		eq(t, "Key", rec.Key, tt.key)
		eq(t, "Type", rec.Type, model.TypeActivity)
		eq(t, "Day", rec.Day, tt.day)
		eq(t, "Start", rec.Start, tt.startUTC)
		eq(t, "start_time", a.Metadata.StartTime, tt.start)
		eq(t, "end_time", a.Metadata.EndTime, tt.end)
		eq(t, "summary_id", a.Metadata.SummaryId, tt.key)
		eq(t, "name", val(t, "name", a.Metadata.Name), tt.name)
		eq(t, "type", a.Metadata.Type, tt.typ)
		eq(t, "upload_type", a.Metadata.UploadType, tt.upload)
		eq(t, "raw", string(rec.Raw), string(pts[i].raw))
		if a.HeartRateData != nil || a.CaloriesData != nil {
			t.Errorf("%s: data the segment does not have", rec.Key)
		}
	}
	if n := m.nights(nil, pts); len(n) != 0 {
		t.Errorf("nights from activity segments: %d, want 0", len(n))
	}
	eq(t, "problems", len(m.problems), 0)
}

// TestFixtureSleepSegment maps merge_activity_segments_only_sleep.json:
// one segment of type 72 (sleeping) is a night, not an activity.
func TestFixtureSleepSegment(t *testing.T) {
	pts := fixturePoints(t, "merge_activity_segments_only_sleep.json")
	m := newMapper()
	if items := m.activityItems(activityInput{segments: pts}); len(items) != 0 {
		t.Fatalf("sleep segment mapped as %d activities", len(items))
	}
	nights := m.nights(nil, pts)
	eq(t, "nights", len(nights), 1)
	rec := m.sleep(nights[0], nil, nil)
	validate(t, rec)
	s := rec.Data.(*model.Sleep)
	// point[0]: 1436275800000000000 to 1436277600000000000, intVal 72,
	// origin raw:...:com.google.android.apps.fitness:user_input.
	eq(t, "Key", rec.Key, "segment:1436275800000000000:raw:com.google.activity.segment:com.google.android.apps.fitness:user_input")
	eq(t, "Type", rec.Type, model.TypeSleep)
	eq(t, "Day", rec.Day, "2015-07-07")
	eq(t, "start_time", s.Metadata.StartTime, "2015-07-07T13:30:00.000000+00:00")
	eq(t, "end_time", s.Metadata.EndTime, "2015-07-07T14:00:00.000000+00:00")
	eq(t, "summary_id", val(t, "summary_id", s.Metadata.SummaryId), rec.Key)
	eq(t, "upload_type", s.Metadata.UploadType, model.SleepUploadTypeManual)
	if s.Metadata.IsNap != nil {
		t.Error("is_nap set though Google does not say")
	}
	d := s.SleepDurationsData
	// 1436277600 - 1436275800 = 1800 s, all of it "sleeping".
	eq(t, "in bed", val(t, "in bed", d.Other.DurationInBedSeconds), 1800)
	eq(t, "asleep", val(t, "asleep", d.Asleep.DurationAsleepStateSeconds), 1800)
	eq(t, "awake", val(t, "awake", d.Awake.DurationAwakeStateSeconds), 0)
	if d.Asleep.DurationDeepSleepStateSeconds != nil {
		t.Error("deep sleep set without stage data")
	}
	eq(t, "hypnogram", len(d.HypnogramSamples), 1)
	eq(t, "hypnogram time", val(t, "ts", d.HypnogramSamples[0].Timestamp), "2015-07-07T13:30:00.000000+00:00")
	eq(t, "hypnogram level", val(t, "level", d.HypnogramSamples[0].Level), model.SleepLevelSleeping)
	eq(t, "raw", string(rec.Raw), `{"activity_segments":[`+compact(t, pts[0].raw)+`]}`)
	eq(t, "problems", len(m.problems), 0)
}

// TestFixtureHeartRate maps merge_heart_rate.json: two readings on two
// UTC days, one Body each.
func TestFixtureHeartRate(t *testing.T) {
	pts := fixturePoints(t, "merge_heart_rate.json")
	m := newMapper()
	recs := m.bodies(bodyDays(nil, pts, allDays))
	eq(t, "bodies", len(recs), 2)
	tests := []struct {
		day, sample string
		bpm         float64
	}{
		// point[0]: startTimeNanos 1422632268186000000, fpVal 54.
		{"2015-01-30", "2015-01-30T15:37:48.186000+00:00", 54},
		// point[1]: startTimeNanos 1436538872914000000, fpVal 58.0.
		{"2015-07-10", "2015-07-10T14:34:32.914000+00:00", 58},
	}
	for i, tt := range tests {
		rec := recs[i]
		validate(t, rec)
		b := rec.Data.(*model.Body)
		eq(t, "Key", rec.Key, tt.day)
		eq(t, "Day", rec.Day, tt.day)
		eq(t, "start_time", b.Metadata.StartTime, tt.day+"T00:00:00.000000+00:00")
		eq(t, "End-Start", rec.End.Sub(rec.Start), 24*time.Hour)
		hr := b.HeartData.HeartRateData
		eq(t, "samples", len(hr.Detailed.HrSamples), 1)
		eq(t, "sample time", val(t, "ts", hr.Detailed.HrSamples[0].Timestamp), tt.sample)
		eq(t, "bpm", val(t, "bpm", hr.Detailed.HrSamples[0].Bpm), tt.bpm)
		eq(t, "avg", val(t, "avg", hr.Summary.AvgHrBpm), tt.bpm)
		eq(t, "min", val(t, "min", hr.Summary.MinHrBpm), tt.bpm)
		eq(t, "max", val(t, "max", hr.Summary.MaxHrBpm), tt.bpm)
		eq(t, "raw", string(rec.Raw), `{"heart_rate":[`+compact(t, pts[i].raw)+`]}`)
		if b.MeasurementsData != nil {
			t.Error("measurements without weight")
		}
	}
}

// TestFixtureWeight maps merge_weight.json: three weighings on three UTC
// days, in kg as recorded (fpVal at full precision).
func TestFixtureWeight(t *testing.T) {
	pts := fixturePoints(t, "merge_weight.json")
	m := newMapper()
	recs := m.bodies(bodyDays(pts, nil, allDays))
	eq(t, "bodies", len(recs), 3)
	tests := []struct {
		day, end, at string
		kg           float64
	}{
		// point[0]: startTimeNanos 1423785600000000000, fpVal 72.0999984741211.
		{"2015-02-13", "2015-02-14T00:00:00.000000+00:00", "2015-02-13T00:00:00.000000+00:00", 72.0999984741211},
		// point[1]: startTimeNanos 1424192233313000000, fpVal 72.
		{"2015-02-17", "2015-02-18T00:00:00.000000+00:00", "2015-02-17T16:57:13.313000+00:00", 72},
		// point[2]: startTimeNanos 1436325420000000000 (ends 10.02 s later),
		// fpVal 75.75070190429688.
		{"2015-07-08", "2015-07-09T00:00:00.000000+00:00", "2015-07-08T03:17:00.000000+00:00", 75.75070190429688},
	}
	for i, tt := range tests {
		rec := recs[i]
		validate(t, rec)
		b := rec.Data.(*model.Body)
		eq(t, "Key", rec.Key, tt.day)
		eq(t, "end_time", b.Metadata.EndTime, tt.end)
		ms := b.MeasurementsData.Measurements
		eq(t, "measurements", len(ms), 1)
		eq(t, "time", val(t, "time", ms[0].MeasurementTime), tt.at)
		eq(t, "kg", val(t, "kg", ms[0].WeightKg), tt.kg)
		eq(t, "day avg", val(t, "avg", b.MeasurementsData.DayAvgWeightKg), tt.kg)
		eq(t, "raw", string(rec.Raw), `{"weight":[`+compact(t, pts[i].raw)+`]}`)
		if b.HeartData != nil {
			t.Error("heart data without heart rate")
		}
	}
}
