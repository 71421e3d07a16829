package oura

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
	"github.com/wearbridge/wearbridge/internal/source"
)

// The Oura documents, as far as the mappers read them. Everything else
// stays in Record.Raw.

// sample is Oura's regular series: items every interval seconds from
// timestamp; an item may be null.
type sample struct {
	Interval  float64    `json:"interval"`
	Items     []*float64 `json:"items"`
	Timestamp string     `json:"timestamp"`
}

// point is one non-null item of a sample.
type point struct {
	t time.Time
	v float64
}

// points expands s into instants shown in loc (the zone of the record's
// start, so one record never mixes offsets). Null items are skipped.
func (s *sample) points(loc *time.Location) ([]point, error) {
	if s == nil || len(s.Items) == 0 {
		return nil, nil
	}
	if !(s.Interval > 0) {
		return nil, fmt.Errorf("sample interval %v is not positive", s.Interval)
	}
	start, err := parseTime(s.Timestamp, loc)
	if err != nil {
		return nil, fmt.Errorf("sample: %w", err)
	}
	start = start.In(loc)
	step := time.Duration(s.Interval * float64(time.Second))
	out := make([]point, 0, len(s.Items))
	for i, v := range s.Items {
		if v == nil {
			continue
		}
		out = append(out, point{t: start.Add(time.Duration(i) * step), v: *v})
	}
	return out, nil
}

type sleepPeriod struct {
	ID                 string   `json:"id"`
	Day                string   `json:"day"`
	Type               string   `json:"type"`
	BedtimeStart       string   `json:"bedtime_start"`
	BedtimeEnd         string   `json:"bedtime_end"`
	AverageBreath      *float64 `json:"average_breath"`
	AverageHeartRate   *float64 `json:"average_heart_rate"`
	AverageHRV         *float64 `json:"average_hrv"`
	AwakeTime          *float64 `json:"awake_time"`
	DeepSleepDuration  *float64 `json:"deep_sleep_duration"`
	LightSleepDuration *float64 `json:"light_sleep_duration"`
	RemSleepDuration   *float64 `json:"rem_sleep_duration"`
	TotalSleepDuration *float64 `json:"total_sleep_duration"`
	TimeInBed          *float64 `json:"time_in_bed"`
	Latency            *float64 `json:"latency"`
	Efficiency         *float64 `json:"efficiency"`
	LowestHeartRate    *float64 `json:"lowest_heart_rate"`
	HeartRate          *sample  `json:"heart_rate"`
	HRV                *sample  `json:"hrv"`
	SleepPhase5Min     *string  `json:"sleep_phase_5_min"`
	Readiness          *struct {
		Score                *float64 `json:"score"`
		TemperatureDeviation *float64 `json:"temperature_deviation"`
	} `json:"readiness"`
}

type dailyActivity struct {
	ID                        string   `json:"id"`
	Day                       string   `json:"day"`
	Timestamp                 string   `json:"timestamp"`
	Class5Min                 *string  `json:"class_5_min"`
	Score                     *float64 `json:"score"`
	ActiveCalories            *float64 `json:"active_calories"`
	TotalCalories             *float64 `json:"total_calories"`
	AverageMetMinutes         *float64 `json:"average_met_minutes"`
	EquivalentWalkingDistance *float64 `json:"equivalent_walking_distance"`
	HighActivityTime          *float64 `json:"high_activity_time"`
	MediumActivityTime        *float64 `json:"medium_activity_time"`
	LowActivityTime           *float64 `json:"low_activity_time"`
	SedentaryTime             *float64 `json:"sedentary_time"`
	RestingTime               *float64 `json:"resting_time"`
	InactivityAlerts          *float64 `json:"inactivity_alerts"`
	Met                       *sample  `json:"met"`
	Steps                     *float64 `json:"steps"`

	// start is Timestamp parsed: the start of Oura's activity day, in the
	// user's offset.
	start time.Time
}

type dailyReadiness struct {
	ID    string   `json:"id"`
	Day   string   `json:"day"`
	Score *float64 `json:"score"`
}

type dailySpO2 struct {
	ID             string `json:"id"`
	Day            string `json:"day"`
	SpO2Percentage *struct {
		Average *float64 `json:"average"`
	} `json:"spo2_percentage"`
}

type dailySleep struct {
	ID    string   `json:"id"`
	Day   string   `json:"day"`
	Score *float64 `json:"score"`
}

type workout struct {
	ID            string   `json:"id"`
	Activity      string   `json:"activity"`
	Day           string   `json:"day"`
	StartDatetime string   `json:"start_datetime"`
	EndDatetime   string   `json:"end_datetime"`
	Intensity     string   `json:"intensity"`
	Source        string   `json:"source"`
	Calories      *float64 `json:"calories"`
	Distance      *float64 `json:"distance"`
	Label         *string  `json:"label"`
}

type session struct {
	ID                   string  `json:"id"`
	Day                  string  `json:"day"`
	Type                 string  `json:"type"`
	StartDatetime        string  `json:"start_datetime"`
	EndDatetime          string  `json:"end_datetime"`
	HeartRate            *sample `json:"heart_rate"`
	HeartRateVariability *sample `json:"heart_rate_variability"`
}

type heartRateRow struct {
	BPM       *float64 `json:"bpm"`
	Source    string   `json:"source"`
	Timestamp string   `json:"timestamp"`
}

// mapper maps Oura documents and collects the notes about unknown enum
// values met on the way, each reported once per pull.
type mapper struct {
	seen     map[string]bool
	problems []model.Problem
}

func newMapper() *mapper { return &mapper{seen: make(map[string]bool)} }

// unknown records that field had a value the mapper does not know. The
// record still lands (with the value kept in its raw payload); the value is
// reported once.
func (m *mapper) unknown(t model.DataType, field, value string, raw []byte) {
	k := string(t) + "\x00" + field + "\x00" + value
	if m.seen[k] {
		return
	}
	m.seen[k] = true
	m.problems = append(m.problems, model.Problem{
		Type: t,
		Err:  fmt.Sprintf("oura %s: unknown value %q; the record was kept and the value is in its raw payload", field, value),
		Raw:  raw,
	})
}

// flush hands the collected notes to sink.
func (m *mapper) flush(ctx context.Context, sink source.Sink) error {
	var errs []error
	for _, p := range m.problems {
		if err := sink.Problem(ctx, p); err != nil {
			errs = append(errs, err)
		}
	}
	m.problems = nil
	return errors.Join(errs...)
}

func ptr[T any](v T) *T { return &v }

// intPtr converts an optional count to an int, rounding.
func intPtr(v *float64) *int {
	if v == nil {
		return nil
	}
	return ptr(int(math.Round(*v)))
}

// minutes converts optional seconds to minutes.
func minutes(v *float64) *float64 {
	if v == nil {
		return nil
	}
	return ptr(*v / 60)
}
