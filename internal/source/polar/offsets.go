package polar

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
	"github.com/wearbridge/wearbridge/internal/source"
)

// userData reads, at most once per pull, the user's lists that other
// reads need: the sleep list and the exercise list. They give
//
//   - the UTC offset of a date, for Polar's zone-less continuous heart
//     rate and activity summaries: the offset at the end of the sleep
//     filed under that date (the wake-up offset, in force for the rest of
//     the day); else the offset of an exercise started on that date; else
//     the offset of the sleep or exercise nearest to that date (AccessLink
//     keeps about 30 days of both, so it is recent).
//   - the Polar user id, which the activity-transaction paths need and
//     which the core does not hand to Pull: it is read from the
//     "polar_user" link of the user's own documents.
type userData struct {
	p    *Provider
	hc   *http.Client
	sink source.Sink
	t    model.DataType

	nights, exercises         []json.RawMessage
	haveNights, haveExercises bool
	candidates                []offsetCandidate
	// listUserID is the user id read from the sleep or exercise list,
	// seenUserID one read from another document of the pull.
	listUserID, seenUserID string
}

// offsetCandidate is a date whose offset is known.
type offsetCandidate struct {
	date    time.Time // midnight UTC of the Polar date
	seconds int
	from    string
}

func (p *Provider) userData(hc *http.Client, t model.DataType, sink source.Sink) *userData {
	return &userData{p: p, hc: hc, sink: sink, t: t}
}

// loadNights returns the sleep list (GET /v3/users/sleep, the last 28
// days). A list that cannot be decoded is reported to sink and read as
// empty.
func (u *userData) loadNights(ctx context.Context) ([]json.RawMessage, error) {
	if u.haveNights {
		return u.nights, nil
	}
	items, err := u.p.list(ctx, u.hc, u.sink, u.t, "/v3/users/sleep", "nights")
	if err != nil {
		return nil, err
	}
	u.haveNights, u.nights = true, items
	for _, raw := range items {
		var n night
		if json.Unmarshal(raw, &n) != nil {
			continue
		}
		u.listUserID = cmp.Or(u.listUserID, polarUserID(n.PolarUser))
		d, err1 := parseDay(n.Date)
		end, err2 := time.Parse(time.RFC3339Nano, n.SleepEndTime)
		if err1 != nil || err2 != nil {
			continue
		}
		_, off := end.Zone()
		u.candidates = append(u.candidates, offsetCandidate{date: d, seconds: off, from: "sleep " + n.Date})
	}
	return items, nil
}

// loadExercises returns the exercise list (GET /v3/exercises, the last 30
// days, without samples).
func (u *userData) loadExercises(ctx context.Context) ([]json.RawMessage, error) {
	if u.haveExercises {
		return u.exercises, nil
	}
	items, err := u.p.list(ctx, u.hc, u.sink, u.t, "/v3/exercises", "")
	if err != nil {
		return nil, err
	}
	u.haveExercises, u.exercises = true, items
	for _, raw := range items {
		var h exerciseHead
		if json.Unmarshal(raw, &h) != nil {
			continue
		}
		u.listUserID = cmp.Or(u.listUserID, polarUserID(h.PolarUser))
		start, err := h.start()
		if err != nil {
			continue
		}
		_, off := start.Zone()
		d, _ := parseDay(start.Format(dayLayout))
		u.candidates = append(u.candidates, offsetCandidate{date: d, seconds: off, from: "exercise " + h.ID})
	}
	return items, nil
}

// offsetFor returns the UTC offset to read the Polar date in; ok is false
// when the user has no sleep or exercise to take it from.
func (u *userData) offsetFor(ctx context.Context, date string) (off dayOffset, ok bool, err error) {
	d, err := parseDay(date)
	if err != nil {
		return off, false, err
	}
	if _, err := u.loadNights(ctx); err != nil {
		return off, false, err
	}
	if c, found := u.nearest(d, true); found {
		return dayOffset{seconds: c.seconds, from: c.from}, true, nil
	}
	if _, err := u.loadExercises(ctx); err != nil {
		return off, false, err
	}
	if c, found := u.nearest(d, false); found {
		return dayOffset{seconds: c.seconds, from: c.from}, true, nil
	}
	return off, false, nil
}

// nearest returns the candidate closest to d (the first on a tie, so
// sleeps win over exercises); with sameDay only one dated d.
func (u *userData) nearest(d time.Time, sameDay bool) (offsetCandidate, bool) {
	var best offsetCandidate
	bestDist := time.Duration(-1)
	for _, c := range u.candidates {
		dist := c.date.Sub(d).Abs()
		if sameDay && dist != 0 {
			continue
		}
		if bestDist < 0 || dist < bestDist {
			best, bestDist = c, dist
		}
	}
	return best, bestDist >= 0
}

// see notes the Polar user id of a "polar_user" link of a document read
// in this pull.
func (u *userData) see(link string) {
	u.seenUserID = cmp.Or(u.seenUserID, polarUserID(link))
}

// polarUserID returns the Polar user id: from the sleep list, else from
// the exercise list, else from another document of this pull; "" when the
// user has none of them.
func (u *userData) polarUserID(ctx context.Context) (string, error) {
	if _, err := u.loadNights(ctx); err != nil {
		return "", err
	}
	if u.listUserID != "" {
		return u.listUserID, nil
	}
	if _, err := u.loadExercises(ctx); err != nil {
		return "", err
	}
	return cmp.Or(u.listUserID, u.seenUserID), nil
}

// polarUserID reads the user id from a "polar_user" link
// (".../v3/users/627139"); "" when it is not one.
func polarUserID(link string) string {
	_, rest, ok := strings.Cut(link, "/v3/users/")
	if !ok {
		return ""
	}
	rest, _, _ = strings.Cut(rest, "/")
	return rawIDString(json.RawMessage(rest))
}

// list reads a Polar list: a JSON array, or, with field set, an object
// holding the array under field. No content (204 or an empty body) is an
// empty list. A body of another shape is reported to sink with the body
// and read as empty.
func (p *Provider) list(ctx context.Context, hc *http.Client, sink source.Sink, t model.DataType, path, field string) ([]json.RawMessage, error) {
	resp, err := p.get(ctx, hc, p.cfg.APIBase+path)
	if err != nil {
		return nil, fmt.Errorf("polar %s: %w", path, err)
	}
	items, err := decodeList(resp.body, field)
	if err != nil {
		return nil, sink.Problem(ctx, model.Problem{Type: t, Err: fmt.Sprintf("polar %s: not a list: %v; nothing of it was read", path, err), Raw: resp.body})
	}
	return items, nil
}

// decodeList decodes a list body; see list.
func decodeList(body []byte, field string) ([]json.RawMessage, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, nil
	}
	if field == "" {
		var items []json.RawMessage
		if err := json.Unmarshal(body, &items); err != nil {
			return nil, err
		}
		if items == nil && !bytes.Equal(bytes.TrimSpace(body), []byte("[]")) {
			return nil, fmt.Errorf("body is null")
		}
		return items, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil {
		return nil, err
	}
	v, ok := obj[field]
	if !ok {
		return nil, fmt.Errorf("no %q array", field)
	}
	if bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
		return nil, nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(v, &items); err != nil {
		return nil, fmt.Errorf("%q: %w", field, err)
	}
	return items, nil
}
