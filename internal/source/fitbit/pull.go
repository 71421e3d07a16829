package fitbit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
	"github.com/wearbridge/wearbridge/internal/source"
)

// Range limits of Fitbit's date-range endpoints (dev.fitbit.com: "Get
// Sleep Log by Date Range", maximum 100 days; "Get Weight Log", "Get Body
// Fat Log", maximum 31 days), and how many records go to the sink at once.
const (
	sleepChunkDays = 100
	bodyChunkDays  = 31
	batchSize      = 64
)

// Pull fetches every Fitbit item feeding Terra type t in [start, end) and
// hands the records to sink. See the package comment for what feeds what.
//
// Fitbit files everything under the user's local calendar day, so the
// window becomes the local days it touches, from the day of start to the
// day of end (exclusive), in the zone of the user's profile. Day-range
// endpoints are asked for chunks of consecutive days that neither overlap
// nor leave gaps, and an item is kept only when its day is inside its
// chunk, so no item comes twice.
//
// A page that cannot be decoded is reported to sink with its raw body and
// the pull goes on with the next day or chunk; a day or chunk is then
// missing rather than emitted from part of its pages. An item that cannot
// be mapped is reported with its raw JSON and the rest still land.
func (p *Provider) Pull(ctx context.Context, hc *http.Client, t model.DataType, start, end time.Time, sink source.Sink) error {
	if !end.After(start) {
		return nil
	}
	switch t {
	case model.TypeActivity, model.TypeDaily, model.TypeSleep, model.TypeBody:
	default:
		return fmt.Errorf("fitbit does not pull %q", t)
	}
	z, err := p.userZone(ctx, hc, t, sink)
	if err != nil {
		return err
	}
	first := civilDay(start, z.loc)
	last := civilDay(end.Add(-time.Nanosecond), z.loc)
	m := newMapper(z)
	b := &batch{sink: sink}
	switch t {
	case model.TypeDaily:
		err = p.pullDaily(ctx, hc, first, last, m, b)
	case model.TypeActivity:
		err = p.pullActivity(ctx, hc, first, last, m, b)
	case model.TypeSleep:
		err = p.pullSleep(ctx, hc, first, last, m, b)
	case model.TypeBody:
		err = p.pullBody(ctx, hc, first, last, m, b)
	}
	// What was read before an error is kept.
	if ferr := b.flush(ctx); ferr != nil && err == nil {
		err = ferr
	}
	if ferr := m.flush(ctx, sink); ferr != nil && err == nil {
		err = ferr
	}
	return err
}

// userZone reads the user's zone from the profile. A profile that has no
// zone, or that Fitbit refuses to show (the user did not grant the profile
// scope), is reported and the local times are then read as UTC.
func (p *Provider) userZone(ctx context.Context, hc *http.Client, t model.DataType, sink source.Sink) (zone, error) {
	prof, err := p.profile(ctx, hc)
	var apiErr *APIError
	switch {
	case errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusForbidden:
		return zone{loc: time.UTC}, sink.Problem(ctx, model.Problem{Type: t,
			Err: fmt.Sprintf("%v; without the profile scope Fitbit's local times are read as UTC", err)})
	case err != nil:
		return zone{}, err
	}
	z, ok := zoneFromProfile(prof)
	if !ok {
		return z, sink.Problem(ctx, model.Problem{Type: t,
			Err: "fitbit profile has no timezone or offsetFromUTCMillis; Fitbit's local times are read as UTC"})
	}
	return z, nil
}

// batch gathers records and hands them to the sink in batches.
type batch struct {
	sink source.Sink
	recs []model.Record
}

func (b *batch) add(ctx context.Context, rec model.Record) error {
	b.recs = append(b.recs, rec)
	if len(b.recs) >= batchSize {
		return b.flush(ctx)
	}
	return nil
}

func (b *batch) flush(ctx context.Context) error {
	if len(b.recs) == 0 {
		return nil
	}
	recs := b.recs
	b.recs = nil
	if err := b.sink.Records(ctx, recs); err != nil {
		return fmt.Errorf("store fitbit records: %w", err)
	}
	return nil
}

// pageProblem reports a page that could not be decoded.
func pageProblem(ctx context.Context, sink source.Sink, t model.DataType, what string, err error, body []byte, skipped string) error {
	return sink.Problem(ctx, model.Problem{Type: t, Err: fmt.Sprintf("fitbit %s: cannot decode the page: %v; %s", what, err, skipped), Raw: body})
}

// itemProblem reports an item that could not be mapped.
func itemProblem(ctx context.Context, sink source.Sink, t model.DataType, err error, raw []byte) error {
	return sink.Problem(ctx, model.Problem{Type: t, Err: err.Error(), Raw: raw})
}

// forbidden reports whether err is Fitbit's 403.
func forbidden(err error) bool {
	var apiErr *APIError
	return errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusForbidden
}

func (p *Provider) pullDaily(ctx context.Context, hc *http.Client, first, last time.Time, m *mapper, b *batch) error {
	intraday := !p.cfg.SkipIntraday
	for d := first; !d.After(last); d = d.AddDate(0, 0, 1) {
		day := d.Format(dayLayout)
		what := "activities/date/" + day
		body, err := p.get(ctx, hc, "/1/user/-/"+what+".json")
		if err != nil {
			return fmt.Errorf("fitbit %s: %w", what, err)
		}
		act, err := decodeActivitiesDay(body)
		if err != nil {
			if err := pageProblem(ctx, b.sink, model.TypeDaily, what, err, body, "the day was skipped"); err != nil {
				return err
			}
			continue
		}
		parts := dayParts{act: act, actRaw: body}
		if intraday {
			ok, err := p.intraday(ctx, hc, day, &parts, b.sink)
			switch {
			case forbidden(err):
				// No intraday access: say so once, and go on without.
				intraday = false
				parts.heart, parts.steps, parts.heartRaw, parts.stepsRaw = nil, nil, nil, nil
				if err := b.sink.Problem(ctx, model.Problem{Type: model.TypeDaily,
					Err: fmt.Sprintf("%v; Fitbit refused intraday data, so dailies of this pull have no heart rate or step samples (set SkipIntraday if the app has no intraday access)", err)}); err != nil {
					return err
				}
			case err != nil:
				return err
			case !ok:
				continue
			}
		}
		rec, measured, err := m.daily(day, parts)
		if err != nil {
			if err := itemProblem(ctx, b.sink, model.TypeDaily, fmt.Errorf("fitbit daily %s: %w", day, err), parts.raw()); err != nil {
				return err
			}
			continue
		}
		if !measured {
			continue
		}
		if err := b.add(ctx, rec); err != nil {
			return err
		}
	}
	return nil
}

// intraday fetches the day's intraday heart rate and steps into parts. ok
// is false when a page could not be decoded (it was reported and the day
// is to be skipped).
func (p *Provider) intraday(ctx context.Context, hc *http.Client, day string, parts *dayParts, sink source.Sink) (ok bool, err error) {
	for _, res := range []string{"heart", "steps"} {
		what := "activities/" + res + "/date/" + day + "/1d/1min"
		body, err := p.get(ctx, hc, "/1/user/-/"+what+".json")
		if err != nil {
			return false, fmt.Errorf("fitbit %s: %w", what, err)
		}
		var derr error
		if res == "heart" {
			parts.heart, derr = decodeHeartDay(body)
			parts.heartRaw = body
		} else {
			parts.steps, derr = decodeStepsDay(body)
			parts.stepsRaw = body
		}
		if derr != nil {
			return false, pageProblem(ctx, sink, model.TypeDaily, what, derr, body, "the day was skipped")
		}
	}
	return true, nil
}

func (p *Provider) pullActivity(ctx context.Context, hc *http.Client, first, last time.Time, m *mapper, b *batch) error {
	for d := first; !d.After(last); d = d.AddDate(0, 0, 1) {
		day := d.Format(dayLayout)
		what := "activities/date/" + day
		body, err := p.get(ctx, hc, "/1/user/-/"+what+".json")
		if err != nil {
			return fmt.Errorf("fitbit %s: %w", what, err)
		}
		act, err := decodeActivitiesDay(body)
		if err != nil {
			if err := pageProblem(ctx, b.sink, model.TypeActivity, what, err, body, "the day's activities were skipped"); err != nil {
				return err
			}
			continue
		}
		named := make(map[string]int)
		for _, it := range act.Activities {
			var h struct {
				Name string `json:"name"`
			}
			if json.Unmarshal(it, &h) == nil && h.Name != "" {
				named[h.Name]++
			}
		}
		dists := act.Summary.distances()
		for _, it := range act.Activities {
			rec, err := m.activity(it, dists, named)
			if err != nil {
				if err := itemProblem(ctx, b.sink, model.TypeActivity, err, it); err != nil {
					return err
				}
				continue
			}
			if err := b.add(ctx, rec); err != nil {
				return err
			}
		}
	}
	return nil
}

// chunks splits the days [first, last] into runs of at most n days.
func chunks(first, last time.Time, n int) [][2]time.Time {
	var out [][2]time.Time
	for f := first; !f.After(last); f = f.AddDate(0, 0, n) {
		l := f.AddDate(0, 0, n-1)
		if l.After(last) {
			l = last
		}
		out = append(out, [2]time.Time{f, l})
	}
	return out
}

// inChunk reports whether day (YYYY-MM-DD) is inside c.
func inChunk(day string, c [2]time.Time) bool {
	return day >= c[0].Format(dayLayout) && day <= c[1].Format(dayLayout)
}

func (p *Provider) pullSleep(ctx context.Context, hc *http.Client, first, last time.Time, m *mapper, b *batch) error {
	for _, c := range chunks(first, last, sleepChunkDays) {
		what := "sleep/date/" + c[0].Format(dayLayout) + "/" + c[1].Format(dayLayout)
		body, err := p.get(ctx, hc, "/1.2/user/-/"+what+".json")
		if err != nil {
			return fmt.Errorf("fitbit %s: %w", what, err)
		}
		var page struct {
			Sleep *[]json.RawMessage `json:"sleep"`
		}
		if err := json.Unmarshal(body, &page); err != nil || page.Sleep == nil {
			if err == nil {
				err = errors.New("no sleep list")
			}
			if err := pageProblem(ctx, b.sink, model.TypeSleep, what, err, body, "these days were skipped"); err != nil {
				return err
			}
			continue
		}
		for _, it := range *page.Sleep {
			var h struct {
				DateOfSleep string `json:"dateOfSleep"`
			}
			if json.Unmarshal(it, &h) == nil && h.DateOfSleep != "" && !inChunk(h.DateOfSleep, c) {
				continue
			}
			rec, err := m.sleep(it)
			if err != nil {
				if err := itemProblem(ctx, b.sink, model.TypeSleep, err, it); err != nil {
					return err
				}
				continue
			}
			if err := b.add(ctx, rec); err != nil {
				return err
			}
		}
	}
	return nil
}

// bodyHead is what the body pull reads of a weight or fat log before
// mapping it.
type bodyHead struct {
	LogID json.Number `json:"logId"`
	Date  string      `json:"date"`
}

func (p *Provider) pullBody(ctx context.Context, hc *http.Client, first, last time.Time, m *mapper, b *batch) error {
	for _, c := range chunks(first, last, bodyChunkDays) {
		dates := c[0].Format(dayLayout) + "/" + c[1].Format(dayLayout)
		lists := make(map[string][]json.RawMessage, 2)
		bad := false
		for _, kind := range []string{"weight", "fat"} {
			what := "body/log/" + kind + "/date/" + dates
			body, err := p.get(ctx, hc, "/1/user/-/"+what+".json")
			if err != nil {
				return fmt.Errorf("fitbit %s: %w", what, err)
			}
			var page map[string]*[]json.RawMessage
			if err := json.Unmarshal(body, &page); err != nil || page[kind] == nil {
				if err == nil {
					err = fmt.Errorf("no %s list", kind)
				}
				if err := pageProblem(ctx, b.sink, model.TypeBody, what, err, body, "these days were skipped"); err != nil {
					return err
				}
				bad = true
				continue
			}
			lists[kind] = *page[kind]
		}
		if bad {
			// A weigh-in is not emitted from half its logs.
			continue
		}
		var order []string
		logs := make(map[string]*bodyLogs)
		for _, kind := range []string{"weight", "fat"} {
			for _, it := range lists[kind] {
				var h bodyHead
				if err := json.Unmarshal(it, &h); err != nil {
					if err := itemProblem(ctx, b.sink, model.TypeBody, fmt.Errorf("decode %s log: %w", kind, err), it); err != nil {
						return err
					}
					continue
				}
				id, err := logID(h.LogID)
				if err != nil {
					if err := itemProblem(ctx, b.sink, model.TypeBody, fmt.Errorf("%s log: %w", kind, err), it); err != nil {
						return err
					}
					continue
				}
				if h.Date != "" && !inChunk(h.Date, c) {
					continue
				}
				l := logs[id]
				if l == nil {
					l = &bodyLogs{}
					logs[id] = l
					order = append(order, id)
				}
				if kind == "weight" {
					l.weight = it
				} else {
					l.fat = it
				}
			}
		}
		for _, id := range order {
			rec, err := m.body(*logs[id])
			if err != nil {
				if err := itemProblem(ctx, b.sink, model.TypeBody, err, logs[id].raw()); err != nil {
					return err
				}
				continue
			}
			if err := b.add(ctx, rec); err != nil {
				return err
			}
		}
	}
	return nil
}
