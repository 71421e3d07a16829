package withings

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
)

// activityDay is one entry of Measure v2 - Getactivity's activities (API
// reference activity_object): a day's totals in the user's zone.
type activityDay struct {
	Date          string   `json:"date"`
	Timezone      string   `json:"timezone"`
	Brand         *int     `json:"brand"`
	Model         *string  `json:"model"`
	Steps         *float64 `json:"steps"`
	Distance      *float64 `json:"distance"`
	Elevation     *float64 `json:"elevation"`
	Soft          *float64 `json:"soft"`
	Moderate      *float64 `json:"moderate"`
	Intense       *float64 `json:"intense"`
	Active        *float64 `json:"active"`
	Calories      *float64 `json:"calories"`
	TotalCalories *float64 `json:"totalcalories"`
	HRAverage     *float64 `json:"hr_average"`
	HRMin         *float64 `json:"hr_min"`
	HRMax         *float64 `json:"hr_max"`
	HRZone0       *float64 `json:"hr_zone_0"`
	HRZone1       *float64 `json:"hr_zone_1"`
	HRZone2       *float64 `json:"hr_zone_2"`
	HRZone3       *float64 `json:"hr_zone_3"`
}

// activityDataFields is the data_fields asked of getactivity.
const activityDataFields = "steps,distance,elevation,soft,moderate,intense,active,calories,totalcalories," +
	"hr_average,hr_min,hr_max,hr_zone_0,hr_zone_1,hr_zone_2,hr_zone_3"

// intradayDataFields is the data_fields asked of getintradayactivity.
const intradayDataFields = "steps,elevation,calories,distance,duration,heart_rate,spo2_auto"

// Activity brands (activity_object.brand).
const (
	brandWithings = 1
	brandExternal = 18
)

// dayDoc is a decoded activity day with its local bounds.
type dayDoc struct {
	a          activityDay
	raw        json.RawMessage
	loc        *time.Location
	start, end time.Time // local midnights of the day and the next
}

// activityDay decodes one activity day and finds its local midnights in
// its zone.
func (m *mapper) activityDay(raw json.RawMessage) (*dayDoc, error) {
	var a activityDay
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, fmt.Errorf("decode activity day: %w", err)
	}
	loc := m.zone(model.TypeDaily, a.Timezone, raw)
	start, err := midnight(a.Date, loc)
	if err != nil {
		return nil, fmt.Errorf("activity day: %w", err)
	}
	if !finite(a.Steps, a.Distance, a.Elevation, a.Soft, a.Moderate, a.Intense, a.Active, a.Calories, a.TotalCalories) {
		return nil, fmt.Errorf("activity day %s: a value is not finite", a.Date)
	}
	end := time.Date(start.Year(), start.Month(), start.Day()+1, 0, 0, 0, 0, loc)
	return &dayDoc{a: a, raw: raw, loc: loc, start: start, end: end}, nil
}

// intradayPoint is one entry of getintradayactivity's series: what
// happened in the duration seconds from its key (epoch seconds).
type intradayPoint struct {
	Duration  *float64 `json:"duration"`
	Steps     *float64 `json:"steps"`
	Distance  *float64 `json:"distance"`
	Elevation *float64 `json:"elevation"`
	Calories  *float64 `json:"calories"`
	HeartRate *float64 `json:"heart_rate"`
	SpO2      *float64 `json:"spo2_auto"`
}

// intradaySample is a decoded series entry.
type intradaySample struct {
	t   time.Time
	key string
	p   intradayPoint
	raw json.RawMessage
}

// intraday decodes a getintradayactivity body, {"series": {"<epoch>":
// {...}}}, in time order. Withings writes an empty series as []. An entry
// that cannot be read is reported once and left out.
func (m *mapper) intraday(body json.RawMessage) ([]intradaySample, error) {
	var b struct {
		Series json.RawMessage `json:"series"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		return nil, fmt.Errorf("decode intraday activity: %w", err)
	}
	series := bytes.TrimSpace(b.Series)
	if len(series) == 0 || string(series) == "null" || string(series) == "[]" {
		return nil, nil
	}
	var entries map[string]json.RawMessage
	if err := json.Unmarshal(series, &entries); err != nil {
		return nil, fmt.Errorf("decode intraday series: %w", err)
	}
	out := make([]intradaySample, 0, len(entries))
	for k, raw := range entries {
		sec, err := strconv.ParseInt(k, 10, 64)
		var p intradayPoint
		if err == nil {
			err = json.Unmarshal(raw, &p)
		}
		if err != nil || sec <= 0 || sec > maxUnix || !finite(p.Duration, p.Steps, p.Distance, p.Elevation, p.Calories, p.HeartRate, p.SpO2) {
			m.once(model.TypeDaily, "intraday:"+k, raw, "withings intraday entry %q cannot be read; it was left out", k)
			continue
		}
		out = append(out, intradaySample{t: time.Unix(sec, 0).UTC(), key: k, p: p, raw: raw})
	}
	slices.SortFunc(out, func(a, b intradaySample) int { return a.t.Compare(b.t) })
	return out, nil
}

// dailyRaw is the Raw of a Daily: the activity day as received and the
// intraday entries of that day.
type dailyRaw struct {
	Activity json.RawMessage            `json:"activity"`
	Intraday map[string]json.RawMessage `json:"intraday,omitempty"`
}

// daily maps an activity day and the intraday entries of that day to a
// Daily keyed by Withings' date. The day runs from local midnight to the
// next in the day's zone.
//
// Totals: steps, distance (m), floors climbed (elevation), soft / moderate
// / intense / active seconds, active kcal (calories) and total kcal.
// Intraday entries become samples shown in the day's zone: calories and
// heart rate at the entry's start; steps, distance and floors as running
// totals since midnight at the entry's end (start + duration), as Terra's
// cumulative samples mean "up to this instant". Entries outside the day are
// ignored.
func (m *mapper) daily(d *dayDoc, samples []intradaySample) (model.Record, error) {
	a := d.a
	upload := model.UploadTypeAutomatic
	if a.Brand != nil {
		switch *a.Brand {
		case brandWithings:
		case brandExternal:
			upload = model.UploadTypeThirdPartyUpload
		default:
			m.unknown(model.TypeDaily, "activity.brand", strconv.Itoa(*a.Brand), d.raw)
			upload = model.UploadTypeUnknown
		}
	}
	out := &model.Daily{Metadata: &model.DailyMetadata{
		StartTime:  model.FormatTime(d.start),
		EndTime:    model.FormatTime(d.end),
		UploadType: upload,
	}}
	dist := &model.DailyDistanceData{
		Steps:          intPtr(a.Steps),
		DistanceMeters: a.Distance,
		FloorsClimbed:  intPtr(a.Elevation),
	}
	durations := &model.ActiveDurationsData{
		LowIntensitySeconds:      a.Soft,
		ModerateIntensitySeconds: a.Moderate,
		VigorousIntensitySeconds: a.Intense,
		ActivitySeconds:          a.Active,
	}
	if a.Soft != nil || a.Moderate != nil || a.Intense != nil || a.Active != nil {
		out.ActiveDurationsData = durations
	}
	cal := &model.CaloriesData{NetActivityCalories: a.Calories, TotalBurnedCalories: a.TotalCalories}
	var hr *model.HeartRateData
	if s := heartSummary(a.HRAverage, a.HRMin, a.HRMax, a.HRZone0, a.HRZone1, a.HRZone2, a.HRZone3); s != nil {
		hr = &model.HeartRateData{Summary: s}
	}

	raw := dailyRaw{Activity: d.raw}
	detailed := &model.DistanceDataDetailed{}
	var hrSamples []model.HeartRateDataSample
	var spo2 []model.OxygenSaturationSample
	var steps, meters, floors float64
	for _, s := range samples {
		if s.t.Before(d.start) || !s.t.Before(d.end) {
			continue
		}
		p := s.p
		if p.Steps == nil && p.Distance == nil && p.Elevation == nil && p.Calories == nil && p.HeartRate == nil && p.SpO2 == nil {
			continue // a period with nothing recorded
		}
		if raw.Intraday == nil {
			raw.Intraday = make(map[string]json.RawMessage)
		}
		raw.Intraday[s.key] = s.raw
		at := formatPtr(s.t.In(d.loc))
		endAt := at
		if p.Duration != nil && *p.Duration > 0 && *p.Duration <= 86400 {
			endAt = formatPtr(s.t.Add(time.Duration(*p.Duration * float64(time.Second))).In(d.loc))
		}
		if p.Steps != nil {
			steps += *p.Steps
			detailed.StepSamples = append(detailed.StepSamples, model.StepSample{Timestamp: endAt, Steps: ptr(steps)})
		}
		if p.Distance != nil {
			meters += *p.Distance
			detailed.DistanceSamples = append(detailed.DistanceSamples, model.DistanceSample{Timestamp: endAt, DistanceMeters: ptr(meters)})
		}
		if p.Elevation != nil {
			floors += *p.Elevation
			detailed.FloorsClimbedSamples = append(detailed.FloorsClimbedSamples, model.FloorsClimbedSample{Timestamp: endAt, FloorsClimbed: ptr(floors)})
		}
		if p.Calories != nil {
			cal.CalorieSamples = append(cal.CalorieSamples, model.CalorieSample{Timestamp: at, Calories: p.Calories})
		}
		if p.HeartRate != nil {
			hrSamples = append(hrSamples, model.HeartRateDataSample{Timestamp: at, Bpm: p.HeartRate})
		}
		if p.SpO2 != nil {
			spo2 = append(spo2, model.OxygenSaturationSample{Timestamp: at, Percentage: p.SpO2, Type: ptr(model.OxygenSaturationTypeBlood)})
		}
	}
	if len(detailed.StepSamples)+len(detailed.DistanceSamples)+len(detailed.FloorsClimbedSamples) > 0 {
		dist.Detailed = detailed
	}
	if dist.Steps != nil || dist.DistanceMeters != nil || dist.FloorsClimbed != nil || dist.Detailed != nil {
		out.DistanceData = dist
	}
	if cal.NetActivityCalories != nil || cal.TotalBurnedCalories != nil || len(cal.CalorieSamples) > 0 {
		out.CaloriesData = cal
	}
	if len(hrSamples) > 0 {
		if hr == nil {
			hr = &model.HeartRateData{}
		}
		hr.Detailed = &model.HeartRateDataDetailed{HrSamples: hrSamples}
	}
	out.HeartRateData = hr
	if len(spo2) > 0 {
		out.OxygenData = &model.OxygenData{SaturationSamples: spo2}
	}
	if a.Model != nil && *a.Model != "" {
		out.DeviceData = &model.DeviceData{Name: a.Model}
	}
	rawJSON, err := json.Marshal(raw)
	if err != nil {
		return model.Record{}, fmt.Errorf("daily %s: raw: %w", a.Date, err)
	}
	return model.Record{
		Type:  model.TypeDaily,
		Key:   a.Date,
		Start: d.start,
		End:   d.end,
		Day:   a.Date,
		Data:  out,
		Raw:   rawJSON,
	}, nil
}
