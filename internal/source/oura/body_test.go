package oura

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
)

func TestBodyHeartRateFixture(t *testing.T) {
	items := fixtureItems(t, "heartrate_page.json")
	eq(t, "rows", len(items), 1101)
	m := newMapper()
	days := make(map[string]*hrDay)
	for _, it := range items {
		r, err := m.heartRateRow(it)
		if err != nil {
			t.Fatal(err)
		}
		addHeartRate(days, r, it)
	}
	recs, err := m.bodies(days)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.problems) != 0 {
		t.Errorf("notes: %+v", m.problems)
	}
	// Rows span 2024-12-13T12:31:21 to 2024-12-14T10:42:09, all +00:00.
	eq(t, "records", len(recs), 2)
	total := 0
	for _, r := range recs {
		validate(t, r)
		total += len(r.Data.(*model.Body).HeartData.HeartRateData.Detailed.HrSamples)
	}
	eq(t, "samples in all", total, 1101)

	r := recs[0]
	b := r.Data.(*model.Body)
	eq(t, "Key", r.Key, "2024-12-13")
	eq(t, "Day", r.Day, "2024-12-13")
	eq(t, "Type", r.Type, model.TypeBody)
	eq(t, "Start", r.Start, time.Date(2024, 12, 13, 0, 0, 0, 0, time.UTC))
	eq(t, "start_time", b.Metadata.StartTime, "2024-12-13T00:00:00.000000+00:00")
	eq(t, "end_time", b.Metadata.EndTime, "2024-12-14T00:00:00.000000+00:00")
	hr := b.HeartData.HeartRateData
	s := hr.Detailed.HrSamples
	eq(t, "samples 2024-12-13", len(s), 910)
	eq(t, "first time", val(t, "ts", s[0].Timestamp), "2024-12-13T12:31:21.000000+00:00") // first row
	eq(t, "first bpm", val(t, "bpm", s[0].Bpm), 91)
	eq(t, "first context", val(t, "ctx", s[0].Context), model.HeartRateContextNotSet) // source awake
	eq(t, "min", val(t, "min", hr.Summary.MinHrBpm), 65)
	eq(t, "max", val(t, "max", hr.Summary.MaxHrBpm), 124)
	eq(t, "avg", val(t, "avg", hr.Summary.AvgHrBpm), 91075.0/910) // sum of the day's bpm / rows

	s = recs[1].Data.(*model.Body).HeartData.HeartRateData.Detailed.HrSamples
	eq(t, "samples 2024-12-14", len(s), 191)
	last := s[len(s)-1]
	eq(t, "last time", val(t, "ts", last.Timestamp), "2024-12-14T10:42:09.000000+00:00") // last row
	eq(t, "last bpm", val(t, "bpm", last.Bpm), 95)
	eq(t, "last context", val(t, "ctx", last.Context), model.HeartRateContextActive) // source workout

	var raw struct {
		Heartrate []json.RawMessage `json:"heartrate"`
	}
	if err := json.Unmarshal(r.Raw, &raw); err != nil {
		t.Fatal(err)
	}
	eq(t, "raw rows", len(raw.Heartrate), 910)
}

func TestHeartRateRows(t *testing.T) {
	m := newMapper()
	for name, raw := range map[string]string{
		"not json": `{`,
		"no bpm":   `{"source":"rest","timestamp":"2024-12-13T12:31:21+00:00"}`,
		"bad time": `{"bpm":60,"source":"rest","timestamp":"13/12/2024"}`,
	} {
		if _, err := m.heartRateRow(json.RawMessage(raw)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	// A row with a user offset is shown in UTC; an unknown source is noted.
	r, err := m.heartRateRow(json.RawMessage(`{"bpm":60,"source":"telemetry","timestamp":"2024-12-13T01:00:00+02:00"}`))
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "time", r.t, time.Date(2024, 12, 12, 23, 0, 0, 0, time.UTC))
	eq(t, "context", r.ctx, model.HeartRateContextNotSet)
	eq(t, "notes", len(m.problems), 1)
}
