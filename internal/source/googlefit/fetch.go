package googlefit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
	"github.com/wearbridge/wearbridge/internal/source"
)

// The merged ("what the Google Fit app shows") data streams read.
const (
	srcActivitySegments = "derived:com.google.activity.segment:com.google.android.gms:merge_activity_segments"
	srcHeartRate        = "derived:com.google.heart_rate.bpm:com.google.android.gms:merge_heart_rate_bpm"
	srcWeight           = "derived:com.google.weight:com.google.android.gms:merge_weight"
	srcSleepStages      = "derived:com.google.sleep.segment:com.google.android.gms:merged"
)

// datasetURL is the dataset of stream id over [from, to] (Google's bounds
// are inclusive).
func (p *Provider) datasetURL(id string, from, to time.Time, pageToken string) string {
	q := url.Values{"limit": {strconv.Itoa(p.cfg.PageSize)}}
	if pageToken != "" {
		q.Set("pageToken", pageToken)
	}
	return fmt.Sprintf("%s/users/me/dataSources/%s/datasets/%d-%d?%s",
		p.cfg.APIBase, url.PathEscape(id), from.UnixNano(), to.UnixNano(), q.Encode())
}

// stream reads every point of stream id that overlaps [from, to],
// following nextPageToken until Google gives none. Google pages backwards
// from the end of the range; the points come back in no particular order.
//
// A stream the user never wrote is empty. A page that is not a dataset, or a
// stream the token may not read (403), is reported to sink and the stream
// ends there (the problem says the rest was not read); a point that cannot
// be decoded is reported with its JSON and skipped. Errors from the
// transport, from Google (401, rate limits, ...) and from sink are
// returned, and so is a read cut short by MaxPages or a repeating page
// token, so that a partial read is never taken for a whole one.
func (p *Provider) stream(ctx context.Context, hc *http.Client, t model.DataType, id string, from, to time.Time, sink source.Sink) ([]point, error) {
	var pts []point
	seen := make(map[string]bool)
	token := ""
	for n := 1; ; n++ {
		if n > p.cfg.MaxPages {
			return pts, fmt.Errorf("google %s: stopped after %d pages; the rest of the range was not read", id, p.cfg.MaxPages)
		}
		p.log.DebugContext(ctx, "google dataset", "source", id, "page", n)
		body, err := p.do(ctx, hc, http.MethodGet, p.datasetURL(id, from, to, token), nil)
		if err != nil {
			var apiErr *APIError
			if errors.As(err, &apiErr) {
				switch {
				case apiErr.dataSourceMissing():
					return pts, nil
				case apiErr.forbidden():
					return pts, sink.Problem(ctx, model.Problem{Type: t, Err: fmt.Sprintf("google %s: not readable with this token (%v); the range was not read", id, err)})
				}
			}
			return pts, fmt.Errorf("google %s page %d: %w", id, n, err)
		}
		var pg datasetPage
		if err := json.Unmarshal(body, &pg); err != nil || pg.DataSourceID == "" {
			why := "no dataSourceId"
			if err != nil {
				why = err.Error()
			}
			return pts, sink.Problem(ctx, model.Problem{Type: t, Err: fmt.Sprintf("google %s page %d: not a dataset: %s; the rest of the range was not read", id, n, why), Raw: body})
		}
		for _, raw := range pg.Point {
			pt, err := decodePoint(raw)
			if err != nil {
				if err := sink.Problem(ctx, model.Problem{Type: t, Err: fmt.Sprintf("google %s: %v", id, err), Raw: raw}); err != nil {
					return pts, err
				}
				continue
			}
			pts = append(pts, pt)
		}
		if pg.NextPageToken == "" {
			return pts, nil
		}
		if seen[pg.NextPageToken] {
			return pts, fmt.Errorf("google %s page %d: nextPageToken repeats an earlier one; the rest of the range was not read", id, n)
		}
		seen[pg.NextPageToken] = true
		token = pg.NextPageToken
	}
}

// sessions lists the sessions that end in [from, to], of activityType
// typ when typ >= 0. With a time range Google answers in one response
// (its nextPageToken is then a sync token and pageToken is ignored), so no
// token is followed. An answer that is not a session list is reported to
// sink and gives no sessions; a session that cannot be decoded is reported
// with its JSON.
func (p *Provider) sessions(ctx context.Context, hc *http.Client, t model.DataType, from, to time.Time, typ int, sink source.Sink) ([]session, error) {
	q := url.Values{
		"startTime": {from.UTC().Format(time.RFC3339Nano)},
		"endTime":   {to.UTC().Format(time.RFC3339Nano)},
	}
	if typ >= 0 {
		q.Set("activityType", strconv.Itoa(typ))
	}
	p.log.DebugContext(ctx, "google sessions", "activity_type", typ)
	body, err := p.do(ctx, hc, http.MethodGet, p.cfg.APIBase+"/users/me/sessions?"+q.Encode(), nil)
	if err != nil {
		return nil, fmt.Errorf("google sessions: %w", err)
	}
	var pg sessionsPage
	if err := json.Unmarshal(body, &pg); err != nil {
		return nil, sink.Problem(ctx, model.Problem{Type: t, Err: fmt.Sprintf("google sessions: not a session list: %v; no session of the range was read", err), Raw: body})
	}
	out := make([]session, 0, len(pg.Session))
	for _, raw := range pg.Session {
		s, err := decodeSession(raw)
		if err != nil {
			if err := sink.Problem(ctx, model.Problem{Type: t, Err: "google sessions: " + err.Error(), Raw: raw}); err != nil {
				return out, err
			}
			continue
		}
		out = append(out, s)
	}
	return out, nil
}

// aggregateBy is one entry of an aggregate request.
type aggregateBy struct {
	DataTypeName string `json:"dataTypeName"`
}

// aggregateRequest is the body of POST users/me/dataset:aggregate. int64s
// are sent as strings, as Google writes them.
type aggregateRequest struct {
	AggregateBy     []aggregateBy    `json:"aggregateBy"`
	StartTimeMillis string           `json:"startTimeMillis"`
	EndTimeMillis   string           `json:"endTimeMillis"`
	BucketByTime    *bucketByTime    `json:"bucketByTime,omitempty"`
	BucketBySession *bucketBySession `json:"bucketBySession,omitempty"`
}

// bucketByTime asks for buckets of a fixed length.
type bucketByTime struct {
	DurationMillis string `json:"durationMillis"`
}

// bucketBySession asks for one bucket per session.
type bucketBySession struct {
	MinDurationMillis string `json:"minDurationMillis"`
}

// aggregate posts req and returns the raw buckets. An answer that is not an
// aggregate response is reported to sink and gives no buckets.
func (p *Provider) aggregate(ctx context.Context, hc *http.Client, t model.DataType, req aggregateRequest, sink source.Sink) ([]json.RawMessage, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("google aggregate: encode: %w", err)
	}
	p.log.DebugContext(ctx, "google aggregate", "start_ms", req.StartTimeMillis, "end_ms", req.EndTimeMillis)
	resp, err := p.do(ctx, hc, http.MethodPost, p.cfg.APIBase+"/users/me/dataset:aggregate", body)
	if err != nil {
		return nil, fmt.Errorf("google aggregate: %w", err)
	}
	var ar aggregateResponse
	if err := json.Unmarshal(resp, &ar); err != nil {
		return nil, sink.Problem(ctx, model.Problem{Type: t, Err: fmt.Sprintf("google aggregate: not an aggregate response: %v; the range was not read", err), Raw: resp})
	}
	return ar.Bucket, nil
}

// millis writes t as Google's int64 milliseconds.
func millis(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }
