package googlefit

import (
	"encoding/json"
	"sort"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
)

// bodyDay is one UTC day of weight and heart-rate points.
type bodyDay struct {
	weights []point
	hr      []point
}

// bodyRaw is the Raw of a Body: the day's points as received.
type bodyRaw struct {
	Weight    []json.RawMessage `json:"weight,omitempty"`
	HeartRate []json.RawMessage `json:"heart_rate,omitempty"`
}

// bodyDays files weight and heart-rate points under the UTC day of their
// start, keeping the days keep accepts.
func bodyDays(weights, hr []point, keep func(day time.Time) bool) map[time.Time]*bodyDay {
	days := make(map[time.Time]*bodyDay)
	get := func(t time.Time) *bodyDay {
		d := utcDay(t)
		if !keep(d) {
			return nil
		}
		if days[d] == nil {
			days[d] = &bodyDay{}
		}
		return days[d]
	}
	for _, p := range weights {
		if d := get(p.start); d != nil {
			d.weights = append(d.weights, p)
		}
	}
	for _, p := range hr {
		if d := get(p.start); d != nil {
			d.hr = append(d.hr, p)
		}
	}
	return days
}

// bodies maps the days to Body records, in day order. Weight
// (com.google.weight, value[0] fpVal) is in kilograms; the measurement time
// is the point's start.
func (m *mapper) bodies(days map[time.Time]*bodyDay) []model.Record {
	keys := make([]time.Time, 0, len(days))
	for k := range days {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].Before(keys[j]) })
	out := make([]model.Record, 0, len(keys))
	for _, day := range keys {
		if rec, ok := m.body(day, days[day]); ok {
			out = append(out, rec)
		}
	}
	return out
}

// body maps one day; ok is false when none of its points had a value.
func (m *mapper) body(day time.Time, d *bodyDay) (model.Record, bool) {
	sort.SliceStable(d.weights, func(i, j int) bool { return d.weights[i].start.Before(d.weights[j].start) })
	var raw bodyRaw
	var measurements []model.MeasurementDataSample
	var sum float64
	for _, p := range d.weights {
		kg, err := p.fpValue(0)
		if err != nil {
			m.problem(model.TypeBody, err, p.raw)
			continue
		}
		raw.Weight = append(raw.Weight, p.raw)
		measurements = append(measurements, model.MeasurementDataSample{
			MeasurementTime: formatTimePtr(p.start),
			WeightKg:        ptr(kg),
		})
		sum += kg
	}
	samples := m.heartRates(model.TypeBody, d.hr)
	for _, p := range d.hr {
		if _, err := p.fpValue(0); err == nil {
			raw.HeartRate = append(raw.HeartRate, p.raw)
		}
	}
	if len(measurements) == 0 && len(samples) == 0 {
		return model.Record{}, false
	}
	end := day.Add(24 * time.Hour)
	out := &model.Body{Metadata: &model.BodyMetadata{StartTime: formatTime(day), EndTime: formatTime(end)}}
	if len(measurements) > 0 {
		out.MeasurementsData = &model.MeasurementsData{
			Measurements:   measurements,
			DayAvgWeightKg: ptr(sum / float64(len(measurements))),
		}
	}
	if hr := heartRateData(samples); hr != nil {
		out.HeartData = &model.HeartData{HeartRateData: hr}
	}
	// The parts were decoded from JSON, so marshalling them cannot fail.
	rawJSON, _ := json.Marshal(raw)
	return model.Record{
		Type:  model.TypeBody,
		Key:   day.Format(dayLayout),
		Start: day,
		End:   end,
		Day:   day.Format(dayLayout),
		Data:  out,
		Raw:   rawJSON,
	}, true
}
