package garmin

import (
	"encoding/json"
	"fmt"

	"github.com/wearbridge/wearbridge/internal/model"
)

// dailySummary is a Garmin daily summary ("dailies").
type dailySummary struct {
	window
	Steps                    *float64  `json:"steps"`
	DistanceInMeters         *float64  `json:"distanceInMeters"`
	ActiveTimeInSeconds      *float64  `json:"activeTimeInSeconds"`
	ActiveKilocalories       *float64  `json:"activeKilocalories"`
	BMRKilocalories          *float64  `json:"bmrKilocalories"`
	ConsumedCalories         *float64  `json:"consumedCalories"`
	ModerateIntensitySeconds *float64  `json:"moderateIntensityDurationInSeconds"`
	VigorousIntensitySeconds *float64  `json:"vigorousIntensityDurationInSeconds"`
	FloorsClimbed            *float64  `json:"floorsClimbed"`
	MinHeartRate             *float64  `json:"minHeartRateInBeatsPerMinute"`
	MaxHeartRate             *float64  `json:"maxHeartRateInBeatsPerMinute"`
	RestingHeartRate         *float64  `json:"restingHeartRateInBeatsPerMinute"`
	HeartRateSamples         offsetMap `json:"timeOffsetHeartRateSamples"`
	AverageStressLevel       *float64  `json:"averageStressLevel"`
	MaxStressLevel           *float64  `json:"maxStressLevel"`
	StressDuration           *float64  `json:"stressDurationInSeconds"`
	RestStressDuration       *float64  `json:"restStressDurationInSeconds"`
	ActivityStressDuration   *float64  `json:"activityStressDurationInSeconds"`
	LowStressDuration        *float64  `json:"lowStressDurationInSeconds"`
	MediumStressDuration     *float64  `json:"mediumStressDurationInSeconds"`
	HighStressDuration       *float64  `json:"highStressDurationInSeconds"`
	// averageHeartRateInBeatsPerMinute is deliberately not read: Garmin
	// documents it as the average over the last 7 days, not the day.
}

// mapDaily maps a Garmin daily summary to a Terra Daily.
//
//   - metadata: start = startTimeInSeconds, end = start + durationInSeconds
//     (less than 24 h while the day is still being synced), both in the
//     summary's offset; upload type automatic (device data).
//   - Day: calendarDate, else the local date of the start.
//   - calories: active → net_activity_calories, BMR → BMR_calories, total =
//     active + BMR when both are present, consumedCalories →
//     net_intake_calories.
//   - heart rate: min, max and resting from the summary; the average is the
//     mean of timeOffsetHeartRateSamples (Garmin's
//     averageHeartRateInBeatsPerMinute is a 7-day average, so it is left
//     out); samples are placed at start + offset.
//   - stress: negative levels ("not enough data") are dropped; stress_rating
//     is the band of the average level (Garmin's 1-25/26-50/51-75/76-100
//     bands are Terra's rest/low/medium/high).
func mapDaily(raw json.RawMessage) (model.Record, []string, error) {
	var d dailySummary
	if err := json.Unmarshal(raw, &d); err != nil {
		return model.Record{}, nil, fmt.Errorf("decode daily: %w", err)
	}
	key, err := d.key("")
	if err != nil {
		return model.Record{}, nil, err
	}
	start, end, warnings, err := d.span()
	if err != nil {
		return model.Record{}, nil, err
	}
	day, w := d.day(start, end, start)
	warnings = append(warnings, w...)

	out := &model.Daily{
		Metadata: &model.DailyMetadata{
			StartTime:  FormatTime(start),
			EndTime:    FormatTime(end),
			UploadType: model.UploadTypeAutomatic,
		},
	}
	if d.Steps != nil || d.DistanceInMeters != nil || d.FloorsClimbed != nil {
		out.DistanceData = &model.DailyDistanceData{
			Steps:          intPtr(d.Steps),
			DistanceMeters: d.DistanceInMeters,
			FloorsClimbed:  intPtr(d.FloorsClimbed),
		}
	}
	if d.ActiveKilocalories != nil || d.BMRKilocalories != nil || d.ConsumedCalories != nil {
		c := &model.CaloriesData{
			NetActivityCalories: d.ActiveKilocalories,
			BMRCalories:         d.BMRKilocalories,
			NetIntakeCalories:   d.ConsumedCalories,
		}
		if d.ActiveKilocalories != nil && d.BMRKilocalories != nil {
			c.TotalBurnedCalories = ptr(*d.ActiveKilocalories + *d.BMRKilocalories)
		}
		out.CaloriesData = c
	}
	if d.ActiveTimeInSeconds != nil || d.ModerateIntensitySeconds != nil || d.VigorousIntensitySeconds != nil {
		out.ActiveDurationsData = &model.ActiveDurationsData{
			ActivitySeconds:          d.ActiveTimeInSeconds,
			ModerateIntensitySeconds: d.ModerateIntensitySeconds,
			VigorousIntensitySeconds: d.VigorousIntensitySeconds,
		}
	}

	samples, w := d.HeartRateSamples.place("timeOffsetHeartRateSamples", start, end)
	warnings = append(warnings, w...)
	if hr := dailyHeartRate(d, samples); hr != nil {
		out.HeartRateData = hr
	}
	if s := dailyStress(d); s != nil {
		out.StressData = s
	}
	return model.Record{Key: key, Start: start, End: end, Day: day, Data: out}, warnings, nil
}

func dailyHeartRate(d dailySummary, samples []sample) *model.HeartRateData {
	var hr model.HeartRateData
	if d.MinHeartRate != nil || d.MaxHeartRate != nil || d.RestingHeartRate != nil || len(samples) > 0 {
		hr.Summary = &model.HeartRateDataSummary{
			MinHrBpm:     d.MinHeartRate,
			MaxHrBpm:     d.MaxHeartRate,
			RestingHrBpm: d.RestingHeartRate,
		}
	}
	if len(samples) > 0 {
		mean, _, _ := stats(samples)
		hr.Summary.AvgHrBpm = ptr(mean)
		hs := make([]model.HeartRateDataSample, len(samples))
		for i, s := range samples {
			hs[i] = model.HeartRateDataSample{Timestamp: formatPtr(s.at), Bpm: ptr(s.val)}
		}
		hr.Detailed = &model.HeartRateDataDetailed{HrSamples: hs}
	}
	if hr.Summary == nil {
		return nil
	}
	return &hr
}

func dailyStress(d dailySummary) *model.StressData {
	s := model.StressData{
		AvgStressLevel:                nonNegative(d.AverageStressLevel),
		MaxStressLevel:                nonNegative(d.MaxStressLevel),
		StressDurationSeconds:         d.StressDuration,
		RestStressDurationSeconds:     d.RestStressDuration,
		ActivityStressDurationSeconds: d.ActivityStressDuration,
		LowStressDurationSeconds:      d.LowStressDuration,
		MediumStressDurationSeconds:   d.MediumStressDuration,
		HighStressDurationSeconds:     d.HighStressDuration,
	}
	if allNil(s.AvgStressLevel, s.MaxStressLevel, s.StressDurationSeconds, s.RestStressDurationSeconds,
		s.ActivityStressDurationSeconds, s.LowStressDurationSeconds, s.MediumStressDurationSeconds,
		s.HighStressDurationSeconds) {
		return nil
	}
	if s.AvgStressLevel != nil {
		s.StressRating = stressBand(*s.AvgStressLevel)
	}
	return &s
}

// stressBand returns the Terra stress level of a Garmin stress score (1-100).
func stressBand(v float64) *model.StressLevel {
	switch {
	case v < 1 || v > 100:
		return nil
	case v <= 25:
		return ptr(model.StressLevelRest)
	case v <= 50:
		return ptr(model.StressLevelLow)
	case v <= 75:
		return ptr(model.StressLevelMedium)
	}
	return ptr(model.StressLevelHigh)
}
