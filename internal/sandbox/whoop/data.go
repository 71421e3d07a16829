package whoop

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
	"time"

	"github.com/wearbridge/wearbridge/internal/sandbox/fixtures"
)

// The collections the fake serves.
const (
	collCycle    = "cycle"
	collRecovery = "recovery"
	collSleep    = "sleep"
	collWorkout  = "workout"
)

// fixtureFiles are the recorded collection pages, by collection.
var fixtureFiles = map[string]string{
	collCycle:    "whoop/cycle_collection.json",
	collRecovery: "whoop/recovery_collection.json",
	collSleep:    "whoop/sleep_collection.json",
}

// doc is one served document: its raw bytes as recorded, and what it is
// found and filtered by.
type doc struct {
	id      string // cycle id, sleep or workout UUID; recoveries: ""
	cycleID string // sleeps and recoveries
	sleepID string // recoveries
	nap     bool
	start   time.Time
	end     time.Time // zero: ongoing
	raw     json.RawMessage
}

// head is what the fake reads of a document.
type head struct {
	ID        json.RawMessage `json:"id"`
	CycleID   json.RawMessage `json:"cycle_id"`
	SleepID   string          `json:"sleep_id"`
	Nap       bool            `json:"nap"`
	Start     string          `json:"start"`
	End       *string         `json:"end"`
	CreatedAt string          `json:"created_at"`
}

// idText turns a JSON id (integer or string) into its text.
func idText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

// loadFixtures reads the embedded fixtures and documented examples into
// collections, newest first.
func loadFixtures() (map[string][]doc, error) {
	raws := map[string][]json.RawMessage{collWorkout: {json.RawMessage(exampleWorkout)}}
	for coll, file := range fixtureFiles {
		body, err := fs.ReadFile(fixtures.FS, file)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", file, err)
		}
		var pg struct {
			Records []json.RawMessage `json:"records"`
		}
		if err := json.Unmarshal(body, &pg); err != nil {
			return nil, fmt.Errorf("decode %s: %w", file, err)
		}
		raws[coll] = pg.Records
	}
	data := make(map[string][]doc, len(raws))
	// Cycles first: a recovery is filtered by its cycle's times.
	for _, coll := range []string{collCycle, collSleep, collWorkout, collRecovery} {
		for _, raw := range raws[coll] {
			d, err := newDoc(data, coll, raw)
			if err != nil {
				return nil, err
			}
			data[coll] = append(data[coll], d)
		}
		sortDocs(data[coll])
	}
	return data, nil
}

// newDoc reads the document raw of collection coll. data holds the
// collections read so far (a recovery takes its cycle's times).
func newDoc(data map[string][]doc, coll string, raw json.RawMessage) (doc, error) {
	var h head
	if err := json.Unmarshal(raw, &h); err != nil {
		return doc{}, fmt.Errorf("decode %s item: %w", coll, err)
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return doc{}, fmt.Errorf("compact %s item: %w", coll, err)
	}
	d := doc{id: idText(h.ID), cycleID: idText(h.CycleID), sleepID: h.SleepID, nap: h.Nap, raw: b.Bytes()}
	startS, endS := h.Start, ""
	if h.End != nil {
		endS = *h.End
	}
	if coll == collRecovery {
		startS, endS = h.CreatedAt, h.CreatedAt
		for _, c := range data[collCycle] {
			if c.id == d.cycleID {
				startS, endS = "", ""
				d.start, d.end = c.start, c.end
			}
		}
	}
	var err error
	if startS != "" {
		if d.start, err = time.Parse(time.RFC3339Nano, startS); err != nil {
			return doc{}, fmt.Errorf("%s item start: %w", coll, err)
		}
	}
	if endS != "" {
		if d.end, err = time.Parse(time.RFC3339Nano, endS); err != nil {
			return doc{}, fmt.Errorf("%s item end: %w", coll, err)
		}
	}
	if (coll == collCycle || coll == collSleep || coll == collWorkout) && d.id == "" {
		return doc{}, fmt.Errorf("%s item has no id", coll)
	}
	if coll == collRecovery && d.cycleID == "" {
		return doc{}, errors.New("recovery item has no cycle_id")
	}
	return d, nil
}

// sortDocs orders documents as WHOOP does: by start, newest first (ties by
// id, so that paging is stable).
func sortDocs(ds []doc) {
	sort.SliceStable(ds, func(i, j int) bool {
		if !ds[i].start.Equal(ds[j].start) {
			return ds[i].start.After(ds[j].start)
		}
		return ds[i].id+ds[i].cycleID > ds[j].id+ds[j].cycleID
	})
}

// AddRecords adds documents to a collection ("cycle", "recovery",
// "sleep" or "workout"), for tests that need more than the recorded data
// (paging, several users' worth of items). Recoveries take the times of
// their cycle, which must be added first.
func (s *Server) AddRecords(collection string, raws ...json.RawMessage) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.loadErr != nil {
		return s.loadErr
	}
	switch collection {
	case collCycle, collRecovery, collSleep, collWorkout:
	default:
		return fmt.Errorf("unknown collection %q", collection)
	}
	for _, raw := range raws {
		d, err := newDoc(s.data, collection, raw)
		if err != nil {
			return err
		}
		s.data[collection] = append(s.data[collection], d)
	}
	sortDocs(s.data[collection])
	return nil
}

// snapshot returns collection's documents; the slice is not shared with
// later AddRecords calls.
func (s *Server) snapshot(collection string) []doc {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]doc(nil), s.data[collection]...)
}

// profile answers the basic profile of the user.
func (s *Server) profile(w http.ResponseWriter, r *http.Request, user int64) {
	writeJSON(w, http.StatusOK, map[string]any{
		"user_id":    user,
		"email":      "user" + strconv.FormatInt(user, 10) + "@sandbox.invalid",
		"first_name": "Sandbox",
		"last_name":  "User",
	})
}

// bodyMeasurement answers the documented body measurement example.
func (s *Server) bodyMeasurement(w http.ResponseWriter, r *http.Request, user int64) {
	writeRaw(w, http.StatusOK, []byte(exampleBodyMeasurement))
}

// notFound writes WHOOP's 404.
func notFound(w http.ResponseWriter) { apiError(w, http.StatusNotFound, "No resource found") }

// find returns the first document of collection matching ok.
func (s *Server) find(collection string, ok func(doc) bool) (doc, bool) {
	for _, d := range s.snapshot(collection) {
		if ok(d) {
			return d, true
		}
	}
	return doc{}, false
}

// byID answers one document of a collection by its UUID.
func (s *Server) byID(collection string) func(w http.ResponseWriter, r *http.Request, user int64) {
	return func(w http.ResponseWriter, r *http.Request, user int64) {
		id := r.PathValue("id")
		d, ok := s.find(collection, func(d doc) bool { return d.id == id })
		if !ok {
			notFound(w)
			return
		}
		writeRaw(w, http.StatusOK, d.raw)
	}
}

// cycleID reads the {id} of a /cycle/{id}/... path; WHOOP's cycle ids are
// integers.
func cycleID(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := r.PathValue("id")
	if _, err := strconv.ParseInt(id, 10, 64); err != nil {
		apiError(w, http.StatusBadRequest, "cycleId must be an integer")
		return "", false
	}
	return id, true
}

func (s *Server) cycleByID(w http.ResponseWriter, r *http.Request, user int64) {
	id, ok := cycleID(w, r)
	if !ok {
		return
	}
	d, found := s.find(collCycle, func(d doc) bool { return d.id == id })
	if !found {
		notFound(w)
		return
	}
	writeRaw(w, http.StatusOK, d.raw)
}

func (s *Server) cycleRecovery(w http.ResponseWriter, r *http.Request, user int64) {
	id, ok := cycleID(w, r)
	if !ok {
		return
	}
	d, found := s.find(collRecovery, func(d doc) bool { return d.cycleID == id })
	if !found {
		notFound(w)
		return
	}
	writeRaw(w, http.StatusOK, d.raw)
}

func (s *Server) cycleSleep(w http.ResponseWriter, r *http.Request, user int64) {
	id, ok := cycleID(w, r)
	if !ok {
		return
	}
	d, found := s.find(collSleep, func(d doc) bool { return d.cycleID == id && !d.nap })
	if !found {
		notFound(w)
		return
	}
	writeRaw(w, http.StatusOK, d.raw)
}

// cursor is the state a nextToken carries: the collection, the filter and
// where the next page starts. Pages are slices of one stable, ordered
// list, so they neither overlap nor leave gaps.
type cursor struct {
	Collection string    `json:"c"`
	From       time.Time `json:"f"`
	To         time.Time `json:"t"`
	Offset     int       `json:"o"`
}

func (c cursor) token() string {
	b, _ := json.Marshal(c) // strings, times and an int always marshal
	return base64.RawURLEncoding.EncodeToString(b)
}

func parseCursor(tok, collection string) (cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return cursor{}, err
	}
	var c cursor
	if err := json.Unmarshal(b, &c); err != nil {
		return cursor{}, err
	}
	if c.Collection != collection || c.Offset < 0 {
		return cursor{}, errors.New("token is for another query")
	}
	return c, nil
}

// list answers one page of a collection. Like WHOOP, start is inclusive
// ("after or during": documents still going on at start are in), end is
// exclusive and defaults to now, and documents come newest first.
func (s *Server) list(collection string) func(w http.ResponseWriter, r *http.Request, user int64) {
	return func(w http.ResponseWriter, r *http.Request, user int64) {
		q := r.URL.Query()
		limit := DefaultPageSize
		if v := q.Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > MaxPageSize {
				apiError(w, http.StatusBadRequest, "limit must be an integer from 1 to 25")
				return
			}
			limit = n
		}
		var c cursor
		if tok := q.Get("nextToken"); tok != "" {
			var err error
			if c, err = parseCursor(tok, collection); err != nil {
				apiError(w, http.StatusBadRequest, "invalid nextToken")
				return
			}
		} else {
			c = cursor{Collection: collection, To: s.cfg.Now()}
			for name, dst := range map[string]*time.Time{"start": &c.From, "end": &c.To} {
				v := q.Get(name)
				if v == "" {
					continue
				}
				t, err := time.Parse(time.RFC3339Nano, v)
				if err != nil {
					apiError(w, http.StatusBadRequest, name+" must be an ISO 8601 date-time")
					return
				}
				*dst = t
			}
			if !c.From.IsZero() && c.To.Before(c.From) {
				apiError(w, http.StatusBadRequest, "end must not be before start")
				return
			}
		}

		var match []doc
		for _, d := range s.snapshot(collection) {
			ongoing := d.end.IsZero()
			if (c.From.IsZero() || ongoing || !d.end.Before(c.From)) && d.start.Before(c.To) {
				match = append(match, d)
			}
		}
		from := min(c.Offset, len(match))
		to := min(from+limit, len(match))
		var buf bytes.Buffer
		buf.WriteString(`{"records":[`)
		for i, d := range match[from:to] {
			if i > 0 {
				buf.WriteByte(',')
			}
			buf.Write(d.raw)
		}
		buf.WriteString("]")
		if to < len(match) {
			c.Offset = to
			buf.WriteString(`,"next_token":`)
			buf.WriteString(strconv.Quote(c.token()))
		}
		buf.WriteString("}")
		writeRaw(w, http.StatusOK, buf.Bytes())
	}
}
