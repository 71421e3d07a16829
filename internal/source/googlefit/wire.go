package googlefit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Google's JSON, as far as the mappers read it. Everything else stays in
// Record.Raw.

// int64s is a Google int64 field: a JSON string of digits (how Google
// writes int64s) or a number.
type int64s struct {
	v   int64
	set bool
}

// UnmarshalJSON reads "123", 123 or null.
func (n *int64s) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		*n = int64s{}
		return nil
	}
	s := string(bytes.Trim(b, `"`))
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("not an int64: %s", b)
	}
	*n = int64s{v: v, set: true}
	return nil
}

// value is one field value of a data point. mapVal is not used by the data
// types read here.
type value struct {
	IntVal    *int64   `json:"intVal"`
	FpVal     *float64 `json:"fpVal"`
	StringVal *string  `json:"stringVal"`
}

// wirePoint is a data point as Google writes it.
type wirePoint struct {
	StartTimeNanos     int64s  `json:"startTimeNanos"`
	EndTimeNanos       int64s  `json:"endTimeNanos"`
	DataTypeName       string  `json:"dataTypeName"`
	OriginDataSourceID string  `json:"originDataSourceId"`
	Value              []value `json:"value"`
	ModifiedTimeMillis int64s  `json:"modifiedTimeMillis"`
}

// point is a decoded data point. Times are UTC.
type point struct {
	start, end time.Time
	startNs    int64
	dataType   string
	origin     string
	values     []value
	raw        json.RawMessage
}

// decodePoint decodes one data point; it must have its start and end, the
// end not before the start.
func decodePoint(raw json.RawMessage) (point, error) {
	var w wirePoint
	if err := json.Unmarshal(raw, &w); err != nil {
		return point{}, fmt.Errorf("decode data point: %w", err)
	}
	if !w.StartTimeNanos.set || !w.EndTimeNanos.set {
		return point{}, errors.New("data point without startTimeNanos or endTimeNanos")
	}
	if w.EndTimeNanos.v < w.StartTimeNanos.v {
		return point{}, fmt.Errorf("data point ends (%d) before it starts (%d)", w.EndTimeNanos.v, w.StartTimeNanos.v)
	}
	return point{
		start:    fromNanos(w.StartTimeNanos.v),
		end:      fromNanos(w.EndTimeNanos.v),
		startNs:  w.StartTimeNanos.v,
		dataType: w.DataTypeName,
		origin:   w.OriginDataSourceID,
		values:   w.Value,
		raw:      raw,
	}, nil
}

// intValue returns the point's i-th value as an int.
func (p point) intValue(i int) (int64, error) {
	if i >= len(p.values) || p.values[i].IntVal == nil {
		return 0, fmt.Errorf("%s point at %d: no intVal at value[%d]", p.dataType, p.startNs, i)
	}
	return *p.values[i].IntVal, nil
}

// fpValue returns the point's i-th value as a float. An intVal is read too:
// a writer may store a float field as an int.
func (p point) fpValue(i int) (float64, error) {
	if i < len(p.values) {
		if v := p.values[i].FpVal; v != nil {
			return *v, nil
		}
		if v := p.values[i].IntVal; v != nil {
			return float64(*v), nil
		}
	}
	return 0, fmt.Errorf("%s point at %d: no fpVal at value[%d]", p.dataType, p.startNs, i)
}

// segmentKey is the record key of something keyed by a point: the origin
// point's start and origin stream.
func (p point) segmentKey() string {
	return "segment:" + strconv.FormatInt(p.startNs, 10) + ":" + p.origin
}

// datasetPage is one page of GET .../datasets/{start}-{end}. Google leaves
// out an empty point array.
type datasetPage struct {
	DataSourceID  string            `json:"dataSourceId"`
	Point         []json.RawMessage `json:"point"`
	NextPageToken string            `json:"nextPageToken"`
}

// session is a Google Fit session (users/me/sessions).
type session struct {
	ID               string `json:"id"`
	Name             string `json:"name"`
	Description      string `json:"description"`
	StartTimeMillis  int64s `json:"startTimeMillis"`
	EndTimeMillis    int64s `json:"endTimeMillis"`
	ActiveTimeMillis int64s `json:"activeTimeMillis"`
	ActivityType     *int   `json:"activityType"`
	Application      struct {
		PackageName string `json:"packageName"`
		Name        string `json:"name"`
	} `json:"application"`

	start, end time.Time
	raw        json.RawMessage
}

// decodeSession decodes one session; it needs an id, its times and its
// activity type.
func decodeSession(raw json.RawMessage) (session, error) {
	var s session
	if err := json.Unmarshal(raw, &s); err != nil {
		return session{}, fmt.Errorf("decode session: %w", err)
	}
	if s.ID == "" {
		return session{}, errors.New("session without id")
	}
	if !s.StartTimeMillis.set || !s.EndTimeMillis.set {
		return session{}, fmt.Errorf("session %s without startTimeMillis or endTimeMillis", s.ID)
	}
	if s.EndTimeMillis.v < s.StartTimeMillis.v {
		return session{}, fmt.Errorf("session %s ends before it starts", s.ID)
	}
	if s.ActivityType == nil {
		return session{}, fmt.Errorf("session %s without activityType", s.ID)
	}
	s.start = time.UnixMilli(s.StartTimeMillis.v).UTC()
	s.end = time.UnixMilli(s.EndTimeMillis.v).UTC()
	s.raw = raw
	return s, nil
}

// sessionsPage is the answer of GET users/me/sessions.
type sessionsPage struct {
	Session        []json.RawMessage `json:"session"`
	DeletedSession []json.RawMessage `json:"deletedSession"`
	NextPageToken  string            `json:"nextPageToken"`
}

// aggregateResponse is the answer of POST users/me/dataset:aggregate.
type aggregateResponse struct {
	Bucket []json.RawMessage `json:"bucket"`
}

// bucket is one aggregate bucket.
type bucket struct {
	StartTimeMillis int64s `json:"startTimeMillis"`
	EndTimeMillis   int64s `json:"endTimeMillis"`
	Session         *struct {
		ID string `json:"id"`
	} `json:"session"`
	Dataset []struct {
		DataSourceID string            `json:"dataSourceId"`
		Point        []json.RawMessage `json:"point"`
	} `json:"dataset"`

	start, end time.Time
	raw        json.RawMessage
}

// decodeBucket decodes one bucket and its points.
func decodeBucket(raw json.RawMessage) (bucket, []point, error) {
	var b bucket
	if err := json.Unmarshal(raw, &b); err != nil {
		return b, nil, fmt.Errorf("decode aggregate bucket: %w", err)
	}
	if !b.StartTimeMillis.set || !b.EndTimeMillis.set {
		return b, nil, errors.New("aggregate bucket without startTimeMillis or endTimeMillis")
	}
	b.start = time.UnixMilli(b.StartTimeMillis.v).UTC()
	b.end = time.UnixMilli(b.EndTimeMillis.v).UTC()
	b.raw = raw
	var pts []point
	for _, ds := range b.Dataset {
		for _, rp := range ds.Point {
			pt, err := decodePoint(rp)
			if err != nil {
				return b, nil, fmt.Errorf("aggregate bucket at %d: %w", b.StartTimeMillis.v, err)
			}
			if pt.dataType == "" {
				pt.dataType = dataTypeOf(ds.DataSourceID)
			}
			pts = append(pts, pt)
		}
	}
	return b, pts, nil
}

// fromNanos is an epoch-nanosecond instant in UTC.
func fromNanos(ns int64) time.Time { return time.Unix(0, ns).UTC() }

// sourceParts splits a data stream id
// ("type:dataType:app package or project number[:device...]:streamName")
// into its app package and stream name.
func sourceParts(id string) (pkg, stream string, ok bool) {
	parts := strings.Split(id, ":")
	if len(parts) < 4 {
		return "", "", false
	}
	return parts[2], parts[len(parts)-1], true
}

// dataTypeOf returns the data type named in a data stream id.
func dataTypeOf(id string) string {
	parts := strings.Split(id, ":")
	if len(parts) < 2 {
		return ""
	}
	return parts[1]
}

// userInput reports whether a data stream is Google Fit's manual entry
// stream.
func userInput(origin string) bool {
	_, stream, ok := sourceParts(origin)
	return ok && stream == "user_input"
}
