package googlefit

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
	"github.com/wearbridge/wearbridge/internal/source"
)

// dayLayout is a calendar day.
const dayLayout = "2006-01-02"

// mapper maps Google Fit items and collects the notes about unknown enum
// values and unusable items met on the way, handed to the sink at the end
// of a pull.
type mapper struct {
	seen     map[string]bool
	problems []model.Problem
}

func newMapper() *mapper { return &mapper{seen: make(map[string]bool)} }

// unknown records that field had a value the mapper does not know. The
// record still lands (the value is in its raw payload); the value is
// reported once per pull.
func (m *mapper) unknown(t model.DataType, field, value string, raw []byte) {
	k := string(t) + "\x00" + field + "\x00" + value
	if m.seen[k] {
		return
	}
	m.seen[k] = true
	m.problems = append(m.problems, model.Problem{
		Type: t,
		Err:  fmt.Sprintf("google %s: unknown value %s; the record was kept and the value is in its raw payload", field, value),
		Raw:  raw,
	})
}

// problem records an item that could not be mapped.
func (m *mapper) problem(t model.DataType, err error, raw []byte) {
	m.problems = append(m.problems, model.Problem{Type: t, Err: err.Error(), Raw: raw})
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

func ptr[T any](v T) *T { return &v }

// formatTime writes t in Terra's layout in UTC: Google Fit gives no zone.
func formatTime(t time.Time) string { return model.FormatTime(t.UTC()) }

func formatTimePtr(t time.Time) *string { return ptr(formatTime(t)) }

// utcDay is the UTC midnight starting t's UTC day.
func utcDay(t time.Time) time.Time {
	y, mo, d := t.UTC().Date()
	return time.Date(y, mo, d, 0, 0, 0, 0, time.UTC)
}

// bpmSample is one heart-rate reading.
type bpmSample struct {
	t   time.Time
	bpm float64
}

// heartRates decodes heart-rate points (com.google.heart_rate.bpm, value[0]
// fpVal in bpm) in time order; a point without a value is recorded as a
// problem of type t and skipped.
func (m *mapper) heartRates(t model.DataType, pts []point) []bpmSample {
	out := make([]bpmSample, 0, len(pts))
	for _, p := range pts {
		v, err := p.fpValue(0)
		if err != nil {
			m.problem(t, err, p.raw)
			continue
		}
		out = append(out, bpmSample{t: p.start, bpm: v})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].t.Before(out[j].t) })
	return out
}

// within returns the samples at instants in [from, to].
func within(s []bpmSample, from, to time.Time) []bpmSample {
	i := sort.Search(len(s), func(i int) bool { return !s[i].t.Before(from) })
	j := sort.Search(len(s), func(j int) bool { return s[j].t.After(to) })
	if i >= j {
		return nil
	}
	return s[i:j]
}

// heartRateData is samples as Terra heart-rate data with their average,
// minimum and maximum; nil without samples.
func heartRateData(s []bpmSample) *model.HeartRateData {
	if len(s) == 0 {
		return nil
	}
	detailed := &model.HeartRateDataDetailed{HrSamples: make([]model.HeartRateDataSample, 0, len(s))}
	var sum float64
	lo, hi := s[0].bpm, s[0].bpm
	for _, x := range s {
		detailed.HrSamples = append(detailed.HrSamples, model.HeartRateDataSample{Timestamp: formatTimePtr(x.t), Bpm: ptr(x.bpm)})
		sum += x.bpm
		lo, hi = min(lo, x.bpm), max(hi, x.bpm)
	}
	return &model.HeartRateData{
		Summary:  &model.HeartRateDataSummary{AvgHrBpm: ptr(sum / float64(len(s))), MinHrBpm: ptr(lo), MaxHrBpm: ptr(hi)},
		Detailed: detailed,
	}
}

// overlaps reports whether [a1, a2] and [b1, b2] share more than an
// instant.
func overlaps(a1, a2, b1, b2 time.Time) bool { return a1.Before(b2) && b1.Before(a2) }

// midpointIn reports whether the middle of [s, e] lies in [from, to].
func midpointIn(s, e, from, to time.Time) bool {
	mid := s.Add(e.Sub(s) / 2)
	return !mid.Before(from) && !mid.After(to)
}
