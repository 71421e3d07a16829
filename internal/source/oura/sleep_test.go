package oura

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
)

const sleepFixture = "sleep_2024-10-09_11-03.json"

func mapSleepFixture(t *testing.T, prefix string, scores map[string]float64) (model.Record, *model.Sleep) {
	t.Helper()
	m := newMapper()
	rec, ok, err := m.sleep(fixtureItem(t, sleepFixture, prefix), scores)
	if err != nil || !ok {
		t.Fatalf("map %s: ok=%v err=%v", prefix, ok, err)
	}
	validate(t, rec)
	return rec, rec.Data.(*model.Sleep)
}

// TestSleepMainNight checks period 96e7772a field by field against the
// fixture.
func TestSleepMainNight(t *testing.T) {
	rec, s := mapSleepFixture(t, "96e7772a", nil)

	eq(t, "Key", rec.Key, "96e7772a-64a7-4342-9c5f-3e5ed9e64d6d") // id
	eq(t, "Day", rec.Day, "2024-10-10")                           // day
	eq(t, "Type", rec.Type, model.TypeSleep)
	// bedtime_start 2024-10-10T01:01:59+02:00, bedtime_end 2024-10-10T09:04:12+02:00
	eq(t, "Start", rec.Start.UTC(), time.Date(2024, 10, 9, 23, 1, 59, 0, time.UTC))
	eq(t, "End", rec.End.UTC(), time.Date(2024, 10, 10, 7, 4, 12, 0, time.UTC))
	eq(t, "start_time", s.Metadata.StartTime, "2024-10-10T01:01:59.000000+02:00")
	eq(t, "end_time", s.Metadata.EndTime, "2024-10-10T09:04:12.000000+02:00")
	eq(t, "is_nap", val(t, "is_nap", s.Metadata.IsNap), false) // type long_sleep
	eq(t, "summary_id", val(t, "summary_id", s.Metadata.SummaryId), rec.Key)
	eq(t, "upload_type", s.Metadata.UploadType, model.SleepUploadTypeAutomatic)
	if string(rec.Raw) != string(fixtureItem(t, sleepFixture, "96e7772a")) {
		t.Error("Raw is not the item as received")
	}

	d := s.SleepDurationsData
	eq(t, "deep", val(t, "deep", d.Asleep.DurationDeepSleepStateSeconds), 3060)     // deep_sleep_duration
	eq(t, "light", val(t, "light", d.Asleep.DurationLightSleepStateSeconds), 17160) // light_sleep_duration
	eq(t, "rem", val(t, "rem", d.Asleep.DurationREMSleepStateSeconds), 3000)        // rem_sleep_duration
	eq(t, "asleep", val(t, "asleep", d.Asleep.DurationAsleepStateSeconds), 23220)   // total_sleep_duration
	eq(t, "awake", val(t, "awake", d.Awake.DurationAwakeStateSeconds), 5713)        // awake_time
	eq(t, "latency", val(t, "latency", d.Awake.SleepLatencySeconds), 930)           // latency
	eq(t, "in bed", val(t, "in bed", d.Other.DurationInBedSeconds), 28933)          // time_in_bed
	eq(t, "efficiency", val(t, "efficiency", d.SleepEfficiency), 80)                // efficiency

	// sleep_phase_5_min has 97 characters, starting "424" and ending "224".
	eq(t, "hypnogram samples", len(d.HypnogramSamples), 97)
	first, last := d.HypnogramSamples[0], d.HypnogramSamples[96]
	eq(t, "first hypnogram time", val(t, "ts", first.Timestamp), "2024-10-10T01:01:59.000000+02:00")
	eq(t, "first hypnogram level", val(t, "level", first.Level), model.SleepLevelAwake)                       // '4'
	eq(t, "second hypnogram level", val(t, "level", d.HypnogramSamples[1].Level), model.SleepLevelLightSleep) // '2'
	eq(t, "last hypnogram time", val(t, "ts", last.Timestamp), "2024-10-10T09:01:59.000000+02:00")            // +96*5 min
	eq(t, "last hypnogram level", val(t, "level", last.Level), model.SleepLevelAwake)                         // '4'

	hr := s.HeartRateData
	eq(t, "avg hr", val(t, "avg hr", hr.Summary.AvgHrBpm), 71.25)       // average_heart_rate
	eq(t, "min hr", val(t, "min hr", hr.Summary.MinHrBpm), 60)          // lowest_heart_rate
	eq(t, "resting hr", val(t, "resting", hr.Summary.RestingHrBpm), 60) // lowest_heart_rate
	eq(t, "avg hrv", val(t, "avg hrv", hr.Summary.AvgHrvRmssd), 38)     // average_hrv
	// heart_rate: interval 300, 96 items, null at 29, 51 and 52.
	eq(t, "hr samples", len(hr.Detailed.HrSamples), 93)
	eq(t, "first hr time", val(t, "ts", hr.Detailed.HrSamples[0].Timestamp), "2024-10-10T01:01:59.000000+02:00")
	eq(t, "first hr", val(t, "bpm", hr.Detailed.HrSamples[0].Bpm), 76)
	eq(t, "last hr time", val(t, "ts", hr.Detailed.HrSamples[92].Timestamp), "2024-10-10T08:56:59.000000+02:00") // item 95
	eq(t, "last hr", val(t, "bpm", hr.Detailed.HrSamples[92].Bpm), 64)
	// the null at item 29 is skipped: sample 29 is item 30, 150 min after the start.
	eq(t, "hr sample after null", val(t, "ts", hr.Detailed.HrSamples[29].Timestamp), "2024-10-10T03:31:59.000000+02:00")
	eq(t, "hrv samples", len(hr.Detailed.HrvSamplesRmssd), 93)
	eq(t, "first hrv", val(t, "hrv", hr.Detailed.HrvSamplesRmssd[0].HrvRmssd), 12)

	eq(t, "breaths", val(t, "breaths", s.RespirationData.BreathsData.AvgBreathsPerMin), 14.5) // average_breath
	eq(t, "readiness", val(t, "readiness", s.ReadinessData.Readiness), 71)                    // readiness.score
	eq(t, "temperature delta", val(t, "delta", s.TemperatureData.Delta), -0.05)               // readiness.temperature_deviation
	if s.Scores != nil {
		t.Error("scores set without a daily_sleep")
	}
}

// TestSleepAfterDSTChange checks a period after the EU change to winter
// time: it keeps +01:00.
func TestSleepAfterDSTChange(t *testing.T) {
	rec, s := mapSleepFixture(t, "ae1a46cc", nil)
	eq(t, "Day", rec.Day, "2024-10-28")
	eq(t, "start_time", s.Metadata.StartTime, "2024-10-28T01:35:33.000000+01:00") // bedtime_start
	eq(t, "end_time", s.Metadata.EndTime, "2024-10-28T09:39:21.000000+01:00")     // bedtime_end
	eq(t, "Start", rec.Start.UTC(), time.Date(2024, 10, 28, 0, 35, 33, 0, time.UTC))
	d := s.SleepDurationsData
	eq(t, "deep", val(t, "deep", d.Asleep.DurationDeepSleepStateSeconds), 6150)
	eq(t, "awake", val(t, "awake", d.Awake.DurationAwakeStateSeconds), 2718)
	eq(t, "hypnogram samples", len(d.HypnogramSamples), 97)
	eq(t, "first hypnogram time", val(t, "ts", d.HypnogramSamples[0].Timestamp), "2024-10-28T01:35:33.000000+01:00")
	eq(t, "avg hrv", val(t, "avg hrv", s.HeartRateData.Summary.AvgHrvRmssd), 25)
}

// TestSleepNaps checks is_nap and the lowest_heart_rate 255 sentinel.
func TestSleepNaps(t *testing.T) {
	tests := []struct {
		prefix  string
		nap     bool
		minHR   *float64
		hasHRTS bool
	}{
		// c45e23d6: type sleep, lowest_heart_rate 72, heart_rate series present
		{"c45e23d6", true, ptr(72.0), true},
		// 83b66e04: type sleep, lowest_heart_rate 255 (no data), heart_rate null
		{"83b66e04", true, nil, false},
		// efbf938c: type rest
		{"efbf938c", true, ptr(71.0), true},
	}
	for _, tt := range tests {
		t.Run(tt.prefix, func(t *testing.T) {
			_, s := mapSleepFixture(t, tt.prefix, map[string]float64{"2024-10-10": 77, "2024-10-11": 77, "2024-10-14": 77})
			eq(t, "is_nap", val(t, "is_nap", s.Metadata.IsNap), tt.nap)
			if s.Scores != nil {
				t.Error("a nap got the day's sleep score")
			}
			var got *float64
			if s.HeartRateData != nil && s.HeartRateData.Summary != nil {
				got = s.HeartRateData.Summary.MinHrBpm
			}
			if (got == nil) != (tt.minHR == nil) || (got != nil && *got != *tt.minHR) {
				t.Errorf("min hr = %v, want %v", got, tt.minHR)
			}
			hasTS := s.HeartRateData != nil && s.HeartRateData.Detailed != nil
			eq(t, "has hr samples", hasTS, tt.hasHRTS)
		})
	}
}

// TestSleepScoreJoin gives the day's daily_sleep score to the main sleep
// only.
func TestSleepScoreJoin(t *testing.T) {
	scores := map[string]float64{"2024-10-10": 77}
	_, main := mapSleepFixture(t, "96e7772a", scores) // long_sleep, day 2024-10-10
	eq(t, "main sleep score", val(t, "score", main.Scores.Sleep), 77)
	_, nap := mapSleepFixture(t, "c45e23d6", scores) // sleep (nap), day 2024-10-10
	if nap.Scores != nil {
		t.Error("nap got a score")
	}
}

// TestSleepAllPeriods maps all 48 periods: every one validates, keeps one
// offset throughout, and its span equals its stage durations (the
// fixture's deep+light+rem+awake equals time_in_bed for every period,
// before and after the DST change).
func TestSleepAllPeriods(t *testing.T) {
	items := fixtureItems(t, sleepFixture)
	eq(t, "periods", len(items), 48)
	m := newMapper()
	for _, it := range items {
		rec, ok, err := m.sleep(it, nil)
		if err != nil || !ok {
			t.Fatalf("map: ok=%v err=%v", ok, err)
		}
		validate(t, rec)
		s := rec.Data.(*model.Sleep)
		d := s.SleepDurationsData
		stages := *d.Asleep.DurationDeepSleepStateSeconds + *d.Asleep.DurationLightSleepStateSeconds +
			*d.Asleep.DurationREMSleepStateSeconds + *d.Awake.DurationAwakeStateSeconds
		if span := rec.End.Sub(rec.Start).Seconds(); span != stages || span != *d.Other.DurationInBedSeconds {
			t.Errorf("%s: span %vs, stages %vs, in bed %vs", rec.Key, span, stages, *d.Other.DurationInBedSeconds)
		}
		offset := s.Metadata.StartTime[len(s.Metadata.StartTime)-6:]
		check := func(what, ts string) {
			if !strings.HasSuffix(ts, offset) {
				t.Errorf("%s: %s %s does not have the start offset %s", rec.Key, what, ts, offset)
			}
		}
		check("end_time", s.Metadata.EndTime)
		for _, h := range d.HypnogramSamples {
			check("hypnogram", *h.Timestamp)
		}
		if hr := s.HeartRateData; hr != nil && hr.Detailed != nil {
			for _, h := range hr.Detailed.HrSamples {
				check("hr sample", *h.Timestamp)
			}
		}
		if rec.Day == "" || rec.Key == "" {
			t.Errorf("record without day or key: %+v", rec)
		}
	}
	if len(m.problems) != 0 {
		t.Errorf("unexpected notes: %+v", m.problems)
	}
}

// TestSleepAcrossDST is a night across the EU change to winter time
// (2024-10-27 03:00 CEST -> 02:00 CET), written as Oura writes it. Its 8
// hours must come out as 8 hours, with the whole series in +02:00.
func TestSleepAcrossDST(t *testing.T) {
	raw := json.RawMessage(`{
		"id": "dst-night", "day": "2024-10-27", "type": "long_sleep",
		"bedtime_start": "2024-10-27T01:00:00+02:00",
		"bedtime_end": "2024-10-27T08:00:00+01:00",
		"deep_sleep_duration": 7200, "light_sleep_duration": 14400,
		"rem_sleep_duration": 3600, "awake_time": 3600, "time_in_bed": 28800,
		"total_sleep_duration": 25200,
		"sleep_phase_5_min": "` + strings.Repeat("1", 24) + strings.Repeat("2", 48) + strings.Repeat("3", 12) + strings.Repeat("4", 12) + `"
	}`)
	rec, ok, err := newMapper().sleep(raw, nil)
	if err != nil || !ok {
		t.Fatalf("map: ok=%v err=%v", ok, err)
	}
	validate(t, rec)
	s := rec.Data.(*model.Sleep)
	eq(t, "span", rec.End.Sub(rec.Start), 8*time.Hour)
	eq(t, "start_time", s.Metadata.StartTime, "2024-10-27T01:00:00.000000+02:00")
	eq(t, "end_time", s.Metadata.EndTime, "2024-10-27T09:00:00.000000+02:00")
	h := s.SleepDurationsData.HypnogramSamples
	eq(t, "samples", len(h), 96)
	eq(t, "last sample", *h[95].Timestamp, "2024-10-27T08:55:00.000000+02:00")
	// 96 samples of 5 minutes cover the 8 hours exactly.
	eq(t, "samples cover", time.Duration(len(h))*hypnogramStep, rec.End.Sub(rec.Start))
}

// TestSleepBadItems: an item that cannot be mapped is an error; a deleted
// period is skipped; an unknown type or stage is noted once and the record
// kept.
func TestSleepBadItems(t *testing.T) {
	for name, raw := range map[string]string{
		"not json":     `{"id":`,
		"no id":        `{"day":"2024-10-10","type":"long_sleep","bedtime_start":"2024-10-10T01:00:00+02:00","bedtime_end":"2024-10-10T02:00:00+02:00"}`,
		"bad day":      `{"id":"x","day":"10/10/2024","type":"long_sleep","bedtime_start":"2024-10-10T01:00:00+02:00","bedtime_end":"2024-10-10T02:00:00+02:00"}`,
		"bad start":    `{"id":"x","day":"2024-10-10","type":"long_sleep","bedtime_start":"yesterday","bedtime_end":"2024-10-10T02:00:00+02:00"}`,
		"end first":    `{"id":"x","day":"2024-10-10","type":"long_sleep","bedtime_start":"2024-10-10T03:00:00+02:00","bedtime_end":"2024-10-10T02:00:00+02:00"}`,
		"bad interval": `{"id":"x","day":"2024-10-10","type":"long_sleep","bedtime_start":"2024-10-10T01:00:00+02:00","bedtime_end":"2024-10-10T02:00:00+02:00","heart_rate":{"interval":0,"items":[60],"timestamp":"2024-10-10T01:00:00+02:00"}}`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, _, err := newMapper().sleep(json.RawMessage(raw), nil); err == nil {
				t.Error("no error")
			}
		})
	}

	_, ok, err := newMapper().sleep(json.RawMessage(`{"id":"x","day":"2024-10-10","type":"deleted","bedtime_start":"2024-10-10T01:00:00+02:00","bedtime_end":"2024-10-10T02:00:00+02:00"}`), nil)
	if err != nil || ok {
		t.Errorf("deleted period: ok=%v err=%v, want skipped", ok, err)
	}

	m := newMapper()
	for _, id := range []string{"a", "b"} {
		rec, ok, err := m.sleep(json.RawMessage(`{"id":"`+id+`","day":"2024-10-10","type":"siesta","bedtime_start":"2024-10-10T01:00:00+02:00","bedtime_end":"2024-10-10T01:10:00+02:00","sleep_phase_5_min":"19"}`), nil)
		if err != nil || !ok {
			t.Fatalf("unknown values: ok=%v err=%v", ok, err)
		}
		s := rec.Data.(*model.Sleep)
		if s.Metadata.IsNap != nil {
			t.Error("is_nap set for an unknown type")
		}
		eq(t, "unknown stage", *s.SleepDurationsData.HypnogramSamples[1].Level, model.SleepLevelUnknown)
	}
	eq(t, "notes (type and stage, once each)", len(m.problems), 2)
}
