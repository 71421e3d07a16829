package model_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/wearbridge/wearbridge/internal/model"
)

func ptr[T any](v T) *T { return &v }

// TestTerraJSONNames checks the generated types against key names read by
// hand from terraschema/schemas: Sleep.yaml, SleepMetadata.yaml,
// HeartRateData.yaml, HeartRateDataDetailed.yaml, HeartRateDataSample.yaml,
// HeartRateDataSummary.yaml, SleepDurationsData.yaml, AsleepDurations.yaml
// and SleepUploadType.yaml (Automatic = 2).
func TestTerraJSONNames(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want string
	}{
		{
			name: "sleep",
			in: model.Sleep{
				Metadata: &model.SleepMetadata{
					StartTime:  "1999-11-23T22:00:00.000000+02:00",
					EndTime:    "2022-11-24T08:00:00.000000+01:00",
					UploadType: model.SleepUploadTypeAutomatic,
					IsNap:      ptr(false),
				},
				HeartRateData: &model.HeartRateData{
					Summary: &model.HeartRateDataSummary{AvgHrBpm: ptr(58.0)},
					Detailed: &model.HeartRateDataDetailed{HrSamples: []model.HeartRateDataSample{
						{Timestamp: ptr("2022-11-23T23:00:00.000000+02:00"), Bpm: ptr(52.0)},
					}},
				},
				SleepDurationsData: &model.SleepDurationsData{
					Asleep: &model.AsleepDurations{DurationREMSleepStateSeconds: ptr(5400.0)},
				},
			},
			// Keys in property order of the YAML files; optional ones left
			// nil are absent.
			want: `{
				"heart_rate_data": {
					"detailed": {"hr_samples": [{"timestamp": "2022-11-23T23:00:00.000000+02:00", "bpm": 52}]},
					"summary": {"avg_hr_bpm": 58}
				},
				"metadata": {
					"end_time": "2022-11-24T08:00:00.000000+01:00",
					"is_nap": false,
					"start_time": "1999-11-23T22:00:00.000000+02:00",
					"upload_type": 2
				},
				"sleep_durations_data": {"asleep": {"duration_REM_sleep_state_seconds": 5400}}
			}`,
		},
		{
			// metadata is required in Sleep.yaml: a missing one is kept as
			// null (which validation rejects) rather than dropped.
			name: "sleep without metadata",
			in:   model.Sleep{},
			want: `{"metadata": null}`,
		},
		{
			// MET_data keeps its capitals (Daily.yaml); required scalars of
			// DailyMetadata.yaml are always present.
			name: "daily",
			in: model.Daily{
				Metadata: &model.DailyMetadata{},
				METData:  &model.METData{},
			},
			want: `{"MET_data": {}, "metadata": {"end_time": "", "start_time": "", "upload_type": 0}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := json.Marshal(tt.in)
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			var want bytes.Buffer
			if err := json.Compact(&want, []byte(tt.want)); err != nil {
				t.Fatalf("bad want: %v", err)
			}
			if !bytes.Equal(got, want.Bytes()) {
				t.Errorf("got  %s\nwant %s", got, want.Bytes())
			}
		})
	}
}

// TestTerraEnumValues spot-checks constants against the enum files.
func TestTerraEnumValues(t *testing.T) {
	tests := []struct {
		name      string
		got, want int
	}{
		{"SleepLevel REM sleep", int(model.SleepLevelREMSleep), 6},       // SleepLevel.yaml
		{"SleepLevel Out of bed", int(model.SleepLevelOutOfBed), 3},      // SleepLevel.yaml
		{"UploadType Manual", int(model.UploadTypeManual), 2},            // UploadType.yaml
		{"SleepUploadType Manual", int(model.SleepUploadTypeManual), 1},  // SleepUploadType.yaml
		{"ActivityType Running", int(model.ActivityTypeRunning), 8},      // ActivityType.yaml
		{"ActivityType In Vehicle", int(model.ActivityTypeInVehicle), 0}, // ActivityType.yaml
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %d, want %d", tt.name, tt.got, tt.want)
		}
	}
}
