package garmin

import (
	"strings"
	"testing"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
)

func TestFormatTime(t *testing.T) {
	tests := []struct {
		in   time.Time
		want string
	}{
		{time.Date(2022, 11, 24, 8, 0, 0, 0, time.FixedZone("", 3600)), "2022-11-24T08:00:00.000000+01:00"},
		{time.Date(2022, 11, 24, 8, 0, 0, 123456789, time.UTC), "2022-11-24T08:00:00.123456+00:00"},
		{time.Date(2022, 11, 23, 22, 30, 0, 0, time.FixedZone("", -(9*3600+1800))), "2022-11-23T22:30:00.000000-09:30"},
	}
	for _, tt := range tests {
		if got := FormatTime(tt.in); got != tt.want {
			t.Errorf("FormatTime(%v) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestMapSleepConsistentSession(t *testing.T) {
	// A session 1452419581 + 3000 s at offset -5 h, with levels inside it,
	// a 800 s gap between the light ranges' end and the awake range, and
	// the last range ending before the session does.
	raw := []byte(`{
		"userId": "u1", "summaryId": "s1", "calendarDate": "2016-01-10",
		"startTimeInSeconds": 1452419581, "startTimeOffsetInSeconds": -18000, "durationInSeconds": 3000,
		"deepSleepDurationInSeconds": 600, "lightSleepDurationInSeconds": 600, "remSleepInSeconds": 0,
		"awakeDurationInSeconds": 100, "unmeasurableSleepInSeconds": 30,
		"sleepLevelsMap": {
			"light": [{"startTimeInSeconds": 1452420181, "endTimeInSeconds": 1452420780}],
			"deep": [{"startTimeInSeconds": 1452419581, "endTimeInSeconds": 1452420180}],
			"awake": [{"startTimeInSeconds": 1452421581, "endTimeInSeconds": 1452421680}]
		},
		"validation": "ENHANCED_FINAL",
		"timeOffsetSleepRespiration": {"60": 15.31, "120": 14.58},
		"timeOffsetSleepSpo2": {"0": 95, "60": 97},
		"overallSleepScore": {"value": 87, "qualifierKey": "GOOD"}
	}`)
	rec, warnings, err := mapSleep(raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings = %q", warnings)
	}
	// 1452419581 = 2016-01-10T09:53:01Z = 04:53:01 at -05:00.
	if rec.Day != "2016-01-10" {
		t.Errorf("day = %s", rec.Day)
	}
	s := rec.Data.(*model.Sleep)
	if s.Metadata.StartTime != "2016-01-10T04:53:01.000000-05:00" || s.Metadata.EndTime != "2016-01-10T05:43:01.000000-05:00" {
		t.Errorf("metadata times = %s, %s", s.Metadata.StartTime, s.Metadata.EndTime)
	}
	if s.Metadata.UploadType != model.SleepUploadTypeAutomatic {
		t.Errorf("upload type = %v", s.Metadata.UploadType)
	}
	approx(t, "unmeasurable", s.SleepDurationsData.Other.DurationUnmeasurableSleepSeconds, 30)
	want := []struct {
		at    string
		level model.SleepLevel
	}{
		{"2016-01-10T04:53:01.000000-05:00", model.SleepLevelDeepSleep},  // 1452419581
		{"2016-01-10T05:03:01.000000-05:00", model.SleepLevelLightSleep}, // 1452420181, right after deep
		{"2016-01-10T05:13:01.000000-05:00", model.SleepLevelUnknown},    // light ends 1452420780 (+1 s), gap
		{"2016-01-10T05:26:21.000000-05:00", model.SleepLevelAwake},      // 1452421581
		{"2016-01-10T05:28:01.000000-05:00", model.SleepLevelUnknown},    // awake ends 1452421680 (+1 s) before the session end
	}
	got := s.SleepDurationsData.HypnogramSamples
	if len(got) != len(want) {
		t.Fatalf("hypnogram = %d samples, want %d", len(got), len(want))
	}
	for i, w := range want {
		eq(t, "hypnogram time", got[i].Timestamp, w.at)
		eq(t, "hypnogram level", got[i].Level, w.level)
	}
	bd := s.RespirationData.BreathsData
	if len(bd.Samples) != 2 {
		t.Fatalf("breath samples = %d", len(bd.Samples))
	}
	eq(t, "first breath time", bd.Samples[0].Timestamp, "2016-01-10T04:54:01.000000-05:00")
	approx(t, "avg breaths", bd.AvgBreathsPerMin, (15.31+14.58)/2)
	approx(t, "avg spo2", s.RespirationData.OxygenSaturationData.AvgSaturationPercentage, 96)
	approx(t, "score", s.Scores.Sleep, 87)
}

func TestMapSleepUnknownValidationAndLevel(t *testing.T) {
	raw := []byte(`{
		"summaryId": "s1", "startTimeInSeconds": 1452419581, "startTimeOffsetInSeconds": 0, "durationInSeconds": 600,
		"sleepLevelsMap": {"restless": [{"startTimeInSeconds": 1452419581, "endTimeInSeconds": 1452420180}]},
		"validation": "AUTO_SOMETHING_NEW"
	}`)
	rec, warnings, err := mapSleep(raw)
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(warnings, "\n")
	for _, w := range []string{`unknown validation "AUTO_SOMETHING_NEW"`, `unknown levels "restless"`} {
		if !strings.Contains(joined, w) {
			t.Errorf("warnings %q do not mention %q", warnings, w)
		}
	}
	s := rec.Data.(*model.Sleep)
	if s.Metadata.UploadType != model.SleepUploadTypeUnknown {
		t.Errorf("upload type = %v", s.Metadata.UploadType)
	}
	if got := s.SleepDurationsData.HypnogramSamples; len(got) != 1 || *got[0].Level != model.SleepLevelUnknown {
		t.Errorf("hypnogram = %+v, want one unknown-level sample", got)
	}
	// No calendarDate: the day is the local date of the wake-up.
	if rec.Day != "2016-01-10" {
		t.Errorf("day = %s", rec.Day)
	}
}

func TestMapDailyQuirks(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		wantErr string
		warn    string
		check   func(t *testing.T, d *model.Daily)
	}{
		{
			name: "no data stress level",
			raw:  `{"summaryId": "d", "startTimeInSeconds": 1593734400, "startTimeOffsetInSeconds": 0, "averageStressLevel": -1, "maxStressLevel": -1, "stressDurationInSeconds": 0}`,
			check: func(t *testing.T, d *model.Daily) {
				if d.StressData.AvgStressLevel != nil || d.StressData.MaxStressLevel != nil || d.StressData.StressRating != nil {
					t.Errorf("stress = %+v, want no levels", d.StressData)
				}
			},
		},
		{
			name: "sample outside the day and a bad key",
			raw:  `{"summaryId": "d", "startTimeInSeconds": 1593734400, "startTimeOffsetInSeconds": 0, "durationInSeconds": 3600, "timeOffsetHeartRateSamples": {"15": 60, "90000": 70, "x": 80, "30": null}}`,
			warn: `dropped 2 entries with a bad offset or no value: "30", "x"`,
			check: func(t *testing.T, d *model.Daily) {
				if n := len(d.HeartRateData.Detailed.HrSamples); n != 1 {
					t.Errorf("samples = %d, want 1", n)
				}
				approx(t, "avg", d.HeartRateData.Summary.AvgHrBpm, 60)
			},
		},
		{
			name: "calendarDate wins over the UTC date",
			// 1593730800 = 2020-07-02T23:00:00Z = 2020-07-03 00:00 at +01:00.
			raw: `{"summaryId": "d", "calendarDate": "2020-07-03", "startTimeInSeconds": 1593730800, "startTimeOffsetInSeconds": 3600, "durationInSeconds": 86400}`,
			check: func(t *testing.T, d *model.Daily) {
				if d.Metadata.StartTime != "2020-07-03T00:00:00.000000+01:00" {
					t.Errorf("start = %s", d.Metadata.StartTime)
				}
			},
		},
		{name: "no summaryId", raw: `{"startTimeInSeconds": 1593734400}`, wantErr: "no summaryId"},
		{name: "no start", raw: `{"summaryId": "d"}`, wantErr: "no startTimeInSeconds"},
		{name: "start in milliseconds", raw: `{"summaryId": "d", "startTimeInSeconds": 1593734400000}`, wantErr: "out of range"},
		{name: "offset of days", raw: `{"summaryId": "d", "startTimeInSeconds": 1593734400, "startTimeOffsetInSeconds": 90000}`, wantErr: "not a UTC offset"},
		{name: "negative duration", raw: `{"summaryId": "d", "startTimeInSeconds": 1593734400, "startTimeOffsetInSeconds": 0, "durationInSeconds": -5}`, wantErr: "out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, warnings, err := mapDaily([]byte(tt.raw))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			joined := strings.Join(warnings, "\n")
			if tt.warn != "" && !strings.Contains(joined, tt.warn) {
				t.Errorf("warnings %q do not mention %q", warnings, tt.warn)
			}
			if tt.warn == "" && len(warnings) > 0 {
				t.Errorf("unexpected warnings %q", warnings)
			}
			tt.check(t, rec.Data.(*model.Daily))
		})
	}
}
