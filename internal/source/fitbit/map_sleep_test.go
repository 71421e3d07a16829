package fitbit

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
)

const sleepFixture = "sleep_v1.2_classic_by_date.json"

// TestSleepFixture maps both logs of the recorded sleep-by-date answer in
// the user's zone (Los Angeles: PST, -08:00, in December).
func TestSleepFixture(t *testing.T) {
	m := newMapper(zoneOf(t, "America/Los_Angeles"))
	items := fixtureList(t, sleepFixture, "sleep")
	eq(t, "logs", len(items), 2)

	type stage struct {
		at    string
		level model.SleepLevel
	}
	tests := []struct {
		name                          string
		item                          int
		key, start, end               string
		startUTC                      time.Time
		nap                           bool
		efficiency                    float64
		asleep, awake, inBed, latency float64
		hypnogram                     []stage
	}{
		{
			// sleep[0]: logId 13214029456, a nap (isMainSleep false),
			// 09:59:00 to 11:02:30, minutesAsleep 63, minutesAwake 0,
			// timeInBed 63, efficiency 100, one "asleep" level.
			name: "nap", item: 0, key: "13214029456",
			start: "2016-12-13T09:59:00.000000-08:00", end: "2016-12-13T11:02:30.000000-08:00",
			startUTC: time.Date(2016, 12, 13, 17, 59, 0, 0, time.UTC),
			nap:      true, efficiency: 100, asleep: 63 * 60, awake: 0, inBed: 63 * 60, latency: 0,
			hypnogram: []stage{{"2016-12-13T09:59:00.000000-08:00", model.SleepLevelSleeping}},
		},
		{
			// sleep[1]: logId 13211507000, the main sleep 01:16:00 to
			// 03:14:00, minutesAsleep 112, minutesAwake 6 (the three
			// restless minutes' 6), timeInBed 118, efficiency 95; levels
			// asleep 01:16, restless 02:39, asleep 02:40, restless 02:47,
			// asleep 02:51, restless 02:52, asleep 02:53.
			name: "main", item: 1, key: "13211507000",
			start: "2016-12-13T01:16:00.000000-08:00", end: "2016-12-13T03:14:00.000000-08:00",
			startUTC: time.Date(2016, 12, 13, 9, 16, 0, 0, time.UTC),
			nap:      false, efficiency: 95, asleep: 112 * 60, awake: 6 * 60, inBed: 118 * 60, latency: 0,
			hypnogram: []stage{
				{"2016-12-13T01:16:00.000000-08:00", model.SleepLevelSleeping},
				{"2016-12-13T02:39:00.000000-08:00", model.SleepLevelAwake},
				{"2016-12-13T02:40:00.000000-08:00", model.SleepLevelSleeping},
				{"2016-12-13T02:47:00.000000-08:00", model.SleepLevelAwake},
				{"2016-12-13T02:51:00.000000-08:00", model.SleepLevelSleeping},
				{"2016-12-13T02:52:00.000000-08:00", model.SleepLevelAwake},
				{"2016-12-13T02:53:00.000000-08:00", model.SleepLevelSleeping},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, err := m.sleep(items[tt.item])
			if err != nil {
				t.Fatal(err)
			}
			validate(t, rec)
			eq(t, "type", rec.Type, model.TypeSleep)
			eq(t, "key", rec.Key, tt.key)
			eq(t, "day (dateOfSleep)", rec.Day, "2016-12-13")
			if !rec.Start.Equal(tt.startUTC) {
				t.Errorf("Start = %v, want %v", rec.Start.UTC(), tt.startUTC)
			}
			if string(rec.Raw) != string(items[tt.item]) {
				t.Error("Raw is not the recorded log")
			}
			s := rec.Data.(*model.Sleep)
			eq(t, "start_time", s.Metadata.StartTime, tt.start)
			eq(t, "end_time", s.Metadata.EndTime, tt.end)
			eq(t, "summary_id", val(t, "summary_id", s.Metadata.SummaryId), tt.key)
			eq(t, "is_nap", val(t, "is_nap", s.Metadata.IsNap), tt.nap)
			eq(t, "upload_type (no logType)", s.Metadata.UploadType, model.SleepUploadTypeUnknown)
			d := s.SleepDurationsData
			eq(t, "efficiency", val(t, "efficiency", d.SleepEfficiency), tt.efficiency)
			eq(t, "asleep", val(t, "asleep", d.Asleep.DurationAsleepStateSeconds), tt.asleep)
			nilPtr(t, "deep (classic log)", d.Asleep.DurationDeepSleepStateSeconds)
			eq(t, "awake", val(t, "awake", d.Awake.DurationAwakeStateSeconds), tt.awake)
			eq(t, "latency", val(t, "latency", d.Awake.SleepLatencySeconds), tt.latency)
			eq(t, "wake-up latency (minutesAfterWakeup 0)", val(t, "wake up", d.Awake.WakeUpLatencySeconds), 0)
			eq(t, "wakeup events (awake count 0)", val(t, "wakeups", d.Awake.NumWakeupEvents), 0)
			eq(t, "in bed", val(t, "in bed", d.Other.DurationInBedSeconds), tt.inBed)
			eq(t, "hypnogram samples", len(d.HypnogramSamples), len(tt.hypnogram))
			for i, want := range tt.hypnogram {
				if i >= len(d.HypnogramSamples) {
					break
				}
				got := d.HypnogramSamples[i]
				eq(t, "hypnogram time", val(t, "timestamp", got.Timestamp), want.at)
				eq(t, "hypnogram level", val(t, "level", got.Level), want.level)
			}
		})
	}
	eq(t, "problems", len(m.problems), 0)
}

// TestSleepZones: the same recorded wall-clock times mean other instants
// in other zones; the day stays dateOfSleep.
func TestSleepZones(t *testing.T) {
	item := fixtureList(t, sleepFixture, "sleep")[1] // main sleep, startTime 2016-12-13T01:16:00.000
	tests := []struct {
		zone  string
		start string
		utc   time.Time
	}{
		{"UTC", "2016-12-13T01:16:00.000000+00:00", time.Date(2016, 12, 13, 1, 16, 0, 0, time.UTC)},
		{"Asia/Kolkata", "2016-12-13T01:16:00.000000+05:30", time.Date(2016, 12, 12, 19, 46, 0, 0, time.UTC)},
		{"America/St_Johns", "2016-12-13T01:16:00.000000-03:30", time.Date(2016, 12, 13, 4, 46, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		rec, err := newMapper(zoneOf(t, tt.zone)).sleep(item)
		if err != nil {
			t.Fatal(err)
		}
		eq(t, tt.zone+" start_time", rec.Data.(*model.Sleep).Metadata.StartTime, tt.start)
		if !rec.Start.Equal(tt.utc) {
			t.Errorf("%s: Start = %v, want %v", tt.zone, rec.Start.UTC(), tt.utc)
		}
		eq(t, tt.zone+" day", rec.Day, "2016-12-13")
	}
}

// TestSleepAcrossDST: a night across the end of daylight saving time keeps
// the offset of its start on every timestamp, and its real length.
func TestSleepAcrossDST(t *testing.T) {
	// Los Angeles fell back from -07:00 to -08:00 at 2016-11-06 02:00.
	raw := json.RawMessage(`{"dateOfSleep":"2016-11-06","logId":1,"startTime":"2016-11-05T23:00:00.000","endTime":"2016-11-06T07:00:00.000",
		"isMainSleep":true,"type":"stages","minutesAsleep":500,"timeInBed":540,
		"levels":{"data":[{"dateTime":"2016-11-05T23:00:00.000","level":"light","seconds":30000},{"dateTime":"2016-11-06T06:20:00.000","level":"wake","seconds":2400}],
		"shortData":[{"dateTime":"2016-11-06T03:00:00.000","level":"wake","seconds":60}],
		"summary":{"deep":{"count":1,"minutes":60},"light":{"count":2,"minutes":300},"rem":{"count":3,"minutes":140},"wake":{"count":4,"minutes":40}}}}`)
	rec, err := newMapper(zoneOf(t, "America/Los_Angeles")).sleep(raw)
	if err != nil {
		t.Fatal(err)
	}
	validate(t, rec)
	s := rec.Data.(*model.Sleep)
	eq(t, "start_time", s.Metadata.StartTime, "2016-11-05T23:00:00.000000-07:00")
	// 07:00 PST is 08:00 in the -07:00 of the start.
	eq(t, "end_time", s.Metadata.EndTime, "2016-11-06T08:00:00.000000-07:00")
	eq(t, "length", rec.End.Sub(rec.Start), 9*time.Hour)
	d := s.SleepDurationsData
	eq(t, "deep", val(t, "deep", d.Asleep.DurationDeepSleepStateSeconds), 3600)
	eq(t, "light", val(t, "light", d.Asleep.DurationLightSleepStateSeconds), 18000)
	eq(t, "rem", val(t, "rem", d.Asleep.DurationREMSleepStateSeconds), 8400)
	eq(t, "wakeups", val(t, "wakeups", d.Awake.NumWakeupEvents), 4)
	var got []string
	for _, h := range d.HypnogramSamples {
		got = append(got, *h.Timestamp+"="+string(rune('0'+int(*h.Level))))
	}
	// light (4) from 23:00, the short wake (1) at 03:00 PST = 04:00 in
	// -07:00 for a minute, light again, then wake at 06:20 PST.
	want := []string{
		"2016-11-05T23:00:00.000000-07:00=4",
		"2016-11-06T04:00:00.000000-07:00=1",
		"2016-11-06T04:01:00.000000-07:00=4",
		"2016-11-06T07:20:00.000000-07:00=1",
	}
	eq(t, "hypnogram", strings.Join(got, " "), strings.Join(want, " "))
}

func TestSleepQuirks(t *testing.T) {
	m := newMapper(zoneOf(t, "UTC"))
	tests := []struct {
		name    string
		raw     string
		wantErr string
	}{
		{"no logId", `{"dateOfSleep":"2016-12-13","startTime":"2016-12-13T01:00:00.000","endTime":"2016-12-13T02:00:00.000"}`, "no logId"},
		{"float logId", `{"logId":1.5,"dateOfSleep":"2016-12-13","startTime":"2016-12-13T01:00:00.000","endTime":"2016-12-13T02:00:00.000"}`, "not an unsigned integer"},
		{"bad day", `{"logId":1,"dateOfSleep":"13/12/2016","startTime":"2016-12-13T01:00:00.000","endTime":"2016-12-13T02:00:00.000"}`, "dateOfSleep"},
		{"ends first", `{"logId":1,"dateOfSleep":"2016-12-13","startTime":"2016-12-13T03:00:00.000","endTime":"2016-12-13T02:00:00.000"}`, "ends before"},
		{"bad level time", `{"logId":1,"dateOfSleep":"2016-12-13","startTime":"2016-12-13T01:00:00.000","endTime":"2016-12-13T02:00:00.000","levels":{"data":[{"dateTime":"soon","level":"asleep","seconds":60}]}}`, "levels"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := m.sleep(json.RawMessage(tt.raw))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v, want one saying %q", err, tt.wantErr)
			}
		})
	}

	// A big logId keeps all its digits; unknown values are kept and
	// reported once.
	raw := json.RawMessage(`{"logId":18446744073709551615,"dateOfSleep":"2016-12-13","startTime":"2016-12-13T01:00:00.000","endTime":"2016-12-13T02:00:00.000",
		"type":"dreamy","logType":"guessed","levels":{"data":[{"dateTime":"2016-12-13T01:00:00.000","level":"lucid","seconds":1800},{"dateTime":"2016-12-13T01:30:00.000","level":"lucid","seconds":1800}]}}`)
	rec, err := m.sleep(raw)
	if err != nil {
		t.Fatal(err)
	}
	validate(t, rec)
	eq(t, "key", rec.Key, "18446744073709551615")
	eq(t, "problems (type, logType, level once)", len(m.problems), 3)
	eq(t, "hypnogram", len(rec.Data.(*model.Sleep).SleepDurationsData.HypnogramSamples), 1)
	eq(t, "level", *rec.Data.(*model.Sleep).SleepDurationsData.HypnogramSamples[0].Level, model.SleepLevelUnknown)
}
