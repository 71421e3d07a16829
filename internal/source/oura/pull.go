package oura

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
	"github.com/wearbridge/wearbridge/internal/source"
)

const day = 24 * time.Hour

// Oura refuses ranges longer than 30 days, so longer pulls are split:
// dayChunk emitted days per day-based query (30 with the padding), and
// heartRateChunk per heartrate query.
const (
	dayChunk       = 28
	heartRateChunk = 30 * day
)

// window turns a pull's [start, end) into Oura queries.
//
// Oura files sleep and daily documents under the user's local day, and its
// date filters are uneven: the sleep collection treats start_date as
// exclusive, the daily collections compare end_date with each document's
// timestamp (04:00 local for daily_activity). So each query asks for a day
// more on each side, and only the days [first, last] are emitted: every
// collection is then complete for every emitted day, and a merged Daily is
// never emitted from part of its documents. last is one day past the UTC
// day of end, so a user ahead of UTC gets today's night without waiting
// for the next window; re-emitting a day is harmless since records are
// keyed.
//
// heartrate has exact datetime filters; its window is widened to whole UTC
// days because a Body holds one whole UTC day.
type window struct {
	first, last  time.Time // UTC midnights of the first and last emitted day
	hrFrom, hrTo time.Time
}

func newWindow(start, end time.Time) window {
	s := start.UTC().Truncate(day)
	lastUTC := end.UTC().Add(-time.Nanosecond).Truncate(day)
	if lastUTC.Before(s) {
		lastUTC = s
	}
	return window{first: s, last: lastUTC.Add(day), hrFrom: s, hrTo: lastUTC.Add(day)}
}

// dayRange is one query of a day-based collection.
type dayRange struct {
	first, last string // emitted days, YYYY-MM-DD, inclusive
	query       url.Values
}

// emits reports whether documents of day d are emitted.
func (r dayRange) emits(d string) bool { return d >= r.first && d <= r.last }

// dayRanges splits the window's days into queries of at most dayChunk
// emitted days.
func (w window) dayRanges() []dayRange {
	var out []dayRange
	for f := w.first; !f.After(w.last); f = f.Add(dayChunk * day) {
		l := f.Add((dayChunk - 1) * day)
		if l.After(w.last) {
			l = w.last
		}
		out = append(out, dayRange{
			first: f.Format(dayLayout),
			last:  l.Format(dayLayout),
			query: url.Values{
				"start_date": {f.Add(-day).Format(dayLayout)},
				"end_date":   {l.Add(day).Format(dayLayout)},
			},
		})
	}
	return out
}

// Pull fetches every Oura document feeding Terra type t in [start, end) and
// hands the records to sink. See the package comment for what feeds what.
func (p *Provider) Pull(ctx context.Context, hc *http.Client, t model.DataType, start, end time.Time, sink source.Sink) error {
	if !end.After(start) {
		return nil
	}
	w := newWindow(start, end)
	m := newMapper()
	var err error
	switch t {
	case model.TypeSleep:
		err = p.pullSleep(ctx, hc, w, m, sink)
	case model.TypeDaily:
		err = p.pullDaily(ctx, hc, w, m, sink)
	case model.TypeActivity:
		err = p.pullActivity(ctx, hc, w, m, sink)
	case model.TypeBody:
		err = p.pullBody(ctx, hc, w, m, sink)
	default:
		return fmt.Errorf("oura does not pull %q", t)
	}
	if ferr := m.flush(ctx, sink); ferr != nil && err == nil {
		err = ferr
	}
	return err
}

// itemProblem reports an item that could not be mapped.
func itemProblem(ctx context.Context, sink source.Sink, t model.DataType, err error, raw []byte) error {
	return sink.Problem(ctx, model.Problem{Type: t, Err: err.Error(), Raw: raw})
}

// dayOf reads an item's day, "" when it has none.
func dayOf(raw json.RawMessage) string {
	var h dailyHead
	if json.Unmarshal(raw, &h) != nil {
		return ""
	}
	return h.Day
}

func (p *Provider) pullSleep(ctx context.Context, hc *http.Client, w window, m *mapper, sink source.Sink) error {
	for _, r := range w.dayRanges() {
		if err := p.pullSleepRange(ctx, hc, r, m, sink); err != nil {
			return err
		}
	}
	return nil
}

func (p *Provider) pullSleepRange(ctx context.Context, hc *http.Client, r dayRange, m *mapper, sink source.Sink) error {
	// daily_sleep first: its score goes onto the day's main sleep.
	scores := make(map[string]float64)
	err := p.eachPage(ctx, hc, model.TypeSleep, collDailySleep, r.query, sink, func(items []json.RawMessage) error {
		for _, it := range items {
			var ds dailySleep
			if err := json.Unmarshal(it, &ds); err != nil {
				if err := itemProblem(ctx, sink, model.TypeSleep, fmt.Errorf("decode daily_sleep: %w", err), it); err != nil {
					return err
				}
				continue
			}
			if ds.Score != nil {
				scores[ds.Day] = *ds.Score
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return p.eachPage(ctx, hc, model.TypeSleep, "sleep", r.query, sink, func(items []json.RawMessage) error {
		recs := make([]model.Record, 0, len(items))
		for _, it := range items {
			if d := dayOf(it); d != "" && !r.emits(d) {
				continue
			}
			rec, ok, err := m.sleep(it, scores)
			if err != nil {
				if err := itemProblem(ctx, sink, model.TypeSleep, err, it); err != nil {
					return err
				}
				continue
			}
			if ok {
				recs = append(recs, rec)
			}
		}
		return records(ctx, sink, recs)
	})
}

func (p *Provider) pullDaily(ctx context.Context, hc *http.Client, w window, m *mapper, sink source.Sink) error {
	days := make(map[string]*dailyDay)
	for _, r := range w.dayRanges() {
		for _, coll := range []string{collDailyActivity, collDailyReadiness, collDailySpO2, collDailySleep} {
			err := p.eachPage(ctx, hc, model.TypeDaily, coll, r.query, sink, func(items []json.RawMessage) error {
				for _, it := range items {
					if err := decodeDaily(days, coll, it, r.emits); err != nil {
						if err := itemProblem(ctx, sink, model.TypeDaily, err, it); err != nil {
							return err
						}
					}
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
	}
	recs, probs := m.dailies(days)
	for _, pr := range probs {
		if err := sink.Problem(ctx, pr); err != nil {
			return err
		}
	}
	return records(ctx, sink, recs)
}

func (p *Provider) pullActivity(ctx context.Context, hc *http.Client, w window, m *mapper, sink source.Sink) error {
	for _, c := range []struct {
		name string
		fn   func(json.RawMessage) (model.Record, error)
	}{{"workout", m.workout}, {"session", m.session}} {
		for _, r := range w.dayRanges() {
			err := p.eachPage(ctx, hc, model.TypeActivity, c.name, r.query, sink, func(items []json.RawMessage) error {
				recs := make([]model.Record, 0, len(items))
				for _, it := range items {
					if d := dayOf(it); d != "" && !r.emits(d) {
						continue
					}
					rec, err := c.fn(it)
					if err != nil {
						if err := itemProblem(ctx, sink, model.TypeActivity, err, it); err != nil {
							return err
						}
						continue
					}
					recs = append(recs, rec)
				}
				return records(ctx, sink, recs)
			})
			if err != nil {
				return err
			}
		}
	}
	return nil
}

func (p *Provider) pullBody(ctx context.Context, hc *http.Client, w window, m *mapper, sink source.Sink) error {
	days := make(map[string]*hrDay)
	for from := w.hrFrom; from.Before(w.hrTo); from = from.Add(heartRateChunk) {
		to := from.Add(heartRateChunk)
		if to.After(w.hrTo) {
			to = w.hrTo
		}
		q := url.Values{
			"start_datetime": {from.Format(time.RFC3339)},
			"end_datetime":   {to.Format(time.RFC3339)},
		}
		err := p.eachPage(ctx, hc, model.TypeBody, "heartrate", q, sink, func(items []json.RawMessage) error {
			for _, it := range items {
				r, err := m.heartRateRow(it)
				if err != nil {
					if err := itemProblem(ctx, sink, model.TypeBody, err, it); err != nil {
						return err
					}
					continue
				}
				// Chunks are half-open, whatever Oura does at the edges.
				if r.t.Before(from) || !r.t.Before(to) {
					continue
				}
				addHeartRate(days, r, it)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	recs, err := m.bodies(days)
	if err != nil {
		return fmt.Errorf("oura heartrate: %w", err)
	}
	return records(ctx, sink, recs)
}

// records hands a non-empty batch to sink.
func records(ctx context.Context, sink source.Sink, recs []model.Record) error {
	if len(recs) == 0 {
		return nil
	}
	if err := sink.Records(ctx, recs); err != nil {
		return fmt.Errorf("store oura records: %w", err)
	}
	return nil
}
