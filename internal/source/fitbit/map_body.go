package fitbit

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/wearbridge/wearbridge/internal/model"
)

// weightLog is one entry of GET /1/user/-/body/log/weight/date/... : a
// weigh-in at a local date and time, weight in kg (metric units), with the
// body fat of the same measurement when the scale gave one.
type weightLog struct {
	LogID  json.Number `json:"logId"`
	Date   string      `json:"date"`
	Time   string      `json:"time"`
	Weight *float64    `json:"weight"`
	BMI    *float64    `json:"bmi"`
	Fat    *float64    `json:"fat"`
	Source string      `json:"source"`
}

// fatLog is one entry of GET /1/user/-/body/log/fat/date/... : body fat in
// percent.
type fatLog struct {
	LogID json.Number `json:"logId"`
	Date  string      `json:"date"`
	Time  string      `json:"time"`
	Fat   *float64    `json:"fat"`
}

// bodyRaw is the Raw of a Body: the weight log and the fat log it was
// built from, each as received.
type bodyRaw struct {
	Weight json.RawMessage `json:"weight,omitempty"`
	Fat    json.RawMessage `json:"fat,omitempty"`
}

// bodyLogs pairs the weight and fat logs of one measurement. A scale
// weigh-in gives both, with the same logId.
type bodyLogs struct {
	weight, fat json.RawMessage
}

// raw returns the Raw of the measurement's Body.
func (l bodyLogs) raw() json.RawMessage { return rawObject("weight", l.weight, "fat", l.fat) }

// body maps one measurement (its weight log, its fat log, or both) to a
// Body holding one measurement, keyed by the Fitbit logId. Its time is the
// log's local date and time read in the user's zone; its day is the log's
// date.
func (m *mapper) body(l bodyLogs) (model.Record, error) {
	var w weightLog
	var f fatLog
	if l.weight == nil && l.fat == nil {
		return model.Record{}, errors.New("no body log")
	}
	if l.weight != nil {
		if err := json.Unmarshal(l.weight, &w); err != nil {
			return model.Record{}, fmt.Errorf("decode weight log: %w", err)
		}
	}
	if l.fat != nil {
		if err := json.Unmarshal(l.fat, &f); err != nil {
			return model.Record{}, fmt.Errorf("decode fat log: %w", err)
		}
	}
	id, date, clock := w.LogID, w.Date, w.Time
	if l.weight == nil {
		id, date, clock = f.LogID, f.Date, f.Time
	}
	key, err := logID(id)
	if err != nil {
		return model.Record{}, fmt.Errorf("body log: %w", err)
	}
	if _, err := parseDay(date); err != nil {
		return model.Record{}, fmt.Errorf("body log %s date: %w", key, err)
	}
	at, err := m.z.parseDayClock(date, clock)
	if err != nil {
		return model.Record{}, fmt.Errorf("body log %s time: %w", key, err)
	}
	at = at.In(fixedAt(at))
	fat := w.Fat
	if fat == nil {
		fat = f.Fat
	}
	if w.Weight == nil && w.BMI == nil && fat == nil {
		return model.Record{}, fmt.Errorf("body log %s has no weight, bmi or fat", key)
	}
	raw := l.raw()
	out := &model.Body{
		Metadata: &model.BodyMetadata{StartTime: formatTime(at), EndTime: formatTime(at)},
		MeasurementsData: &model.MeasurementsData{Measurements: []model.MeasurementDataSample{{
			MeasurementTime:   formatTimePtr(at),
			WeightKg:          w.Weight,
			BMI:               w.BMI,
			BodyfatPercentage: fat,
		}}},
	}
	return model.Record{
		Type:  model.TypeBody,
		Key:   key,
		Start: at,
		End:   at,
		Day:   date,
		Data:  out,
		Raw:   raw,
	}, nil
}
