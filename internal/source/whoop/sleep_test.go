package whoop

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
)

// TestSleepFixture maps sleep_collection.json's sleep, filed under its
// cycle's day.
func TestSleepFixture(t *testing.T) {
	m := newMapper()
	// The sleep's cycle_id is 93845, whose day is 2022-04-23
	// (cycle_collection.json: start 02:25:44.774Z at -05:00).
	_, cday, err := cycleDay(fixtureRecords(t, "cycle_collection.json")[0])
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "cycle day", cday, "2022-04-23")
	rec, err := m.sleep(fixtureRecords(t, "sleep_collection.json")[0], cday, nil)
	if err != nil {
		t.Fatal(err)
	}
	validate(t, rec)
	s := rec.Data.(*model.Sleep)

	eq(t, "type", rec.Type, model.TypeSleep)
	eq(t, "key", rec.Key, "ecfc6a15-4661-442f-a9a4-f160dd7afae8") // id (v2 UUID, not v1_id 93845)
	eq(t, "day", rec.Day, "2022-04-23")
	// start/end 02:25:44.774Z / 10:25:44.774Z shown at timezone_offset -05:00
	eq(t, "start_time", s.Metadata.StartTime, "2022-04-23T21:25:44.774000-05:00")
	eq(t, "end_time", s.Metadata.EndTime, "2022-04-24T05:25:44.774000-05:00")
	eq(t, "record start", rec.Start.Equal(time.Date(2022, 4, 24, 2, 25, 44, 774e6, time.UTC)), true)
	eq(t, "record end", rec.End.Equal(time.Date(2022, 4, 24, 10, 25, 44, 774e6, time.UTC)), true)
	eq(t, "summary_id", val(t, "summary_id", s.Metadata.SummaryId), "ecfc6a15-4661-442f-a9a4-f160dd7afae8")
	eq(t, "is_nap", val(t, "is_nap", s.Metadata.IsNap), false) // nap: false
	eq(t, "upload_type", s.Metadata.UploadType, model.SleepUploadTypeAutomatic)

	// stage_summary, milliseconds to seconds
	dd := s.SleepDurationsData
	eq(t, "in bed", val(t, "in bed", dd.Other.DurationInBedSeconds), 30272.735)                      // total_in_bed_time_milli 30272735
	eq(t, "awake", val(t, "awake", dd.Awake.DurationAwakeStateSeconds), 1403.507)                    // total_awake_time_milli 1403507
	eq(t, "no data", val(t, "no data", dd.Other.DurationUnmeasurableSleepSeconds), 0.0)              // total_no_data_time_milli 0
	eq(t, "light", val(t, "light", dd.Asleep.DurationLightSleepStateSeconds), 14905.851)             // total_light_sleep_time_milli 14905851
	eq(t, "deep", val(t, "deep", dd.Asleep.DurationDeepSleepStateSeconds), 6630.37)                  // total_slow_wave_sleep_time_milli 6630370
	eq(t, "rem", val(t, "rem", dd.Asleep.DurationREMSleepStateSeconds), 5879.573)                    // total_rem_sleep_time_milli 5879573
	eq(t, "asleep", val(t, "asleep", dd.Asleep.DurationAsleepStateSeconds), 27415.794)               // 14905851 + 6630370 + 5879573 ms
	eq(t, "wake-ups", val(t, "wake-ups", dd.Awake.NumWakeupEvents), 12)                              // disturbance_count
	eq(t, "efficiency", val(t, "efficiency", dd.SleepEfficiency), 91.69533848)                       // sleep_efficiency_percentage
	eq(t, "scores.sleep", val(t, "score", s.Scores.Sleep), 98.0)                                     // sleep_performance_percentage
	eq(t, "breaths", val(t, "breaths", s.RespirationData.BreathsData.AvgBreathsPerMin), 16.11328125) // respiratory_rate
	if s.ReadinessData != nil || s.HeartRateData != nil {
		t.Error("recovery data on a sleep without a recovery")
	}
	if len(m.problems) != 0 {
		t.Errorf("problems: %+v", m.problems)
	}
}

// TestSleepWithRecovery joins recovery_collection.json's recovery onto the
// sleep it names (sleep_id 123e4567-..., given to the fixture sleep here:
// the documented examples do not link up).
func TestSleepWithRecovery(t *testing.T) {
	rec := fixtureRecovery(t)
	eq(t, "recovery sleep_id", rec.doc.SleepID, "123e4567-e89b-12d3-a456-426614174000")
	raw := withJSON(t, fixtureRecords(t, "sleep_collection.json")[0], map[string]any{"id": rec.doc.SleepID})
	m := newMapper()
	r, err := m.sleep(raw, "", rec)
	if err != nil {
		t.Fatal(err)
	}
	validate(t, r)
	s := r.Data.(*model.Sleep)
	// No cycle day given: the sleep's own local start date.
	eq(t, "day", r.Day, "2022-04-23")
	eq(t, "readiness", val(t, "readiness", s.ReadinessData.Readiness), 44.0)                               // recovery_score
	eq(t, "resting hr", val(t, "resting", s.HeartRateData.Summary.RestingHrBpm), 64.0)                     // resting_heart_rate
	eq(t, "hrv rmssd", val(t, "hrv", s.HeartRateData.Summary.AvgHrvRmssd), 31.813562)                      // hrv_rmssd_milli
	eq(t, "spo2", val(t, "spo2", s.RespirationData.OxygenSaturationData.AvgSaturationPercentage), 95.6875) // spo2_percentage
	eq(t, "breaths kept", val(t, "breaths", s.RespirationData.BreathsData.AvgBreathsPerMin), 16.11328125)
	if s.TemperatureData != nil {
		t.Error("absolute skin temperature went to the delta-from-baseline field")
	}
	var sr sleepRaw
	if err := json.Unmarshal(r.Raw, &sr); err != nil || len(sr.Sleep) == 0 || len(sr.Recovery) == 0 {
		t.Errorf("raw = %s, want the sleep and the recovery", r.Raw)
	}

	// A recovery of another sleep is refused.
	if _, err := m.sleep(fixtureRecords(t, "sleep_collection.json")[0], "", rec); err == nil || !strings.Contains(err.Error(), "recovery is for sleep") {
		t.Errorf("err = %v, want a mismatch", err)
	}
}

func TestSleepQuirks(t *testing.T) {
	sleep := fixtureRecords(t, "sleep_collection.json")[0]
	tests := []struct {
		name     string
		raw      json.RawMessage
		day      string
		wantErr  string
		wantDay  string
		nap      bool
		scored   bool
		problems int
	}{
		{name: "nap under its cycle's day", raw: withJSON(t, sleep, map[string]any{"nap": true}), day: "2022-04-22", wantDay: "2022-04-22", nap: true, scored: true},
		{name: "pending score", raw: withJSON(t, sleep, map[string]any{"score_state": "PENDING_SCORE", "score": nil}), wantDay: "2022-04-23"},
		{name: "unscorable", raw: withJSON(t, sleep, map[string]any{"score_state": "UNSCORABLE", "score": nil}), wantDay: "2022-04-23"},
		{name: "unknown state", raw: withJSON(t, sleep, map[string]any{"score_state": "NEW_STATE"}), wantDay: "2022-04-23", scored: true, problems: 1},
		{name: "score without stage summary", raw: withJSON(t, sleep, map[string]any{"score": map[string]any{"sleep_performance_percentage": 80}}), wantDay: "2022-04-23", scored: true},
		{name: "no end", raw: withJSON(t, sleep, map[string]any{"end": nil}), wantErr: "no end"},
		{name: "no id", raw: withJSON(t, sleep, map[string]any{"id": nil}), wantErr: "no id"},
		{name: "bad start", raw: withJSON(t, sleep, map[string]any{"start": "yesterday"}), wantErr: "bad timestamp"},
		{name: "v1 integer id", raw: withJSON(t, sleep, map[string]any{"id": 93845}), wantErr: "decode sleep"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMapper()
			r, err := m.sleep(tt.raw, tt.day, nil)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			validate(t, r)
			s := r.Data.(*model.Sleep)
			eq(t, "day", r.Day, tt.wantDay)
			eq(t, "is_nap", val(t, "is_nap", s.Metadata.IsNap), tt.nap)
			eq(t, "scored", s.Scores != nil, tt.scored)
			eq(t, "problems", len(m.problems), tt.problems)
		})
	}
}
