package strava

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
	"github.com/wearbridge/wearbridge/internal/source"
)

// maxBadPages is how many undecodable list pages in a row end a pull with
// an error.
const maxBadPages = 3

// Pull fetches every activity that started in [start, end) and hands one
// record per activity to sink, in the order Strava lists them.
//
// The list is asked for a little wider than the window (after is start-1 s,
// before is end rounded up, whatever Strava does at the edges) and items
// are kept by their start_date. Pages are read (page=1, 2, ...) until an
// empty one. An activity listed twice (when one was added while paging)
// is mapped once. A page that cannot be decoded is a problem with its
// body and the next page is read; maxBadPages of them in a row are an
// error.
func (p *Provider) Pull(ctx context.Context, hc *http.Client, t model.DataType, start, end time.Time, sink source.Sink) error {
	if t != model.TypeActivity {
		return fmt.Errorf("strava does not pull %q", t)
	}
	if !end.After(start) {
		return nil
	}
	m := newMapper()
	err := p.pullActivities(ctx, hc, start, end, m, sink)
	if ferr := m.flush(ctx, sink); ferr != nil && err == nil {
		err = ferr
	}
	return err
}

func (p *Provider) pullActivities(ctx context.Context, hc *http.Client, start, end time.Time, m *mapper, sink source.Sink) error {
	before := end.Unix()
	if end.After(time.Unix(before, 0)) {
		before++
	}
	q := url.Values{
		"after":    {strconv.FormatInt(start.Unix()-1, 10)},
		"before":   {strconv.FormatInt(before, 10)},
		"per_page": {strconv.Itoa(p.cfg.PageSize)},
	}
	seen := make(map[int64]bool)
	bad := 0
	for page := 1; ; page++ {
		if page > p.cfg.MaxPages {
			return fmt.Errorf("strava activities: stopped after %d pages without an empty one; the rest of the range was not read", p.cfg.MaxPages)
		}
		q.Set("page", strconv.Itoa(page))
		p.log.DebugContext(ctx, "strava list activities", "page", page)
		body, err := p.get(ctx, hc, p.cfg.APIBase+"/athlete/activities?"+q.Encode())
		if err != nil {
			return fmt.Errorf("strava activities page %d: %w", page, err)
		}
		var items []json.RawMessage
		if err := json.Unmarshal(body, &items); err != nil || isNull(body) {
			if err == nil {
				err = fmt.Errorf("page is null")
			}
			bad++
			if perr := sink.Problem(ctx, model.Problem{Type: model.TypeActivity, Err: fmt.Sprintf("strava activities page %d: not a list of activities: %v; its activities were not read", page, err), Raw: body}); perr != nil {
				return perr
			}
			if bad >= maxBadPages {
				return fmt.Errorf("strava activities: %d pages in a row could not be decoded; the rest of the range was not read", bad)
			}
			continue
		}
		bad = 0
		if len(items) == 0 {
			return nil
		}
		for _, it := range items {
			if err := p.pullItem(ctx, hc, it, start, end, seen, m, sink); err != nil {
				return err
			}
		}
	}
}

// listHead is the part of a list item needed to pick it.
type listHead struct {
	ID        int64  `json:"id"`
	StartDate string `json:"start_date"`
}

// pullItem handles one list item: skipped when outside the window or
// already seen, mapped as it is in SummaryOnly mode, else fetched in full.
func (p *Provider) pullItem(ctx context.Context, hc *http.Client, it json.RawMessage, start, end time.Time, seen map[int64]bool, m *mapper, sink source.Sink) error {
	var h listHead
	if err := json.Unmarshal(it, &h); err != nil {
		return itemProblem(ctx, sink, fmt.Sprintf("strava activity list item: not an activity: %v", err), it)
	}
	if h.ID <= 0 {
		return itemProblem(ctx, sink, "strava activity list item: no id", it)
	}
	st, err := time.Parse(time.RFC3339Nano, h.StartDate)
	if err != nil {
		return itemProblem(ctx, sink, fmt.Sprintf("strava activity %d: bad start_date %q", h.ID, h.StartDate), it)
	}
	if st.Before(start) || !st.Before(end) || seen[h.ID] {
		return nil
	}
	seen[h.ID] = true
	f := fetched{activity: it}
	if !p.cfg.SummaryOnly {
		var ok bool
		f, ok, err = p.fetch(ctx, hc, strconv.FormatInt(h.ID, 10), m, sink)
		if err != nil || !ok {
			return err
		}
	}
	return p.mapAndStore(ctx, f, m, sink)
}

// FetchItem fetches one activity by its Strava id (as a push event names
// it) with its laps and streams, and hands the record to sink. An activity
// Strava no longer has (deleted, or private without activity:read_all) is
// a problem, not an error.
func (p *Provider) FetchItem(ctx context.Context, hc *http.Client, t model.DataType, id string, sink source.Sink) error {
	if t != model.TypeActivity && t != "" {
		return fmt.Errorf("strava has no %q items", t)
	}
	if n, err := strconv.ParseInt(id, 10, 64); err != nil || n <= 0 {
		return fmt.Errorf("strava activity id %q is not a positive integer", id)
	}
	m := newMapper()
	f, ok, err := p.fetch(ctx, hc, id, m, sink)
	if err == nil && ok {
		err = p.mapAndStore(ctx, f, m, sink)
	}
	if ferr := m.flush(ctx, sink); ferr != nil && err == nil {
		err = ferr
	}
	return err
}

// fetch gets an activity in full: the detailed activity, its laps when the
// detail has none, and its streams. ok is false when Strava does not have
// the activity (reported to sink). A laps or streams answer of 404 means
// the activity has none.
func (p *Provider) fetch(ctx context.Context, hc *http.Client, id string, m *mapper, sink source.Sink) (f fetched, ok bool, err error) {
	base := p.cfg.APIBase + "/activities/" + url.PathEscape(id)
	detail, err := p.get(ctx, hc, base)
	if isNotFound(err) {
		return f, false, itemProblem(ctx, sink, fmt.Sprintf("strava activity %s: not found (deleted, or private without activity:read_all): %v", id, err), nil)
	}
	if err != nil {
		return f, false, fmt.Errorf("strava activity %s: %w", id, err)
	}
	f.activity = detail
	var head struct {
		Laps *json.RawMessage `json:"laps"`
	}
	if err := json.Unmarshal(detail, &head); err != nil {
		return f, false, itemProblem(ctx, sink, fmt.Sprintf("strava activity %s: not an activity: %v", id, err), detail)
	}
	if head.Laps == nil {
		laps, err := p.get(ctx, hc, base+"/laps")
		switch {
		case isNotFound(err):
		case err != nil:
			return f, false, fmt.Errorf("strava activity %s laps: %w", id, err)
		default:
			f.laps = laps
		}
	}
	streams, err := p.get(ctx, hc, base+"/streams?"+streamsQuery())
	switch {
	case isNotFound(err):
	case err != nil:
		return f, false, fmt.Errorf("strava activity %s streams: %w", id, err)
	default:
		f.streams = streams
	}
	return f, true, nil
}

// mapAndStore maps one activity and hands it to sink, or reports it.
func (p *Provider) mapAndStore(ctx context.Context, f fetched, m *mapper, sink source.Sink) error {
	rec, err := m.activity(f)
	if err != nil {
		return itemProblem(ctx, sink, "strava "+err.Error(), f.activity)
	}
	if err := sink.Records(ctx, []model.Record{rec}); err != nil {
		return fmt.Errorf("store strava activity %s: %w", rec.Key, err)
	}
	return nil
}

// itemProblem reports an item that could not be used.
func itemProblem(ctx context.Context, sink source.Sink, msg string, raw []byte) error {
	return sink.Problem(ctx, model.Problem{Type: model.TypeActivity, Err: msg, Raw: raw})
}

// isNull reports whether body is the JSON null.
func isNull(body []byte) bool {
	var v any
	return json.Unmarshal(body, &v) == nil && v == nil
}
