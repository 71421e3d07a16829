package withings

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/wearbridge/wearbridge/internal/model"
)

// measureGroup is one entry of getmeas' measuregrps: measures taken
// together (a weigh-in, a blood pressure reading) at one instant.
type measureGroup struct {
	GrpID    json.Number `json:"grpid"`
	Attrib   *int        `json:"attrib"`
	Date     *int64      `json:"date"`
	Category *int        `json:"category"`
	Model    *string     `json:"model"`
	Comment  *string     `json:"comment"`
	// Timezone is not documented on groups (getmeas gives one for the
	// whole answer) but is honoured when a group has one.
	Timezone string    `json:"timezone"`
	Measures []measure `json:"measures"`
}

// measure is one value of a group: value × 10^unit, in the unit of its
// type.
type measure struct {
	Value    json.Number `json:"value"`
	Type     *int        `json:"type"`
	Unit     *int        `json:"unit"`
	Position *int        `json:"position"`
}

// Measure attributions (attrib), API reference measuregrp_object.
const (
	attribDevice          = 0  // captured by a device, this user's
	attribAmbiguous       = 1  // captured by a device, may be another user's
	attribManual          = 2  // entered by the user
	attribManualCreation  = 4  // entered at account creation
	attribAuto            = 5  // BPM best-of-several
	attribConfirmed       = 7  // user confirmed a detected measure
	attribDeviceToo       = 8  // same as 0
	attribGuided          = 15 // guided conditions (Nerve Health Score)
	attribGuidedToo       = 17 // seen in the wild as a variant of 15
	positionWholeBody     = 7  // measure position "whole body"
	categoryReal          = 1
	categoryUserObjective = 2
)

var knownAttribs = map[int]bool{
	attribDevice: true, attribAmbiguous: true, attribManual: true, attribManualCreation: true,
	attribAuto: true, attribConfirmed: true, attribDeviceToo: true, attribGuided: true, attribGuidedToo: true,
}

// Measure types with no Terra field: kept in the record's raw payload
// only, and not reported. 8 fat mass, 135-138 ECG intervals, 155 vascular
// age, 158/159/167 nerve health scores, 168/169 extra-/intracellular
// water, 173-175 segmental masses, 196-198 electrodermal activity, 227
// metabolic age, 229 electrochemical skin conductance.
var rawOnlyTypes = map[int]bool{
	8: true, 135: true, 136: true, 137: true, 138: true, 155: true, 158: true, 159: true, 167: true,
	168: true, 169: true, 173: true, 174: true, 175: true, 196: true, 197: true, 198: true, 227: true, 229: true,
}

// afibResults maps the classification of types 130 and 139 (API
// reference measure_object) to Terra's three flags: results with a
// negative or positive verdict keep it, the rest (no signal, noise, low or
// high heart rate, no diagnosis...) are inconclusive.
var afibResults = map[int64]model.AFibFlag{
	0: model.AFibFlagNegative, 1: model.AFibFlagPositive, 2: model.AFibFlagInconclusive,
	3: model.AFibFlagInconclusive, 4: model.AFibFlagInconclusive, 5: model.AFibFlagInconclusive,
	6: model.AFibFlagInconclusive, 7: model.AFibFlagInconclusive, 8: model.AFibFlagInconclusive,
	9: model.AFibFlagNegative, 10: model.AFibFlagNegative, 11: model.AFibFlagPositive,
	12: model.AFibFlagPositive, 13: model.AFibFlagInconclusive,
}

// scaled returns value × 10^exp, dividing for negative exponents so that
// 74126 × 10^-3 is 74.126 exactly as float64 can say it.
func scaled(value json.Number, exp int) (float64, error) {
	if exp < -30 || exp > 30 {
		return 0, fmt.Errorf("unit %d is out of range", exp)
	}
	if n, err := strconv.ParseInt(string(value), 10, 64); err == nil {
		if exp >= 0 {
			return float64(n) * math.Pow10(exp), nil
		}
		return float64(n) / math.Pow10(-exp), nil
	}
	f, err := strconv.ParseFloat(string(value), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, fmt.Errorf("value %q is not a number", value)
	}
	return f * math.Pow10(exp), nil
}

// measureGroup maps one measure group to a Body holding what it measured,
// at the group's instant shown in tz (the getmeas answer's zone, or the
// group's own). Units: kg for weight, grams for muscle, bone and lean
// (fat-free) mass, cm for height, °C, mmHg, bpm, %, m/s.
//
// ok is false for a user objective (category 2), which is a goal, not a
// measurement. An ambiguous group (attrib 1: the scale could not tell who
// stood on it) is kept and reported. Types with no Terra field stay in the
// raw payload; unknown types are reported once.
func (m *mapper) measureGroup(raw json.RawMessage, tz string) (rec model.Record, ok bool, err error) {
	var g measureGroup
	if err := json.Unmarshal(raw, &g); err != nil {
		return rec, false, fmt.Errorf("decode measure group: %w", err)
	}
	id, err := strconv.ParseInt(string(g.GrpID), 10, 64)
	if err != nil {
		return rec, false, fmt.Errorf("measure group has no usable grpid (%q)", g.GrpID)
	}
	key := strconv.FormatInt(id, 10)
	at, err := unixTime("date", g.Date)
	if err != nil {
		return rec, false, fmt.Errorf("measure group %s: %w", key, err)
	}
	if g.Category != nil && *g.Category != categoryReal {
		if *g.Category == categoryUserObjective {
			m.once(model.TypeBody, "objective:"+key, raw, "withings measure group %s is a user objective (category 2), not a measurement; it was skipped", key)
			return rec, false, nil
		}
		m.unknown(model.TypeBody, "measuregrp.category", strconv.Itoa(*g.Category), raw)
	}
	if g.Attrib != nil {
		switch {
		case *g.Attrib == attribAmbiguous:
			m.once(model.TypeBody, "ambiguous:"+key, raw, "withings measure group %s has attrib 1: the device could not tell whether it is this user's measurement; it was kept", key)
		case !knownAttribs[*g.Attrib]:
			m.unknown(model.TypeBody, "measuregrp.attrib", strconv.Itoa(*g.Attrib), raw)
		}
	}
	zoneName := g.Timezone
	if zoneName == "" {
		zoneName = tz
	}
	at = at.In(m.zone(model.TypeBody, zoneName, raw))
	ts := formatPtr(at)

	b := &bodyBuilder{ts: ts}
	seen := make(map[string]float64)
	for i, ms := range g.Measures {
		if ms.Type == nil || ms.Unit == nil {
			return rec, false, fmt.Errorf("measure group %s: measure %d has no type or unit", key, i)
		}
		typ := *ms.Type
		v, err := scaled(ms.Value, *ms.Unit)
		if err != nil {
			return rec, false, fmt.Errorf("measure group %s: measure %d (type %d): %w", key, i, typ, err)
		}
		pos := positionWholeBody
		if ms.Position != nil {
			pos = *ms.Position
		}
		// A type may come twice in one group (Body Scan repeats fat-free
		// and fat mass); the first value is kept, a differing repeat noted.
		dupKey := strconv.Itoa(typ) + "/" + strconv.Itoa(pos)
		if prev, dup := seen[dupKey]; dup {
			if prev != v {
				m.once(model.TypeBody, "dup:"+key+":"+dupKey, raw, "withings measure group %s has type %d twice with different values (%v, %v); the first was kept", key, typ, prev, v)
			}
			continue
		}
		seen[dupKey] = v
		if err := b.add(m, typ, pos, ms, v, raw); err != nil {
			return rec, false, fmt.Errorf("measure group %s: %w", key, err)
		}
	}

	out := &model.Body{Metadata: &model.BodyMetadata{StartTime: *ts, EndTime: *ts}}
	if g.Comment != nil && *g.Comment != "" {
		b.sample.UserNotes, b.hasSample = g.Comment, true
	}
	if b.hasSample {
		b.sample.MeasurementTime = ts
		out.MeasurementsData = &model.MeasurementsData{Measurements: []model.MeasurementDataSample{b.sample}}
	}
	out.BloodPressureData = b.bloodPressure()
	out.HeartData = b.heart
	out.TemperatureData = b.temperature
	out.OxygenData = b.oxygen
	out.HydrationData = b.hydration
	if g.Model != nil && *g.Model != "" {
		out.DeviceData = &model.DeviceData{Name: g.Model, Manufacturer: ptr("Withings")}
	}
	return model.Record{
		Type:  model.TypeBody,
		Key:   key,
		Start: at,
		End:   at,
		Day:   at.Format(dayLayout),
		Data:  out,
		Raw:   raw,
	}, true, nil
}

// bodyBuilder collects one group's measures into the parts of a Body.
type bodyBuilder struct {
	ts                  *string
	sample              model.MeasurementDataSample
	hasSample           bool
	systolic, diastolic *float64
	heart               *model.HeartData
	temperature         *model.TemperatureData
	oxygen              *model.OxygenData
	hydration           *model.HydrationData
}

// add files one measure of type typ (value v, already × 10^unit).
// Segmental masses (a position other than whole body) stay in the raw
// payload: Terra has no field for them.
func (b *bodyBuilder) add(m *mapper, typ, pos int, ms measure, v float64, raw []byte) error {
	if !finite(&v) {
		return fmt.Errorf("measure type %d: value overflows", typ)
	}
	// grams and centimetres: the exponent is shifted instead of
	// multiplying, to keep the decimal value exact.
	shifted := func(by int) (*float64, error) {
		f, err := scaled(ms.Value, *ms.Unit+by)
		if err != nil {
			return nil, err
		}
		return &f, nil
	}
	wholeBody := pos == positionWholeBody
	var err error
	switch typ {
	case 1: // weight, kg
		b.sample.WeightKg, b.hasSample = ptr(v), true
	case 4: // height, m
		b.sample.HeightCm, err = shifted(2)
		b.hasSample = true
	case 5: // fat-free mass, kg: Terra's lean mass, in g
		if wholeBody {
			b.sample.LeanMassG, err = shifted(3)
			b.hasSample = true
		}
	case 6: // fat ratio, %
		b.sample.BodyfatPercentage, b.hasSample = ptr(v), true
	case 76: // muscle mass, kg
		if wholeBody {
			b.sample.MuscleMassG, err = shifted(3)
			b.hasSample = true
		}
	case 88: // bone mass, kg
		b.sample.BoneMassG, err = shifted(3)
		b.hasSample = true
	case 170: // visceral fat, no unit
		b.sample.VisceralFatLevel, b.hasSample = ptr(v), true
	case 226: // basal metabolic rate, kcal
		b.sample.BMR, b.hasSample = ptr(v), true
	case 9: // diastolic blood pressure, mmHg
		b.diastolic = ptr(v)
	case 10: // systolic blood pressure, mmHg
		b.systolic = ptr(v)
	case 11: // heart pulse, bpm
		h := b.heartData()
		if h.HeartRateData == nil {
			h.HeartRateData = &model.HeartRateData{Detailed: &model.HeartRateDataDetailed{}}
		}
		h.HeartRateData.Detailed.HrSamples = append(h.HeartRateData.Detailed.HrSamples, model.HeartRateDataSample{Timestamp: b.ts, Bpm: ptr(v)})
	case 91: // pulse wave velocity, m/s
		h := b.heartData()
		h.PulseWaveVelocitySamples = append(h.PulseWaveVelocitySamples, model.PulseVelocitySample{Timestamp: b.ts, PulseWaveVelocityMetersPerSecond: ptr(v)})
	case 130, 139: // atrial fibrillation result (ECG, PPG)
		n, perr := strconv.ParseInt(string(ms.Value), 10, 64)
		flag, known := afibResults[n]
		if perr != nil || *ms.Unit != 0 || !known {
			m.unknown(model.TypeBody, fmt.Sprintf("measure type %d result", typ), string(ms.Value), raw)
			return nil
		}
		h := b.heartData()
		h.AfibClassificationSamples = append(h.AfibClassificationSamples, model.AFibClassificationSample{Timestamp: b.ts, AfibClassification: ptr(flag)})
	case 12, 71: // temperature, body temperature, °C
		t := b.temperatureData()
		t.BodyTemperatureSamples = append(t.BodyTemperatureSamples, model.TemperatureSample{Timestamp: b.ts, TemperatureCelsius: ptr(v)})
	case 73: // skin temperature, °C
		t := b.temperatureData()
		t.SkinTemperatureSamples = append(t.SkinTemperatureSamples, model.TemperatureSample{Timestamp: b.ts, TemperatureCelsius: ptr(v)})
	case 54: // SpO2, %
		o := b.oxygenData()
		o.SaturationSamples = append(o.SaturationSamples, model.OxygenSaturationSample{Timestamp: b.ts, Percentage: ptr(v), Type: ptr(model.OxygenSaturationTypeBlood)})
	case 123: // VO2 max, ml/min/kg
		o := b.oxygenData()
		o.Vo2Samples = append(o.Vo2Samples, model.Vo2MaxSample{Timestamp: b.ts, Vo2maxMlPerMinPerKg: ptr(v)})
	case 77: // hydration (body water), kg
		if b.hydration == nil {
			b.hydration = &model.HydrationData{}
		}
		b.hydration.HydrationAmountSamples = append(b.hydration.HydrationAmountSamples, model.HydrationMeasurementSample{Timestamp: b.ts, HydrationKg: ptr(v)})
	default:
		if !rawOnlyTypes[typ] {
			m.unknown(model.TypeBody, "measure type", strconv.Itoa(typ), raw)
		}
	}
	if err != nil {
		return fmt.Errorf("measure type %d: %w", typ, err)
	}
	return nil
}

func (b *bodyBuilder) heartData() *model.HeartData {
	if b.heart == nil {
		b.heart = &model.HeartData{}
	}
	return b.heart
}

func (b *bodyBuilder) temperatureData() *model.TemperatureData {
	if b.temperature == nil {
		b.temperature = &model.TemperatureData{}
	}
	return b.temperature
}

func (b *bodyBuilder) oxygenData() *model.OxygenData {
	if b.oxygen == nil {
		b.oxygen = &model.OxygenData{}
	}
	return b.oxygen
}

// bloodPressure is the group's reading, nil when it has none.
func (b *bodyBuilder) bloodPressure() *model.BloodPressureData {
	if b.systolic == nil && b.diastolic == nil {
		return nil
	}
	return &model.BloodPressureData{BloodPressureSamples: []model.BloodPressureSample{{
		Timestamp:   b.ts,
		SystolicBp:  b.systolic,
		DiastolicBp: b.diastolic,
	}}}
}
