package oura

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
)

func TestSessionFixture(t *testing.T) {
	raw := fixtureItem(t, "session_2024-10-09_11-03.json", "0daf01ce")
	m := newMapper()
	rec, err := m.session(raw)
	if err != nil {
		t.Fatal(err)
	}
	validate(t, rec)
	a := rec.Data.(*model.Activity)
	eq(t, "Key", rec.Key, "0daf01ce-ce56-4b7e-b573-2954c709741d") // id
	eq(t, "Day", rec.Day, "2024-10-09")                           // day
	eq(t, "Type", rec.Type, model.TypeActivity)
	eq(t, "start_time", a.Metadata.StartTime, "2024-10-09T16:39:07.000000+02:00") // start_datetime
	eq(t, "end_time", a.Metadata.EndTime, "2024-10-09T16:43:44.000000+02:00")     // end_datetime
	eq(t, "span", rec.End.Sub(rec.Start), 4*time.Minute+37*time.Second)
	eq(t, "type", a.Metadata.Type, model.ActivityTypeGuidedBreathing) // type breathing
	eq(t, "summary_id", a.Metadata.SummaryId, rec.Key)
	eq(t, "name", val(t, "name", a.Metadata.Name), "breathing")
	if a.HeartRateData != nil {
		t.Error("heart rate data from a null heart_rate")
	}
	if string(rec.Raw) != string(raw) {
		t.Error("Raw is not the item as received")
	}
	if len(m.problems) != 0 {
		t.Errorf("notes: %+v", m.problems)
	}
}

func TestSessionWithHeartRate(t *testing.T) {
	raw := json.RawMessage(`{"id":"s1","day":"2024-10-09","type":"meditation",
		"start_datetime":"2024-10-09T07:00:00-07:00","end_datetime":"2024-10-09T07:10:00-07:00",
		"heart_rate":{"interval":5.0,"items":[61.0,null,63.0],"timestamp":"2024-10-09T07:00:00.000-07:00"},
		"heart_rate_variability":{"interval":5.0,"items":[40.0],"timestamp":"2024-10-09T07:00:00.000-07:00"}}`)
	rec, err := newMapper().session(raw)
	if err != nil {
		t.Fatal(err)
	}
	validate(t, rec)
	a := rec.Data.(*model.Activity)
	eq(t, "type", a.Metadata.Type, model.ActivityTypeMeditation)
	hr := a.HeartRateData.Detailed.HrSamples
	eq(t, "hr samples", len(hr), 2)
	eq(t, "second hr time", *hr[1].Timestamp, "2024-10-09T07:00:10.000000-07:00")
	eq(t, "second hr", *hr[1].Bpm, 63)
	eq(t, "hrv samples", len(a.HeartRateData.Detailed.HrvSamplesRmssd), 1)
}

// TestWorkout maps a workout written in the documented shape
// (PublicWorkout in the Oura API v2 spec; there is no recorded one).
func TestWorkout(t *testing.T) {
	tests := []struct {
		name     string
		raw      string
		typ      model.ActivityType
		upload   model.UploadType
		wantName string
		kcal     *float64
		meters   *float64
		notes    int
	}{
		{
			name: "autodetected walk",
			raw: `{"id":"w1","activity":"walking","calories":187.5,"day":"2024-11-11","distance":2840.0,
				"end_datetime":"2024-11-11T08:42:00+01:00","intensity":"moderate","label":null,
				"source":"autodetected","start_datetime":"2024-11-11T08:05:00+01:00"}`,
			typ: model.ActivityTypeWalking, upload: model.UploadTypeAutomatic, wantName: "walking",
			kcal: ptr(187.5), meters: ptr(2840.0),
		},
		{
			name: "manual labelled strength training",
			raw: `{"id":"w2","activity":"strengthTraining","calories":null,"day":"2024-11-12","distance":null,
				"end_datetime":"2024-11-12T19:00:00+01:00","intensity":"hard","label":"Leg day",
				"source":"manual","start_datetime":"2024-11-12T18:00:00+01:00"}`,
			typ: model.ActivityTypeStrengthTraining, upload: model.UploadTypeManual, wantName: "Leg day",
		},
		{
			name: "unknown activity and source",
			raw: `{"id":"w3","activity":"underwaterHockey","day":"2024-11-12","end_datetime":"2024-11-12T19:00:00+01:00",
				"intensity":"easy","source":"telepathy","start_datetime":"2024-11-12T18:00:00+01:00"}`,
			typ: model.ActivityTypeOther, upload: model.UploadTypeUnknown, wantName: "underwaterHockey", notes: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMapper()
			rec, err := m.workout(json.RawMessage(tt.raw))
			if err != nil {
				t.Fatal(err)
			}
			validate(t, rec)
			a := rec.Data.(*model.Activity)
			eq(t, "type", a.Metadata.Type, tt.typ)
			eq(t, "upload", a.Metadata.UploadType, tt.upload)
			eq(t, "name", val(t, "name", a.Metadata.Name), tt.wantName)
			eq(t, "summary_id", a.Metadata.SummaryId, rec.Key)
			if tt.kcal != nil {
				eq(t, "kcal", val(t, "kcal", a.CaloriesData.TotalBurnedCalories), *tt.kcal)
			} else if a.CaloriesData != nil {
				t.Error("calories from null")
			}
			if tt.meters != nil {
				eq(t, "meters", val(t, "meters", a.DistanceData.Summary.DistanceMeters), *tt.meters)
			} else if a.DistanceData != nil {
				t.Error("distance from null")
			}
			eq(t, "notes", len(m.problems), tt.notes)
		})
	}

	rec, err := newMapper().workout(json.RawMessage(tests[0].raw))
	if err != nil {
		t.Fatal(err)
	}
	a := rec.Data.(*model.Activity)
	eq(t, "start_time", a.Metadata.StartTime, "2024-11-11T08:05:00.000000+01:00")
	eq(t, "end_time", a.Metadata.EndTime, "2024-11-11T08:42:00.000000+01:00")
	eq(t, "Day", rec.Day, "2024-11-11")
}

func TestActivityBadItems(t *testing.T) {
	for name, raw := range map[string]string{
		"workout not json":   `"x"`,
		"workout no id":      `{"activity":"walking","day":"2024-11-11","start_datetime":"2024-11-11T08:05:00+01:00","end_datetime":"2024-11-11T08:42:00+01:00"}`,
		"workout bad end":    `{"id":"w","activity":"walking","day":"2024-11-11","start_datetime":"2024-11-11T08:05:00+01:00","end_datetime":"later"}`,
		"workout end first":  `{"id":"w","activity":"walking","day":"2024-11-11","start_datetime":"2024-11-11T08:05:00+01:00","end_datetime":"2024-11-11T08:00:00+01:00"}`,
		"workout no day":     `{"id":"w","activity":"walking","start_datetime":"2024-11-11T08:05:00+01:00","end_datetime":"2024-11-11T08:42:00+01:00"}`,
		"session bad sample": `{"id":"s","type":"breathing","day":"2024-10-09","start_datetime":"2024-10-09T16:39:07+02:00","end_datetime":"2024-10-09T16:43:44+02:00","heart_rate":{"interval":5,"items":[60],"timestamp":"?"}}`,
	} {
		t.Run(name, func(t *testing.T) {
			fn := newMapper().workout
			if name[:7] == "session" {
				fn = newMapper().session
			}
			if _, err := fn(json.RawMessage(raw)); err == nil {
				t.Error("no error")
			}
		})
	}
}
