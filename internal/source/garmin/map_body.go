package garmin

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
)

// Key prefixes of the Garmin summaries that become Terra "body" records.
// Garmin derives summaryIds from the user and start time, so ids of
// different summary types may be equal.
const (
	KeyPrefixBodyComp    = "bodycomp:"
	KeyPrefixPulseOx     = "pulseox:"
	KeyPrefixRespiration = "respiration:"
)

// bodyCompSummary is a Garmin body composition summary ("bodyComps").
type bodyCompSummary struct {
	SummaryID         string   `json:"summaryId"`
	MeasurementTime   *float64 `json:"measurementTimeInSeconds"`
	MeasurementOffset *float64 `json:"measurementTimeOffsetInSeconds"`
	MuscleMassInGrams *float64 `json:"muscleMassInGrams"`
	BoneMassInGrams   *float64 `json:"boneMassInGrams"`
	BodyWaterPercent  *float64 `json:"bodyWaterInPercent"`
	BodyFatPercent    *float64 `json:"bodyFatInPercent"`
	BodyMassIndex     *float64 `json:"bodyMassIndex"`
	WeightInGrams     *float64 `json:"weightInGrams"`
}

// mapBodyComp maps a Garmin body composition to a Terra Body holding one
// measurement: weight in kg (grams / 1000), bone and muscle mass in grams
// (Terra's unit), body fat and water in percent, BMI. Start and end are the
// measurement time in its offset; Day is its local date. The day_avg_*
// fields are left empty: one measurement is not a day's average when the
// user weighs in twice.
func mapBodyComp(raw json.RawMessage) (model.Record, []string, error) {
	var b bodyCompSummary
	if err := json.Unmarshal(raw, &b); err != nil {
		return model.Record{}, nil, fmt.Errorf("decode body composition: %w", err)
	}
	key, err := window{SummaryID: b.SummaryID}.key(KeyPrefixBodyComp)
	if err != nil {
		return model.Record{}, nil, err
	}
	if b.MeasurementTime == nil {
		return model.Record{}, nil, errors.New("summary has no measurementTimeInSeconds")
	}
	if err := checkUnixTime(*b.MeasurementTime, "measurementTimeInSeconds"); err != nil {
		return model.Record{}, nil, err
	}
	off, warn, err := offsetSeconds(b.MeasurementOffset, "measurementTimeOffsetInSeconds")
	if err != nil {
		return model.Record{}, nil, err
	}
	var warnings []string
	if warn != "" {
		warnings = append(warnings, warn)
	}
	at := localTime(*b.MeasurementTime, off)
	m := model.MeasurementDataSample{
		MeasurementTime:   formatPtr(at),
		BMI:               b.BodyMassIndex,
		BodyfatPercentage: b.BodyFatPercent,
		WaterPercentage:   b.BodyWaterPercent,
		BoneMassG:         b.BoneMassInGrams,
		MuscleMassG:       b.MuscleMassInGrams,
	}
	if b.WeightInGrams != nil {
		m.WeightKg = ptr(*b.WeightInGrams / 1000)
	}
	out := &model.Body{
		Metadata:         &model.BodyMetadata{StartTime: FormatTime(at), EndTime: FormatTime(at)},
		MeasurementsData: &model.MeasurementsData{Measurements: []model.MeasurementDataSample{m}},
	}
	return model.Record{Key: key, Start: at, End: at, Day: at.Format(time.DateOnly), Data: out}, warnings, nil
}

// pulseOxSummary is a Garmin pulse ox summary ("pulseox").
type pulseOxSummary struct {
	window
	SpO2     offsetMap `json:"timeOffsetSpo2Values"`
	OnDemand *bool     `json:"onDemand"`
}

// mapPulseOx maps a Garmin pulse ox summary to a Terra Body whose
// oxygen_data holds the SpO2 samples (blood) and their mean. Body rather
// than Daily: a user has one Daily per day (from "dailies"), while several
// Body records a day are normal, and Garmin sends an all-day and an
// on-demand pulse ox summary for the same day. Start and end are the
// summary window; Day is calendarDate, else the local date of the start.
func mapPulseOx(raw json.RawMessage) (model.Record, []string, error) {
	var p pulseOxSummary
	if err := json.Unmarshal(raw, &p); err != nil {
		return model.Record{}, nil, fmt.Errorf("decode pulse ox: %w", err)
	}
	key, err := p.key(KeyPrefixPulseOx)
	if err != nil {
		return model.Record{}, nil, err
	}
	start, end, warnings, err := p.span()
	if err != nil {
		return model.Record{}, nil, err
	}
	day, w := p.day(start, end, start)
	warnings = append(warnings, w...)
	samples, w := p.SpO2.place("timeOffsetSpo2Values", start, end)
	warnings = append(warnings, w...)
	out := &model.Body{
		Metadata: &model.BodyMetadata{StartTime: FormatTime(start), EndTime: FormatTime(end)},
	}
	if len(samples) > 0 {
		mean, _, _ := stats(samples)
		out.OxygenData = &model.OxygenData{
			AvgSaturationPercentage: ptr(mean),
			SaturationSamples:       saturationSamples(samples),
		}
	}
	return model.Record{Key: key, Start: start, End: end, Day: day, Data: out}, warnings, nil
}

// BodyWithRespiration is a Terra Body with one field Terra v2 does not have
// on Body: respiration_data, shaped like Sleep.respiration_data. Terra v2
// keeps breathing rate only inside sleep sessions, while Garmin measures it
// all day; this extension carries it without inventing a sleep session. It
// marshals as a Body object plus "respiration_data"; consumers that only
// know Terra see a valid Body and an extra key.
type BodyWithRespiration struct {
	model.Body
	// RespirationData holds the breathing-rate samples.
	RespirationData *model.RespirationData `json:"respiration_data,omitempty"`
}

// respirationSummary is a Garmin respiration summary ("allDayRespiration").
type respirationSummary struct {
	window
	Breaths offsetMap `json:"timeOffsetEpochToBreaths"`
}

// mapRespiration maps a Garmin all-day respiration summary to a
// *BodyWithRespiration: breaths per minute samples with their mean, minimum
// and maximum over the summary window. Day is calendarDate, else the local
// date of the start.
func mapRespiration(raw json.RawMessage) (model.Record, []string, error) {
	var r respirationSummary
	if err := json.Unmarshal(raw, &r); err != nil {
		return model.Record{}, nil, fmt.Errorf("decode respiration: %w", err)
	}
	key, err := r.key(KeyPrefixRespiration)
	if err != nil {
		return model.Record{}, nil, err
	}
	start, end, warnings, err := r.span()
	if err != nil {
		return model.Record{}, nil, err
	}
	day, w := r.day(start, end, start)
	warnings = append(warnings, w...)
	samples, w := r.Breaths.place("timeOffsetEpochToBreaths", start, end)
	warnings = append(warnings, w...)
	out := &BodyWithRespiration{
		Body: model.Body{
			Metadata: &model.BodyMetadata{StartTime: FormatTime(start), EndTime: FormatTime(end)},
		},
	}
	if bd := breathsData(samples, start, end); bd != nil {
		out.RespirationData = &model.RespirationData{BreathsData: bd}
	}
	return model.Record{Key: key, Start: start, End: end, Day: day, Data: out}, warnings, nil
}
