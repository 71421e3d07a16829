package garmin

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
)

// sleepSummary is a Garmin sleep summary ("sleeps").
type sleepSummary struct {
	window
	Deep         *float64 `json:"deepSleepDurationInSeconds"`
	Light        *float64 `json:"lightSleepDurationInSeconds"`
	REM          *float64 `json:"remSleepInSeconds"`
	Awake        *float64 `json:"awakeDurationInSeconds"`
	Unmeasurable *float64 `json:"unmeasurableSleepInSeconds"`
	// UnmeasurableDuration is the spelling of Garmin's examples.
	UnmeasurableDuration *float64                `json:"unmeasurableSleepDurationInSeconds"`
	Levels               map[string][]levelRange `json:"sleepLevelsMap"`
	Validation           string                  `json:"validation"`
	Respiration          offsetMap               `json:"timeOffsetSleepRespiration"`
	SpO2                 offsetMap               `json:"timeOffsetSleepSpo2"`
	OverallScore         *struct {
		Value *float64 `json:"value"`
	} `json:"overallSleepScore"`
}

// levelRange is one entry of a sleepLevelsMap list (Unix seconds).
type levelRange struct {
	Start *float64 `json:"startTimeInSeconds"`
	End   *float64 `json:"endTimeInSeconds"`
}

// sleepLevels maps Garmin's sleepLevelsMap keys to Terra sleep levels.
var sleepLevels = map[string]model.SleepLevel{
	"deep":         model.SleepLevelDeepSleep,
	"light":        model.SleepLevelLightSleep,
	"rem":          model.SleepLevelREMSleep,
	"awake":        model.SleepLevelAwake,
	"unmeasurable": model.SleepLevelUnknown,
}

// sleepUploadTypes maps Garmin's validation values to Terra upload types.
var sleepUploadTypes = map[string]model.SleepUploadType{
	"MANUAL":             model.SleepUploadTypeManual,
	"AUTO_MANUAL":        model.SleepUploadTypeManual, // user overrode the auto-detected window
	"DEVICE":             model.SleepUploadTypeIndeterminate,
	"OFF_WRIST":          model.SleepUploadTypeAutomatic,
	"AUTO_TENTATIVE":     model.SleepUploadTypeTentative,
	"AUTO_FINAL":         model.SleepUploadTypeAutomatic,
	"ENHANCED_TENTATIVE": model.SleepUploadTypeTentative,
	"ENHANCED_FINAL":     model.SleepUploadTypeAutomatic,
}

// levelSlack is how far a sleepLevelsMap range may stick out of the session
// window and still be kept (Garmin's range ends are whole seconds).
const levelSlack = time.Minute

// mapSleep maps a Garmin sleep summary to a Terra Sleep.
//
//   - metadata: start = startTimeInSeconds, end = start + durationInSeconds
//     (in Garmin's examples the duration is deep + light + REM + awake, the
//     whole window), in the summary's offset; summary_id = summaryId;
//     is_nap false (Garmin lists naps apart, in "naps", which is not mapped);
//     upload type from "validation" (MANUAL, AUTO_MANUAL → manual; *_TENTATIVE
//     → tentative; AUTO_FINAL, ENHANCED_FINAL, OFF_WRIST → automatic; DEVICE,
//     a device sleep started and stopped by hand → indeterminate; unknown
//     values → unknown, reported).
//   - Day: calendarDate, else the local date of the end (the wake-up day).
//   - durations: deep, light, REM, asleep = their sum, awake, unmeasurable.
//   - hypnogram: one sample at the start of every sleepLevelsMap range, and
//     an "unknown" sample where a range ends and no other range follows at
//     once. A range that does not lie inside the session window (1 minute
//     of slack) is dropped and reported: a level placed outside its session
//     is wrong data, and the stage durations, which Garmin gives apart, stay.
//   - timeOffsetSleepRespiration → respiration_data.breaths_data,
//     timeOffsetSleepSpo2 → respiration_data.oxygen_saturation_data;
//     overallSleepScore.value → scores.sleep.
func mapSleep(raw json.RawMessage) (model.Record, []string, error) {
	var s sleepSummary
	if err := json.Unmarshal(raw, &s); err != nil {
		return model.Record{}, nil, fmt.Errorf("decode sleep: %w", err)
	}
	key, err := s.key("")
	if err != nil {
		return model.Record{}, nil, err
	}
	start, end, warnings, err := s.span()
	if err != nil {
		return model.Record{}, nil, err
	}
	wake := end
	if end.After(start) {
		wake = end.Add(-time.Nanosecond)
	}
	day, w := s.day(start, end, wake)
	warnings = append(warnings, w...)

	upload, known := sleepUploadTypes[s.Validation]
	if !known && s.Validation != "" {
		warnings = append(warnings, fmt.Sprintf("unknown validation %q; upload type unknown", s.Validation))
	}
	out := &model.Sleep{
		Metadata: &model.SleepMetadata{
			StartTime:  FormatTime(start),
			EndTime:    FormatTime(end),
			SummaryId:  ptr(key),
			IsNap:      ptr(false),
			UploadType: upload,
		},
	}

	dur := &model.SleepDurationsData{}
	if s.Deep != nil || s.Light != nil || s.REM != nil {
		a := &model.AsleepDurations{
			DurationDeepSleepStateSeconds:  s.Deep,
			DurationLightSleepStateSeconds: s.Light,
			DurationREMSleepStateSeconds:   s.REM,
		}
		var total float64
		for _, v := range []*float64{s.Deep, s.Light, s.REM} {
			if v != nil {
				total += *v
			}
		}
		a.DurationAsleepStateSeconds = ptr(total)
		dur.Asleep = a
	}
	if s.Awake != nil {
		dur.Awake = &model.AwakeDurations{DurationAwakeStateSeconds: s.Awake}
	}
	if u := cmpOrPtr(s.Unmeasurable, s.UnmeasurableDuration); u != nil {
		dur.Other = &model.OtherSleepDurations{DurationUnmeasurableSleepSeconds: u}
	}
	hyp, w := hypnogram(s.Levels, start, end)
	warnings = append(warnings, w...)
	dur.HypnogramSamples = hyp
	if dur.Asleep != nil || dur.Awake != nil || dur.Other != nil || len(dur.HypnogramSamples) > 0 {
		out.SleepDurationsData = dur
	}

	resp := &model.RespirationData{}
	breaths, w := s.Respiration.place("timeOffsetSleepRespiration", start, end)
	warnings = append(warnings, w...)
	resp.BreathsData = breathsData(breaths, start, end)
	spo2, w := s.SpO2.place("timeOffsetSleepSpo2", start, end)
	warnings = append(warnings, w...)
	if len(spo2) > 0 {
		mean, _, _ := stats(spo2)
		resp.OxygenSaturationData = &model.OxygenSaturationData{
			AvgSaturationPercentage: ptr(mean),
			Samples:                 saturationSamples(spo2),
			StartTime:               formatPtr(start),
			EndTime:                 formatPtr(end),
		}
	}
	if resp.BreathsData != nil || resp.OxygenSaturationData != nil {
		out.RespirationData = resp
	}
	if s.OverallScore != nil && s.OverallScore.Value != nil {
		out.Scores = &model.SleepScores{Sleep: s.OverallScore.Value}
	}
	return model.Record{Key: key, Start: start, End: end, Day: day, Data: out}, warnings, nil
}

// placedRange is a sleepLevelsMap range in time.
type placedRange struct {
	start, end time.Time
	level      model.SleepLevel
}

// hypnogram turns a sleepLevelsMap into Terra hypnogram samples, dropping
// (and reporting) ranges outside [start, end] and unknown level names
// (kept as level unknown).
func hypnogram(levels map[string][]levelRange, start, end time.Time) ([]model.SleepHypnogramSample, []string) {
	var (
		ranges   []placedRange
		warnings []string
		outside  int
		total    int
		unknown  []string
		broken   int
	)
	names := make([]string, 0, len(levels))
	for name := range levels {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		level, ok := sleepLevels[strings.ToLower(name)]
		if !ok {
			unknown = append(unknown, fmt.Sprintf("%q", name))
			level = model.SleepLevelUnknown
		}
		for _, r := range levels[name] {
			total++
			if r.Start == nil || r.End == nil || *r.End < *r.Start {
				broken++
				continue
			}
			pr := placedRange{
				start: localTime(*r.Start, offsetOf(start)),
				end:   localTime(*r.End, offsetOf(start)),
				level: level,
			}
			if pr.start.Before(start.Add(-levelSlack)) || pr.end.After(end.Add(levelSlack)) {
				outside++
				continue
			}
			ranges = append(ranges, pr)
		}
	}
	if outside > 0 {
		warnings = append(warnings, fmt.Sprintf("sleepLevelsMap: dropped %d of %d ranges outside the session %s to %s",
			outside, total, FormatTime(start), FormatTime(end)))
	}
	if broken > 0 {
		warnings = append(warnings, fmt.Sprintf("sleepLevelsMap: dropped %d of %d ranges without a valid start and end", broken, total))
	}
	if len(unknown) > 0 {
		warnings = append(warnings, fmt.Sprintf("sleepLevelsMap: unknown levels %s kept as level unknown", strings.Join(unknown, ", ")))
	}
	if len(ranges) == 0 {
		return nil, warnings
	}
	slices.SortStableFunc(ranges, func(a, b placedRange) int { return a.start.Compare(b.start) })
	out := make([]model.SleepHypnogramSample, 0, 2*len(ranges))
	for i, r := range ranges {
		out = append(out, model.SleepHypnogramSample{Timestamp: formatPtr(r.start), Level: ptr(r.level)})
		// Garmin's ranges are inclusive: the next one starts a second
		// after the previous ends. A longer gap is a stretch without a
		// level, and so is the time after the last range.
		gapAt := r.end.Add(time.Second)
		if i+1 < len(ranges) && !ranges[i+1].start.After(gapAt) {
			continue
		}
		if i+1 == len(ranges) && !gapAt.Before(end) {
			continue
		}
		out = append(out, model.SleepHypnogramSample{Timestamp: formatPtr(gapAt), Level: ptr(model.SleepLevelUnknown)})
	}
	return out, warnings
}

// offsetOf returns t's UTC offset in seconds.
func offsetOf(t time.Time) int {
	_, off := t.Zone()
	return off
}

// cmpOrPtr returns the first non-nil pointer.
func cmpOrPtr(vs ...*float64) *float64 {
	for _, v := range vs {
		if v != nil {
			return v
		}
	}
	return nil
}

// breathsData builds Terra breaths data from breathing-rate samples
// recorded over [start, end].
func breathsData(ss []sample, start, end time.Time) *model.BreathsData {
	if len(ss) == 0 {
		return nil
	}
	mean, lo, hi := stats(ss)
	out := &model.BreathsData{
		AvgBreathsPerMin: ptr(mean),
		MinBreathsPerMin: ptr(lo),
		MaxBreathsPerMin: ptr(hi),
		StartTime:        formatPtr(start),
		EndTime:          formatPtr(end),
		Samples:          make([]model.BreathSample, len(ss)),
	}
	for i, s := range ss {
		out.Samples[i] = model.BreathSample{Timestamp: formatPtr(s.at), BreathsPerMin: ptr(s.val)}
	}
	return out
}

// saturationSamples builds Terra blood oxygen samples.
func saturationSamples(ss []sample) []model.OxygenSaturationSample {
	out := make([]model.OxygenSaturationSample, len(ss))
	for i, s := range ss {
		out[i] = model.OxygenSaturationSample{
			Timestamp:  formatPtr(s.at),
			Percentage: ptr(s.val),
			Type:       ptr(model.OxygenSaturationTypeBlood),
		}
	}
	return out
}
