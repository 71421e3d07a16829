package polar

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
)

// night is an AccessLink sleep (the sleep schema), as far as the mapper
// reads it. Continuity, sleep charge, goal, rating, cycles and the group
// scores stay in Record.Raw.
type night struct {
	PolarUser                 string                     `json:"polar_user"`
	Date                      string                     `json:"date"`
	SleepStartTime            string                     `json:"sleep_start_time"`
	SleepEndTime              string                     `json:"sleep_end_time"`
	LightSleep                *float64                   `json:"light_sleep"`
	DeepSleep                 *float64                   `json:"deep_sleep"`
	RemSleep                  *float64                   `json:"rem_sleep"`
	UnrecognizedSleepStage    *float64                   `json:"unrecognized_sleep_stage"`
	SleepScore                *float64                   `json:"sleep_score"`
	TotalInterruptionDuration *float64                   `json:"total_interruption_duration"`
	ShortInterruptionDuration *float64                   `json:"short_interruption_duration"`
	LongInterruptionDuration  *float64                   `json:"long_interruption_duration"`
	Hypnogram                 map[string]json.RawMessage `json:"hypnogram"`
	HeartRateSamples          map[string]*float64        `json:"heart_rate_samples"`
}

// recharge is an AccessLink Nightly Recharge, as far as the mapper reads
// it. heart_rate_avg, beat_to_beat_avg and the ANS charge stay in
// Record.Raw: the sleep's own heart-rate samples cover the whole night,
// while Polar's averages cover a 4-hour window.
type recharge struct {
	PolarUser               string              `json:"polar_user"`
	Date                    string              `json:"date"`
	HeartRateVariabilityAvg *float64            `json:"heart_rate_variability_avg"`
	BreathingRateAvg        *float64            `json:"breathing_rate_avg"`
	NightlyRechargeStatus   *float64            `json:"nightly_recharge_status"`
	HRVSamples              map[string]*float64 `json:"hrv_samples"`
	BreathingSamples        map[string]*float64 `json:"breathing_samples"`
}

// dateHead is the date and owner of a dated Polar document.
type dateHead struct {
	PolarUser string `json:"polar_user"`
	Date      string `json:"date"`
}

// hypnogramLevels maps Polar's hypnogram stages (sleep schema: 0 = wake,
// 1 = REM, 2 = lighter non-REM (N1), 3 = light non-REM (N2), 4 = deep
// non-REM (N3), 5 = unknown) to Terra levels.
var hypnogramLevels = map[string]model.SleepLevel{
	"0": model.SleepLevelAwake,
	"1": model.SleepLevelREMSleep,
	"2": model.SleepLevelLightSleep,
	"3": model.SleepLevelLightSleep,
	"4": model.SleepLevelDeepSleep,
	"5": model.SleepLevelUnknown,
}

// sleepRaw is the raw payload of a Sleep record: the night and the Nightly
// Recharge joined to it.
type sleepRaw struct {
	Sleep           json.RawMessage `json:"sleep"`
	NightlyRecharge json.RawMessage `json:"nightly_recharge,omitempty"`
}

// join writes {"sleep": ..., "nightly_recharge": ...} with both parts
// byte for byte as received (json.Marshal would compact them). Both were
// decoded already, so the result is valid JSON.
func (r sleepRaw) join() json.RawMessage {
	out := append([]byte(`{"sleep":`), r.Sleep...)
	if r.NightlyRecharge != nil {
		out = append(out, `,"nightly_recharge":`...)
		out = append(out, r.NightlyRecharge...)
	}
	return append(out, '}')
}

// sleep maps one Polar night, with the Nightly Recharge of the same date
// when rechargeRaw is not nil, to a Sleep.
//
//   - key, summary_id and Day: Polar's date (the night's result date;
//     Polar has one sleep per date, so it is the main sleep, not a nap).
//   - start/end: sleep_start_time/sleep_end_time (when the user fell asleep
//     and woke up), with their offsets; the end is shown in the start's.
//   - durations: light (N1+N2), deep, REM, unrecognised stage
//     (→ unmeasurable); asleep = their sum; awake = total interruption,
//     with the short and long interruptions.
//   - hypnogram and heart_rate_samples are keyed by zone-less "HH:MM" wall
//     times: each is read in the start's offset on the start's date, and a
//     time more than an hour before the start rolls over to the next day.
//     On a night across a DST change Polar's wall times after the change
//     are in the new offset, which the keys cannot tell; they are read in
//     the start's offset like the rest of the night.
//   - sleep_score → scores.sleep.
//   - Nightly Recharge: heart_rate_variability_avg (RMSSD) and hrv_samples
//     → RMSSD fields; breathing_rate_avg and breathing_samples →
//     respiration; nightly_recharge_status (1 very poor … 6 very good) →
//     readiness_data.recovery_level, on Polar's own scale. Polar's
//     averages cover a 4-hour window from 30 minutes after falling asleep.
//   - Raw is {"sleep": ..., "nightly_recharge": ...}, each as received.
func (m *mapper) sleep(raw, rechargeRaw json.RawMessage) (model.Record, error) {
	var n night
	if err := json.Unmarshal(raw, &n); err != nil {
		return model.Record{}, fmt.Errorf("decode sleep: %w", err)
	}
	if _, err := parseDay(n.Date); err != nil {
		return model.Record{}, fmt.Errorf("sleep: %w", err)
	}
	start, err := time.Parse(time.RFC3339Nano, n.SleepStartTime)
	if err != nil {
		return model.Record{}, fmt.Errorf("sleep %s: bad sleep_start_time %q", n.Date, n.SleepStartTime)
	}
	end, err := time.Parse(time.RFC3339Nano, n.SleepEndTime)
	if err != nil {
		return model.Record{}, fmt.Errorf("sleep %s: bad sleep_end_time %q", n.Date, n.SleepEndTime)
	}
	end = end.In(start.Location())
	if end.Before(start) {
		return model.Record{}, fmt.Errorf("sleep %s ends before it starts", n.Date)
	}

	out := &model.Sleep{Metadata: &model.SleepMetadata{
		StartTime:  FormatTime(start),
		EndTime:    FormatTime(end),
		SummaryId:  ptr(n.Date),
		IsNap:      ptr(false),
		UploadType: model.SleepUploadTypeAutomatic,
	}}
	d := &model.SleepDurationsData{}
	if n.LightSleep != nil || n.DeepSleep != nil || n.RemSleep != nil || n.UnrecognizedSleepStage != nil {
		var asleep float64
		for _, v := range []*float64{n.LightSleep, n.DeepSleep, n.RemSleep, n.UnrecognizedSleepStage} {
			if v != nil {
				asleep += *v
			}
		}
		d.Asleep = &model.AsleepDurations{
			DurationAsleepStateSeconds:     ptr(asleep),
			DurationLightSleepStateSeconds: n.LightSleep,
			DurationDeepSleepStateSeconds:  n.DeepSleep,
			DurationREMSleepStateSeconds:   n.RemSleep,
		}
	}
	if n.UnrecognizedSleepStage != nil {
		d.Other = &model.OtherSleepDurations{DurationUnmeasurableSleepSeconds: n.UnrecognizedSleepStage}
	}
	if n.TotalInterruptionDuration != nil || n.ShortInterruptionDuration != nil || n.LongInterruptionDuration != nil {
		d.Awake = &model.AwakeDurations{
			DurationAwakeStateSeconds:        n.TotalInterruptionDuration,
			DurationShortInterruptionSeconds: n.ShortInterruptionDuration,
			DurationLongInterruptionSeconds:  n.LongInterruptionDuration,
		}
	}
	levels, err := clockSeries(n.Hypnogram, start)
	if err != nil {
		return model.Record{}, fmt.Errorf("sleep %s hypnogram: %w", n.Date, err)
	}
	for _, l := range levels {
		v := strings.TrimSpace(string(l.raw))
		level, known := hypnogramLevels[v]
		if !known {
			level = model.SleepLevelUnknown
			m.unknown(model.TypeSleep, "sleep.hypnogram", v, raw)
		}
		d.HypnogramSamples = append(d.HypnogramSamples, model.SleepHypnogramSample{Timestamp: formatPtr(l.t), Level: ptr(level)})
	}
	if d.Asleep != nil || d.Awake != nil || d.Other != nil || len(d.HypnogramSamples) > 0 {
		out.SleepDurationsData = d
	}
	if n.SleepScore != nil {
		out.Scores = &model.SleepScores{Sleep: n.SleepScore}
	}
	hrPoints, err := numberSeries(n.HeartRateSamples, start)
	if err != nil {
		return model.Record{}, fmt.Errorf("sleep %s heart_rate_samples: %w", n.Date, err)
	}
	var hr model.HeartRateData
	for _, p := range hrPoints {
		if hr.Detailed == nil {
			hr.Detailed = &model.HeartRateDataDetailed{}
		}
		hr.Detailed.HrSamples = append(hr.Detailed.HrSamples, model.HeartRateDataSample{Timestamp: formatPtr(p.t), Bpm: ptr(p.v)})
	}

	recRaw := sleepRaw{Sleep: raw}
	if rechargeRaw != nil {
		var r recharge
		if err := json.Unmarshal(rechargeRaw, &r); err != nil {
			return model.Record{}, fmt.Errorf("sleep %s: decode nightly recharge: %w", n.Date, err)
		}
		if r.Date != n.Date {
			return model.Record{}, fmt.Errorf("sleep %s: nightly recharge is for %q", n.Date, r.Date)
		}
		recRaw.NightlyRecharge = rechargeRaw
		if err := joinRecharge(out, &hr, r, start, end); err != nil {
			return model.Record{}, fmt.Errorf("sleep %s nightly recharge: %w", n.Date, err)
		}
	}
	if hr.Summary != nil || hr.Detailed != nil {
		out.HeartRateData = &hr
	}
	return model.Record{
		Type:  model.TypeSleep,
		Key:   n.Date,
		Start: start,
		End:   end,
		Day:   n.Date,
		Data:  out,
		Raw:   recRaw.join(),
	}, nil
}

// joinRecharge adds a Nightly Recharge to the night's Sleep.
func joinRecharge(out *model.Sleep, hr *model.HeartRateData, r recharge, start, end time.Time) error {
	if r.NightlyRechargeStatus != nil {
		out.ReadinessData = &model.ReadinessData{RecoveryLevel: r.NightlyRechargeStatus}
	}
	if r.HeartRateVariabilityAvg != nil {
		hr.Summary = &model.HeartRateDataSummary{AvgHrvRmssd: r.HeartRateVariabilityAvg}
	}
	hrv, err := numberSeries(r.HRVSamples, start)
	if err != nil {
		return fmt.Errorf("hrv_samples: %w", err)
	}
	for _, p := range hrv {
		if hr.Detailed == nil {
			hr.Detailed = &model.HeartRateDataDetailed{}
		}
		hr.Detailed.HrvSamplesRmssd = append(hr.Detailed.HrvSamplesRmssd, model.HeartRateVariabilityDataSampleRMSSD{Timestamp: formatPtr(p.t), HrvRmssd: ptr(p.v)})
	}
	breaths, err := numberSeries(r.BreathingSamples, start)
	if err != nil {
		return fmt.Errorf("breathing_samples: %w", err)
	}
	if r.BreathingRateAvg != nil || len(breaths) > 0 {
		b := &model.BreathsData{
			AvgBreathsPerMin: r.BreathingRateAvg,
			StartTime:        formatPtr(start),
			EndTime:          formatPtr(end),
		}
		for _, p := range breaths {
			b.Samples = append(b.Samples, model.BreathSample{Timestamp: formatPtr(p.t), BreathsPerMin: ptr(p.v)})
		}
		out.RespirationData = &model.RespirationData{BreathsData: b}
	}
	return nil
}

// clockPoint is one value of a series keyed by wall time, placed in time.
type clockPoint struct {
	t   time.Time
	raw json.RawMessage
}

// rollover is how far before a night's start a wall time may be and still
// belong to the start's date; earlier times belong to the next day.
const rollover = time.Hour

// clockSeries places the values of a map keyed by zone-less "HH:MM" wall
// times on the night that starts at start (see [mapper.sleep]) and sorts
// them by time. Null values are skipped.
func clockSeries(m map[string]json.RawMessage, start time.Time) ([]clockPoint, error) {
	base := midnight(start, start.Location())
	out := make([]clockPoint, 0, len(m))
	for k, v := range m {
		if strings.TrimSpace(string(v)) == "null" {
			continue
		}
		c, err := parseClock(k)
		if err != nil {
			return nil, err
		}
		t := base.Add(c)
		if t.Before(start.Add(-rollover)) {
			t = t.Add(day)
		}
		out = append(out, clockPoint{t: t, raw: v})
	}
	slices.SortFunc(out, func(a, b clockPoint) int { return a.t.Compare(b.t) })
	return out, nil
}

// numberSeries is clockSeries for numeric values.
func numberSeries(m map[string]*float64, start time.Time) ([]point, error) {
	raws := make(map[string]json.RawMessage, len(m))
	for k, v := range m {
		if v == nil {
			continue
		}
		raws[k] = json.RawMessage(num(*v))
	}
	cps, err := clockSeries(raws, start)
	if err != nil {
		return nil, err
	}
	out := make([]point, 0, len(cps))
	for _, c := range cps {
		var v float64
		if err := json.Unmarshal(c.raw, &v); err != nil {
			return nil, errors.New("value is not a number")
		}
		out = append(out, point{t: c.t, v: v})
	}
	return out, nil
}
