package googlefit

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/wearbridge/wearbridge/internal/sandbox/fixtures"
)

// The recorded streams.
const (
	srcActivitySegments = "derived:com.google.activity.segment:com.google.android.gms:merge_activity_segments"
	srcHeartRate        = "derived:com.google.heart_rate.bpm:com.google.android.gms:merge_heart_rate_bpm"
	srcWeight           = "derived:com.google.weight:com.google.android.gms:merge_weight"
)

// fixtureFiles maps each recorded stream to its fixture. Each fixture is a
// dataset answer of that stream.
var fixtureFiles = map[string]string{
	srcActivitySegments: "google_fit/merge_activity_segments.json",
	srcHeartRate:        "google_fit/merge_heart_rate.json",
	srcWeight:           "google_fit/merge_weight.json",
}

// sleepSegmentsFile replaces the activity segments for SleepUserID.
const sleepSegmentsFile = "google_fit/merge_activity_segments_only_sleep.json"

// doc is one served data point: its bytes as recorded and what it is
// filtered and aggregated by.
type doc struct {
	start, end int64 // nanoseconds
	ints       []*int64
	fps        []*float64
	raw        json.RawMessage
}

// recorded is the served data: the streams by id, and the activity
// segments SleepUserID sees instead.
type recorded struct {
	streams       map[string][]doc
	sleepSegments []doc
}

// loadFixtures reads the embedded fixtures.
func loadFixtures() (recorded, error) {
	rec := recorded{streams: make(map[string][]doc, len(fixtureFiles))}
	for id, file := range fixtureFiles {
		docs, err := loadFile(file)
		if err != nil {
			return rec, err
		}
		rec.streams[id] = docs
	}
	docs, err := loadFile(sleepSegmentsFile)
	if err != nil {
		return rec, err
	}
	rec.sleepSegments = docs
	return rec, nil
}

func loadFile(file string) ([]doc, error) {
	body, err := fs.ReadFile(fixtures.FS, file)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	var ds struct {
		Point []json.RawMessage `json:"point"`
	}
	if err := json.Unmarshal(body, &ds); err != nil {
		return nil, fmt.Errorf("decode %s: %w", file, err)
	}
	docs := make([]doc, 0, len(ds.Point))
	for _, raw := range ds.Point {
		var p struct {
			StartTimeNanos string `json:"startTimeNanos"`
			EndTimeNanos   string `json:"endTimeNanos"`
			Value          []struct {
				IntVal *int64   `json:"intVal"`
				FpVal  *float64 `json:"fpVal"`
			} `json:"value"`
		}
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, fmt.Errorf("decode %s point: %w", file, err)
		}
		d := doc{raw: bytes.TrimSpace(raw)}
		var err1, err2 error
		d.start, err1 = strconv.ParseInt(p.StartTimeNanos, 10, 64)
		d.end, err2 = strconv.ParseInt(p.EndTimeNanos, 10, 64)
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("%s point times: %w", file, err)
		}
		for _, v := range p.Value {
			d.ints = append(d.ints, v.IntVal)
			d.fps = append(d.fps, v.FpVal)
		}
		docs = append(docs, d)
	}
	// Google orders a dataset's points by end time.
	sort.SliceStable(docs, func(i, j int) bool {
		if docs[i].end != docs[j].end {
			return docs[i].end < docs[j].end
		}
		return docs[i].start < docs[j].start
	})
	return docs, nil
}

// stream returns the points of stream id that user sees; ok is false for a
// stream with no recording.
func (s *Server) stream(user, id string) ([]doc, bool) {
	if id == srcActivitySegments && user == SleepUserID {
		return s.data.sleepSegments, true
	}
	docs, ok := s.data.streams[id]
	return docs, ok
}

// dataTypeOf returns the data type named in a data stream id.
func dataTypeOf(id string) string {
	parts := strings.Split(id, ":")
	if len(parts) < 2 {
		return ""
	}
	return parts[1]
}

// notFound writes Google's answer for a stream the user never wrote.
func notFound(w http.ResponseWriter, id string) {
	invalidArgument(w, "datasource not found: "+id)
}

// cursor is what a dataset nextPageToken carries: the dataset asked for and
// how many of its points, counted from the end, were served.
type cursor struct {
	Source string `json:"s"`
	Range  string `json:"r"`
	Served int    `json:"n"`
}

func (c cursor) token() string {
	b, _ := json.Marshal(c) // strings and an int always marshal
	return base64.RawURLEncoding.EncodeToString(b)
}

func parseCursor(tok string) (cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return cursor{}, err
	}
	var c cursor
	if err := json.Unmarshal(b, &c); err != nil {
		return cursor{}, err
	}
	if c.Served < 0 {
		return cursor{}, errors.New("bad cursor")
	}
	return c, nil
}

// dataset answers GET .../dataSources/{source}/datasets/{start}-{end}:
// the points overlapping the range (start <= range end and end >= range
// start). Like Google, pages run backwards: the first holds the latest
// points, each next one points ending before the previous page's.
func (s *Server) dataset(w http.ResponseWriter, r *http.Request, user string) {
	id, rng := r.PathValue("source"), r.PathValue("range")
	from, to, ok := parseRange(rng)
	if !ok {
		invalidArgument(w, "Invalid dataset id: "+rng)
		return
	}
	docs, found := s.stream(user, id)
	if !found {
		notFound(w, id)
		return
	}
	size := s.cfg.PageSize
	if l := r.URL.Query().Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 0 {
			invalidArgument(w, "Invalid value for limit: "+l)
			return
		}
		if n > 0 && n < size {
			size = n
		}
	}
	served := 0
	if tok := r.URL.Query().Get("pageToken"); tok != "" {
		c, err := parseCursor(tok)
		if err != nil || c.Source != id || c.Range != rng {
			invalidArgument(w, "Invalid page token")
			return
		}
		served = c.Served
	}
	var match []doc
	for _, d := range docs {
		if d.start <= to && d.end >= from {
			match = append(match, d)
		}
	}
	hi := max(len(match)-served, 0)
	lo := max(hi-size, 0)
	var buf bytes.Buffer
	fmt.Fprintf(&buf, `{"minStartTimeNs":"%d","maxEndTimeNs":"%d","dataSourceId":%s,"point":[`, from, to, strconv.Quote(id))
	for i, d := range match[lo:hi] {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(d.raw)
	}
	buf.WriteString("]")
	if lo > 0 {
		buf.WriteString(`,"nextPageToken":` + strconv.Quote(cursor{Source: id, Range: rng, Served: served + (hi - lo)}.token()))
	}
	buf.WriteString("}")
	writeRaw(w, http.StatusOK, buf.Bytes())
}

// parseRange reads a dataset id "startNanos-endNanos".
func parseRange(s string) (from, to int64, ok bool) {
	a, b, found := strings.Cut(s, "-")
	if !found {
		return 0, 0, false
	}
	from, err1 := strconv.ParseInt(a, 10, 64)
	to, err2 := strconv.ParseInt(b, 10, 64)
	return from, to, err1 == nil && err2 == nil && from <= to
}

// sessions answers GET users/me/sessions. Nothing recorded has sessions,
// so the list is empty; the time filters are checked as Google does.
func (s *Server) sessions(w http.ResponseWriter, r *http.Request, user string) {
	q := r.URL.Query()
	for _, name := range []string{"startTime", "endTime"} {
		if v := q.Get(name); v != "" {
			if _, err := time.Parse(time.RFC3339Nano, v); err != nil {
				invalidArgument(w, "Invalid "+name+": "+v)
				return
			}
		}
	}
	if v := q.Get("activityType"); v != "" {
		if _, err := strconv.Atoi(v); err != nil {
			invalidArgument(w, "Invalid value for activityType: "+v)
			return
		}
	}
	resp := map[string]any{"session": []any{}, "deletedSession": []any{}}
	if q.Get("startTime") == "" && q.Get("endTime") == "" {
		// Without a range Google answers a sync token for the next call.
		resp["nextPageToken"] = strconv.FormatInt(s.cfg.Now().UnixMilli(), 10)
	}
	writeJSON(w, http.StatusOK, resp)
}
