package fitbit

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
)

// TestBodyFixture maps the four recorded weight logs in Los Angeles (PDT,
// -07:00, in May).
func TestBodyFixture(t *testing.T) {
	m := newMapper(zoneOf(t, "America/Los_Angeles"))
	items := fixtureList(t, "body_log_weight.json", "weight")
	tests := []struct {
		key, day, at string
		utc          time.Time
		kg, bmi      float64
	}{
		// weight[i]: logId, date, time, weight (kg), bmi.
		{"1431541739000", "2015-05-13", "2015-05-13T18:28:59.000000-07:00", time.Date(2015, 5, 14, 1, 28, 59, 0, time.UTC), 56.7, 21.48},
		{"1431604317000", "2015-05-14", "2015-05-14T11:51:57.000000-07:00", time.Date(2015, 5, 14, 18, 51, 57, 0, time.UTC), 55.9, 21.17},
		{"1432318326000", "2015-05-22", "2015-05-22T18:12:06.000000-07:00", time.Date(2015, 5, 23, 1, 12, 6, 0, time.UTC), 58.1, 21.99},
		{"1432480525000", "2015-05-24", "2015-05-24T15:15:25.000000-07:00", time.Date(2015, 5, 24, 22, 15, 25, 0, time.UTC), 57.2, 21.65},
	}
	eq(t, "logs", len(items), len(tests))
	for i, tt := range tests {
		rec, err := m.body(bodyLogs{weight: items[i]})
		if err != nil {
			t.Fatal(err)
		}
		validate(t, rec)
		eq(t, "type", rec.Type, model.TypeBody)
		eq(t, "key", rec.Key, tt.key)
		eq(t, "day", rec.Day, tt.day)
		if !rec.Start.Equal(tt.utc) || !rec.End.Equal(tt.utc) {
			t.Errorf("%s: Start, End = %v, %v, want %v", tt.key, rec.Start.UTC(), rec.End.UTC(), tt.utc)
		}
		b := rec.Data.(*model.Body)
		eq(t, "start_time", b.Metadata.StartTime, tt.at)
		eq(t, "end_time", b.Metadata.EndTime, tt.at)
		ms := b.MeasurementsData.Measurements
		eq(t, "measurements", len(ms), 1)
		eq(t, "measurement_time", val(t, "time", ms[0].MeasurementTime), tt.at)
		eq(t, "weight_kg", val(t, "weight", ms[0].WeightKg), tt.kg)
		eq(t, "BMI", val(t, "bmi", ms[0].BMI), tt.bmi)
		nilPtr(t, "body fat", ms[0].BodyfatPercentage)
		var raw bodyRaw
		if err := json.Unmarshal(rec.Raw, &raw); err != nil || string(raw.Weight) != string(items[i]) {
			t.Errorf("Raw does not keep the weight log: %v", err)
		}
	}
}

func TestBodyWeightAndFat(t *testing.T) {
	m := newMapper(zoneOf(t, "Asia/Tokyo"))
	weight := json.RawMessage(`{"bmi":22.1,"date":"2024-05-01","logId":1714550400000,"source":"Aria","time":"07:30:00","weight":70.25}`)
	fat := json.RawMessage(`{"date":"2024-05-01","fat":18.5,"logId":1714550400000,"source":"Aria","time":"07:30:00"}`)
	rec, err := m.body(bodyLogs{weight: weight, fat: fat})
	if err != nil {
		t.Fatal(err)
	}
	validate(t, rec)
	ms := rec.Data.(*model.Body).MeasurementsData.Measurements[0]
	eq(t, "weight", *ms.WeightKg, 70.25)
	eq(t, "fat", *ms.BodyfatPercentage, 18.5)
	eq(t, "time", *ms.MeasurementTime, "2024-05-01T07:30:00.000000+09:00")

	onlyFat, err := m.body(bodyLogs{fat: fat})
	if err != nil {
		t.Fatal(err)
	}
	validate(t, onlyFat)
	eq(t, "fat-only key", onlyFat.Key, "1714550400000")

	for _, tt := range []struct {
		logs bodyLogs
		want string
	}{
		{bodyLogs{}, "no body log"},
		{bodyLogs{weight: json.RawMessage(`{"logId":1,"date":"2024-05-01","time":"07:30:00"}`)}, "no weight"},
		{bodyLogs{weight: json.RawMessage(`{"logId":1,"date":"2024-05-01","time":"7.30"}`)}, "time"},
		{bodyLogs{weight: json.RawMessage(`"70kg"`)}, "decode"},
	} {
		if _, err := m.body(tt.logs); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("err = %v, want one saying %q", err, tt.want)
		}
	}
}
