package whoop

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
)

// body maps WHOOP's body measurement (height in m, weight in kg and the max
// heart rate WHOOP computed for the user) to a Body for the UTC day of at,
// keyed by that day.
//
// The measurement has no date or offset: it is the user's current profile
// value. It is filed under the UTC day it was read, so each day it is read
// gives a record of what the profile said that day, and re-reading it the
// same day gives the same record. Height is converted to cm.
func (m *mapper) body(raw json.RawMessage, at time.Time) (model.Record, error) {
	var b bodyDoc
	if err := json.Unmarshal(raw, &b); err != nil {
		return model.Record{}, fmt.Errorf("decode body measurement: %w", err)
	}
	if b.HeightMeter == nil && b.WeightKilogram == nil && b.MaxHeartRate == nil {
		return model.Record{}, errors.New("body measurement has no height, weight or max heart rate")
	}
	start, end := dayBounds(at)
	out := &model.Body{Metadata: &model.BodyMetadata{
		StartTime: model.FormatTime(start),
		EndTime:   model.FormatTime(end),
	}}
	if b.HeightMeter != nil || b.WeightKilogram != nil {
		sample := model.MeasurementDataSample{WeightKg: b.WeightKilogram}
		if b.HeightMeter != nil {
			sample.HeightCm = ptr(*b.HeightMeter * 100)
		}
		out.MeasurementsData = &model.MeasurementsData{Measurements: []model.MeasurementDataSample{sample}}
	}
	if b.MaxHeartRate != nil {
		out.HeartData = &model.HeartData{HeartRateData: &model.HeartRateData{
			Summary: &model.HeartRateDataSummary{UserMaxHrBpm: b.MaxHeartRate},
		}}
	}
	day := start.Format(dayLayout)
	return model.Record{
		Type:  model.TypeBody,
		Key:   day,
		Start: start,
		End:   end,
		Day:   day,
		Data:  out,
		Raw:   raw,
	}, nil
}
