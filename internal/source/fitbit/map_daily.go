package fitbit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
)

// activitiesDay is GET /1/user/-/activities/date/{day}.json.
type activitiesDay struct {
	Activities []json.RawMessage `json:"activities"`
	Summary    *daySummary       `json:"summary"`
}

// daySummary is the day's activity summary. With no Accept-Language
// header, distances are in km and elevation in meters.
type daySummary struct {
	ActivityCalories *float64 `json:"activityCalories"`
	CaloriesBMR      *float64 `json:"caloriesBMR"`
	CaloriesOut      *float64 `json:"caloriesOut"`
	Distances        []struct {
		Activity string   `json:"activity"`
		Distance *float64 `json:"distance"`
	} `json:"distances"`
	Elevation            *float64 `json:"elevation"`
	Floors               *float64 `json:"floors"`
	FairlyActiveMinutes  *float64 `json:"fairlyActiveMinutes"`
	LightlyActiveMinutes *float64 `json:"lightlyActiveMinutes"`
	SedentaryMinutes     *float64 `json:"sedentaryMinutes"`
	VeryActiveMinutes    *float64 `json:"veryActiveMinutes"`
	RestingHeartRate     *float64 `json:"restingHeartRate"`
	Steps                *float64 `json:"steps"`
	HeartRateZones       []hrZone `json:"heartRateZones"`
}

// distances returns the summary's distances by activity name.
func (s *daySummary) distances() activityDistances {
	out := make(activityDistances, len(s.Distances))
	for _, d := range s.Distances {
		if d.Distance != nil {
			out[d.Activity] = *d.Distance
		}
	}
	return out
}

// hrZone is one heart rate zone of a day.
type hrZone struct {
	Name        string   `json:"name"`
	Min         *float64 `json:"min"`
	Max         *float64 `json:"max"`
	Minutes     *float64 `json:"minutes"`
	CaloriesOut *float64 `json:"caloriesOut"`
}

// heartDay is GET /1/user/-/activities/heart/date/{day}/1d/1min.json.
//
// Fitbit has answered it in two shapes: today the day's zones and resting
// heart rate sit in an object under "value"; the older (and documented
// example) shape has the zones next to "value", which is then a string
// whose meaning Fitbit never documented; that string is left in Raw.
type heartDay struct {
	Days []struct {
		DateTime             string          `json:"dateTime"`
		HeartRateZones       []hrZone        `json:"heartRateZones"`
		CustomHeartRateZones []hrZone        `json:"customHeartRateZones"`
		Value                json.RawMessage `json:"value"`
	} `json:"activities-heart"`
	Intraday *intraday `json:"activities-heart-intraday"`
}

// heartValue is the object form of activities-heart[].value.
type heartValue struct {
	HeartRateZones       []hrZone `json:"heartRateZones"`
	CustomHeartRateZones []hrZone `json:"customHeartRateZones"`
	RestingHeartRate     *float64 `json:"restingHeartRate"`
}

// stepsDay is GET /1/user/-/activities/steps/date/{day}/1d/1min.json.
type stepsDay struct {
	Days []struct {
		DateTime string     `json:"dateTime"`
		Value    flexNumber `json:"value"`
	} `json:"activities-steps"`
	Intraday *intraday `json:"activities-steps-intraday"`
}

// intraday is an intraday series: values at local clock times of the day,
// every datasetInterval units of datasetType.
type intraday struct {
	Dataset []struct {
		Time  string   `json:"time"`
		Value *float64 `json:"value"`
	} `json:"dataset"`
	DatasetInterval *float64 `json:"datasetInterval"`
	DatasetType     string   `json:"datasetType"`
}

// hrZoneIndex numbers Fitbit's default heart rate zones, lowest first.
var hrZoneIndex = map[string]int{
	"Out of Range": 0,
	"Fat Burn":     1,
	"Cardio":       2,
	"Peak":         3,
}

// intradayUnits are the datasetType values, in seconds.
var intradayUnits = map[string]float64{"second": 1, "minute": 60, "hour": 3600}

// decodeActivitiesDay decodes a day summary page.
func decodeActivitiesDay(body []byte) (*activitiesDay, error) {
	var d activitiesDay
	if err := json.Unmarshal(body, &d); err != nil {
		return nil, err
	}
	if d.Summary == nil {
		return nil, errors.New("no summary")
	}
	return &d, nil
}

// decodeHeartDay decodes an intraday heart rate page.
func decodeHeartDay(body []byte) (*heartDay, error) {
	var d heartDay
	if err := json.Unmarshal(body, &d); err != nil {
		return nil, err
	}
	if d.Days == nil && d.Intraday == nil {
		return nil, errors.New("no activities-heart")
	}
	return &d, nil
}

// decodeStepsDay decodes an intraday steps page.
func decodeStepsDay(body []byte) (*stepsDay, error) {
	var d stepsDay
	if err := json.Unmarshal(body, &d); err != nil {
		return nil, err
	}
	if d.Days == nil && d.Intraday == nil {
		return nil, errors.New("no activities-steps")
	}
	return &d, nil
}

// dayParts is what was fetched for one day; heart and steps are nil when
// intraday data was not fetched.
type dayParts struct {
	act      *activitiesDay
	heart    *heartDay
	steps    *stepsDay
	actRaw   json.RawMessage
	heartRaw json.RawMessage
	stepsRaw json.RawMessage
}

// dailyRaw is the Raw of a Daily: one key per page it was built from,
// "activities", "heart" and "steps", each page as received.
type dailyRaw struct {
	Activities json.RawMessage `json:"activities,omitempty"`
	Heart      json.RawMessage `json:"heart,omitempty"`
	Steps      json.RawMessage `json:"steps,omitempty"`
}

// raw returns the Raw of the day's Daily.
func (p dayParts) raw() json.RawMessage {
	return rawObject("activities", p.actRaw, "heart", p.heartRaw, "steps", p.stepsRaw)
}

// sample is one intraday value at its instant.
type sample struct {
	t time.Time
	v float64
	d *float64 // seconds the value covers
}

// series expands an intraday series of day into instants shown in loc.
func (m *mapper) series(in *intraday, day string, field string, raw []byte, loc *time.Location) ([]sample, error) {
	if in == nil || len(in.Dataset) == 0 {
		return nil, nil
	}
	var step *float64
	if unit, ok := intradayUnits[in.DatasetType]; ok {
		if in.DatasetInterval != nil && *in.DatasetInterval > 0 {
			step = ptr(*in.DatasetInterval * unit)
		}
	} else if in.DatasetType != "" {
		m.unknown(model.TypeDaily, field+".datasetType", in.DatasetType, raw)
	}
	out := make([]sample, 0, len(in.Dataset))
	for _, p := range in.Dataset {
		if p.Value == nil {
			continue
		}
		t, err := m.z.parseDayClock(day, p.Time)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", field, err)
		}
		out = append(out, sample{t: t.In(loc), v: *p.Value, d: step})
	}
	return out, nil
}

// daily maps one Fitbit day. ok is false when the day has nothing measured:
// Fitbit answers such days (and days before the account existed) with
// zeros and an estimated BMR.
func (m *mapper) daily(day string, p dayParts) (rec model.Record, ok bool, err error) {
	d, err := parseDay(day)
	if err != nil {
		return rec, false, err
	}
	if p.act == nil || p.act.Summary == nil {
		return rec, false, errors.New("no day summary")
	}
	raw := p.raw()
	start := m.z.midnight(d)
	loc := fixedAt(start)
	start = start.In(loc)
	end := m.z.midnight(d.AddDate(0, 0, 1)).In(loc)
	s := p.act.Summary

	out := &model.Daily{Metadata: &model.DailyMetadata{
		StartTime:  formatTime(start),
		EndTime:    formatTime(end),
		UploadType: model.UploadTypeAutomatic,
	}}
	measured := len(p.act.Activities) > 0 || positive(s.Steps) || positive(s.ActivityCalories) ||
		positive(s.FairlyActiveMinutes) || positive(s.LightlyActiveMinutes) || positive(s.VeryActiveMinutes) ||
		positive(s.Floors) || positive(s.Elevation) || s.RestingHeartRate != nil

	// Distance, steps, floors.
	dists := s.distances()
	dist := &model.DailyDistanceData{Steps: intPtr(s.Steps), FloorsClimbed: intPtr(s.Floors)}
	if total, found := dists["total"]; found {
		dist.DistanceMeters = ptr(total * 1000)
		measured = measured || total > 0
	}
	if s.Elevation != nil {
		dist.Elevation = &model.ElevationData{GainActualMeters: s.Elevation}
	}

	// Intraday.
	var hrSamples, stepSamples []sample
	var resting *float64
	var zones, custom []hrZone
	if h := p.heart; h != nil {
		if len(h.Days) > 0 {
			zones = append(zones, h.Days[0].HeartRateZones...)
			custom = append(custom, h.Days[0].CustomHeartRateZones...)
			if v := bytes.TrimSpace(h.Days[0].Value); len(v) > 0 && v[0] == '{' {
				var hv heartValue
				if err := json.Unmarshal(v, &hv); err != nil {
					return rec, false, fmt.Errorf("activities-heart value: %w", err)
				}
				zones = append(zones, hv.HeartRateZones...)
				custom = append(custom, hv.CustomHeartRateZones...)
				resting = hv.RestingHeartRate
			}
		}
		if hrSamples, err = m.series(h.Intraday, day, "activities-heart-intraday", p.heartRaw, loc); err != nil {
			return rec, false, err
		}
	}
	if st := p.steps; st != nil {
		if dist.Steps == nil && len(st.Days) > 0 {
			dist.Steps = intPtr(st.Days[0].Value.ptr())
		}
		if stepSamples, err = m.series(st.Intraday, day, "activities-steps-intraday", p.stepsRaw, loc); err != nil {
			return rec, false, err
		}
	}
	if len(zones) == 0 && len(custom) == 0 {
		zones = s.HeartRateZones
	}
	for _, st := range stepSamples {
		if st.v > 0 {
			measured = true
		}
		if dist.Detailed == nil {
			dist.Detailed = &model.DistanceDataDetailed{}
		}
		dist.Detailed.StepSamples = append(dist.Detailed.StepSamples, model.StepSample{
			Timestamp:            formatTimePtr(st.t),
			Steps:                ptr(st.v),
			TimerDurationSeconds: st.d,
		})
	}
	out.DistanceData = dist

	// Heart rate.
	if resting == nil {
		resting = s.RestingHeartRate
	}
	hr := m.dailyHeartRate(resting, zones, custom, hrSamples, p.heartRaw)
	if hr != nil {
		out.HeartRateData = hr
		if len(hrSamples) > 0 || resting != nil {
			measured = true
		}
		for _, z := range append(zones, custom...) {
			if positive(z.Minutes) {
				measured = true
			}
		}
	}

	// Calories.
	if s.CaloriesOut != nil || s.ActivityCalories != nil || s.CaloriesBMR != nil {
		out.CaloriesData = &model.CaloriesData{
			TotalBurnedCalories: s.CaloriesOut,
			NetActivityCalories: s.ActivityCalories,
			BMRCalories:         s.CaloriesBMR,
		}
	}

	// Active minutes: sedentary, lightly, fairly and very active.
	act := &model.ActiveDurationsData{
		InactivitySeconds:        times(s.SedentaryMinutes, 60),
		LowIntensitySeconds:      times(s.LightlyActiveMinutes, 60),
		ModerateIntensitySeconds: times(s.FairlyActiveMinutes, 60),
		VigorousIntensitySeconds: times(s.VeryActiveMinutes, 60),
	}
	if s.LightlyActiveMinutes != nil && s.FairlyActiveMinutes != nil && s.VeryActiveMinutes != nil {
		act.ActivitySeconds = ptr((*s.LightlyActiveMinutes + *s.FairlyActiveMinutes + *s.VeryActiveMinutes) * 60)
	}
	out.ActiveDurationsData = act
	out.METData = &model.METData{
		NumInactiveMinutes:          s.SedentaryMinutes,
		NumLowIntensityMinutes:      s.LightlyActiveMinutes,
		NumModerateIntensityMinutes: s.FairlyActiveMinutes,
		NumHighIntensityMinutes:     s.VeryActiveMinutes,
	}

	return model.Record{
		Type:  model.TypeDaily,
		Key:   day,
		Start: start,
		End:   end,
		Day:   day,
		Data:  out,
		Raw:   raw,
	}, measured, nil
}

// dailyHeartRate builds the day's heart rate: resting rate, Fitbit's zones
// (numbered from "Out of Range" = 0) and the user's custom zones (named,
// not numbered), and the intraday samples with their minimum and maximum.
// nil when there is none.
func (m *mapper) dailyHeartRate(resting *float64, zones, custom []hrZone, samples []sample, raw []byte) *model.HeartRateData {
	summary := &model.HeartRateDataSummary{RestingHrBpm: resting}
	for _, z := range zones {
		zd := model.HeartRateZoneData{Name: ptr(z.Name), DurationSeconds: times(z.Minutes, 60)}
		if i, known := hrZoneIndex[z.Name]; known {
			zd.Zone = ptr(i)
		} else {
			m.unknown(model.TypeDaily, "heartRateZones.name", z.Name, raw)
		}
		summary.HrZoneData = append(summary.HrZoneData, zd)
	}
	for _, z := range custom {
		summary.HrZoneData = append(summary.HrZoneData, model.HeartRateZoneData{Name: ptr(z.Name), DurationSeconds: times(z.Minutes, 60)})
	}
	var detailed *model.HeartRateDataDetailed
	for i, p := range samples {
		if detailed == nil {
			detailed = &model.HeartRateDataDetailed{}
		}
		detailed.HrSamples = append(detailed.HrSamples, model.HeartRateDataSample{
			Timestamp:            formatTimePtr(p.t),
			Bpm:                  ptr(p.v),
			TimerDurationSeconds: p.d,
		})
		if i == 0 || p.v < *summary.MinHrBpm {
			summary.MinHrBpm = ptr(p.v)
		}
		if i == 0 || p.v > *summary.MaxHrBpm {
			summary.MaxHrBpm = ptr(p.v)
		}
	}
	if detailed == nil && summary.RestingHrBpm == nil && len(summary.HrZoneData) == 0 {
		return nil
	}
	out := &model.HeartRateData{Detailed: detailed}
	if summary.RestingHrBpm != nil || len(summary.HrZoneData) > 0 || summary.MinHrBpm != nil {
		out.Summary = summary
	}
	return out
}
