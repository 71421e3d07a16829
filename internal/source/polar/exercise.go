package polar

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
)

// exercise is an AccessLink exercise (the exerciseHashId schema), as far as
// the mapper reads it. Everything else (training load, Training Load Pro,
// running index, energy sources, club) stays in Record.Raw.
type exercise struct {
	ID                string           `json:"id"`
	PolarUser         string           `json:"polar_user"`
	Device            string           `json:"device"`
	StartTime         string           `json:"start_time"`
	StartTimeOffset   *float64         `json:"start_time_utc_offset"` // minutes east of UTC
	Duration          string           `json:"duration"`
	Calories          *float64         `json:"calories"` // kcal
	Distance          *float64         `json:"distance"` // m
	HeartRate         *exerciseHR      `json:"heart_rate"`
	Sport             string           `json:"sport"`
	DetailedSportInfo string           `json:"detailed_sport_info"`
	HeartRateZones    []exerciseZone   `json:"heart_rate_zones"`
	Samples           []exerciseSample `json:"samples"`
	Route             []routePoint     `json:"route"`
}

type exerciseHR struct {
	Average *float64 `json:"average"`
	Maximum *float64 `json:"maximum"`
}

type exerciseZone struct {
	Index      *int     `json:"index"`
	LowerLimit *float64 `json:"lower-limit"`
	UpperLimit *float64 `json:"upper-limit"`
	InZone     string   `json:"in-zone"`
}

// exerciseSample is one sample series: values every recording-rate
// seconds from the exercise start, comma separated, "null" where the
// sensor was offline.
type exerciseSample struct {
	RecordingRate *float64        `json:"recording-rate"`
	SampleType    json.RawMessage `json:"sample-type"`
	Data          string          `json:"data"`
}

type routePoint struct {
	Latitude  *float64 `json:"latitude"`
	Longitude *float64 `json:"longitude"`
	Time      string   `json:"time"` // ISO 8601 duration since the start
}

// exerciseHead is what a pull needs of a list item: which exercise and
// when it started.
type exerciseHead struct {
	ID              string   `json:"id"`
	PolarUser       string   `json:"polar_user"`
	StartTime       string   `json:"start_time"`
	StartTimeOffset *float64 `json:"start_time_utc_offset"`
}

// start parses the exercise start: start_time is the local wall time and
// start_time_utc_offset its offset in minutes. The instant is shown in
// that offset.
func (h exerciseHead) start() (time.Time, error) {
	if h.StartTimeOffset == nil {
		return time.Time{}, errors.New("no start_time_utc_offset")
	}
	mins := *h.StartTimeOffset
	off := mins * 60
	if mins != float64(int(mins)) || off < -maxOffset || off > maxOffset {
		return time.Time{}, fmt.Errorf("bad start_time_utc_offset %v", *h.StartTimeOffset)
	}
	loc := zone(int(off))
	if t, err := time.Parse(time.RFC3339Nano, h.StartTime); err == nil {
		// Not what Polar documents, but unambiguous.
		return t.In(loc), nil
	}
	t, err := time.ParseInLocation("2006-01-02T15:04:05.999999999", h.StartTime, loc)
	if err != nil {
		return time.Time{}, fmt.Errorf("bad start_time %q", h.StartTime)
	}
	return t, nil
}

// Polar's exercise sample types (AccessLink appendix "Exercise sample
// types").
const (
	sampleHeartRate       = "0"  // bpm
	sampleSpeed           = "1"  // km/h
	sampleCadence         = "2"  // rpm
	sampleAltitude        = "3"  // m
	samplePower           = "4"  // W
	samplePedalingIndex   = "5"  // %
	sampleLRBalance       = "6"  // %
	sampleAirPressure     = "7"  // hPa
	sampleRunningCadence  = "8"  // steps per minute
	sampleTemperature     = "9"  // °C
	sampleDistance        = "10" // m
	sampleRRInterval      = "11" // ms
	kmhPerMetersPerSecond = 3.6
)

// unmappedSamples are known sample types that have no Terra Activity
// field; they stay in the raw payload. Running cadence is in steps per
// minute and Terra's cadence is in rpm, so it is not mixed in.
var unmappedSamples = map[string]bool{
	samplePedalingIndex: true, sampleLRBalance: true, sampleAirPressure: true,
	sampleRunningCadence: true, sampleTemperature: true, sampleRRInterval: true,
}

// exercise maps one AccessLink exercise to an Activity.
//
//   - key and summary_id: Polar's hashed exercise id.
//   - start: start_time read in start_time_utc_offset; end: start +
//     duration; Day: the local date of the start (exercises have no day
//     field of their own).
//   - type: detailed_sport_info, else sport (see sports.go); name:
//     detailed_sport_info, else sport.
//   - calories (kcal) → total_burned_calories; distance (m); heart_rate
//     average and maximum; heart_rate_zones → hr_zone_data (zone = Polar's
//     zone list index, name = the zone's bpm limits, duration = in-zone).
//   - samples: heart rate, speed (km/h converted to m/s), cadence (rpm),
//     altitude, power and distance at start + i × recording-rate; null
//     values are skipped.
//   - route → position samples at start + time, and start/end positions.
//   - upload_type: automatic when a device recorded it, else unknown.
func (m *mapper) exercise(raw json.RawMessage) (model.Record, error) {
	var e exercise
	if err := json.Unmarshal(raw, &e); err != nil {
		return model.Record{}, fmt.Errorf("decode exercise: %w", err)
	}
	if e.ID == "" {
		return model.Record{}, errors.New("exercise has no id")
	}
	start, err := exerciseHead{StartTime: e.StartTime, StartTimeOffset: e.StartTimeOffset}.start()
	if err != nil {
		return model.Record{}, fmt.Errorf("exercise %s: %w", e.ID, err)
	}
	dur, err := parseDuration(e.Duration)
	if err != nil {
		return model.Record{}, fmt.Errorf("exercise %s duration: %w", e.ID, err)
	}
	end := start.Add(dur)

	typ := m.sportType(e, raw)
	name := e.DetailedSportInfo
	if name == "" {
		name = e.Sport
	}
	meta := &model.ActivityMetadata{
		StartTime:  FormatTime(start),
		EndTime:    FormatTime(end),
		SummaryId:  e.ID,
		Type:       typ,
		UploadType: model.UploadTypeUnknown,
	}
	if name != "" {
		meta.Name = ptr(name)
	}
	out := &model.Activity{Metadata: meta}
	if e.Device != "" {
		meta.UploadType = model.UploadTypeAutomatic
		out.DeviceData = &model.DeviceData{Name: ptr(e.Device), Manufacturer: ptr("Polar")}
	}
	if e.Calories != nil {
		out.CaloriesData = &model.CaloriesData{TotalBurnedCalories: e.Calories}
	}
	if e.Distance != nil {
		out.DistanceData = &model.DistanceData{Summary: &model.DistanceDataSummary{DistanceMeters: e.Distance}}
	}
	hr := &model.HeartRateData{}
	if e.HeartRate != nil && (e.HeartRate.Average != nil || e.HeartRate.Maximum != nil) {
		hr.Summary = &model.HeartRateDataSummary{AvgHrBpm: e.HeartRate.Average, MaxHrBpm: e.HeartRate.Maximum}
	}
	zones, err := hrZones(e.HeartRateZones)
	if err != nil {
		return model.Record{}, fmt.Errorf("exercise %s: %w", e.ID, err)
	}
	if len(zones) > 0 {
		if hr.Summary == nil {
			hr.Summary = &model.HeartRateDataSummary{}
		}
		hr.Summary.HrZoneData = zones
	}
	m.exerciseSamples(out, hr, e.Samples, start, raw)
	if hr.Summary != nil || hr.Detailed != nil {
		out.HeartRateData = hr
	}
	pos, err := route(e.Route, start)
	if err != nil {
		return model.Record{}, fmt.Errorf("exercise %s: %w", e.ID, err)
	}
	out.PositionData = pos

	return model.Record{
		Type:  model.TypeActivity,
		Key:   e.ID,
		Start: start,
		End:   end,
		Day:   start.Format(dayLayout),
		Data:  out,
		Raw:   raw,
	}, nil
}

// sportType picks the Terra activity type: detailed_sport_info first, then
// sport. An unknown value is noted and the type is Other.
func (m *mapper) sportType(e exercise, raw []byte) model.ActivityType {
	if e.DetailedSportInfo != "" {
		if t, ok := sports[e.DetailedSportInfo]; ok {
			return t
		}
		m.unknown(model.TypeActivity, "exercise.detailed_sport_info", e.DetailedSportInfo, raw)
	}
	if e.Sport != "" {
		if t, ok := sports[e.Sport]; ok {
			return t
		}
		m.unknown(model.TypeActivity, "exercise.sport", e.Sport, raw)
	}
	return model.ActivityTypeOther
}

// hrZones maps heart_rate_zones. A zone's limits are in bpm, not percent
// of the user's maximum, so they go into its name.
func hrZones(zs []exerciseZone) ([]model.HeartRateZoneData, error) {
	var out []model.HeartRateZoneData
	for i, z := range zs {
		d := model.HeartRateZoneData{Zone: z.Index}
		if z.InZone != "" {
			v, err := parseDuration(z.InZone)
			if err != nil {
				return nil, fmt.Errorf("heart_rate_zones[%d] in-zone: %w", i, err)
			}
			d.DurationSeconds = ptr(v.Seconds())
		}
		if z.LowerLimit != nil && z.UpperLimit != nil {
			d.Name = ptr(fmt.Sprintf("%s-%s bpm", num(*z.LowerLimit), num(*z.UpperLimit)))
		}
		out = append(out, d)
	}
	return out, nil
}

func num(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// point is one value of a sample series.
type point struct {
	t time.Time
	v float64
}

// exerciseSamples adds the sample series to out (and heart rate to hr).
// A series that cannot be read is noted and left out; the exercise still
// maps.
func (m *mapper) exerciseSamples(out *model.Activity, hr *model.HeartRateData, samples []exerciseSample, start time.Time, raw []byte) {
	for i, s := range samples {
		typ := rawIDOrString(s.SampleType)
		if unmappedSamples[typ] {
			continue
		}
		switch typ {
		case sampleHeartRate, sampleSpeed, sampleCadence, sampleAltitude, samplePower, sampleDistance:
		default:
			m.unknown(model.TypeActivity, "exercise.samples.sample-type", string(s.SampleType), raw)
			continue
		}
		pts, err := s.points(start)
		if err != nil {
			m.problems = append(m.problems, model.Problem{
				Type: model.TypeActivity,
				Err:  fmt.Sprintf("polar exercise samples[%d] (type %s): %v; the series was left out and is in the raw payload", i, typ, err),
				Raw:  raw,
			})
			continue
		}
		for _, p := range pts {
			ts := formatPtr(p.t)
			switch typ {
			case sampleHeartRate:
				if hr.Detailed == nil {
					hr.Detailed = &model.HeartRateDataDetailed{}
				}
				hr.Detailed.HrSamples = append(hr.Detailed.HrSamples, model.HeartRateDataSample{Timestamp: ts, Bpm: ptr(p.v)})
			case sampleSpeed:
				mv := movement(out)
				mv.SpeedSamples = append(mv.SpeedSamples, model.SpeedSample{Timestamp: ts, SpeedMetersPerSecond: ptr(p.v / kmhPerMetersPerSecond)})
			case sampleCadence:
				mv := movement(out)
				mv.CadenceSamples = append(mv.CadenceSamples, model.CadenceSample{Timestamp: ts, CadenceRpm: ptr(p.v)})
			case sampleAltitude:
				d := distanceDetailed(out)
				d.ElevationSamples = append(d.ElevationSamples, model.ElevationSample{Timestamp: ts, ElevMeters: ptr(p.v)})
			case samplePower:
				if out.PowerData == nil {
					out.PowerData = &model.PowerData{}
				}
				out.PowerData.PowerSamples = append(out.PowerData.PowerSamples, model.PowerSample{Timestamp: ts, Watts: ptr(p.v)})
			case sampleDistance:
				d := distanceDetailed(out)
				d.DistanceSamples = append(d.DistanceSamples, model.DistanceSample{Timestamp: ts, DistanceMeters: ptr(p.v)})
			}
		}
	}
}

func movement(a *model.Activity) *model.MovementData {
	if a.MovementData == nil {
		a.MovementData = &model.MovementData{}
	}
	return a.MovementData
}

func distanceDetailed(a *model.Activity) *model.DistanceDataDetailed {
	if a.DistanceData == nil {
		a.DistanceData = &model.DistanceData{}
	}
	if a.DistanceData.Detailed == nil {
		a.DistanceData.Detailed = &model.DistanceDataDetailed{}
	}
	return a.DistanceData.Detailed
}

// rawIDOrString reads a sample type written as "1" or 1.
func rawIDOrString(raw json.RawMessage) string {
	s := strings.TrimSpace(string(raw))
	if unq, err := strconv.Unquote(s); err == nil {
		s = strings.TrimSpace(unq)
	}
	return s
}

// points expands a sample series: value i is at start + i × recording-rate
// seconds, shown in start's offset; "null" values are skipped.
func (s exerciseSample) points(start time.Time) ([]point, error) {
	if s.RecordingRate == nil || !(*s.RecordingRate > 0) {
		return nil, errors.New("no positive recording-rate")
	}
	if strings.TrimSpace(s.Data) == "" {
		return nil, nil
	}
	step := time.Duration(*s.RecordingRate * float64(time.Second))
	vals := strings.Split(s.Data, ",")
	out := make([]point, 0, len(vals))
	for i, v := range vals {
		v = strings.TrimSpace(v)
		if v == "" || strings.EqualFold(v, "null") {
			continue
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return nil, fmt.Errorf("value %d %q is not a number", i, v)
		}
		out = append(out, point{t: start.Add(time.Duration(i) * step), v: f})
	}
	return out, nil
}

// route maps the route points: each at start + its time (elapsed since the
// start), with the first and last positions as start and end.
func route(pts []routePoint, start time.Time) (*model.PositionData, error) {
	var out model.PositionData
	for i, r := range pts {
		if r.Latitude == nil || r.Longitude == nil {
			continue
		}
		s := model.PositionSample{CoordsLatLngDeg: []float64{*r.Latitude, *r.Longitude}}
		if r.Time != "" {
			d, err := parseDuration(r.Time)
			if err != nil {
				return nil, fmt.Errorf("route[%d] time: %w", i, err)
			}
			s.Timestamp = formatPtr(start.Add(d))
		}
		out.PositionSamples = append(out.PositionSamples, s)
	}
	if len(out.PositionSamples) == 0 {
		return nil, nil
	}
	out.StartPosLatLngDeg = out.PositionSamples[0].CoordsLatLngDeg
	out.EndPosLatLngDeg = out.PositionSamples[len(out.PositionSamples)-1].CoordsLatLngDeg
	return &out, nil
}
