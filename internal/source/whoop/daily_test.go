package whoop

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
)

// TestDailyFixture maps cycle_collection.json's cycle joined with
// recovery_collection.json's recovery (cycle_id 93845 in both).
func TestDailyFixture(t *testing.T) {
	m := newMapper()
	rec, err := m.daily(fixtureRecords(t, "cycle_collection.json")[0], fixtureRecovery(t))
	if err != nil {
		t.Fatal(err)
	}
	validate(t, rec)
	d := rec.Data.(*model.Daily)

	eq(t, "type", rec.Type, model.TypeDaily)
	eq(t, "key", rec.Key, "93845") // cycle id
	// start "2022-04-24T02:25:44.774Z" at timezone_offset "-05:00" is
	// 21:25 on 2022-04-23 local: the cycle's day.
	eq(t, "day", rec.Day, "2022-04-23")
	eq(t, "metadata.start_time", d.Metadata.StartTime, "2022-04-23T00:00:00.000000-05:00")
	eq(t, "metadata.end_time", d.Metadata.EndTime, "2022-04-24T00:00:00.000000-05:00")
	eq(t, "record start", rec.Start.Equal(time.Date(2022, 4, 23, 5, 0, 0, 0, time.UTC)), true)
	eq(t, "record end", rec.End.Equal(time.Date(2022, 4, 24, 5, 0, 0, 0, time.UTC)), true)
	eq(t, "upload_type", d.Metadata.UploadType, model.UploadTypeAutomatic)

	// cycle score
	eq(t, "strain", val(t, "strain", d.StrainData.StrainLevel), 5.2951527)
	// kilojoule 8288.297 is energy expended: kcal = kJ / 4.184.
	kj, kJPerKcal := 8288.297, 4.184 // variables: float64 division, not an exact constant
	eq(t, "total_burned_calories", val(t, "calories", d.CaloriesData.TotalBurnedCalories), kj/kJPerKcal)
	hr := d.HeartRateData.Summary
	eq(t, "avg_hr_bpm", val(t, "avg hr", hr.AvgHrBpm), 68.0)
	eq(t, "max_hr_bpm", val(t, "max hr", hr.MaxHrBpm), 141.0)
	// recovery score
	eq(t, "scores.recovery", val(t, "recovery", d.Scores.Recovery), 44.0)
	eq(t, "resting_hr_bpm", val(t, "resting hr", hr.RestingHrBpm), 64.0)
	eq(t, "avg_hrv_rmssd", val(t, "hrv", hr.AvgHrvRmssd), 31.813562) // hrv_rmssd_milli is RMSSD in ms
	if hr.AvgHrvSdnn != nil {
		t.Error("RMSSD went to the SDNN field")
	}
	eq(t, "avg_saturation_percentage", val(t, "spo2", d.OxygenData.AvgSaturationPercentage), 95.6875)

	var raw dailyRaw
	if err := json.Unmarshal(rec.Raw, &raw); err != nil {
		t.Fatal(err)
	}
	if len(raw.Cycle) == 0 || len(raw.Recovery) == 0 {
		t.Errorf("raw = %s, want the cycle and the recovery", rec.Raw)
	}
	if !strings.Contains(string(raw.Recovery), "33.7") {
		t.Error("the unmapped skin temperature is not kept in raw")
	}
	if len(m.problems) != 0 {
		t.Errorf("problems: %+v", m.problems)
	}
}

// TestDailyQuirks covers what the fixture does not: no recovery, unscored
// items, an ongoing cycle, offsets, unknown states and bad input.
func TestDailyQuirks(t *testing.T) {
	cycle := fixtureRecords(t, "cycle_collection.json")[0]
	tests := []struct {
		name     string
		raw      json.RawMessage
		rec      *recoveryItem
		wantErr  string
		day      string
		start    string
		strain   bool
		recovery bool
		problems int
	}{
		{name: "no recovery", raw: cycle, day: "2022-04-23", start: "2022-04-23T00:00:00.000000-05:00", strain: true},
		{
			name: "pending score", raw: withJSON(t, cycle, map[string]any{"score_state": "PENDING_SCORE", "score": nil}),
			day: "2022-04-23", start: "2022-04-23T00:00:00.000000-05:00",
		},
		{
			name: "unscorable with a stray score is not scored", raw: withJSON(t, cycle, map[string]any{"score_state": "UNSCORABLE"}),
			day: "2022-04-23", start: "2022-04-23T00:00:00.000000-05:00",
		},
		{
			name: "unknown state keeps the score and is reported", raw: withJSON(t, cycle, map[string]any{"score_state": "RESCORING"}),
			day: "2022-04-23", start: "2022-04-23T00:00:00.000000-05:00", strain: true, problems: 1,
		},
		{
			name: "ongoing cycle (no end)", raw: withJSON(t, cycle, map[string]any{"end": nil}),
			day: "2022-04-23", start: "2022-04-23T00:00:00.000000-05:00", strain: true,
		},
		{
			name: "offset east of UTC moves the day", raw: withJSON(t, cycle, map[string]any{"timezone_offset": "+05:30"}),
			day: "2022-04-24", start: "2022-04-24T00:00:00.000000+05:30", strain: true,
		},
		{
			name: "offset Z", raw: withJSON(t, cycle, map[string]any{"timezone_offset": "Z"}),
			day: "2022-04-24", start: "2022-04-24T00:00:00.000000+00:00", strain: true,
		},
		{
			name: "pending recovery adds nothing", raw: cycle,
			rec: &recoveryItem{doc: recoveryDoc{CycleID: "93845", ScoreState: "PENDING_SCORE"}, raw: json.RawMessage(`{}`)},
			day: "2022-04-23", start: "2022-04-23T00:00:00.000000-05:00", strain: true,
		},
		{name: "recovery of another cycle", raw: cycle, rec: &recoveryItem{doc: recoveryDoc{CycleID: "1"}}, wantErr: "recovery is for cycle 1"},
		{name: "bad offset", raw: withJSON(t, cycle, map[string]any{"timezone_offset": "EST"}), wantErr: "timezone_offset"},
		{name: "no id", raw: withJSON(t, cycle, map[string]any{"id": nil}), wantErr: "no id"},
		{name: "not an object", raw: json.RawMessage(`[1]`), wantErr: "decode cycle"},
		{name: "end before start", raw: withJSON(t, cycle, map[string]any{"end": "2022-04-23T00:00:00Z"}), wantErr: "ends before"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMapper()
			rec, err := m.daily(tt.raw, tt.rec)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			validate(t, rec)
			d := rec.Data.(*model.Daily)
			eq(t, "day", rec.Day, tt.day)
			eq(t, "start_time", d.Metadata.StartTime, tt.start)
			eq(t, "strain present", d.StrainData != nil, tt.strain)
			eq(t, "recovery present", d.Scores != nil, tt.recovery)
			eq(t, "problems", len(m.problems), tt.problems)
		})
	}
}
