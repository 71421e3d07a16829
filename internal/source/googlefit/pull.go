package googlefit

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
	"github.com/wearbridge/wearbridge/internal/source"
)

const day = 24 * time.Hour

// chunkSpan is the longest window one set of requests covers: with a day of
// margin it stays within the 30 days that dataset:aggregate is known to
// accept.
const chunkSpan = 28 * day

// chunk is one window [from, to) of a pull.
type chunk struct{ from, to time.Time }

// chunks splits [start, end) into windows of at most chunkSpan.
func chunks(start, end time.Time) []chunk {
	var out []chunk
	for f := start; f.Before(end); f = f.Add(chunkSpan) {
		t := f.Add(chunkSpan)
		if t.After(end) {
			t = end
		}
		out = append(out, chunk{from: f, to: t})
	}
	return out
}

// dayWindow widens [start, end) to whole UTC days.
func dayWindow(start, end time.Time) (time.Time, time.Time) {
	from := utcDay(start)
	to := utcDay(end.Add(-time.Nanosecond)).Add(day)
	if !to.After(from) {
		to = from.Add(day)
	}
	return from, to
}

// Pull fetches every Google Fit item feeding Terra type t in [start, end)
// and hands the records to sink. See the package comment for what feeds
// what.
//
// Activities and nights are emitted by the window their end falls in, so
// consecutive windows neither repeat nor miss one; each window is read
// with a day of margin on both sides so that an item crossing its edges
// is read whole. Daily and Body cover whole UTC days: the window is
// widened to them.
func (p *Provider) Pull(ctx context.Context, hc *http.Client, t model.DataType, start, end time.Time, sink source.Sink) error {
	if !end.After(start) {
		return nil
	}
	start, end = start.UTC(), end.UTC()
	m := newMapper()
	var err error
	switch t {
	case model.TypeActivity:
		err = p.pullActivity(ctx, hc, start, end, m, sink)
	case model.TypeSleep:
		err = p.pullSleep(ctx, hc, start, end, m, sink)
	case model.TypeDaily:
		err = p.pullDaily(ctx, hc, start, end, m, sink)
	case model.TypeBody:
		err = p.pullBody(ctx, hc, start, end, m, sink)
	default:
		return fmt.Errorf("google fit does not pull %q", t)
	}
	if ferr := m.flush(ctx, sink); ferr != nil && err == nil {
		err = ferr
	}
	return err
}

// endsIn reports whether t lies in [c.from, c.to).
func (c chunk) endsIn(t time.Time) bool { return !t.Before(c.from) && t.Before(c.to) }

func (p *Provider) pullActivity(ctx context.Context, hc *http.Client, start, end time.Time, m *mapper, sink source.Sink) error {
	const t = model.TypeActivity
	for _, c := range chunks(start, end) {
		from, to := c.from.Add(-day), c.to.Add(day)
		sessions, err := p.sessions(ctx, hc, t, from, to, -1, sink)
		if err != nil {
			return err
		}
		segments, err := p.stream(ctx, hc, t, srcActivitySegments, from, to, sink)
		if err != nil {
			return err
		}
		var items []activityItem
		var sp span
		var sessionsIn bool
		for _, it := range m.activityItems(activityInput{sessions: sessions, segments: segments}) {
			if c.endsIn(it.end) {
				items = append(items, it)
				sp.add(it.start, it.end)
				sessionsIn = sessionsIn || it.sess != nil
			}
		}
		if len(items) == 0 {
			continue
		}
		totals := map[string]sessionTotals{}
		if sessionsIn {
			buckets, err := p.aggregate(ctx, hc, t, aggregateRequest{
				AggregateBy: []aggregateBy{
					{DataTypeName: "com.google.step_count.delta"},
					{DataTypeName: "com.google.distance.delta"},
					{DataTypeName: "com.google.calories.expended"},
				},
				StartTimeMillis: millis(c.from.Add(-day)),
				EndTimeMillis:   millis(c.to),
				BucketBySession: &bucketBySession{MinDurationMillis: "0"},
			}, sink)
			if err != nil {
				return err
			}
			totals = m.sessionTotalsFrom(buckets)
		}
		hr, err := p.heartRateOver(ctx, hc, t, sp, m, sink)
		if err != nil {
			return err
		}
		recs := make([]model.Record, 0, len(items))
		for _, it := range items {
			recs = append(recs, m.activity(it, hr, totals))
		}
		if err := records(ctx, sink, recs); err != nil {
			return err
		}
	}
	return nil
}

// span is the smallest [from, to] holding the intervals added to it.
type span struct {
	from, to time.Time
	set      bool
}

func (s *span) add(from, to time.Time) {
	if !s.set || from.Before(s.from) {
		s.from = from
	}
	if !s.set || to.After(s.to) {
		s.to = to
	}
	s.set = true
}

// heartRateOver reads the merged heart-rate stream over sp.
func (p *Provider) heartRateOver(ctx context.Context, hc *http.Client, t model.DataType, sp span, m *mapper, sink source.Sink) ([]bpmSample, error) {
	pts, err := p.stream(ctx, hc, t, srcHeartRate, sp.from, sp.to, sink)
	if err != nil {
		return nil, err
	}
	return m.heartRates(t, pts), nil
}

func (p *Provider) pullSleep(ctx context.Context, hc *http.Client, start, end time.Time, m *mapper, sink source.Sink) error {
	const t = model.TypeSleep
	for _, c := range chunks(start, end) {
		from, to := c.from.Add(-day), c.to.Add(day)
		sessions, err := p.sessions(ctx, hc, t, from, to, typeSleeping, sink)
		if err != nil {
			return err
		}
		segments, err := p.stream(ctx, hc, t, srcActivitySegments, from, to, sink)
		if err != nil {
			return err
		}
		var nights []night
		var sp span
		for _, n := range m.nights(sessions, segments) {
			if c.endsIn(n.end) {
				nights = append(nights, n)
				sp.add(n.start, n.end)
			}
		}
		if len(nights) == 0 {
			continue
		}
		stages, err := p.stream(ctx, hc, t, srcSleepStages, sp.from, sp.to, sink)
		if err != nil {
			return err
		}
		hr, err := p.heartRateOver(ctx, hc, t, sp, m, sink)
		if err != nil {
			return err
		}
		recs := make([]model.Record, 0, len(nights))
		for _, n := range nights {
			recs = append(recs, m.sleep(n, stages, hr))
		}
		if err := records(ctx, sink, recs); err != nil {
			return err
		}
	}
	return nil
}

func (p *Provider) pullBody(ctx context.Context, hc *http.Client, start, end time.Time, m *mapper, sink source.Sink) error {
	const t = model.TypeBody
	from, to := dayWindow(start, end)
	for _, c := range chunks(from, to) {
		// Google's bounds are inclusive: stop a nanosecond before the next
		// day.
		last := c.to.Add(-time.Nanosecond)
		weights, err := p.stream(ctx, hc, t, srcWeight, c.from, last, sink)
		if err != nil {
			return err
		}
		hr, err := p.stream(ctx, hc, t, srcHeartRate, c.from, last, sink)
		if err != nil {
			return err
		}
		days := bodyDays(weights, hr, func(d time.Time) bool { return c.endsIn(d) })
		if err := records(ctx, sink, m.bodies(days)); err != nil {
			return err
		}
	}
	return nil
}

func (p *Provider) pullDaily(ctx context.Context, hc *http.Client, start, end time.Time, m *mapper, sink source.Sink) error {
	const t = model.TypeDaily
	from, to := dayWindow(start, end)
	for _, c := range chunks(from, to) {
		buckets, err := p.aggregate(ctx, hc, t, aggregateRequest{
			AggregateBy:     dailyAggregates,
			StartTimeMillis: millis(c.from),
			EndTimeMillis:   millis(c.to),
			BucketByTime:    &bucketByTime{DurationMillis: strconv.FormatInt(day.Milliseconds(), 10)},
		}, sink)
		if err != nil {
			return err
		}
		var recs []model.Record
		for _, raw := range buckets {
			rec, ok, err := m.daily(raw)
			if err != nil {
				if err := sink.Problem(ctx, model.Problem{Type: t, Err: "google daily: " + err.Error(), Raw: raw}); err != nil {
					return err
				}
				continue
			}
			if ok && c.endsIn(rec.Start) {
				recs = append(recs, rec)
			}
		}
		if err := records(ctx, sink, recs); err != nil {
			return err
		}
	}
	return nil
}

// records hands a non-empty batch to sink.
func records(ctx context.Context, sink source.Sink, recs []model.Record) error {
	if len(recs) == 0 {
		return nil
	}
	if err := sink.Records(ctx, recs); err != nil {
		return fmt.Errorf("store google fit records: %w", err)
	}
	return nil
}
