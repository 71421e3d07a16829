package oura

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
)

// heartRateContexts maps Oura heartrate sources to Terra contexts.
var heartRateContexts = map[string]model.HeartRateContext{
	"workout": model.HeartRateContextActive,
	"rest":    model.HeartRateContextNotActive,
	"sleep":   model.HeartRateContextNotActive,
	"session": model.HeartRateContextNotActive,
	"awake":   model.HeartRateContextNotSet,
	"live":    model.HeartRateContextNotSet,
}

// hrDay is one UTC day of heartrate rows.
type hrDay struct {
	rows    []hrRow
	rawRows []json.RawMessage
}

type hrRow struct {
	t   time.Time
	bpm float64
	ctx model.HeartRateContext
}

// bodyRaw is the Raw of a Body: the day's heartrate rows as received.
type bodyRaw struct {
	Heartrate []json.RawMessage `json:"heartrate"`
}

// heartRateRow decodes one heartrate row.
func (m *mapper) heartRateRow(raw json.RawMessage) (hrRow, error) {
	var r heartRateRow
	if err := json.Unmarshal(raw, &r); err != nil {
		return hrRow{}, fmt.Errorf("decode heartrate row: %w", err)
	}
	if r.BPM == nil {
		return hrRow{}, fmt.Errorf("heartrate row at %q has no bpm", r.Timestamp)
	}
	// Oura documents heartrate timestamps as UTC; one without an offset is
	// read as UTC too.
	t, err := parseTime(r.Timestamp, time.UTC)
	if err != nil {
		return hrRow{}, fmt.Errorf("heartrate row: %w", err)
	}
	c, known := heartRateContexts[r.Source]
	if !known {
		c = model.HeartRateContextNotSet
		m.unknown(model.TypeBody, "heartrate.source", r.Source, raw)
	}
	return hrRow{t: t.UTC(), bpm: *r.BPM, ctx: c}, nil
}

// addHeartRate files a decoded row under its UTC day.
func addHeartRate(days map[string]*hrDay, r hrRow, raw json.RawMessage) {
	day := r.t.Format(dayLayout)
	d := days[day]
	if d == nil {
		d = &hrDay{}
		days[day] = d
	}
	d.rows = append(d.rows, r)
	d.rawRows = append(d.rawRows, raw)
}

// bodies maps each day's heartrate rows to a Body, in day order. Oura's
// heartrate rows carry UTC timestamps and no day of their own, so the day
// is the UTC day and the record is shown in UTC.
func (m *mapper) bodies(days map[string]*hrDay) ([]model.Record, error) {
	keys := make([]string, 0, len(days))
	for k := range days {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	recs := make([]model.Record, 0, len(keys))
	for _, k := range keys {
		rec, err := m.body(k, days[k])
		if err != nil {
			return nil, err
		}
		recs = append(recs, rec)
	}
	return recs, nil
}

func (m *mapper) body(day string, d *hrDay) (model.Record, error) {
	dayStart, err := parseDay(day)
	if err != nil {
		return model.Record{}, err
	}
	start := midnight(dayStart, time.UTC)
	end := start.Add(24 * time.Hour)
	sort.SliceStable(d.rows, func(i, j int) bool { return d.rows[i].t.Before(d.rows[j].t) })

	detailed := &model.HeartRateDataDetailed{HrSamples: make([]model.HeartRateDataSample, 0, len(d.rows))}
	var sum float64
	lo, hi := d.rows[0].bpm, d.rows[0].bpm
	for _, r := range d.rows {
		detailed.HrSamples = append(detailed.HrSamples, model.HeartRateDataSample{
			Timestamp: formatTimePtr(r.t),
			Bpm:       ptr(r.bpm),
			Context:   ptr(r.ctx),
		})
		sum += r.bpm
		lo, hi = min(lo, r.bpm), max(hi, r.bpm)
	}
	summary := &model.HeartRateDataSummary{
		AvgHrBpm: ptr(sum / float64(len(d.rows))),
		MinHrBpm: ptr(lo),
		MaxHrBpm: ptr(hi),
	}
	raw, err := json.Marshal(bodyRaw{Heartrate: d.rawRows})
	if err != nil {
		return model.Record{}, fmt.Errorf("body %s: raw: %w", day, err)
	}
	return model.Record{
		Type:  model.TypeBody,
		Key:   day,
		Start: start,
		End:   end,
		Day:   day,
		Data: &model.Body{
			Metadata: &model.BodyMetadata{StartTime: FormatTime(start), EndTime: FormatTime(end)},
			HeartData: &model.HeartData{HeartRateData: &model.HeartRateData{
				Summary:  summary,
				Detailed: detailed,
			}},
		},
		Raw: raw,
	}, nil
}
