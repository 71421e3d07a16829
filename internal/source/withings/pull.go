package withings

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
	"github.com/wearbridge/wearbridge/internal/source"
)

const day = 24 * time.Hour

// zoneReach is how far local days reach from UTC days: zones run from
// UTC-12 to UTC+14.
const zoneReach = 14 * time.Hour

// The paged lists the pulls read.
var (
	listMeasures = list{service: serviceMeasure, action: "getmeas", key: "measuregrps"}
	listActivity = list{service: serviceMeasureV2, action: "getactivity", key: "activities"}
	listWorkouts = list{service: serviceMeasureV2, action: "getworkouts", key: "series"}
	listSleep    = list{service: serviceSleepV2, action: "getsummary", key: "series"}
)

// Pull fetches every Withings item feeding Terra type t in [start, end)
// and hands the records to sink. See the package comment for what feeds
// what.
//
// Windows: measure groups, workouts and sleeps are instants or sessions;
// those whose date / startdate falls in [start, end) are emitted, so
// consecutive windows emit each item once. Workouts and sleeps are asked
// for by day (startdateymd..enddateymd) with a day more on each side, as
// Withings files them under the user's local day. Dailies are days: every
// activity day that overlaps [start, end) in some zone (UTC-12 to UTC+14)
// is emitted, whole; re-emitting a day in the next window is harmless
// since records are keyed by the day.
func (p *Provider) Pull(ctx context.Context, hc *http.Client, t model.DataType, start, end time.Time, sink source.Sink) error {
	if !end.After(start) {
		return nil
	}
	m := newMapper(p)
	var err error
	switch t {
	case model.TypeBody:
		err = p.pullBody(ctx, hc, m, start, end, sink)
	case model.TypeDaily:
		err = p.pullDaily(ctx, hc, m, start, end, sink)
	case model.TypeActivity:
		err = p.pullSessions(ctx, hc, m, t, listWorkouts, workoutDataFields, m.workout, start, end, sink)
	case model.TypeSleep:
		err = p.pullSessions(ctx, hc, m, t, listSleep, sleepDataFields, m.sleep, start, end, sink)
	default:
		return fmt.Errorf("withings does not pull %q", t)
	}
	if ferr := m.flush(ctx, sink); ferr != nil && err == nil {
		err = ferr
	}
	return err
}

// unixParam formats epoch seconds for a query.
func unixParam(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

// plausible reports whether v is epoch seconds the mapper accepts; an item
// with another value is not filtered out but mapped, and reported.
func plausible(v *int64) bool { return v != nil && *v > 0 && *v <= maxUnix }

// inWindow reports whether t is in [start, end).
func inWindow(t, start, end time.Time) bool { return !t.Before(start) && t.Before(end) }

// dedup skips items already handed over in this pull with the same key and
// the same bytes (Withings may list one item twice, or on two pages).
type dedup map[string]string

func (d dedup) seen(rec model.Record) bool {
	if prev, ok := d[rec.Key]; ok && prev == string(rec.Raw) {
		return true
	}
	d[rec.Key] = string(rec.Raw)
	return false
}

// pullBody reads getmeas (real measures, category 1) for [start, end).
func (p *Provider) pullBody(ctx context.Context, hc *http.Client, m *mapper, start, end time.Time, sink source.Sink) error {
	q := url.Values{
		"category":  {strconv.Itoa(categoryReal)},
		"startdate": {unixParam(start)},
		"enddate":   {unixParam(end)},
	}
	seen := dedup{}
	return p.eachPage(ctx, hc, model.TypeBody, listMeasures, q, sink, func(body json.RawMessage, items []json.RawMessage) error {
		var h struct {
			Timezone string `json:"timezone"`
		}
		_ = json.Unmarshal(body, &h) // a missing zone means UTC
		var b batch
		for _, it := range items {
			var g struct {
				Date *int64 `json:"date"`
			}
			if json.Unmarshal(it, &g) == nil && plausible(g.Date) && !inWindow(time.Unix(*g.Date, 0), start, end) {
				continue
			}
			rec, ok, err := m.measureGroup(it, h.Timezone)
			if err != nil {
				if err := itemProblem(ctx, sink, model.TypeBody, err, it); err != nil {
					return err
				}
				continue
			}
			if ok && !seen.seen(rec) {
				b.add(rec)
			}
		}
		return records(ctx, sink, b.recs)
	})
}

// sessionDays is the startdateymd..enddateymd asked for [start, end): a
// day more on each side of the UTC days.
func sessionDays(start, end time.Time) (first, last string) {
	return start.UTC().Add(-day).Format(dayLayout), end.UTC().Add(-time.Nanosecond).Add(day).Format(dayLayout)
}

// pullSessions reads a day-filtered list of sessions (workouts, sleeps)
// and emits those starting in [start, end).
func (p *Provider) pullSessions(ctx context.Context, hc *http.Client, m *mapper, t model.DataType, l list, fields string, mapItem func(json.RawMessage) (model.Record, error), start, end time.Time, sink source.Sink) error {
	first, last := sessionDays(start, end)
	q := url.Values{"startdateymd": {first}, "enddateymd": {last}, "data_fields": {fields}}
	seen := dedup{}
	return p.eachPage(ctx, hc, t, l, q, sink, func(_ json.RawMessage, items []json.RawMessage) error {
		var b batch
		for _, it := range items {
			var h head
			if json.Unmarshal(it, &h) == nil && plausible(h.StartDate) && !inWindow(time.Unix(*h.StartDate, 0), start, end) {
				continue
			}
			rec, err := mapItem(it)
			if err != nil {
				if err := itemProblem(ctx, sink, t, err, it); err != nil {
					return err
				}
				continue
			}
			if !seen.seen(rec) {
				b.add(rec)
			}
		}
		return records(ctx, sink, b.recs)
	})
}

// dailyDays is the range of days emitted for [start, end): every local
// day that overlaps it in some zone.
func dailyDays(start, end time.Time) (first, last string) {
	return start.UTC().Add(-zoneReach).Format(dayLayout), end.UTC().Add(-time.Nanosecond).Add(zoneReach).Format(dayLayout)
}

// pullDaily reads getactivity for the days of [start, end), then each
// day's intraday activity, and emits one Daily per day once it is whole.
func (p *Provider) pullDaily(ctx context.Context, hc *http.Client, m *mapper, start, end time.Time, sink source.Sink) error {
	first, last := dailyDays(start, end)
	q := url.Values{"startdateymd": {first}, "enddateymd": {last}, "data_fields": {activityDataFields}}
	days := make(map[string]*dayDoc)
	err := p.eachPage(ctx, hc, model.TypeDaily, listActivity, q, sink, func(_ json.RawMessage, items []json.RawMessage) error {
		for _, it := range items {
			d, err := m.activityDay(it)
			if err != nil {
				if err := itemProblem(ctx, sink, model.TypeDaily, err, it); err != nil {
					return err
				}
				continue
			}
			if d.a.Date < first || d.a.Date > last {
				continue
			}
			days[d.a.Date] = d
		}
		return nil
	})
	if err != nil {
		return err
	}
	dates := make([]string, 0, len(days))
	for k := range days {
		dates = append(dates, k)
	}
	slices.Sort(dates)
	for _, k := range dates {
		d := days[k]
		samples, err := p.intradayOf(ctx, hc, m, d, sink)
		if err != nil {
			return err
		}
		rec, err := m.daily(d, samples)
		if err != nil {
			if err := itemProblem(ctx, sink, model.TypeDaily, err, d.raw); err != nil {
				return err
			}
			continue
		}
		if err := records(ctx, sink, []model.Record{rec}); err != nil {
			return err
		}
	}
	return nil
}

// intradayOf reads the intraday activity of one local day, in calls of at
// most 24 hours (Withings returns only the first 24 h of a longer range;
// a day with a DST change can be 25 h long). An answer that cannot be read
// is reported, and the day goes on without those samples.
func (p *Provider) intradayOf(ctx context.Context, hc *http.Client, m *mapper, d *dayDoc, sink source.Sink) ([]intradaySample, error) {
	var out []intradaySample
	for from := d.start; from.Before(d.end); {
		to := from.Add(day)
		if to.After(d.end) {
			to = d.end
		}
		q := url.Values{
			"startdate":   {unixParam(from)},
			"enddate":     {strconv.FormatInt(to.Unix()-1, 10)},
			"data_fields": {intradayDataFields},
		}
		body, err := p.call(ctx, hc, serviceMeasureV2, "getintradayactivity", q)
		var me *malformedError
		switch {
		case errors.As(err, &me):
			err = sink.Problem(ctx, model.Problem{Type: model.TypeDaily, Err: fmt.Sprintf("%v; the daily %s was stored without these intraday samples", me, d.a.Date), Raw: me.raw})
			if err != nil {
				return nil, err
			}
		case err != nil:
			return nil, fmt.Errorf("withings getintradayactivity %s: %w", d.a.Date, err)
		default:
			s, err := m.intraday(body)
			if err != nil {
				if err := sink.Problem(ctx, model.Problem{Type: model.TypeDaily, Err: fmt.Sprintf("%v; the daily %s was stored without these intraday samples", err, d.a.Date), Raw: body}); err != nil {
					return nil, err
				}
			}
			out = append(out, s...)
		}
		from = to
	}
	return out, nil
}
