package withings

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
	"github.com/wearbridge/wearbridge/internal/source"
)

// dayLayout is Withings' calendar day ("date", "startdateymd").
const dayLayout = time.DateOnly

// maxUnix bounds the epoch seconds accepted from Withings (year 5138):
// anything larger is a broken value, not a date.
const maxUnix = 1e11

// mapper maps Withings documents and collects the notes about values it
// does not know, each reported once per pull or push.
type mapper struct {
	p        *Provider
	seen     map[string]bool
	problems []model.Problem
}

func newMapper(p *Provider) *mapper { return &mapper{p: p, seen: make(map[string]bool)} }

// unknown records that field had a value the mapper does not know. The
// record still lands, with the value in its raw payload; the value is
// reported once.
func (m *mapper) unknown(t model.DataType, field, value string, raw []byte) {
	m.once(t, field+"\x00"+value, raw, "withings %s: unknown value %s; the record was kept and the value is in its raw payload", field, value)
}

// once records a note about an item, once per key.
func (m *mapper) once(t model.DataType, key string, raw []byte, format string, args ...any) {
	k := string(t) + "\x00" + key
	if m.seen[k] {
		return
	}
	m.seen[k] = true
	m.problems = append(m.problems, model.Problem{Type: t, Err: fmt.Sprintf(format, args...), Raw: raw})
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

// zone returns the zone a record's times are shown in: the IANA zone
// Withings named for it. No zone at all means UTC (the instants are exact
// either way; only the shown offset is unknown). A name the zone database
// does not know is reported once, and UTC is used.
func (m *mapper) zone(t model.DataType, name string, raw []byte) *time.Location {
	if name == "" {
		return time.UTC
	}
	loc, err := m.p.zone(name)
	if err != nil {
		m.unknown(t, "timezone", fmt.Sprintf("%q (times are shown in UTC)", name), raw)
		return time.UTC
	}
	return loc
}

// unixTime reads epoch seconds, rejecting values no clock would give.
func unixTime(what string, v *int64) (time.Time, error) {
	if v == nil {
		return time.Time{}, fmt.Errorf("no %s", what)
	}
	if *v <= 0 || *v > maxUnix {
		return time.Time{}, fmt.Errorf("%s %d is not a plausible time", what, *v)
	}
	return time.Unix(*v, 0).UTC(), nil
}

// session reads a start and end in epoch seconds and shows both in the
// offset loc has at the start, so that one session never mixes offsets.
func session(startV, endV *int64, loc *time.Location) (start, end time.Time, err error) {
	start, err = unixTime("startdate", startV)
	if err != nil {
		return start, end, err
	}
	end, err = unixTime("enddate", endV)
	if err != nil {
		return start, end, err
	}
	if end.Before(start) {
		return start, end, errors.New("enddate is before startdate")
	}
	_, off := start.In(loc).Zone()
	if loc == time.UTC {
		return start, end, nil
	}
	return model.InOffset(start, off), model.InOffset(end, off), nil
}

// checkDay checks a Withings day.
func checkDay(d string) error {
	if _, err := time.Parse(dayLayout, d); err != nil {
		return fmt.Errorf("bad date %q", d)
	}
	return nil
}

// midnight returns 00:00 of day (YYYY-MM-DD) in loc.
func midnight(day string, loc *time.Location) (time.Time, error) {
	d, err := time.Parse(dayLayout, day)
	if err != nil {
		return time.Time{}, fmt.Errorf("bad date %q", day)
	}
	return time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, loc), nil
}

func ptr[T any](v T) *T { return &v }

// formatPtr formats t for an optional field.
func formatPtr(t time.Time) *string { return ptr(model.FormatTime(t)) }

// intPtr rounds an optional number to an int.
func intPtr(v *float64) *int {
	if v == nil {
		return nil
	}
	return ptr(int(math.Round(*v)))
}

// nonZero is v unless it is absent or zero: Withings writes 0 for "not
// measured" in heart rate and zone fields.
func nonZero(v *float64) *float64 {
	if v == nil || *v == 0 {
		return nil
	}
	return v
}

// finite reports whether every present number is finite (JSON has no NaN,
// but a value×10^unit can overflow).
func finite(vs ...*float64) bool {
	for _, v := range vs {
		if v != nil && (math.IsInf(*v, 0) || math.IsNaN(*v)) {
			return false
		}
	}
	return true
}

// batch collects the records of one page, so that the sink never gets two
// records of one key in a batch.
type batch struct {
	recs  []model.Record
	index map[string]int
}

// add puts rec in the batch; a second record with the same key replaces
// the first (Withings sometimes lists one workout twice).
func (b *batch) add(rec model.Record) {
	if b.index == nil {
		b.index = make(map[string]int)
	}
	if i, ok := b.index[rec.Key]; ok {
		b.recs[i] = rec
		return
	}
	b.index[rec.Key] = len(b.recs)
	b.recs = append(b.recs, rec)
}

// records hands a non-empty batch to sink.
func records(ctx context.Context, sink source.Sink, recs []model.Record) error {
	if len(recs) == 0 {
		return nil
	}
	if err := sink.Records(ctx, recs); err != nil {
		return fmt.Errorf("store withings records: %w", err)
	}
	return nil
}

// itemProblem reports an item that could not be mapped.
func itemProblem(ctx context.Context, sink source.Sink, t model.DataType, err error, raw []byte) error {
	return sink.Problem(ctx, model.Problem{Type: t, Err: err.Error(), Raw: raw})
}

// head is the part of a session (workout, sleep) the pull filters on.
type head struct {
	StartDate *int64 `json:"startdate"`
}
