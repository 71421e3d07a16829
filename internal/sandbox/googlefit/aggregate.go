package googlefit

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"sort"
	"strconv"
	"time"
)

// int64s reads a Google int64: a JSON string of digits or a number.
type int64s struct {
	v   int64
	set bool
}

func (n *int64s) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		return nil
	}
	v, err := strconv.ParseInt(string(bytes.Trim(b, `"`)), 10, 64)
	if err != nil {
		return err
	}
	*n = int64s{v: v, set: true}
	return nil
}

// aggregateRequest is the body of dataset:aggregate, as far as the fake
// reads it.
type aggregateRequest struct {
	AggregateBy []struct {
		DataTypeName string `json:"dataTypeName"`
		DataSourceID string `json:"dataSourceId"`
	} `json:"aggregateBy"`
	StartTimeMillis int64s `json:"startTimeMillis"`
	EndTimeMillis   int64s `json:"endTimeMillis"`
	BucketByTime    *struct {
		DurationMillis int64s `json:"durationMillis"`
	} `json:"bucketByTime"`
	BucketBySession *struct {
		MinDurationMillis int64s `json:"minDurationMillis"`
	} `json:"bucketBySession"`
	BucketByActivityType    json.RawMessage `json:"bucketByActivityType"`
	BucketByActivitySegment json.RawMessage `json:"bucketByActivitySegment"`
}

// maxBuckets bounds the buckets of one answer (the Android client refuses
// more than 86400 intervals; the REST bound is not documented).
const maxBuckets = 86400

// outputTypes are the aggregate data types Google answers for an input
// type; a type not listed aggregates to itself (a sum).
var outputTypes = map[string]string{
	"com.google.heart_rate.bpm":   "com.google.heart_rate.summary",
	"com.google.weight":           "com.google.weight.summary",
	"com.google.activity.segment": "com.google.activity.summary",
}

type aggValue struct {
	IntVal *int64    `json:"intVal,omitempty"`
	FpVal  *float64  `json:"fpVal,omitempty"`
	MapVal *[]string `json:"mapVal,omitempty"`
}

type aggPoint struct {
	StartTimeNanos     string     `json:"startTimeNanos"`
	EndTimeNanos       string     `json:"endTimeNanos"`
	DataTypeName       string     `json:"dataTypeName"`
	OriginDataSourceID string     `json:"originDataSourceId"`
	Value              []aggValue `json:"value"`
}

type aggDataset struct {
	DataSourceID string     `json:"dataSourceId"`
	Point        []aggPoint `json:"point"`
}

type aggBucket struct {
	StartTimeMillis string       `json:"startTimeMillis"`
	EndTimeMillis   string       `json:"endTimeMillis"`
	Dataset         []aggDataset `json:"dataset"`
}

// aggregate answers POST users/me/dataset:aggregate with bucketByTime
// (computed from the recorded streams) or bucketBySession (no sessions are
// recorded, so no buckets).
func (s *Server) aggregate(w http.ResponseWriter, r *http.Request, user string) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		invalidArgument(w, "could not read the request")
		return
	}
	var req aggregateRequest
	if err := json.Unmarshal(body, &req); err != nil {
		invalidArgument(w, "Invalid JSON payload received. "+err.Error())
		return
	}
	if len(req.AggregateBy) == 0 {
		invalidArgument(w, "Require at least one aggregateby")
		return
	}
	strategies := 0
	for _, set := range []bool{req.BucketByTime != nil, req.BucketBySession != nil, len(req.BucketByActivityType) > 0, len(req.BucketByActivitySegment) > 0} {
		if set {
			strategies++
		}
	}
	if strategies != 1 {
		invalidArgument(w, "Must specify exactly one bucketing strategy")
		return
	}
	if !req.StartTimeMillis.set || !req.EndTimeMillis.set || req.EndTimeMillis.v <= req.StartTimeMillis.v {
		invalidArgument(w, "end time must be after start time")
		return
	}
	if time.Duration(req.EndTimeMillis.v-req.StartTimeMillis.v)*time.Millisecond > s.cfg.MaxAggregateSpan {
		invalidArgument(w, "aggregate duration too large")
		return
	}
	// Resolve each aggregateBy to its input type and points.
	type input struct {
		typ  string
		docs []doc
	}
	inputs := make([]input, 0, len(req.AggregateBy))
	for _, a := range req.AggregateBy {
		if a.DataSourceID != "" {
			docs, ok := s.stream(user, a.DataSourceID)
			if !ok {
				notFound(w, a.DataSourceID)
				return
			}
			inputs = append(inputs, input{typ: dataTypeOf(a.DataSourceID), docs: docs})
			continue
		}
		var docs []doc
		for id := range s.data.streams {
			if dataTypeOf(id) == a.DataTypeName {
				docs, _ = s.stream(user, id)
			}
		}
		inputs = append(inputs, input{typ: a.DataTypeName, docs: docs})
	}
	if req.BucketByTime == nil {
		if req.BucketBySession == nil {
			invalidArgument(w, "the sandbox aggregates by time or by session only")
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"bucket": []any{}})
		return
	}
	d := req.BucketByTime.DurationMillis.v
	if d <= 0 {
		invalidArgument(w, "bucketByTime.durationMillis must be positive")
		return
	}
	if (req.EndTimeMillis.v-req.StartTimeMillis.v)/d >= maxBuckets {
		invalidArgument(w, "Cannot bucket into more than "+strconv.Itoa(maxBuckets)+" intervals")
		return
	}
	var buckets []aggBucket
	for bs := req.StartTimeMillis.v; bs < req.EndTimeMillis.v; bs += d {
		be := min(bs+d, req.EndTimeMillis.v)
		b := aggBucket{StartTimeMillis: strconv.FormatInt(bs, 10), EndTimeMillis: strconv.FormatInt(be, 10)}
		for _, in := range inputs {
			out, ok := outputTypes[in.typ]
			if !ok {
				out = in.typ
			}
			var inBucket []doc
			for _, x := range in.docs {
				if x.start >= bs*1e6 && x.start < be*1e6 {
					inBucket = append(inBucket, x)
				}
			}
			b.Dataset = append(b.Dataset, aggDataset{
				DataSourceID: "derived:" + out + ":com.google.android.gms:aggregated",
				Point:        aggregatePoints(in.typ, out, inBucket, bs*1e6, be*1e6),
			})
		}
		buckets = append(buckets, b)
	}
	writeJSON(w, http.StatusOK, map[string]any{"bucket": buckets})
}

// aggregatePoints computes the aggregate points of docs (all inside
// [bs, be) nanoseconds) of input type typ.
func aggregatePoints(typ, out string, docs []doc, bs, be int64) []aggPoint {
	points := []aggPoint{}
	if len(docs) == 0 {
		return points
	}
	lo, hi := docs[0].start, docs[0].end
	for _, d := range docs {
		lo, hi = min(lo, d.start), max(hi, d.end)
	}
	pt := aggPoint{StartTimeNanos: strconv.FormatInt(lo, 10), EndTimeNanos: strconv.FormatInt(hi, 10), DataTypeName: out}
	noMap := &[]string{}
	switch typ {
	case "com.google.heart_rate.bpm", "com.google.weight":
		var sum float64
		var n int
		first := true
		var mx, mn float64
		for _, d := range docs {
			if len(d.fps) == 0 || d.fps[0] == nil {
				continue
			}
			v := *d.fps[0]
			sum += v
			n++
			if first || v > mx {
				mx = v
			}
			if first || v < mn {
				mn = v
			}
			first = false
		}
		if n == 0 {
			return points
		}
		avg := sum / float64(n)
		pt.Value = []aggValue{{FpVal: &avg, MapVal: noMap}, {FpVal: &mx, MapVal: noMap}, {FpVal: &mn, MapVal: noMap}}
		return append(points, pt)
	case "com.google.activity.segment":
		type summary struct{ ms, n int64 }
		byType := map[int64]*summary{}
		for _, d := range docs {
			if len(d.ints) == 0 || d.ints[0] == nil {
				continue
			}
			t := *d.ints[0]
			if byType[t] == nil {
				byType[t] = &summary{}
			}
			byType[t].ms += (min(d.end, be) - max(d.start, bs)) / 1e6
			byType[t].n++
		}
		types := make([]int64, 0, len(byType))
		for t := range byType {
			types = append(types, t)
		}
		sort.Slice(types, func(i, j int) bool { return types[i] < types[j] })
		for _, t := range types {
			p := pt
			act, ms, n := t, byType[t].ms, byType[t].n
			p.Value = []aggValue{{IntVal: &act, MapVal: noMap}, {IntVal: &ms, MapVal: noMap}, {IntVal: &n, MapVal: noMap}}
			points = append(points, p)
		}
		return points
	default:
		// Sums of counts (intVal) or amounts (fpVal). Nothing of these
		// types is recorded; kept for completeness.
		var isum int64
		var fsum float64
		var ints, fps int
		for _, d := range docs {
			if len(d.ints) > 0 && d.ints[0] != nil {
				isum += *d.ints[0]
				ints++
			} else if len(d.fps) > 0 && d.fps[0] != nil {
				fsum += *d.fps[0]
				fps++
			}
		}
		switch {
		case ints > 0:
			pt.Value = []aggValue{{IntVal: &isum, MapVal: noMap}}
		case fps > 0:
			pt.Value = []aggValue{{FpVal: &fsum, MapVal: noMap}}
		default:
			return points
		}
		return append(points, pt)
	}
}
