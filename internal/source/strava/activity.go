package strava

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/wearbridge/wearbridge/internal/model"
	"github.com/wearbridge/wearbridge/internal/source"
)

// activity is a Strava activity as far as the mapper reads it: the
// SummaryActivity of the list or the DetailedActivity of GET
// /activities/{id}. Everything else stays in Record.Raw.
type activity struct {
	ID                 int64      `json:"id"`
	Name               *string    `json:"name"`
	Type               string     `json:"type"`
	SportType          string     `json:"sport_type"`
	StartDate          string     `json:"start_date"`
	StartDateLocal     string     `json:"start_date_local"`
	UTCOffset          *float64   `json:"utc_offset"`
	ElapsedTime        *float64   `json:"elapsed_time"`
	MovingTime         *float64   `json:"moving_time"`
	Distance           *float64   `json:"distance"`
	TotalElevationGain *float64   `json:"total_elevation_gain"`
	ElevHigh           *float64   `json:"elev_high"`
	ElevLow            *float64   `json:"elev_low"`
	AverageSpeed       *float64   `json:"average_speed"`
	MaxSpeed           *float64   `json:"max_speed"`
	AverageCadence     *float64   `json:"average_cadence"`
	AverageHeartrate   *float64   `json:"average_heartrate"`
	MaxHeartrate       *float64   `json:"max_heartrate"`
	AverageWatts       *float64   `json:"average_watts"`
	MaxWatts           *float64   `json:"max_watts"`
	Kilojoules         *float64   `json:"kilojoules"`
	Calories           *float64   `json:"calories"`
	Manual             *bool      `json:"manual"`
	StartLatlng        []*float64 `json:"start_latlng"`
	EndLatlng          []*float64 `json:"end_latlng"`
	Map                *struct {
		SummaryPolyline *string `json:"summary_polyline"`
		Polyline        *string `json:"polyline"`
	} `json:"map"`
	LocationCity    *string `json:"location_city"`
	LocationState   *string `json:"location_state"`
	LocationCountry *string `json:"location_country"`
	DeviceName      *string `json:"device_name"`
	// Laps is set (possibly empty) only on a DetailedActivity.
	Laps *[]json.RawMessage `json:"laps"`
}

// fetched is what was fetched for one activity: the activity itself and,
// when they were asked for, the bodies of its laps and streams.
type fetched struct {
	activity json.RawMessage
	laps     json.RawMessage // GET /activities/{id}/laps; nil when not fetched
	streams  json.RawMessage // GET /activities/{id}/streams; nil when not fetched or none
}

// raw is the record's Raw: {"activity": ..., "laps": ..., "streams": ...}
// with each body as received ("laps" and "streams" only when fetched and
// valid JSON).
func (f fetched) raw() json.RawMessage {
	var b bytes.Buffer
	b.WriteString(`{"activity":`)
	b.Write(bytes.TrimSpace(f.activity))
	if len(f.laps) > 0 && json.Valid(f.laps) {
		b.WriteString(`,"laps":`)
		b.Write(bytes.TrimSpace(f.laps))
	}
	if len(f.streams) > 0 && json.Valid(f.streams) {
		b.WriteString(`,"streams":`)
		b.Write(bytes.TrimSpace(f.streams))
	}
	b.WriteString("}")
	return b.Bytes()
}

// mapper maps Strava activities and collects the notes made on the way:
// unknown enum values (each reported once) and parts of an activity that
// could not be used (the record still lands).
type mapper struct {
	seen     map[string]bool
	problems []model.Problem
}

func newMapper() *mapper { return &mapper{seen: make(map[string]bool)} }

// note records a part of an activity that was not used.
func (m *mapper) note(raw []byte, format string, args ...any) {
	m.problems = append(m.problems, model.Problem{Type: model.TypeActivity, Err: fmt.Sprintf(format, args...), Raw: raw})
}

// unknown records an enum value the mapper does not know, once.
func (m *mapper) unknown(value string, raw []byte) {
	if m.seen[value] {
		return
	}
	m.seen[value] = true
	m.note(raw, "strava activity: unknown %s; the record was kept as Other and the value is in its raw payload", value)
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

// activity maps one Strava activity (with its laps and streams when
// fetched) to a Terra Activity keyed by the Strava activity id.
//
// Units: Strava gives meters, seconds, m/s, bpm, watts and kcal, as Terra
// does. "calories" (kcal, on detailed activities) goes to calories_data;
// "kilojoules" is the mechanical work done (rides with power) and goes to
// work_data, never to calories. average_cadence is Strava's per-leg (or
// crank) rate, kept as given.
func (m *mapper) activity(f fetched) (model.Record, error) {
	var a activity
	if err := json.Unmarshal(f.activity, &a); err != nil {
		return model.Record{}, fmt.Errorf("decode activity: %w", err)
	}
	if a.ID <= 0 {
		return model.Record{}, errors.New("activity has no id")
	}
	id := strconv.FormatInt(a.ID, 10)
	start, _, localised, err := activityStart(a.StartDate, a.StartDateLocal, a.UTCOffset)
	if err != nil {
		return model.Record{}, fmt.Errorf("activity %s: %w", id, err)
	}
	if !localised {
		m.note(f.activity, "strava activity %s: no usable start_date_local or utc_offset; times are shown in UTC", id)
	}
	elapsed := firstOf(a.ElapsedTime, a.MovingTime)
	if elapsed < 0 || elapsed > maxDuration.Seconds() {
		return model.Record{}, fmt.Errorf("activity %s: elapsed_time %v out of range", id, elapsed)
	}
	end := start.Add(seconds(elapsed))

	typ, unknown := activityType(a.SportType, a.Type)
	for _, u := range unknown {
		m.unknown(u, f.activity)
	}
	upload := model.UploadTypeUnknown
	if a.Manual != nil {
		upload = model.UploadTypeAutomatic
		if *a.Manual {
			upload = model.UploadTypeManual
		}
	}
	out := &model.Activity{Metadata: &model.ActivityMetadata{
		StartTime:  model.FormatTime(start),
		EndTime:    model.FormatTime(end),
		SummaryId:  id,
		Name:       a.Name,
		Type:       typ,
		UploadType: upload,
		City:       nonEmpty(a.LocationCity),
		State:      nonEmpty(a.LocationState),
		Country:    nonEmpty(a.LocationCountry),
	}}
	if a.MovingTime != nil {
		out.ActiveDurationsData = &model.ActiveDurationsData{ActivitySeconds: a.MovingTime}
	}
	if a.Calories != nil {
		out.CaloriesData = &model.CaloriesData{TotalBurnedCalories: a.Calories}
	}
	if a.Kilojoules != nil {
		out.WorkData = &model.WorkData{WorkKilojoules: a.Kilojoules}
	}
	if a.DeviceName != nil && *a.DeviceName != "" {
		out.DeviceData = &model.DeviceData{Name: a.DeviceName}
	}
	if a.Distance != nil || a.TotalElevationGain != nil || a.ElevHigh != nil || a.ElevLow != nil {
		sum := &model.DistanceDataSummary{DistanceMeters: a.Distance}
		if a.TotalElevationGain != nil || a.ElevHigh != nil || a.ElevLow != nil {
			sum.Elevation = &model.ElevationData{GainActualMeters: a.TotalElevationGain, MaxMeters: a.ElevHigh, MinMeters: a.ElevLow}
		}
		out.DistanceData = &model.DistanceData{Summary: sum}
	}
	if a.AverageHeartrate != nil || a.MaxHeartrate != nil {
		out.HeartRateData = &model.HeartRateData{Summary: &model.HeartRateDataSummary{AvgHrBpm: a.AverageHeartrate, MaxHrBpm: a.MaxHeartrate}}
	}
	if a.AverageSpeed != nil || a.MaxSpeed != nil || a.AverageCadence != nil {
		out.MovementData = &model.MovementData{
			AvgSpeedMetersPerSecond: a.AverageSpeed,
			MaxSpeedMetersPerSecond: a.MaxSpeed,
			AvgCadenceRpm:           a.AverageCadence,
		}
	}
	if a.AverageWatts != nil || a.MaxWatts != nil {
		out.PowerData = &model.PowerData{AvgWatts: a.AverageWatts, MaxWatts: a.MaxWatts}
	}
	startPos, endPos := latLng(a.StartLatlng), latLng(a.EndLatlng)
	if startPos != nil || endPos != nil {
		out.PositionData = &model.PositionData{StartPosLatLngDeg: startPos, EndPosLatLngDeg: endPos}
	}
	if a.Map != nil {
		poly := nonEmpty(a.Map.SummaryPolyline)
		if poly == nil {
			poly = nonEmpty(a.Map.Polyline)
		}
		if poly != nil {
			out.PolylineMapData = &model.PolylineMapData{SummaryPolyline: poly}
		}
	}

	// Laps: the detailed activity's own, else the /laps answer.
	var laps []json.RawMessage
	switch {
	case a.Laps != nil:
		laps = *a.Laps
	case f.laps != nil:
		if err := json.Unmarshal(f.laps, &laps); err != nil {
			m.note(f.laps, "strava activity %s laps: not a list of laps: %v", id, err)
		}
	}
	if samples := m.laps(id, laps, start.Location()); len(samples) > 0 {
		out.LapData = &model.LapData{Laps: samples}
	}
	if f.streams != nil {
		m.streams(id, f.streams, start, out)
	}
	return model.Record{
		Type:  model.TypeActivity,
		Key:   id,
		Start: start,
		End:   end,
		Day:   start.Format("2006-01-02"),
		Data:  out,
		Raw:   f.raw(),
	}, nil
}

// firstOf returns the first value that is set, or 0.
func firstOf(vs ...*float64) float64 {
	for _, v := range vs {
		if v != nil {
			return *v
		}
	}
	return 0
}

// nonEmpty drops an empty string.
func nonEmpty(s *string) *string {
	if s == nil || strings.TrimSpace(*s) == "" {
		return nil
	}
	return s
}

// latLng returns a [lat, lng] pair, nil when Strava has none ([] for an
// activity without GPS).
func latLng(v []*float64) []float64 {
	if len(v) != 2 || v[0] == nil || v[1] == nil {
		return nil
	}
	return []float64{*v[0], *v[1]}
}

func ptr[T any](v T) *T { return &v }
