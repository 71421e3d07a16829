package withings

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/wearbridge/wearbridge/internal/model"
)

// sleepSummary is one entry of Sleep v2 - Getsummary's series (API
// reference sleep_summary_object). data holds only the fields asked for
// with data_fields (or Withings' default set).
type sleepSummary struct {
	ID        json.Number `json:"id"`
	Timezone  string      `json:"timezone"`
	StartDate *int64      `json:"startdate"`
	EndDate   *int64      `json:"enddate"`
	Date      string      `json:"date"`
	Completed *bool       `json:"completed"`
	Data      sleepData   `json:"data"`
}

// sleepData is the summary's data; durations in seconds.
type sleepData struct {
	TotalTimeInBed      *float64 `json:"total_timeinbed"`
	TotalSleepTime      *float64 `json:"total_sleep_time"`
	AsleepDuration      *float64 `json:"asleepduration"`
	LightSleepDuration  *float64 `json:"lightsleepduration"`
	REMSleepDuration    *float64 `json:"remsleepduration"`
	DeepSleepDuration   *float64 `json:"deepsleepduration"`
	SleepEfficiency     *float64 `json:"sleep_efficiency"`
	SleepLatency        *float64 `json:"sleep_latency"`
	WakeupLatency       *float64 `json:"wakeup_latency"`
	WakeupDuration      *float64 `json:"wakeupduration"`
	WakeupCount         *float64 `json:"wakeupcount"`
	NbREMEpisodes       *float64 `json:"nb_rem_episodes"`
	DurationToSleep     *float64 `json:"durationtosleep"`
	DurationToWakeup    *float64 `json:"durationtowakeup"`
	OutOfBedCount       *float64 `json:"out_of_bed_count"`
	HRAverage           *float64 `json:"hr_average"`
	HRMin               *float64 `json:"hr_min"`
	HRMax               *float64 `json:"hr_max"`
	RRAverage           *float64 `json:"rr_average"`
	RRMin               *float64 `json:"rr_min"`
	RRMax               *float64 `json:"rr_max"`
	Snoring             *float64 `json:"snoring"`
	SnoringEpisodeCount *float64 `json:"snoringepisodecount"`
	SleepScore          *float64 `json:"sleep_score"`
}

// sleepDataFields is the data_fields asked of getsummary: every field the
// mapper reads.
const sleepDataFields = "total_timeinbed,total_sleep_time,asleepduration,lightsleepduration,remsleepduration," +
	"deepsleepduration,sleep_efficiency,sleep_latency,wakeup_latency,wakeupduration,wakeupcount,waso," +
	"nb_rem_episodes,durationtosleep,durationtowakeup,out_of_bed_count,hr_average,hr_min,hr_max," +
	"rr_average,rr_min,rr_max,snoring,snoringepisodecount,sleep_score,breathing_disturbances_intensity," +
	"apnea_hypopnea_index,night_events"

// sleep maps one sleep summary to a Sleep keyed by its id, filed under
// Withings' own day (date). Start and end are shown in the offset of the
// series' zone at the start of the night.
//
// Asleep time is total_sleep_time; for a night from an external source
// Withings gives asleepduration instead; older trackers give neither, and
// the total is then the sum of the light, deep and REM durations (Withings'
// own definition of total_sleep_time). Latencies fall back to the
// deprecated durationtosleep / durationtowakeup. sleep_efficiency is a
// ratio, stored as a percentage. A summary Withings marks not completed is
// uploaded as tentative.
func (m *mapper) sleep(raw json.RawMessage) (model.Record, error) {
	var s sleepSummary
	if err := json.Unmarshal(raw, &s); err != nil {
		return model.Record{}, fmt.Errorf("decode sleep summary: %w", err)
	}
	id, err := strconv.ParseInt(string(s.ID), 10, 64)
	if err != nil {
		return model.Record{}, fmt.Errorf("sleep summary has no usable id (%q)", s.ID)
	}
	key := strconv.FormatInt(id, 10)
	if err := checkDay(s.Date); err != nil {
		return model.Record{}, fmt.Errorf("sleep summary %s: %w", key, err)
	}
	start, end, err := session(s.StartDate, s.EndDate, m.zone(model.TypeSleep, s.Timezone, raw))
	if err != nil {
		return model.Record{}, fmt.Errorf("sleep summary %s: %w", key, err)
	}
	d := s.Data
	if !finite(d.TotalTimeInBed, d.TotalSleepTime, d.AsleepDuration, d.LightSleepDuration, d.REMSleepDuration,
		d.DeepSleepDuration, d.SleepEfficiency, d.SleepLatency, d.WakeupLatency, d.WakeupDuration) {
		return model.Record{}, fmt.Errorf("sleep summary %s: a value is not finite", key)
	}

	upload := model.SleepUploadTypeAutomatic
	if s.Completed != nil && !*s.Completed {
		upload = model.SleepUploadTypeTentative
	}
	out := &model.Sleep{Metadata: &model.SleepMetadata{
		StartTime:  model.FormatTime(start),
		EndTime:    model.FormatTime(end),
		SummaryId:  ptr(key),
		UploadType: upload,
	}}

	asleep := d.TotalSleepTime
	if asleep == nil {
		asleep = d.AsleepDuration
	}
	if asleep == nil && (d.LightSleepDuration != nil || d.DeepSleepDuration != nil || d.REMSleepDuration != nil) {
		var sum float64
		for _, v := range []*float64{d.LightSleepDuration, d.DeepSleepDuration, d.REMSleepDuration} {
			if v != nil {
				sum += *v
			}
		}
		asleep = &sum
	}
	latency := d.SleepLatency
	if latency == nil {
		latency = d.DurationToSleep
	}
	wakeLatency := d.WakeupLatency
	if wakeLatency == nil {
		wakeLatency = d.DurationToWakeup
	}
	durations := &model.SleepDurationsData{
		Asleep: &model.AsleepDurations{
			DurationAsleepStateSeconds:     asleep,
			DurationLightSleepStateSeconds: d.LightSleepDuration,
			DurationDeepSleepStateSeconds:  d.DeepSleepDuration,
			DurationREMSleepStateSeconds:   d.REMSleepDuration,
			NumREMEvents:                   intPtr(d.NbREMEpisodes),
		},
		Awake: &model.AwakeDurations{
			DurationAwakeStateSeconds: d.WakeupDuration,
			NumWakeupEvents:           intPtr(d.WakeupCount),
			NumOutOfBedEvents:         intPtr(d.OutOfBedCount),
			SleepLatencySeconds:       latency,
			WakeUpLatencySeconds:      wakeLatency,
		},
	}
	if d.TotalTimeInBed != nil {
		durations.Other = &model.OtherSleepDurations{DurationInBedSeconds: d.TotalTimeInBed}
	}
	if e := d.SleepEfficiency; e != nil {
		if *e <= 1 {
			durations.SleepEfficiency = ptr(*e * 100)
		} else {
			durations.SleepEfficiency = e
			m.once(model.TypeSleep, "efficiency>1", raw, "withings sleep_efficiency %v is above 1 (a ratio is documented); it was kept as a percentage", *e)
		}
	}
	out.SleepDurationsData = durations

	if avg, lo, hi := nonZero(d.HRAverage), nonZero(d.HRMin), nonZero(d.HRMax); avg != nil || lo != nil || hi != nil {
		out.HeartRateData = &model.HeartRateData{Summary: &model.HeartRateDataSummary{AvgHrBpm: avg, MinHrBpm: lo, MaxHrBpm: hi}}
	}
	resp := &model.RespirationData{}
	if avg, lo, hi := nonZero(d.RRAverage), nonZero(d.RRMin), nonZero(d.RRMax); avg != nil || lo != nil || hi != nil {
		resp.BreathsData = &model.BreathsData{
			AvgBreathsPerMin: avg, MinBreathsPerMin: lo, MaxBreathsPerMin: hi,
			StartTime: formatPtr(start), EndTime: formatPtr(end),
		}
	}
	if d.Snoring != nil || d.SnoringEpisodeCount != nil {
		resp.SnoringData = &model.SnoringData{
			TotalSnoringDurationSeconds: d.Snoring,
			NumSnoringEvents:            intPtr(d.SnoringEpisodeCount),
			StartTime:                   formatPtr(start),
			EndTime:                     formatPtr(end),
		}
	}
	if resp.BreathsData != nil || resp.SnoringData != nil {
		out.RespirationData = resp
	}
	if d.SleepScore != nil {
		out.Scores = &model.SleepScores{Sleep: d.SleepScore}
	}
	return model.Record{
		Type:  model.TypeSleep,
		Key:   key,
		Start: start,
		End:   end,
		Day:   s.Date,
		Data:  out,
		Raw:   raw,
	}, nil
}
