package polar

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
)

// TestSleepWithRecharge maps sleep_get.json joined with
// nightly_recharge_get.json (both dated 2020-01-01) field by field.
func TestSleepWithRecharge(t *testing.T) {
	sleepRawFix, rechargeRawFix := fixture(t, "sleep_get.json"), fixture(t, "nightly_recharge_get.json")
	m := newMapper()
	rec, err := m.sleep(sleepRawFix, rechargeRawFix)
	if err != nil {
		t.Fatal(err)
	}
	validate(t, rec)
	s := rec.Data.(*model.Sleep)

	eq(t, "Key", rec.Key, "2020-01-01") // date
	eq(t, "Day", rec.Day, "2020-01-01")
	eq(t, "summary_id", val(t, "summary_id", s.Metadata.SummaryId), "2020-01-01")
	// sleep_start_time 2020-01-01T00:39:07+03:00, sleep_end_time 2020-01-01T09:19:37+03:00
	eq(t, "start_time", s.Metadata.StartTime, "2020-01-01T00:39:07.000000+03:00")
	eq(t, "end_time", s.Metadata.EndTime, "2020-01-01T09:19:37.000000+03:00")
	eq(t, "Start", rec.Start.UTC(), time.Date(2019, 12, 31, 21, 39, 7, 0, time.UTC))
	eq(t, "End", rec.End.UTC(), time.Date(2020, 1, 1, 6, 19, 37, 0, time.UTC))
	eq(t, "is_nap", val(t, "is_nap", s.Metadata.IsNap), false)
	eq(t, "upload", s.Metadata.UploadType, model.SleepUploadTypeAutomatic)

	d := s.SleepDurationsData
	eq(t, "light", val(t, "light", d.Asleep.DurationLightSleepStateSeconds), 1000)                // light_sleep
	eq(t, "deep", val(t, "deep", d.Asleep.DurationDeepSleepStateSeconds), 1000)                   // deep_sleep
	eq(t, "rem", val(t, "rem", d.Asleep.DurationREMSleepStateSeconds), 1000)                      // rem_sleep
	eq(t, "asleep", val(t, "asleep", d.Asleep.DurationAsleepStateSeconds), 4000)                  // light+deep+rem+unrecognized
	eq(t, "unmeasurable", val(t, "unmeasurable", d.Other.DurationUnmeasurableSleepSeconds), 1000) // unrecognized_sleep_stage
	eq(t, "awake", val(t, "awake", d.Awake.DurationAwakeStateSeconds), 1000)                      // total_interruption_duration
	eq(t, "short", val(t, "short", d.Awake.DurationShortInterruptionSeconds), 500)                // short_interruption_duration
	eq(t, "long", val(t, "long", d.Awake.DurationLongInterruptionSeconds), 300)                   // long_interruption_duration
	eq(t, "score", val(t, "score", s.Scores.Sleep), 80)                                           // sleep_score

	// hypnogram {"00:39": 2, "00:50": 3, "01:23": 6}
	h := d.HypnogramSamples
	eq(t, "hypnogram samples", len(h), 3)
	eq(t, "hyp 0 time", val(t, "ts", h[0].Timestamp), "2020-01-01T00:39:00.000000+03:00")
	eq(t, "hyp 0", val(t, "level", h[0].Level), model.SleepLevelLightSleep) // 2 lighter non-REM
	eq(t, "hyp 1 time", val(t, "ts", h[1].Timestamp), "2020-01-01T00:50:00.000000+03:00")
	eq(t, "hyp 1", val(t, "level", h[1].Level), model.SleepLevelLightSleep) // 3 light non-REM
	eq(t, "hyp 2 time", val(t, "ts", h[2].Timestamp), "2020-01-01T01:23:00.000000+03:00")
	eq(t, "hyp 2", val(t, "level", h[2].Level), model.SleepLevelUnknown) // 6 is not a documented stage
	eq(t, "notes", len(m.problems), 1)
	if !strings.Contains(m.problems[0].Err, `"6"`) || m.problems[0].Type != model.TypeSleep {
		t.Errorf("note = %+v, want the unknown stage 6", m.problems[0])
	}

	hr := s.HeartRateData
	// heart_rate_samples {"00:41": 76, "00:46": 77, "00:51": 76}
	eq(t, "hr samples", len(hr.Detailed.HrSamples), 3)
	eq(t, "hr 0 time", val(t, "ts", hr.Detailed.HrSamples[0].Timestamp), "2020-01-01T00:41:00.000000+03:00")
	eq(t, "hr 0", val(t, "bpm", hr.Detailed.HrSamples[0].Bpm), 76)
	eq(t, "hr 1", val(t, "bpm", hr.Detailed.HrSamples[1].Bpm), 77)
	eq(t, "hr 2 time", val(t, "ts", hr.Detailed.HrSamples[2].Timestamp), "2020-01-01T00:51:00.000000+03:00")

	// Nightly Recharge: heart_rate_variability_avg 28 (RMSSD), hrv_samples
	// {"00:41": 14, "00:46": 14, "00:51": 15}
	eq(t, "avg hrv rmssd", val(t, "rmssd", hr.Summary.AvgHrvRmssd), 28)
	if hr.Summary.AvgHrvSdnn != nil || hr.Summary.AvgHrBpm != nil {
		t.Error("RMSSD went to SDNN, or the 4-hour heart rate average was used as the night's")
	}
	hrv := hr.Detailed.HrvSamplesRmssd
	eq(t, "hrv samples", len(hrv), 3)
	eq(t, "hrv 2 time", val(t, "ts", hrv[2].Timestamp), "2020-01-01T00:51:00.000000+03:00")
	eq(t, "hrv 2", val(t, "rmssd", hrv[2].HrvRmssd), 15)
	// nightly_recharge_status 3
	eq(t, "recovery", val(t, "recovery", s.ReadinessData.RecoveryLevel), 3)
	if s.ReadinessData.Readiness != nil {
		t.Error("a 1-6 status was written to the 0-100 readiness")
	}
	// breathing_rate_avg 14.1, breathing_samples {"00:39": 13.4, "00:44": 13.5, "00:49": 13.5}
	b := s.RespirationData.BreathsData
	eq(t, "breaths", val(t, "breaths", b.AvgBreathsPerMin), 14.1)
	eq(t, "breath samples", len(b.Samples), 3)
	eq(t, "breath 0 time", val(t, "ts", b.Samples[0].Timestamp), "2020-01-01T00:39:00.000000+03:00")
	eq(t, "breath 0", val(t, "bpm", b.Samples[0].BreathsPerMin), 13.4)
	eq(t, "breaths start", val(t, "start", b.StartTime), "2020-01-01T00:39:07.000000+03:00")

	// Raw keeps both documents byte for byte.
	var parts sleepRaw
	if err := json.Unmarshal(rec.Raw, &parts); err != nil {
		t.Fatalf("raw: %v", err)
	}
	if !bytes.Equal(parts.Sleep, bytes.TrimSpace(sleepRawFix)) || !bytes.Equal(parts.NightlyRecharge, bytes.TrimSpace(rechargeRawFix)) {
		t.Error("Raw does not hold the sleep and the recharge as received")
	}
}

// TestSleepAlone maps sleep_get.json without a recharge.
func TestSleepAlone(t *testing.T) {
	raw := fixture(t, "sleep_get.json")
	rec, err := newMapper().sleep(raw, nil)
	if err != nil {
		t.Fatal(err)
	}
	validate(t, rec)
	s := rec.Data.(*model.Sleep)
	if s.ReadinessData != nil || s.RespirationData != nil || s.HeartRateData.Summary != nil {
		t.Error("recharge fields without a recharge")
	}
	eq(t, "hr samples", len(s.HeartRateData.Detailed.HrSamples), 3) // heart_rate_samples
	var parts sleepRaw
	if err := json.Unmarshal(rec.Raw, &parts); err != nil || !bytes.Equal(parts.Sleep, bytes.TrimSpace(raw)) || parts.NightlyRecharge != nil {
		t.Errorf("raw = %s", rec.Raw)
	}
}

// TestSleepPastMidnight: wall times after midnight belong to the next
// date, so a night that starts before midnight keeps its order.
func TestSleepPastMidnight(t *testing.T) {
	raw := json.RawMessage(`{"date":"2024-05-02","sleep_start_time":"2024-05-01T23:10:30+02:00","sleep_end_time":"2024-05-02T07:05:00+02:00",
		"hypnogram":{"23:10":0,"23:40":2,"00:20":4,"03:15":1,"07:04":0},
		"heart_rate_samples":{"23:15":60,"00:05":55,"06:55":58}}`)
	rec, err := newMapper().sleep(raw, nil)
	if err != nil {
		t.Fatal(err)
	}
	validate(t, rec)
	s := rec.Data.(*model.Sleep)
	h := s.SleepDurationsData.HypnogramSamples
	want := []string{
		"2024-05-01T23:10:00.000000+02:00",
		"2024-05-01T23:40:00.000000+02:00",
		"2024-05-02T00:20:00.000000+02:00",
		"2024-05-02T03:15:00.000000+02:00",
		"2024-05-02T07:04:00.000000+02:00",
	}
	eq(t, "samples", len(h), len(want))
	for i, w := range want {
		eq(t, "hypnogram time", val(t, "ts", h[i].Timestamp), w)
	}
	eq(t, "deep", val(t, "level", h[2].Level), model.SleepLevelDeepSleep)
	eq(t, "rem", val(t, "level", h[3].Level), model.SleepLevelREMSleep)
	eq(t, "wake", val(t, "level", h[4].Level), model.SleepLevelAwake)
	hr := s.HeartRateData.Detailed.HrSamples
	eq(t, "hr 1", val(t, "ts", hr[1].Timestamp), "2024-05-02T00:05:00.000000+02:00")
	eq(t, "hr 2", val(t, "ts", hr[2].Timestamp), "2024-05-02T06:55:00.000000+02:00")
}

// TestSleepAcrossDST: a night across the EU change to winter time keeps
// its real length and one offset.
func TestSleepAcrossDST(t *testing.T) {
	raw := json.RawMessage(`{"date":"2024-10-27","sleep_start_time":"2024-10-27T01:00:00+02:00","sleep_end_time":"2024-10-27T07:00:00+01:00","hypnogram":{"01:00":2,"06:59":0}}`)
	rec, err := newMapper().sleep(raw, nil)
	if err != nil {
		t.Fatal(err)
	}
	validate(t, rec)
	s := rec.Data.(*model.Sleep)
	eq(t, "span", rec.End.Sub(rec.Start), 7*time.Hour)
	eq(t, "end_time", s.Metadata.EndTime, "2024-10-27T08:00:00.000000+02:00")
	for _, h := range s.SleepDurationsData.HypnogramSamples {
		if !strings.HasSuffix(*h.Timestamp, "+02:00") {
			t.Errorf("hypnogram time %s not in the start's offset", *h.Timestamp)
		}
	}
}

func TestSleepBadItems(t *testing.T) {
	good := fixture(t, "nightly_recharge_get.json")
	for name, c := range map[string]struct{ sleep, recharge string }{
		"not json":        {`{"date":`, ""},
		"bad date":        {`{"date":"01/01/2020","sleep_start_time":"2020-01-01T00:39:07+03:00","sleep_end_time":"2020-01-01T09:19:37+03:00"}`, ""},
		"zone-less start": {`{"date":"2020-01-01","sleep_start_time":"2020-01-01T00:39:07","sleep_end_time":"2020-01-01T09:19:37+03:00"}`, ""},
		"ends first":      {`{"date":"2020-01-01","sleep_start_time":"2020-01-01T09:39:07+03:00","sleep_end_time":"2020-01-01T00:19:37+03:00"}`, ""},
		"bad clock":       {`{"date":"2020-01-01","sleep_start_time":"2020-01-01T00:39:07+03:00","sleep_end_time":"2020-01-01T09:19:37+03:00","hypnogram":{"25:00":1}}`, ""},
		"other date":      {`{"date":"2020-01-02","sleep_start_time":"2020-01-02T00:39:07+03:00","sleep_end_time":"2020-01-02T09:19:37+03:00"}`, string(good)},
	} {
		t.Run(name, func(t *testing.T) {
			var rc json.RawMessage
			if c.recharge != "" {
				rc = json.RawMessage(c.recharge)
			}
			if _, err := newMapper().sleep(json.RawMessage(c.sleep), rc); err == nil {
				t.Error("no error")
			}
		})
	}
}

func TestParseClock(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"00:39", 39 * time.Minute, true},                 // hypnogram key
		{"00:02:08", 2*time.Minute + 8*time.Second, true}, // continuous heart rate sample_time
		{"23:59:59.5", 23*time.Hour + 59*time.Minute + 59500*time.Millisecond, true},
		{"24:00", 0, false},
		{"1:00", 0, false},
		{"00:60", 0, false},
		{"00:00:60", 0, false},
		{"00:00:-1", 0, false},
		{"noon", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		got, err := parseClock(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseClock(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}
