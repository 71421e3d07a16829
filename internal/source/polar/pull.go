package polar

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
	"github.com/wearbridge/wearbridge/internal/source"
)

// Offsets span -12:00 .. +14:00, so the local dates an instant falls on
// lie between its UTC date shifted by these.
const (
	westmost = 12 * time.Hour
	eastmost = 14 * time.Hour
)

// window is a pull's [start, end) and the Polar dates it covers.
type window struct {
	start, end time.Time
	// first and last are the midnights (UTC) of the first and last Polar
	// date some instant of the window falls on in some UTC offset: a
	// Polar date is a local date and its offset is not known up front.
	first, last time.Time
	// firstAsked is first, or the oldest date AccessLink still keeps when
	// that is later: per-date requests start there.
	firstAsked time.Time
}

func (p *Provider) newWindow(start, end time.Time) window {
	w := window{
		start: start,
		end:   end,
		first: start.UTC().Add(-westmost).Truncate(day),
		last:  end.UTC().Add(-time.Nanosecond).Add(eastmost).Truncate(day),
	}
	w.firstAsked = w.first
	if p.cfg.HistoryLimit > 0 {
		if oldest := p.cfg.Now().UTC().Add(-p.cfg.HistoryLimit).Truncate(day); oldest.After(w.firstAsked) {
			w.firstAsked = oldest
		}
	}
	return w
}

// hasDate reports whether the Polar date d belongs to the window.
func (w window) hasDate(d string) bool {
	t, err := parseDay(d)
	return err == nil && !t.Before(w.first) && !t.After(w.last)
}

// askedDates lists the dates to request one by one, oldest first.
func (w window) askedDates() []string {
	var out []string
	for d := w.firstAsked; !d.After(w.last); d = d.Add(day) {
		out = append(out, d.Format(dayLayout))
	}
	return out
}

// Pull fetches every Polar document feeding Terra type t in [start, end)
// and hands the records to sink. See the package comment for what feeds
// what.
//
//   - activity: the exercises whose start lies in [start, end).
//   - sleep: the nights whose Polar date belongs to the window (any date
//     some instant of the window falls on locally), each with its Nightly
//     Recharge.
//   - daily: continuous heart rate for every date of the window no older
//     than Config.HistoryLimit, then every activity summary AccessLink
//     offers in activity transactions. A transaction holds whatever is new
//     since the last commit, whatever the window; it is committed only
//     after sink stored all of it, so a failed pull leaves it to expire
//     after ten minutes and Polar offers the data again.
//
// AccessLink lists have no paging: each list is the whole history it
// keeps. A list that cannot be decoded is reported to sink with its body.
func (p *Provider) Pull(ctx context.Context, hc *http.Client, t model.DataType, start, end time.Time, sink source.Sink) error {
	if !end.After(start) {
		return nil
	}
	w := p.newWindow(start, end)
	m := newMapper()
	var err error
	switch t {
	case model.TypeActivity:
		err = p.pullActivity(ctx, hc, w, m, sink)
	case model.TypeSleep:
		err = p.pullSleep(ctx, hc, w, m, sink)
	case model.TypeDaily:
		err = p.pullDaily(ctx, hc, w, m, sink)
	default:
		return fmt.Errorf("polar does not pull %q", t)
	}
	if ferr := m.flush(ctx, sink); ferr != nil && err == nil {
		err = ferr
	}
	return err
}

// itemProblem reports an item that could not be used.
func itemProblem(ctx context.Context, sink source.Sink, t model.DataType, err error, raw []byte) error {
	return sink.Problem(ctx, model.Problem{Type: t, Err: err.Error(), Raw: raw})
}

// records hands a non-empty batch to sink.
func records(ctx context.Context, sink source.Sink, recs ...model.Record) error {
	if len(recs) == 0 {
		return nil
	}
	if err := sink.Records(ctx, recs); err != nil {
		return fmt.Errorf("store polar records: %w", err)
	}
	return nil
}

// exerciseQuery asks for everything an exercise can carry.
var exerciseQuery = url.Values{"samples": {"true"}, "zones": {"true"}, "route": {"true"}}.Encode()

func (p *Provider) exerciseURL(id string) string {
	return p.cfg.APIBase + "/v3/exercises/" + url.PathEscape(id) + "?" + exerciseQuery
}

// pullActivity lists the exercises and reads each one of the window with
// its samples, zones and route. An exercise that is gone by the time it is
// read (404) is mapped from its list item.
func (p *Provider) pullActivity(ctx context.Context, hc *http.Client, w window, m *mapper, sink source.Sink) error {
	ud := p.userData(hc, model.TypeActivity, sink)
	items, err := ud.loadExercises(ctx)
	if err != nil {
		return err
	}
	for _, it := range items {
		var h exerciseHead
		if err := json.Unmarshal(it, &h); err != nil {
			if err := itemProblem(ctx, sink, model.TypeActivity, fmt.Errorf("decode exercise: %w", err), it); err != nil {
				return err
			}
			continue
		}
		st, err := h.start()
		if err != nil || h.ID == "" {
			if err == nil {
				err = errors.New("exercise has no id")
			}
			if err := itemProblem(ctx, sink, model.TypeActivity, fmt.Errorf("exercise %s: %w", h.ID, err), it); err != nil {
				return err
			}
			continue
		}
		if st.Before(w.start) || !st.Before(w.end) {
			continue
		}
		raw := it
		resp, err := p.get(ctx, hc, p.exerciseURL(h.ID), http.StatusNotFound)
		if err != nil {
			return fmt.Errorf("polar exercise %s: %w", h.ID, err)
		}
		if resp.status == http.StatusOK {
			raw = resp.body
		}
		if err := p.storeExercise(ctx, m, sink, raw); err != nil {
			return err
		}
	}
	return nil
}

// storeExercise maps one exercise and stores it, or reports it.
func (p *Provider) storeExercise(ctx context.Context, m *mapper, sink source.Sink, raw []byte) error {
	rec, err := m.exercise(raw)
	if err != nil {
		return itemProblem(ctx, sink, model.TypeActivity, err, raw)
	}
	return records(ctx, sink, rec)
}

// FetchItem reads one exercise by its hashed id, as an EXERCISE webhook
// names it. An exercise Polar no longer has (404) is reported to sink.
func (p *Provider) FetchItem(ctx context.Context, hc *http.Client, t model.DataType, id string, sink source.Sink) error {
	if t != model.TypeActivity {
		return fmt.Errorf("polar fetches single items of activity only, not %q", t)
	}
	if id == "" {
		return errors.New("polar exercise: empty id")
	}
	resp, err := p.get(ctx, hc, p.exerciseURL(id), http.StatusNotFound)
	if err != nil {
		return fmt.Errorf("polar exercise %s: %w", id, err)
	}
	if resp.status == http.StatusNotFound {
		return sink.Problem(ctx, model.Problem{Type: t, Err: fmt.Sprintf("polar exercise %s: not found (older than 30 days, deleted, or uploaded before the user was registered)", id), Raw: resp.body})
	}
	m := newMapper()
	if err := p.storeExercise(ctx, m, sink, resp.body); err != nil {
		return err
	}
	return m.flush(ctx, sink)
}

// pullSleep joins the sleep list with the Nightly Recharge list by date.
// A recharge of the window without a night is reported: Polar makes one
// only from a night's sleep, and a Sleep needs the night's times.
func (p *Provider) pullSleep(ctx context.Context, hc *http.Client, w window, m *mapper, sink source.Sink) error {
	ud := p.userData(hc, model.TypeSleep, sink)
	nights, err := ud.loadNights(ctx)
	if err != nil {
		return err
	}
	recharges, err := p.list(ctx, hc, sink, model.TypeSleep, "/v3/users/nightly-recharge", "recharges")
	if err != nil {
		return err
	}
	byDate := make(map[string]json.RawMessage, len(recharges))
	for _, r := range recharges {
		var h dateHead
		if err := json.Unmarshal(r, &h); err != nil || h.Date == "" {
			if err == nil {
				err = errors.New("no date")
			}
			if err := itemProblem(ctx, sink, model.TypeSleep, fmt.Errorf("decode nightly recharge: %w", err), r); err != nil {
				return err
			}
			continue
		}
		if w.hasDate(h.Date) {
			byDate[h.Date] = r
		}
	}
	var recs []model.Record
	for _, n := range nights {
		var h dateHead
		if err := json.Unmarshal(n, &h); err != nil {
			if err := itemProblem(ctx, sink, model.TypeSleep, fmt.Errorf("decode sleep: %w", err), n); err != nil {
				return err
			}
			continue
		}
		if !w.hasDate(h.Date) {
			continue
		}
		rc := byDate[h.Date]
		delete(byDate, h.Date)
		rec, err := m.sleep(n, rc)
		if err != nil && rc != nil {
			// The night alone may still map; the recharge is reported.
			if perr := itemProblem(ctx, sink, model.TypeSleep, err, rc); perr != nil {
				return perr
			}
			rec, err = m.sleep(n, nil)
		}
		if err != nil {
			if err := itemProblem(ctx, sink, model.TypeSleep, err, n); err != nil {
				return err
			}
			continue
		}
		recs = append(recs, rec)
	}
	for date, rc := range byDate {
		if err := itemProblem(ctx, sink, model.TypeSleep, fmt.Errorf("polar nightly recharge %s: no sleep of that date to join it to", date), rc); err != nil {
			return err
		}
	}
	return records(ctx, sink, recs...)
}

// pullDaily reads continuous heart rate date by date, then drains the
// activity transactions.
func (p *Provider) pullDaily(ctx context.Context, hc *http.Client, w window, m *mapper, sink source.Sink) error {
	ud := p.userData(hc, model.TypeDaily, sink)
	for _, date := range w.askedDates() {
		if err := p.pullHeartRateDay(ctx, hc, ud, date, m, sink); err != nil {
			return err
		}
	}
	uid, err := ud.polarUserID(ctx)
	if err != nil {
		return err
	}
	if uid == "" {
		return sink.Problem(ctx, model.Problem{Type: model.TypeDaily, Err: "polar activity summaries not read: the Polar user id is unknown (the user has no sleep, exercise or heart-rate data to read it from)"})
	}
	return p.drainActivity(ctx, hc, ud, uid, m, sink)
}

// pullHeartRateDay reads and stores one date of continuous heart rate;
// 404 is a date without data.
func (p *Provider) pullHeartRateDay(ctx context.Context, hc *http.Client, ud *userData, date string, m *mapper, sink source.Sink) error {
	resp, err := p.get(ctx, hc, p.cfg.APIBase+"/v3/users/continuous-heart-rate/"+date, http.StatusNotFound)
	if err != nil {
		return fmt.Errorf("polar continuous heart rate %s: %w", date, err)
	}
	if resp.status != http.StatusOK || len(resp.body) == 0 {
		return nil
	}
	var c continuousHR
	if err := json.Unmarshal(resp.body, &c); err != nil {
		return itemProblem(ctx, sink, model.TypeDaily, fmt.Errorf("polar continuous heart rate %s: decode: %w", date, err), resp.body)
	}
	ud.see(c.PolarUser)
	if len(c.HeartRateSamples) == 0 {
		return nil
	}
	if c.Date != date {
		return itemProblem(ctx, sink, model.TypeDaily, fmt.Errorf("polar continuous heart rate %s: answer is for date %q", date, c.Date), resp.body)
	}
	off, ok, err := ud.offsetFor(ctx, date)
	if err != nil {
		return err
	}
	if !ok {
		return itemProblem(ctx, sink, model.TypeDaily, fmt.Errorf("polar continuous heart rate %s: no UTC offset known for the user (no sleep or exercise to take it from), so its local times cannot be placed", date), resp.body)
	}
	rec, err := m.heartRateDay(resp.body, off)
	if err != nil {
		return itemProblem(ctx, sink, model.TypeDaily, err, resp.body)
	}
	return records(ctx, sink, rec)
}
