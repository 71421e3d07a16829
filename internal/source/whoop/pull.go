package whoop

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
	"github.com/wearbridge/wearbridge/internal/source"
)

// The collections (paths relative to APIBase).
const (
	pathCycle    = "/v2/cycle"
	pathRecovery = "/v2/recovery"
	pathSleep    = "/v2/activity/sleep"
	pathWorkout  = "/v2/activity/workout"
	pathBody     = "/v2/user/measurement/body"
)

// joinPad widens the recovery and cycle queries that feed a join, on each
// side of the pull window. WHOOP files a recovery under the start of its
// sleep, which is the start of its cycle, and a nap under a cycle that
// began before it; a day either side finds them for every item at the
// window's edges.
const joinPad = 24 * time.Hour

// Pull fetches every WHOOP item feeding Terra type t in [start, end) and
// hands the records to sink. WHOOP's collection filters return the items
// that intersect the window, so an item across an edge comes out in both
// neighbouring windows, under the same key.
//
// Pull returns an error wrapping ErrIncomplete when some collection could
// not be read to its end (the reason was given to sink.Problem); the
// records read were kept.
func (p *Provider) Pull(ctx context.Context, hc *http.Client, t model.DataType, start, end time.Time, sink source.Sink) error {
	if !end.After(start) {
		return nil
	}
	m := newMapper()
	var complete bool
	var err error
	switch t {
	case model.TypeDaily:
		complete, err = p.pullDaily(ctx, hc, start, end, m, sink)
	case model.TypeSleep:
		complete, err = p.pullSleep(ctx, hc, start, end, m, sink)
	case model.TypeActivity:
		complete, err = p.pullActivity(ctx, hc, start, end, m, sink)
	case model.TypeBody:
		complete, err = p.pullBody(ctx, hc, start, end, m, sink)
	default:
		return fmt.Errorf("whoop does not pull %q", t)
	}
	if ferr := m.flush(ctx, sink); ferr != nil && err == nil {
		err = ferr
	}
	if err == nil && !complete {
		err = fmt.Errorf("whoop %s pull: %w", t, ErrIncomplete)
	}
	return err
}

// itemProblem reports an item that could not be used.
func itemProblem(ctx context.Context, sink source.Sink, t model.DataType, err error, raw []byte) error {
	return sink.Problem(ctx, model.Problem{Type: t, Err: "whoop: " + err.Error(), Raw: raw})
}

// records hands a non-empty batch to sink.
func records(ctx context.Context, sink source.Sink, recs []model.Record) error {
	if len(recs) == 0 {
		return nil
	}
	if err := sink.Records(ctx, recs); err != nil {
		return fmt.Errorf("store whoop records: %w", err)
	}
	return nil
}

// recoveries reads the recoveries of [start, end) padded by joinPad and
// indexes them with key (by cycle id or by sleep id). A recovery that
// cannot be decoded, or a second one for the same key, is a problem of
// type t.
func (p *Provider) recoveries(ctx context.Context, hc *http.Client, t model.DataType, start, end time.Time, sink source.Sink, key func(*recoveryItem) string) (map[string]*recoveryItem, bool, error) {
	out := make(map[string]*recoveryItem)
	complete, err := p.eachPage(ctx, hc, t, pathRecovery, windowQuery(start.Add(-joinPad), end.Add(joinPad)), sink, func(items []json.RawMessage) error {
		for _, it := range items {
			r, err := decodeRecovery(it)
			if err != nil {
				if err := itemProblem(ctx, sink, t, err, it); err != nil {
					return err
				}
				continue
			}
			k := key(r)
			if k == "" {
				continue // a recovery without a sleep id joins no sleep
			}
			if _, dup := out[k]; dup {
				if err := itemProblem(ctx, sink, t, fmt.Errorf("a second recovery for %s; the first was kept", k), it); err != nil {
					return err
				}
				continue
			}
			out[k] = r
		}
		return nil
	})
	return out, complete, err
}

func (p *Provider) pullDaily(ctx context.Context, hc *http.Client, start, end time.Time, m *mapper, sink source.Sink) (bool, error) {
	byCycle, okR, err := p.recoveries(ctx, hc, model.TypeDaily, start, end, sink, func(r *recoveryItem) string { return string(r.doc.CycleID) })
	if err != nil {
		return false, err
	}
	okC, err := p.eachPage(ctx, hc, model.TypeDaily, pathCycle, windowQuery(start, end), sink, func(items []json.RawMessage) error {
		recs := make([]model.Record, 0, len(items))
		for _, it := range items {
			var head struct {
				ID flexID `json:"id"`
			}
			_ = json.Unmarshal(it, &head) // a bad item fails in m.daily with the reason
			rec, err := m.daily(it, byCycle[string(head.ID)])
			if err != nil {
				if err := itemProblem(ctx, sink, model.TypeDaily, err, it); err != nil {
					return err
				}
				continue
			}
			recs = append(recs, rec)
		}
		return records(ctx, sink, recs)
	})
	return okR && okC, err
}

func (p *Provider) pullSleep(ctx context.Context, hc *http.Client, start, end time.Time, m *mapper, sink source.Sink) (bool, error) {
	bySleep, okR, err := p.recoveries(ctx, hc, model.TypeSleep, start, end, sink, func(r *recoveryItem) string { return r.doc.SleepID })
	if err != nil {
		return false, err
	}
	// The days of the cycles the sleeps belong to. A cycle that cannot be
	// read is reported by the daily pull; here its sleeps fall back to
	// their own start date.
	days := make(map[flexID]string)
	okC, err := p.eachPage(ctx, hc, model.TypeSleep, pathCycle, windowQuery(start.Add(-joinPad), end), sink, func(items []json.RawMessage) error {
		for _, it := range items {
			if id, day, err := cycleDay(it); err == nil {
				days[id] = day
			}
		}
		return nil
	})
	if err != nil {
		return false, err
	}
	okS, err := p.eachPage(ctx, hc, model.TypeSleep, pathSleep, windowQuery(start, end), sink, func(items []json.RawMessage) error {
		recs := make([]model.Record, 0, len(items))
		for _, it := range items {
			var head sleepHead
			_ = json.Unmarshal(it, &head) // a bad item fails in m.sleep with the reason
			rec, err := m.sleep(it, days[head.CycleID], bySleep[head.ID])
			if err != nil {
				if err := itemProblem(ctx, sink, model.TypeSleep, err, it); err != nil {
					return err
				}
				continue
			}
			recs = append(recs, rec)
		}
		return records(ctx, sink, recs)
	})
	return okR && okC && okS, err
}

func (p *Provider) pullActivity(ctx context.Context, hc *http.Client, start, end time.Time, m *mapper, sink source.Sink) (bool, error) {
	return p.eachPage(ctx, hc, model.TypeActivity, pathWorkout, windowQuery(start, end), sink, func(items []json.RawMessage) error {
		recs := make([]model.Record, 0, len(items))
		for _, it := range items {
			rec, err := m.workout(it)
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
}

// pullBody reads the body measurement when the window reaches today (UTC):
// WHOOP keeps only the current value, which cannot be filed under a past
// day. A 404 means the user has no measurement.
func (p *Provider) pullBody(ctx context.Context, hc *http.Client, start, end time.Time, m *mapper, sink source.Sink) (bool, error) {
	now := p.cfg.Now()
	dayStart, dayEnd := dayBounds(now)
	if !end.After(dayStart) || !start.Before(dayEnd) {
		return true, nil
	}
	body, err := p.get(ctx, hc, p.cfg.APIBase+pathBody)
	if isNotFound(err) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("whoop %s: %w", pathBody, err)
	}
	if !isObject(body) {
		return false, sink.Problem(ctx, model.Problem{Type: model.TypeBody, Err: "whoop " + pathBody + ": not a JSON object", Raw: body})
	}
	rec, err := m.body(body, now)
	if err != nil {
		return true, itemProblem(ctx, sink, model.TypeBody, err, body)
	}
	return true, records(ctx, sink, []model.Record{rec})
}
