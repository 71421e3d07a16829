package oura

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
)

// hypnogramStep is the spacing of sleep_phase_5_min.
const hypnogramStep = 5 * time.Minute

// noHeartRate is the value Oura puts in lowest_heart_rate when a period has
// no heart rate measurement.
const noHeartRate = 255

// sleepTypes are Oura's sleep period types, with whether each is a nap.
// "deleted" periods are not mapped at all.
var sleepTypes = map[string]bool{
	"long_sleep": false,
	"sleep":      true,
	"late_nap":   true,
	"rest":       true,
}

// sleepLevels maps sleep_phase_5_min characters to Terra levels.
var sleepLevels = map[rune]model.SleepLevel{
	'1': model.SleepLevelDeepSleep,
	'2': model.SleepLevelLightSleep,
	'3': model.SleepLevelREMSleep,
	'4': model.SleepLevelAwake,
}

// sleep maps one Oura sleep period. scores holds the daily_sleep score per
// day; it is given to the main sleep (long_sleep) of that day. ok is false
// for a period Oura marks deleted.
func (m *mapper) sleep(raw json.RawMessage, scores map[string]float64) (rec model.Record, ok bool, err error) {
	var s sleepPeriod
	if err := json.Unmarshal(raw, &s); err != nil {
		return rec, false, fmt.Errorf("decode sleep period: %w", err)
	}
	if s.ID == "" {
		return rec, false, errors.New("sleep period has no id")
	}
	if _, err := parseDay(s.Day); err != nil {
		return rec, false, fmt.Errorf("sleep period %s: %w", s.ID, err)
	}
	if s.Type == "deleted" {
		return rec, false, nil
	}
	start, err := parseTime(s.BedtimeStart, nil)
	if err != nil {
		return rec, false, fmt.Errorf("sleep period %s bedtime_start: %w", s.ID, err)
	}
	// Every timestamp of the period is shown in the offset in force at its
	// start, so a night across a DST change stays one consistent series.
	loc := start.Location()
	end, err := parseTime(s.BedtimeEnd, loc)
	if err != nil {
		return rec, false, fmt.Errorf("sleep period %s bedtime_end: %w", s.ID, err)
	}
	end = end.In(loc)
	if end.Before(start) {
		return rec, false, fmt.Errorf("sleep period %s ends before it starts", s.ID)
	}

	meta := &model.SleepMetadata{
		StartTime:  FormatTime(start),
		EndTime:    FormatTime(end),
		SummaryId:  ptr(s.ID),
		UploadType: model.SleepUploadTypeAutomatic,
	}
	if nap, known := sleepTypes[s.Type]; known {
		meta.IsNap = ptr(nap)
	} else {
		m.unknown(model.TypeSleep, "sleep.type", s.Type, raw)
	}
	out := &model.Sleep{Metadata: meta}

	durations := &model.SleepDurationsData{
		Asleep: &model.AsleepDurations{
			DurationAsleepStateSeconds:     s.TotalSleepDuration,
			DurationDeepSleepStateSeconds:  s.DeepSleepDuration,
			DurationLightSleepStateSeconds: s.LightSleepDuration,
			DurationREMSleepStateSeconds:   s.RemSleepDuration,
		},
		Awake: &model.AwakeDurations{
			DurationAwakeStateSeconds: s.AwakeTime,
			SleepLatencySeconds:       s.Latency,
		},
		Other:           &model.OtherSleepDurations{DurationInBedSeconds: s.TimeInBed},
		SleepEfficiency: s.Efficiency,
	}
	if s.SleepPhase5Min != nil {
		for i, c := range []rune(*s.SleepPhase5Min) {
			level, known := sleepLevels[c]
			if !known {
				level = model.SleepLevelUnknown
				m.unknown(model.TypeSleep, "sleep.sleep_phase_5_min", string(c), raw)
			}
			durations.HypnogramSamples = append(durations.HypnogramSamples, model.SleepHypnogramSample{
				Timestamp: formatTimePtr(start.Add(time.Duration(i) * hypnogramStep)),
				Level:     ptr(level),
			})
		}
	}
	out.SleepDurationsData = durations

	hr, err := sleepHeartRate(&s, loc, s.Type == "long_sleep")
	if err != nil {
		return rec, false, fmt.Errorf("sleep period %s: %w", s.ID, err)
	}
	out.HeartRateData = hr

	if s.AverageBreath != nil {
		out.RespirationData = &model.RespirationData{BreathsData: &model.BreathsData{
			AvgBreathsPerMin: s.AverageBreath,
			StartTime:        formatTimePtr(start),
			EndTime:          formatTimePtr(end),
		}}
	}
	if r := s.Readiness; r != nil {
		if r.Score != nil {
			out.ReadinessData = &model.ReadinessData{Readiness: r.Score}
		}
		if r.TemperatureDeviation != nil {
			out.TemperatureData = &model.SleepTemperatureData{Delta: r.TemperatureDeviation}
		}
	}
	if score, found := scores[s.Day]; found && s.Type == "long_sleep" {
		out.Scores = &model.SleepScores{Sleep: ptr(score)}
	}

	return model.Record{
		Type:  model.TypeSleep,
		Key:   s.ID,
		Start: start,
		End:   end,
		Day:   s.Day,
		Data:  out,
		Raw:   raw,
	}, true, nil
}

// sleepHeartRate maps the period's heart rate and HRV; nil when it has
// neither. The lowest heart rate of the main sleep is also the resting
// heart rate (as Oura's readiness uses it); a nap's is only its minimum.
func sleepHeartRate(s *sleepPeriod, loc *time.Location, main bool) (*model.HeartRateData, error) {
	summary := &model.HeartRateDataSummary{
		AvgHrBpm:    s.AverageHeartRate,
		AvgHrvRmssd: s.AverageHRV,
	}
	if v := s.LowestHeartRate; v != nil && *v > 0 && *v < noHeartRate {
		summary.MinHrBpm = ptr(*v)
		if main {
			summary.RestingHrBpm = ptr(*v)
		}
	}
	hr, err := s.HeartRate.points(loc)
	if err != nil {
		return nil, fmt.Errorf("heart_rate: %w", err)
	}
	hrv, err := s.HRV.points(loc)
	if err != nil {
		return nil, fmt.Errorf("hrv: %w", err)
	}
	detailed := &model.HeartRateDataDetailed{}
	for _, p := range hr {
		detailed.HrSamples = append(detailed.HrSamples, model.HeartRateDataSample{
			Timestamp: formatTimePtr(p.t),
			Bpm:       ptr(p.v),
		})
	}
	for _, p := range hrv {
		detailed.HrvSamplesRmssd = append(detailed.HrvSamplesRmssd, model.HeartRateVariabilityDataSampleRMSSD{
			Timestamp: formatTimePtr(p.t),
			HrvRmssd:  ptr(p.v),
		})
	}
	out := &model.HeartRateData{}
	if summary.AvgHrBpm != nil || summary.AvgHrvRmssd != nil || summary.MinHrBpm != nil {
		out.Summary = summary
	}
	if len(detailed.HrSamples) > 0 || len(detailed.HrvSamplesRmssd) > 0 {
		out.Detailed = detailed
	}
	if out.Summary == nil && out.Detailed == nil {
		return nil, nil
	}
	return out, nil
}
