package strava

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/wearbridge/wearbridge/internal/sandbox/fixtures"
)

// The recorded files, in fixtures.FS.
const (
	fileList      = "strava/athlete_activities_page1.json"
	fileLaps      = "strava/activity_laps.json"
	fileRateLimit = "strava/activity_ratelimit_429.vcr.yml"
)

// fileDetails are the recorded DetailedActivities.
var fileDetails = []string{"strava/activity_1946417534.json", "strava/activity_detailed.json"}

// fileStreams are the recorded streams, by activity id.
var fileStreams = map[int64]string{1946417534: "strava/activity_streams_1946417534.json"}

// recordings is what the fake serves.
type recordings struct {
	list          []*doc // newest first
	byID          map[int64]*doc
	laps          map[int64][]byte // recorded /laps answers
	streams       map[int64][]byte // recorded /streams answers
	rateLimitBody []byte           // the recorded 429 body
}

// doc is one activity.
type doc struct {
	id    int64
	start time.Time
	// raw is the activity as recorded: the list item, or the detailed
	// activity where one was recorded (served both in the list and alone).
	raw []byte
	// laps is a detailed activity's own "laps", nil when it has none.
	laps    []byte
	private bool
}

// head is the part of an activity the fake reads.
type head struct {
	ID         int64            `json:"id"`
	StartDate  string           `json:"start_date"`
	Private    bool             `json:"private"`
	Visibility string           `json:"visibility"`
	Laps       *json.RawMessage `json:"laps"`
	Activity   *struct {
		ID int64 `json:"id"`
	} `json:"activity"`
}

// loadRecordings reads the embedded fixtures.
func loadRecordings() (*recordings, error) {
	rec := &recordings{byID: make(map[int64]*doc), laps: make(map[int64][]byte), streams: make(map[int64][]byte)}
	add := func(file string, raw []byte) error {
		var h head
		if err := json.Unmarshal(raw, &h); err != nil {
			return fmt.Errorf("decode %s: %w", file, err)
		}
		start, err := time.Parse(time.RFC3339, h.StartDate)
		if err != nil || h.ID <= 0 {
			return fmt.Errorf("%s: activity without id or start_date", file)
		}
		d := &doc{id: h.ID, start: start, raw: bytes.TrimSpace(raw), private: h.Private || h.Visibility == "only_me"}
		if h.Laps != nil {
			d.laps = *h.Laps
		}
		if old, dup := rec.byID[h.ID]; dup {
			*old = *d // a detailed recording wins over the list item
			return nil
		}
		rec.byID[h.ID] = d
		rec.list = append(rec.list, d)
		return nil
	}

	body, err := fs.ReadFile(fixtures.FS, fileList)
	if err != nil {
		return nil, err
	}
	var items []json.RawMessage
	if err := json.Unmarshal(body, &items); err != nil {
		return nil, fmt.Errorf("decode %s: %w", fileList, err)
	}
	for _, it := range items {
		if err := add(fileList, it); err != nil {
			return nil, err
		}
	}
	for _, f := range fileDetails {
		body, err := fs.ReadFile(fixtures.FS, f)
		if err != nil {
			return nil, err
		}
		if err := add(f, body); err != nil {
			return nil, err
		}
	}
	slices.SortStableFunc(rec.list, func(a, b *doc) int {
		if c := b.start.Compare(a.start); c != 0 {
			return c
		}
		return cmp.Compare(b.id, a.id)
	})

	// Laps: the recording names its activity in each lap.
	body, err = fs.ReadFile(fixtures.FS, fileLaps)
	if err != nil {
		return nil, err
	}
	var laps []head
	if err := json.Unmarshal(body, &laps); err != nil || len(laps) == 0 || laps[0].Activity == nil {
		return nil, fmt.Errorf("decode %s: no laps with an activity (%v)", fileLaps, err)
	}
	rec.laps[laps[0].Activity.ID] = bytes.TrimSpace(body)

	for id, f := range fileStreams {
		body, err := fs.ReadFile(fixtures.FS, f)
		if err != nil {
			return nil, err
		}
		rec.streams[id] = bytes.TrimSpace(body)
	}

	rec.rateLimitBody, err = loadRateLimit()
	if err != nil {
		return nil, err
	}
	return rec, nil
}

// cassette is the part of a VCR cassette read here.
type cassette struct {
	Interactions []struct {
		Response struct {
			Status struct {
				Code int `yaml:"code"`
			} `yaml:"status"`
			Body struct {
				String string `yaml:"string"`
			} `yaml:"body"`
		} `yaml:"response"`
	} `yaml:"http_interactions"`
}

// loadRateLimit reads the recorded 429's body.
func loadRateLimit() ([]byte, error) {
	body, err := fs.ReadFile(fixtures.FS, fileRateLimit)
	if err != nil {
		return nil, err
	}
	var c cassette
	if err := yaml.Unmarshal(body, &c); err != nil {
		return nil, fmt.Errorf("decode %s: %w", fileRateLimit, err)
	}
	if len(c.Interactions) == 0 || c.Interactions[0].Response.Status.Code != http.StatusTooManyRequests {
		return nil, fmt.Errorf("%s: no recorded 429", fileRateLimit)
	}
	return []byte(c.Interactions[0].Response.Body.String), nil
}

// notFound writes Strava's 404 fault.
func notFound(w http.ResponseWriter, resource string) {
	fault(w, http.StatusNotFound, "Record Not Found", resource, "id", "invalid")
}

// athlete answers the token's athlete in the meta representation.
func (s *Server) athlete(w http.ResponseWriter, r *http.Request, athlete int64, scope string) {
	writeJSON(w, http.StatusOK, metaAthlete{ID: athlete, ResourceState: 1})
}

// listActivities answers one page of the athlete's activities, newest
// first. after and before are exclusive epoch seconds; page starts at 1;
// per_page defaults to 30 and is capped at 200, as Strava does.
func (s *Server) listActivities(w http.ResponseWriter, r *http.Request, athlete int64, scope string) {
	q := r.URL.Query()
	num := func(name string, def int64) (int64, bool) {
		v := q.Get(name)
		if v == "" {
			return def, true
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			fault(w, http.StatusBadRequest, "Bad Request", "Application", name, "invalid")
			return 0, false
		}
		return n, true
	}
	before, ok1 := num("before", 0)
	if !ok1 {
		return
	}
	after, ok2 := num("after", 0)
	if !ok2 {
		return
	}
	page, ok3 := num("page", 1)
	if !ok3 {
		return
	}
	perPage, ok4 := num("per_page", defaultPerPage)
	if !ok4 {
		return
	}
	if after > s.cfg.Now().Unix() {
		fault(w, http.StatusBadRequest, "Bad Request", "Application", "after", "future")
		return
	}
	page = max(page, 1)
	if perPage < 1 {
		perPage = defaultPerPage
	}
	perPage = min(perPage, maxPerPage)

	var match []*doc
	for _, d := range s.data.list {
		t := d.start.Unix()
		if (after != 0 && t <= after) || (before != 0 && t >= before) {
			continue
		}
		if d.private && !hasScope(scope, "activity:read_all") {
			continue
		}
		match = append(match, d)
	}
	from := min((page-1)*perPage, int64(len(match)))
	to := min(from+perPage, int64(len(match)))
	var buf bytes.Buffer
	buf.WriteByte('[')
	for i, d := range match[from:to] {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(d.raw)
	}
	buf.WriteByte(']')
	writeRaw(w, http.StatusOK, buf.Bytes())
}

// find returns the activity of the path's id that the token may see.
func (s *Server) find(r *http.Request, scope string) (*doc, int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return nil, 0, false
	}
	d, ok := s.data.byID[id]
	if ok && d.private && !hasScope(scope, "activity:read_all") {
		return nil, id, false
	}
	return d, id, ok
}

// activity answers one activity: the detailed recording, or the list item
// where no detail was recorded.
func (s *Server) activity(w http.ResponseWriter, r *http.Request, athlete int64, scope string) {
	d, _, ok := s.find(r, scope)
	if !ok {
		notFound(w, "Activity")
		return
	}
	writeRaw(w, http.StatusOK, d.raw)
}

// laps answers an activity's laps: the recorded /laps answer, the detailed
// activity's own laps, or [].
func (s *Server) laps(w http.ResponseWriter, r *http.Request, athlete int64, scope string) {
	d, id, ok := s.find(r, scope)
	if body, recorded := s.data.laps[id]; recorded {
		writeRaw(w, http.StatusOK, body)
		return
	}
	switch {
	case !ok:
		notFound(w, "Activity")
	case d.laps != nil:
		writeRaw(w, http.StatusOK, d.laps)
	default:
		writeRaw(w, http.StatusOK, []byte("[]"))
	}
}

// streams answers an activity's streams. The recorded answer is filtered
// to the streams named in keys (plus its series_type stream, which Strava
// always adds) and given keyed by type or as a list, as key_by_type asks.
// An activity without a recording has no streams.
func (s *Server) streams(w http.ResponseWriter, r *http.Request, athlete int64, scope string) {
	_, id, ok := s.find(r, scope)
	body, recorded := s.data.streams[id]
	if !ok && !recorded {
		notFound(w, "Activity")
		return
	}
	q := r.URL.Query()
	byType := q.Get("key_by_type") == "true"
	if !recorded {
		if byType {
			writeRaw(w, http.StatusOK, []byte("{}"))
		} else {
			writeRaw(w, http.StatusOK, []byte("[]"))
		}
		return
	}
	if byType && q.Get("keys") == "" {
		writeRaw(w, http.StatusOK, body) // as recorded: key_by_type=true without keys=
		return
	}
	var all map[string]map[string]json.RawMessage
	if err := json.Unmarshal(body, &all); err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"message": "bad streams recording"})
		return
	}
	want := map[string]bool{}
	for _, k := range strings.Split(q.Get("keys"), ",") {
		want[k] = true
	}
	keys := make([]string, 0, len(all))
	for k, st := range all {
		var series string
		_ = json.Unmarshal(st["series_type"], &series)
		if q.Get("keys") == "" || want[k] || k == series {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	if byType {
		out := make(map[string]map[string]json.RawMessage, len(keys))
		for _, k := range keys {
			out[k] = all[k]
		}
		writeJSON(w, http.StatusOK, out)
		return
	}
	out := make([]map[string]json.RawMessage, 0, len(keys))
	for _, k := range keys {
		st := all[k]
		st["type"] = json.RawMessage(strconv.Quote(k))
		out = append(out, st)
	}
	writeJSON(w, http.StatusOK, out)
}
