package withings

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
)

const fileSleep = "sleep_getsummary.json"

func mapSleep(t *testing.T, raw json.RawMessage) (model.Record, *model.Sleep, *mapper) {
	t.Helper()
	m := newMapper(New(Config{}))
	rec, err := m.sleep(raw)
	if err != nil {
		t.Fatal(err)
	}
	Validate(t, rec)
	if string(rec.Raw) != string(raw) {
		t.Error("Raw is not the summary as received")
	}
	return rec, rec.Data.(*model.Sleep), m
}

// TestSleepFixture maps both summaries of sleep_getsummary.json (series
// timezone Europe/London, BST +01:00 in September 2017).
func TestSleepFixture(t *testing.T) {
	series := fixtureList(t, fileSleep, "series")
	Eq(t, "summaries", len(series), 2)

	t.Run("id 123", func(t *testing.T) {
		rec, s, m := mapSleep(t, fixtureItem(t, series, "id", "123"))
		Eq(t, "Key", rec.Key, "123")
		Eq(t, "Day", rec.Day, "2017-09-02") // date
		// startdate 1504307700 = 2017-09-01T23:15:00Z; enddate 1504319100 = 02:25:00Z.
		Eq(t, "Start", rec.Start.UTC(), time.Date(2017, 9, 1, 23, 15, 0, 0, time.UTC))
		Eq(t, "End", rec.End.UTC(), time.Date(2017, 9, 2, 2, 25, 0, 0, time.UTC))
		Eq(t, "start_time", s.Metadata.StartTime, "2017-09-02T00:15:00.000000+01:00")
		Eq(t, "end_time", s.Metadata.EndTime, "2017-09-02T03:25:00.000000+01:00")
		Eq(t, "summary_id", Val(t, "summary_id", s.Metadata.SummaryId), "123")
		Eq(t, "upload_type", s.Metadata.UploadType, model.SleepUploadTypeAutomatic)
		if s.Metadata.IsNap != nil {
			t.Error("is_nap set; Withings does not say")
		}
		d := s.SleepDurationsData
		Eq(t, "light", Val(t, "light", d.Asleep.DurationLightSleepStateSeconds), 3360) // lightsleepduration
		Eq(t, "deep", Val(t, "deep", d.Asleep.DurationDeepSleepStateSeconds), 7800)    // deepsleepduration
		// No total_sleep_time in this (older) answer: light + deep = 11160.
		Eq(t, "asleep", Val(t, "asleep", d.Asleep.DurationAsleepStateSeconds), 11160)
		if d.Asleep.DurationREMSleepStateSeconds != nil {
			t.Error("REM duration invented")
		}
		Eq(t, "awake", Val(t, "awake", d.Awake.DurationAwakeStateSeconds), 0) // wakeupduration
		Eq(t, "wakeups", Val(t, "wakeups", d.Awake.NumWakeupEvents), 4)       // wakeupcount
		Eq(t, "latency", Val(t, "latency", d.Awake.SleepLatencySeconds), 240) // durationtosleep
		Eq(t, "no problems", len(m.problems), 0)
		if s.HeartRateData != nil || s.RespirationData != nil || s.Scores != nil {
			t.Error("heart rate, respiration or score invented")
		}
	})
	t.Run("id 124", func(t *testing.T) {
		rec, s, _ := mapSleep(t, fixtureItem(t, series, "id", "124"))
		Eq(t, "Day", rec.Day, "2017-09-04")
		// startdate 1504477140 = 2017-09-03T22:19:00Z, enddate 1504509540 = 2017-09-04T07:19:00Z.
		Eq(t, "start_time", s.Metadata.StartTime, "2017-09-03T23:19:00.000000+01:00")
		Eq(t, "end_time", s.Metadata.EndTime, "2017-09-04T08:19:00.000000+01:00")
		d := s.SleepDurationsData
		Eq(t, "awake", Val(t, "awake", d.Awake.DurationAwakeStateSeconds), 2700)
		Eq(t, "asleep", Val(t, "asleep", d.Asleep.DurationAsleepStateSeconds), 29700) // 15900 + 13800
		Eq(t, "wakeups", Val(t, "wakeups", d.Awake.NumWakeupEvents), 0)
		Eq(t, "latency", Val(t, "latency", d.Awake.SleepLatencySeconds), 0)
	})
}

// TestSleepFullSummary maps a summary with today's data fields.
func TestSleepFullSummary(t *testing.T) {
	raw := json.RawMessage(`{"id":9,"timezone":"Europe/Paris","model":32,"model_id":63,
		"startdate":1594245600,"enddate":1594274400,"date":"2020-07-09","completed":false,
		"data":{"total_timeinbed":28800,"total_sleep_time":25200,"lightsleepduration":14000,
		"remsleepduration":5200,"deepsleepduration":6000,"sleep_efficiency":0.875,"sleep_latency":900,
		"wakeup_latency":300,"wakeupduration":3600,"wakeupcount":2,"nb_rem_episodes":4,
		"out_of_bed_count":1,"hr_average":58,"hr_min":49,"hr_max":77,"rr_average":14,"rr_min":11,
		"rr_max":18,"snoring":420,"snoringepisodecount":3,"sleep_score":81,"waso":1200,
		"night_events":{"1":[0],"4":[28800]}}}`)
	rec, s, _ := mapSleep(t, raw)
	Eq(t, "start_time", s.Metadata.StartTime, "2020-07-09T00:00:00.000000+02:00")
	Eq(t, "tentative", s.Metadata.UploadType, model.SleepUploadTypeTentative) // completed: false
	d := s.SleepDurationsData
	Eq(t, "asleep", Val(t, "asleep", d.Asleep.DurationAsleepStateSeconds), 25200) // total_sleep_time
	Eq(t, "rem", Val(t, "rem", d.Asleep.DurationREMSleepStateSeconds), 5200)
	Eq(t, "rem events", Val(t, "rem events", d.Asleep.NumREMEvents), 4)
	Eq(t, "in bed", Val(t, "in bed", d.Other.DurationInBedSeconds), 28800)
	Eq(t, "efficiency %", Val(t, "efficiency", d.SleepEfficiency), 87.5) // ratio 0.875
	Eq(t, "wake latency", Val(t, "wake latency", d.Awake.WakeUpLatencySeconds), 300)
	Eq(t, "out of bed", Val(t, "out of bed", d.Awake.NumOutOfBedEvents), 1)
	Eq(t, "hr avg", Val(t, "hr", s.HeartRateData.Summary.AvgHrBpm), 58)
	Eq(t, "hr min", Val(t, "hr", s.HeartRateData.Summary.MinHrBpm), 49)
	Eq(t, "hr max", Val(t, "hr", s.HeartRateData.Summary.MaxHrBpm), 77)
	Eq(t, "rr avg", Val(t, "rr", s.RespirationData.BreathsData.AvgBreathsPerMin), 14)
	Eq(t, "snoring", Val(t, "snoring", s.RespirationData.SnoringData.TotalSnoringDurationSeconds), 420)
	Eq(t, "snoring episodes", Val(t, "episodes", s.RespirationData.SnoringData.NumSnoringEvents), 3)
	Eq(t, "score", Val(t, "score", s.Scores.Sleep), 81)
	Eq(t, "Day", rec.Day, "2020-07-09")
}

// TestSleepAcrossDST: a night across the end of summer time keeps the
// start's offset for its end, so its length reads right.
func TestSleepAcrossDST(t *testing.T) {
	// 2023-10-28T21:00:00Z (23:00 CEST) to 2023-10-29T06:00:00Z (07:00 CET).
	raw := json.RawMessage(`{"id":1,"timezone":"Europe/Amsterdam","startdate":1698526800,"enddate":1698559200,"date":"2023-10-29","data":{}}`)
	_, s, _ := mapSleep(t, raw)
	Eq(t, "start_time", s.Metadata.StartTime, "2023-10-28T23:00:00.000000+02:00")
	Eq(t, "end_time", s.Metadata.EndTime, "2023-10-29T08:00:00.000000+02:00")
}

func TestSleepErrors(t *testing.T) {
	tests := []struct{ name, raw, want string }{
		{"no id", `{"timezone":"UTC","startdate":1,"enddate":2,"date":"2020-01-01","data":{}}`, "id"},
		{"bad day", `{"id":1,"startdate":1594245600,"enddate":1594274400,"date":"09/07/2020","data":{}}`, "date"},
		{"ends before it starts", `{"id":1,"startdate":1594274400,"enddate":1594245600,"date":"2020-07-09","data":{}}`, "before"},
		{"no startdate", `{"id":1,"enddate":1594245600,"date":"2020-07-09","data":{}}`, "startdate"},
		{"string duration", `{"id":1,"startdate":1,"enddate":2,"date":"2020-07-09","data":{"wakeupcount":"x"}}`, "decode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newMapper(New(Config{})).sleep(json.RawMessage(tt.raw))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one about %q", err, tt.want)
			}
		})
	}
}
