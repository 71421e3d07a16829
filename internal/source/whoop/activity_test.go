package whoop

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
)

// documentedWorkout is WHOOP's v2 WorkoutV2 documented example (the v2
// OpenAPI reference's per-field examples; the shared fixtures have no
// workout file). The sandbox serves the same example.
const documentedWorkout = `{
  "id": "ecfc6a15-4661-442f-a9a4-f160dd7afae8",
  "v1_id": 1043,
  "user_id": 9012,
  "created_at": "2022-04-24T11:25:44.774Z",
  "updated_at": "2022-04-24T14:25:44.774Z",
  "start": "2022-04-24T02:25:44.774Z",
  "end": "2022-04-24T10:25:44.774Z",
  "timezone_offset": "-05:00",
  "sport_name": "running",
  "score_state": "SCORED",
  "score": {
    "strain": 8.2463,
    "average_heart_rate": 123,
    "max_heart_rate": 146,
    "kilojoule": 1569.34033203125,
    "percent_recorded": 100.0,
    "distance_meter": 1772.77035916,
    "altitude_gain_meter": 46.64384460449,
    "altitude_change_meter": -0.781372010707855,
    "zone_durations": {
      "zone_zero_milli": 300000,
      "zone_one_milli": 600000,
      "zone_two_milli": 900000,
      "zone_three_milli": 900000,
      "zone_four_milli": 600000,
      "zone_five_milli": 300000
    }
  },
  "sport_id": 1
}`

func TestWorkoutDocumentedExample(t *testing.T) {
	m := newMapper()
	rec, err := m.workout(json.RawMessage(documentedWorkout))
	if err != nil {
		t.Fatal(err)
	}
	validate(t, rec)
	a := rec.Data.(*model.Activity)
	eq(t, "type", rec.Type, model.TypeActivity)
	eq(t, "key", rec.Key, "ecfc6a15-4661-442f-a9a4-f160dd7afae8")
	eq(t, "day", rec.Day, "2022-04-23") // 02:25:44.774Z at -05:00
	eq(t, "start_time", a.Metadata.StartTime, "2022-04-23T21:25:44.774000-05:00")
	eq(t, "end_time", a.Metadata.EndTime, "2022-04-24T05:25:44.774000-05:00")
	eq(t, "record start", rec.Start.Equal(time.Date(2022, 4, 24, 2, 25, 44, 774e6, time.UTC)), true)
	eq(t, "summary_id", a.Metadata.SummaryId, "ecfc6a15-4661-442f-a9a4-f160dd7afae8")
	eq(t, "activity type", a.Metadata.Type, model.ActivityTypeRunning) // sport_name "running"
	eq(t, "name", val(t, "name", a.Metadata.Name), "running")
	eq(t, "strain", val(t, "strain", a.StrainData.StrainLevel), 8.2463)
	hr := a.HeartRateData.Summary
	eq(t, "avg hr", val(t, "avg", hr.AvgHrBpm), 123.0)
	eq(t, "max hr", val(t, "max", hr.MaxHrBpm), 146.0)
	// kilojoule is energy expended: kept in kJ as energy, and in kcal.
	kj, kJPerKcal := 1569.34033203125, 4.184
	eq(t, "energy kJ", val(t, "energy", a.EnergyData.EnergyKilojoules), kj)
	eq(t, "kcal", val(t, "kcal", a.CaloriesData.TotalBurnedCalories), kj/kJPerKcal)
	if a.WorkData != nil {
		t.Error("energy expended went to work_data (mechanical work)")
	}
	sum := a.DistanceData.Summary
	eq(t, "distance", val(t, "distance", sum.DistanceMeters), 1772.77035916)
	eq(t, "gain", val(t, "gain", sum.Elevation.GainActualMeters), 46.64384460449)
	gain, change := 46.64384460449, -0.781372010707855
	eq(t, "loss", val(t, "loss", sum.Elevation.LossActualMeters), gain-change)
	// zone_durations, ms → s, zones 0..5
	wantZones := []float64{300, 600, 900, 900, 600, 300}
	if len(hr.HrZoneData) != len(wantZones) {
		t.Fatalf("%d zones, want 6", len(hr.HrZoneData))
	}
	for i, z := range hr.HrZoneData {
		eq(t, "zone index", val(t, "zone", z.Zone), i)
		eq(t, "zone seconds", val(t, "seconds", z.DurationSeconds), wantZones[i])
	}
	if len(m.problems) != 0 {
		t.Errorf("problems: %+v", m.problems)
	}
}

func TestWorkoutQuirks(t *testing.T) {
	base := json.RawMessage(documentedWorkout)
	tests := []struct {
		name     string
		raw      json.RawMessage
		wantErr  string
		typ      model.ActivityType
		scored   bool
		problems int
	}{
		{name: "display-style sport name", raw: withJSON(t, base, map[string]any{"sport_name": "Functional Fitness"}), typ: model.ActivityTypeCircuitTraining, scored: true},
		{name: "slug sport name", raw: withJSON(t, base, map[string]any{"sport_name": "hiking/rucking"}), typ: model.ActivityTypeHiking, scored: true},
		{name: "soccer is not american football", raw: withJSON(t, base, map[string]any{"sport_name": "soccer"}), typ: model.ActivityTypeEnglishFootball, scored: true},
		{name: "known sport without a terra type", raw: withJSON(t, base, map[string]any{"sport_name": "sauna"}), typ: model.ActivityTypeOther, scored: true},
		{name: "unknown sport is kept and reported", raw: withJSON(t, base, map[string]any{"sport_name": "zorbing"}), typ: model.ActivityTypeOther, scored: true, problems: 1},
		{name: "sport_id when the name is missing", raw: withJSON(t, base, map[string]any{"sport_name": nil, "sport_id": 44}), typ: model.ActivityTypeYoga, scored: true},
		{name: "pending score", raw: withJSON(t, base, map[string]any{"score_state": "PENDING_SCORE", "score": nil}), typ: model.ActivityTypeRunning},
		{name: "singular zone_duration", raw: withJSON(t, base, map[string]any{"score": map[string]any{"zone_duration": map[string]any{"zone_one_milli": 389370}}}), typ: model.ActivityTypeRunning, scored: true},
		{name: "no end", raw: withJSON(t, base, map[string]any{"end": nil}), wantErr: "no end"},
		{name: "bad offset", raw: withJSON(t, base, map[string]any{"timezone_offset": "+25:00"}), wantErr: "timezone_offset"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMapper()
			rec, err := m.workout(tt.raw)
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
			a := rec.Data.(*model.Activity)
			eq(t, "type", a.Metadata.Type, tt.typ)
			eq(t, "scored", a.HeartRateData != nil, tt.scored)
			eq(t, "problems", len(m.problems), tt.problems)
		})
	}
}

// TestSportTables checks that every sport_id names a sport of the table.
func TestSportTables(t *testing.T) {
	for id, name := range sportNames {
		if _, ok := sportTypes[name]; !ok {
			t.Errorf("sport_id %d: %q is not in sportTypes", id, name)
		}
		if normSport(name) != name {
			t.Errorf("sport_id %d: %q is not normalised", id, name)
		}
	}
}
