package polar

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
)

// continuousHR is an AccessLink continuous heart rate day. Its sample
// times are zone-less device times on the day's date.
type continuousHR struct {
	PolarUser        string     `json:"polar_user"`
	Date             string     `json:"date"`
	HeartRateSamples []hrSample `json:"heart_rate_samples"`
}

type hrSample struct {
	HeartRate  *float64 `json:"heart_rate"`
	SampleTime string   `json:"sample_time"`
}

// activitySummary is an activity summary of an activity transaction (the
// deprecated daily activity's "activity" schema). Polar: the day's begin
// and end are the device's, with no time zone information.
type activitySummary struct {
	PolarUser      string   `json:"polar-user"`
	Date           string   `json:"date"`
	Calories       *float64 `json:"calories"`        // kcal, BMR included
	ActiveCalories *float64 `json:"active-calories"` // kcal
	Duration       string   `json:"duration"`        // ISO 8601
	ActiveSteps    *float64 `json:"active-steps"`
}

// Key prefixes of the two kinds of Daily record: both are per Polar date,
// and they come from different endpoints at different times (continuous
// heart rate can be re-read, an activity summary is offered once by a
// transaction), so they are kept as two records instead of one that a
// later read of either could overwrite with half the data.
const (
	heartRateKeyPrefix = "heart_rate:"
	activityKeyPrefix  = "activity:"
)

// dayOffset is the UTC offset a Polar date is read in, and where it came
// from.
type dayOffset struct {
	seconds int
	from    string
}

// dayBounds returns the local day of date in off: midnight to midnight.
func dayBounds(date string, off dayOffset) (start, end time.Time, err error) {
	d, err := parseDay(date)
	if err != nil {
		return start, end, err
	}
	start = midnight(d, zone(off.seconds))
	return start, start.Add(day), nil
}

// heartRateDay maps one continuous heart rate day to a Daily with its
// samples. sample_time is a zone-less device time; it is read on the day's
// date in off (see offsets.go for where it comes from). The record spans
// the local day; key "heart_rate:" + date.
func (m *mapper) heartRateDay(raw json.RawMessage, off dayOffset) (model.Record, error) {
	var c continuousHR
	if err := json.Unmarshal(raw, &c); err != nil {
		return model.Record{}, fmt.Errorf("decode continuous heart rate: %w", err)
	}
	start, end, err := dayBounds(c.Date, off)
	if err != nil {
		return model.Record{}, fmt.Errorf("continuous heart rate: %w", err)
	}
	detailed := &model.HeartRateDataDetailed{}
	for i, s := range c.HeartRateSamples {
		if s.HeartRate == nil {
			continue
		}
		at, err := parseClock(s.SampleTime)
		if err != nil {
			return model.Record{}, fmt.Errorf("continuous heart rate %s sample %d: %w", c.Date, i, err)
		}
		detailed.HrSamples = append(detailed.HrSamples, model.HeartRateDataSample{
			Timestamp: formatPtr(start.Add(at)),
			Bpm:       s.HeartRate,
		})
	}
	out := &model.Daily{Metadata: &model.DailyMetadata{
		StartTime:  FormatTime(start),
		EndTime:    FormatTime(end),
		UploadType: model.UploadTypeAutomatic,
	}}
	if len(detailed.HrSamples) > 0 {
		out.HeartRateData = &model.HeartRateData{Detailed: detailed}
	}
	return model.Record{
		Type:  model.TypeDaily,
		Key:   heartRateKeyPrefix + c.Date,
		Start: start,
		End:   end,
		Day:   c.Date,
		Data:  out,
		Raw:   raw,
	}, nil
}

// activityDay maps one activity summary to a Daily spanning the local day
// of its date in off; key "activity:" + date (a day's newer summary
// replaces the older one).
//
//   - calories (total, BMR included) → total_burned_calories;
//     active-calories → net_activity_calories.
//   - active-steps → steps.
//   - duration (the day's active time) → activity_seconds.
func (m *mapper) activityDay(raw json.RawMessage, off dayOffset) (model.Record, error) {
	var a activitySummary
	if err := json.Unmarshal(raw, &a); err != nil {
		return model.Record{}, fmt.Errorf("decode activity summary: %w", err)
	}
	if a.Date == "" {
		return model.Record{}, errors.New("activity summary has no date")
	}
	start, end, err := dayBounds(a.Date, off)
	if err != nil {
		return model.Record{}, fmt.Errorf("activity summary: %w", err)
	}
	out := &model.Daily{Metadata: &model.DailyMetadata{
		StartTime:  FormatTime(start),
		EndTime:    FormatTime(end),
		UploadType: model.UploadTypeAutomatic,
	}}
	if a.Calories != nil || a.ActiveCalories != nil {
		out.CaloriesData = &model.CaloriesData{TotalBurnedCalories: a.Calories, NetActivityCalories: a.ActiveCalories}
	}
	if a.ActiveSteps != nil {
		out.DistanceData = &model.DailyDistanceData{Steps: intPtr(a.ActiveSteps)}
	}
	if a.Duration != "" {
		d, err := parseDuration(a.Duration)
		if err != nil {
			return model.Record{}, fmt.Errorf("activity summary %s duration: %w", a.Date, err)
		}
		out.ActiveDurationsData = &model.ActiveDurationsData{ActivitySeconds: ptr(d.Seconds())}
	}
	return model.Record{
		Type:  model.TypeDaily,
		Key:   activityKeyPrefix + a.Date,
		Start: start,
		End:   end,
		Day:   a.Date,
		Data:  out,
		Raw:   raw,
	}, nil
}
