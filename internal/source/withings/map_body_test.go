package withings

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
)

const (
	fileMeasureBody = "measure_getmeas_body.json"
	fileMeasureList = "measuregrps_list.json"
)

// listGroups returns the bare measuregrps array of measuregrps_list.json.
func listGroups(t testing.TB) []json.RawMessage {
	t.Helper()
	var items []json.RawMessage
	if err := json.Unmarshal(fixture(t, fileMeasureList), &items); err != nil {
		t.Fatal(err)
	}
	return items
}

// mapGroup maps one group with a fresh mapper and validates it.
func mapGroup(t *testing.T, raw json.RawMessage, tz string) (model.Record, *model.Body, *mapper) {
	t.Helper()
	m := newMapper(New(Config{}))
	rec, ok, err := m.measureGroup(raw, tz)
	if err != nil || !ok {
		t.Fatalf("map group: ok=%v err=%v", ok, err)
	}
	Validate(t, rec)
	if string(rec.Raw) != string(raw) {
		t.Error("Raw is not the group as received")
	}
	return rec, rec.Data.(*model.Body), m
}

// TestBodyGetmeasFixture maps every group of measure_getmeas_body.json, in
// the answer's zone (body.timezone "America/Los_Angeles").
func TestBodyGetmeasFixture(t *testing.T) {
	const tz = "America/Los_Angeles" // body.timezone
	groups := fixtureList(t, fileMeasureBody, "measuregrps")
	Eq(t, "groups", len(groups), 5)

	t.Run("blood pressure, pulse and weight", func(t *testing.T) {
		rec, b, m := mapGroup(t, fixtureItem(t, groups, "grpid", "366956482"), tz)
		Eq(t, "Key", rec.Key, "366956482")
		// date 1433052383 = 2015-05-31T06:06:23Z, PDT (-07:00) in Los Angeles.
		Eq(t, "Start", rec.Start.UTC(), time.Date(2015, 5, 31, 6, 6, 23, 0, time.UTC))
		Eq(t, "End", rec.End.UTC(), rec.Start.UTC())
		Eq(t, "Day", rec.Day, "2015-05-30")
		Eq(t, "start_time", b.Metadata.StartTime, "2015-05-30T23:06:23.000000-07:00")
		Eq(t, "end_time", b.Metadata.EndTime, "2015-05-30T23:06:23.000000-07:00")
		ms := b.MeasurementsData.Measurements
		Eq(t, "measurements", len(ms), 1)
		Eq(t, "weight", Val(t, "weight", ms[0].WeightKg), 74.126) // type 1: 74126 × 10^-3
		Eq(t, "measurement_time", Val(t, "time", ms[0].MeasurementTime), "2015-05-30T23:06:23.000000-07:00")
		bp := b.BloodPressureData.BloodPressureSamples
		Eq(t, "bp samples", len(bp), 1)
		Eq(t, "systolic", Val(t, "systolic", bp[0].SystolicBp), 104)   // type 10
		Eq(t, "diastolic", Val(t, "diastolic", bp[0].DiastolicBp), 68) // type 9
		hr := b.HeartData.HeartRateData.Detailed.HrSamples
		Eq(t, "hr samples", len(hr), 1)
		Eq(t, "pulse", Val(t, "bpm", hr[0].Bpm), 41) // type 11
		// type 18 (value -1000, unit -3) is not a documented type.
		Eq(t, "problems", len(m.problems), 1)
		if !strings.Contains(m.problems[0].Err, "measure type") || !strings.Contains(m.problems[0].Err, "18") {
			t.Errorf("problem = %q, want the unknown type 18", m.problems[0].Err)
		}
	})
	t.Run("weight only", func(t *testing.T) {
		rec, b, _ := mapGroup(t, fixtureItem(t, groups, "grpid", "347186704"), tz)
		Eq(t, "start_time", b.Metadata.StartTime, "2015-04-20T10:13:56.000000-07:00") // date 1429550036
		Eq(t, "weight", Val(t, "weight", b.MeasurementsData.Measurements[0].WeightKg), 74.128)
		Eq(t, "Day", rec.Day, "2015-04-20")
	})
	t.Run("manual pulse, winter offset", func(t *testing.T) {
		_, b, _ := mapGroup(t, fixtureItem(t, groups, "grpid", "323560022"), tz)
		// date 1425313735 = 2015-03-02T16:28:55Z, PST (-08:00): the same zone
		// gives another offset before the DST change.
		Eq(t, "start_time", b.Metadata.StartTime, "2015-03-02T08:28:55.000000-08:00")
		Eq(t, "pulse", Val(t, "bpm", b.HeartData.HeartRateData.Detailed.HrSamples[0].Bpm), 51)
		if b.MeasurementsData != nil {
			t.Errorf("measurements = %+v, want none (pulse only)", b.MeasurementsData)
		}
	})
	t.Run("comment", func(t *testing.T) {
		_, b, _ := mapGroup(t, fixtureItem(t, groups, "grpid", "321858727"), tz)
		Eq(t, "pulse", Val(t, "bpm", b.HeartData.HeartRateData.Detailed.HrSamples[0].Bpm), 47)
		Eq(t, "user_notes", Val(t, "notes", b.MeasurementsData.Measurements[0].UserNotes), "a few minutes after a walk")
		Eq(t, "start_time", b.Metadata.StartTime, "2015-02-26T13:57:17.000000-08:00") // date 1424987837
	})
	t.Run("height and body temperature", func(t *testing.T) {
		_, b, m := mapGroup(t, fixtureItem(t, groups, "grpid", "320419189"), tz)
		Eq(t, "height cm", Val(t, "height", b.MeasurementsData.Measurements[0].HeightCm), 193) // type 4: 1930 × 10^-3 m
		temps := b.TemperatureData.BodyTemperatureSamples
		Eq(t, "temperatures", len(temps), 1)
		Eq(t, "body temperature", Val(t, "temp", temps[0].TemperatureCelsius), 37) // type 71
		Eq(t, "temperature time", Val(t, "ts", temps[0].Timestamp), "2015-02-23T11:24:49.000000-08:00")
		Eq(t, "problems", len(m.problems), 0)
	})
}

// TestBodyListFixture maps every group of measuregrps_list.json (Body Scan,
// no zone given: UTC): all 34 land with distinct keys, none is reported.
func TestBodyListFixture(t *testing.T) {
	groups := listGroups(t)
	Eq(t, "groups", len(groups), 34)
	m := newMapper(New(Config{}))
	keys := map[string]bool{}
	atFirstDate := 0
	for _, g := range groups {
		rec, ok, err := m.measureGroup(g, "")
		if err != nil || !ok {
			t.Fatalf("group %s: ok=%v err=%v", g[:40], ok, err)
		}
		Validate(t, rec)
		keys[rec.Key] = true
		if rec.Start.Unix() == 1703523863 {
			atFirstDate++
		}
	}
	Eq(t, "distinct keys", len(keys), 34)
	// grpids 5109691092, 5109691089 and 5109691080 share date 1703523863:
	// three records at one instant, all kept.
	Eq(t, "records at 1703523863", atFirstDate, 3)
	if len(m.problems) != 0 {
		t.Errorf("problems: %+v", m.problems)
	}
}

func TestBodyScanComposition(t *testing.T) {
	rec, b, m := mapGroup(t, fixtureItem(t, listGroups(t), "grpid", "5114418400"), "")
	// date 1703700043, no zone: UTC.
	Eq(t, "start_time", b.Metadata.StartTime, "2023-12-27T18:00:43.000000+00:00")
	Eq(t, "Day", rec.Day, "2023-12-27")
	ms := b.MeasurementsData.Measurements
	Eq(t, "measurements", len(ms), 1)
	s := ms[0]
	Eq(t, "weight kg", Val(t, "weight", s.WeightKg), 95.908)           // type 1: 95908 × 10^-3
	Eq(t, "lean mass g", Val(t, "lean", s.LeanMassG), 76800)           // type 5: 7680 × 10^-2 kg, position 7, listed twice
	Eq(t, "body fat %", Val(t, "fat", s.BodyfatPercentage), 19.904)    // type 6: 19904 × 10^-3
	Eq(t, "muscle mass g", Val(t, "muscle", s.MuscleMassG), 73010)     // type 76: 7301 × 10^-2 kg
	Eq(t, "bone mass g", Val(t, "bone", s.BoneMassG), 3780)            // type 88: 378 × 10^-2 kg
	Eq(t, "visceral fat", Val(t, "visceral", s.VisceralFatLevel), 3.3) // type 170: 33 × 10^-1
	Eq(t, "BMR", Val(t, "bmr", s.BMR), 2252)                           // type 226: 2252 × 10^0
	hyd := b.HydrationData.HydrationAmountSamples
	Eq(t, "hydration samples", len(hyd), 1)
	Eq(t, "hydration kg", Val(t, "hydration", hyd[0].HydrationKg), 52.17) // type 77: 5217 × 10^-2
	Eq(t, "device", Val(t, "device", b.DeviceData.Name), "Body Scan")     // model
	Eq(t, "problems", len(m.problems), 0)
	if b.HeartData != nil || b.BloodPressureData != nil {
		t.Error("heart or blood pressure data from a composition group")
	}
}

func TestBodyScanHeart(t *testing.T) {
	groups := listGroups(t)
	t.Run("pulse wave velocity, attrib 8", func(t *testing.T) {
		_, b, m := mapGroup(t, fixtureItem(t, groups, "grpid", "5183334781"), "")
		pwv := b.HeartData.PulseWaveVelocitySamples
		Eq(t, "pwv samples", len(pwv), 1)
		Eq(t, "pwv", Val(t, "pwv", pwv[0].PulseWaveVelocityMetersPerSecond), 7.68)            // type 91: 7680 × 10^-3
		Eq(t, "pwv time", Val(t, "ts", pwv[0].Timestamp), "2024-01-19T20:42:57.000000+00:00") // date 1705696977
		Eq(t, "problems", len(m.problems), 0)                                                 // type 155 is known, raw only
	})
	t.Run("pulse and AFib result", func(t *testing.T) {
		_, b, _ := mapGroup(t, fixtureItem(t, groups, "grpid", "5122267193"), "")
		Eq(t, "pulse", Val(t, "bpm", b.HeartData.HeartRateData.Detailed.HrSamples[0].Bpm), 113) // type 11
		af := b.HeartData.AfibClassificationSamples
		Eq(t, "afib samples", len(af), 1)
		// type 130 value 8: "Inconclusive US".
		Eq(t, "afib", Val(t, "afib", af[0].AfibClassification), model.AFibFlagInconclusive)
	})
}

func TestBodyQuirks(t *testing.T) {
	const head = `"date":1700000000,"category":1,`
	tests := []struct {
		name     string
		raw      string
		tz       string
		ok       bool
		wantErr  string
		problems []string // substrings, one per expected problem
		check    func(t *testing.T, b *model.Body)
	}{
		{
			name: "ambiguous group is kept and reported", ok: true,
			raw:      `{"grpid":1,"attrib":1,` + head + `"measures":[{"type":1,"unit":-1,"value":805}]}`,
			problems: []string{"attrib 1"},
			check: func(t *testing.T, b *model.Body) {
				Eq(t, "weight", Val(t, "weight", b.MeasurementsData.Measurements[0].WeightKg), 80.5)
			},
		},
		{
			name:     "user objective is skipped and reported",
			raw:      `{"grpid":2,"attrib":0,"date":1700000000,"category":2,"measures":[{"type":1,"unit":0,"value":75}]}`,
			problems: []string{"objective"},
		},
		{
			name: "unknown attrib is kept and reported", ok: true,
			raw:      `{"grpid":3,"attrib":99,` + head + `"measures":[]}`,
			problems: []string{"measuregrp.attrib: unknown value 99"},
		},
		{
			name: "unknown zone falls back to UTC", ok: true, tz: "Mars/Olympus_Mons",
			raw:      `{"grpid":4,"attrib":0,` + head + `"measures":[]}`,
			problems: []string{"timezone"},
			check: func(t *testing.T, b *model.Body) {
				Eq(t, "start", b.Metadata.StartTime, "2023-11-14T22:13:20.000000+00:00")
			},
		},
		{
			name: "group zone wins over the answer's", ok: true, tz: "America/Los_Angeles",
			raw: `{"grpid":5,"attrib":0,"timezone":"Asia/Kathmandu",` + head + `"measures":[]}`,
			check: func(t *testing.T, b *model.Body) {
				Eq(t, "start", b.Metadata.StartTime, "2023-11-15T03:58:20.000000+05:45")
			},
		},
		{
			name: "segmental values stay raw", ok: true,
			raw: `{"grpid":6,"attrib":0,` + head + `"measures":[{"type":76,"unit":-2,"value":1233,"position":10},{"type":76,"unit":-2,"value":7000,"position":7}]}`,
			check: func(t *testing.T, b *model.Body) {
				Eq(t, "muscle", Val(t, "muscle", b.MeasurementsData.Measurements[0].MuscleMassG), 70000)
			},
		},
		{
			name: "differing repeat keeps the first and is reported", ok: true,
			raw:      `{"grpid":7,"attrib":0,` + head + `"measures":[{"type":1,"unit":0,"value":70},{"type":1,"unit":0,"value":71}]}`,
			problems: []string{"twice"},
			check: func(t *testing.T, b *model.Body) {
				Eq(t, "weight", Val(t, "weight", b.MeasurementsData.Measurements[0].WeightKg), 70)
			},
		},
		{
			name: "SpO2, skin temperature, VO2 max", ok: true,
			raw: `{"grpid":8,"attrib":0,` + head + `"measures":[{"type":54,"unit":0,"value":97},{"type":73,"unit":-2,"value":3350},{"type":123,"unit":-1,"value":452}]}`,
			check: func(t *testing.T, b *model.Body) {
				Eq(t, "spo2", Val(t, "spo2", b.OxygenData.SaturationSamples[0].Percentage), 97)
				Eq(t, "spo2 type", Val(t, "type", b.OxygenData.SaturationSamples[0].Type), model.OxygenSaturationTypeBlood)
				Eq(t, "skin", Val(t, "skin", b.TemperatureData.SkinTemperatureSamples[0].TemperatureCelsius), 33.5)
				Eq(t, "vo2", Val(t, "vo2", b.OxygenData.Vo2Samples[0].Vo2maxMlPerMinPerKg), 45.2)
			},
		},
		{
			name: "unknown AFib result is reported, not guessed", ok: true,
			raw:      `{"grpid":9,"attrib":0,` + head + `"measures":[{"type":130,"unit":0,"value":42}]}`,
			problems: []string{"130"},
			check: func(t *testing.T, b *model.Body) {
				if b.HeartData != nil {
					t.Errorf("heart data = %+v", b.HeartData)
				}
			},
		},
		{name: "unit out of range", raw: `{"grpid":10,` + head + `"measures":[{"type":1,"unit":400,"value":1}]}`, wantErr: "unit"},
		{name: "no grpid", raw: `{` + head + `"measures":[]}`, wantErr: "grpid"},
		{name: "no date", raw: `{"grpid":11,"measures":[]}`, wantErr: "date"},
		{name: "measure without unit", raw: `{"grpid":12,` + head + `"measures":[{"type":1,"value":1}]}`, wantErr: "unit"},
		{name: "not an object", raw: `[1,2]`, wantErr: "decode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMapper(New(Config{}))
			rec, ok, err := m.measureGroup(json.RawMessage(tt.raw), tt.tz)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one about %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			Eq(t, "ok", ok, tt.ok)
			Eq(t, "problems", len(m.problems), len(tt.problems))
			for i, want := range tt.problems {
				if i < len(m.problems) && !strings.Contains(m.problems[i].Err, want) {
					t.Errorf("problem %d = %q, want %q", i, m.problems[i].Err, want)
				}
			}
			if ok {
				Validate(t, rec)
				if tt.check != nil {
					tt.check(t, rec.Data.(*model.Body))
				}
			}
		})
	}
}

func TestScaled(t *testing.T) {
	tests := []struct {
		value string
		unit  int
		want  float64
	}{
		{"74126", -3, 74.126},
		{"-1000", -3, -1},
		{"1930", -1, 193},
		{"5", 2, 500},
		{"12.5", -1, 1.25},
	}
	for _, tt := range tests {
		got, err := scaled(json.Number(tt.value), tt.unit)
		if err != nil {
			t.Fatal(err)
		}
		Eq(t, tt.value, got, tt.want)
	}
	if _, err := scaled("x", 0); err == nil {
		t.Error("no error for a non-number")
	}
}
