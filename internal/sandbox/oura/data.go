package oura

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"strconv"
	"time"

	"github.com/wearbridge/wearbridge/internal/sandbox/fixtures"
)

// Fixture files per collection. daily_activity's fixture is a single
// document (the GET /daily_activity/{id} answer); it is served inside a
// collection page too. workout has no recording and is served empty.
var fixtureFiles = map[string]string{
	"sleep":           "oura/sleep_2024-10-09_11-03.json",
	"daily_sleep":     "oura/daily_sleep_2024-11-11_12.json",
	"daily_readiness": "oura/daily_readiness_2024-11-11_12.json",
	"daily_spo2":      "oura/daily_spo2_2024-11-11_12.json",
	"session":         "oura/session_2024-10-09_11-03.json",
	"heartrate":       "oura/heartrate_page.json",
	"daily_activity":  "oura/daily_activity_single.json",
	"workout":         "",
}

const (
	fileNotFound   = "oura/error_404_not_found.json"
	timeCollection = "heartrate"
	singleDocument = "daily_activity"
	dateLayout     = "2006-01-02"
)

// doc is one served document: its raw bytes as recorded, and what it is
// filtered by.
type doc struct {
	id  string
	day string    // day-based collections
	ts  time.Time // heartrate
	raw json.RawMessage
}

// loadFixtures reads the embedded fixtures into collections.
func loadFixtures() (map[string][]doc, map[string][]byte, error) {
	data := make(map[string][]doc, len(fixtureFiles))
	single := make(map[string][]byte)
	for coll, file := range fixtureFiles {
		data[coll] = nil
		if file == "" {
			continue
		}
		body, err := fs.ReadFile(fixtures.FS, file)
		if err != nil {
			return nil, nil, fmt.Errorf("read %s: %w", file, err)
		}
		var items []json.RawMessage
		if coll == singleDocument {
			items = []json.RawMessage{body}
		} else {
			var page struct {
				Data []json.RawMessage `json:"data"`
			}
			if err := json.Unmarshal(body, &page); err != nil {
				return nil, nil, fmt.Errorf("decode %s: %w", file, err)
			}
			items = page.Data
		}
		for _, raw := range items {
			var head struct {
				ID        string `json:"id"`
				Day       string `json:"day"`
				Timestamp string `json:"timestamp"`
			}
			if err := json.Unmarshal(raw, &head); err != nil {
				return nil, nil, fmt.Errorf("decode %s item: %w", file, err)
			}
			d := doc{id: head.ID, day: head.Day, raw: bytes.TrimSpace(raw)}
			if coll == timeCollection {
				d.ts, err = time.Parse(time.RFC3339Nano, head.Timestamp)
				if err != nil {
					return nil, nil, fmt.Errorf("%s item timestamp: %w", file, err)
				}
			}
			data[coll] = append(data[coll], d)
			if d.id != "" {
				single[coll+"/"+d.id] = d.raw
			}
		}
		if coll == singleDocument {
			single[coll+"/"+data[coll][0].id] = body
		}
	}
	return data, single, nil
}

// personalInfo answers a synthetic profile whose id is the sandbox user.
func (s *Server) personalInfo(w http.ResponseWriter, r *http.Request, user string) {
	writeJSON(w, http.StatusOK, map[string]any{
		"id":             user,
		"age":            34,
		"weight":         68.5,
		"height":         1.72,
		"biological_sex": "female",
		"email":          user + "@sandbox.invalid",
	})
}

// document answers one document by id.
func (s *Server) document(w http.ResponseWriter, r *http.Request, user string) {
	body, ok := s.single[r.PathValue("collection")+"/"+r.PathValue("id")]
	if !ok {
		nf, err := fs.ReadFile(fixtures.FS, fileNotFound)
		if err != nil {
			nf = []byte(`{"detail":"Document not found."}`)
		}
		writeRaw(w, http.StatusNotFound, nf)
		return
	}
	writeRaw(w, http.StatusOK, body)
}

// cursor is the state a next_token carries: the collection, the filter and
// where the next page starts. Pages are slices of one stable, ordered
// list, so they neither overlap nor leave gaps.
type cursor struct {
	Collection string `json:"c"`
	From       string `json:"f"`
	To         string `json:"t"`
	Offset     int    `json:"o"`
}

func (c cursor) token() string {
	b, _ := json.Marshal(c) // a struct of strings and an int always marshals
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

// validationError is one entry of a 422 body, shaped like Oura's
// (fixtures/oura/error_422_start_after_end.json).
type validationError struct {
	Type  string   `json:"type"`
	Loc   []string `json:"loc"`
	Msg   string   `json:"msg"`
	Input string   `json:"input"`
}

func unprocessable(w http.ResponseWriter, errs ...validationError) {
	writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"detail": errs})
}

// list answers one page of a collection.
func (s *Server) list(w http.ResponseWriter, r *http.Request, user string) {
	coll := r.PathValue("collection")
	docs, ok := s.data[coll]
	if !ok {
		detail(w, http.StatusNotFound, "Not Found")
		return
	}
	q := r.URL.Query()
	var c cursor
	if tok := q.Get("next_token"); tok != "" {
		var err error
		if c, err = parseCursor(tok, coll); err != nil {
			detail(w, http.StatusBadRequest, "Invalid next_token")
			return
		}
	} else {
		var verrs []validationError
		if coll == timeCollection {
			c, verrs = s.timeFilter(q.Get("start_datetime"), q.Get("end_datetime"))
		} else {
			c, verrs = s.dayFilter(q.Get("start_date"), q.Get("end_date"))
		}
		if len(verrs) > 0 {
			unprocessable(w, verrs...)
			return
		}
		c.Collection = coll
	}

	match, err := filter(coll, docs, c)
	if err != nil {
		detail(w, http.StatusBadRequest, "Invalid next_token")
		return
	}
	from := min(c.Offset, len(match))
	to := min(from+s.cfg.PageSize, len(match))
	var buf bytes.Buffer
	buf.WriteString(`{"data":[`)
	for i, d := range match[from:to] {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(d.raw)
	}
	buf.WriteString(`],"next_token":`)
	if to < len(match) {
		c.Offset = to
		buf.WriteString(strconv.Quote(c.token()))
	} else {
		buf.WriteString("null")
	}
	buf.WriteString("}")
	writeRaw(w, http.StatusOK, buf.Bytes())
}

// filter returns the documents of c's range, in recorded order. Days are
// inclusive at both ends; heartrate times are [from, to).
func filter(coll string, docs []doc, c cursor) ([]doc, error) {
	var out []doc
	if coll == timeCollection {
		from, err1 := time.Parse(time.RFC3339Nano, c.From)
		to, err2 := time.Parse(time.RFC3339Nano, c.To)
		if err := errors.Join(err1, err2); err != nil {
			return nil, err
		}
		for _, d := range docs {
			if !d.ts.Before(from) && d.ts.Before(to) {
				out = append(out, d)
			}
		}
		return out, nil
	}
	for _, d := range docs {
		if d.day >= c.From && d.day <= c.To {
			out = append(out, d)
		}
	}
	return out, nil
}

// dayFilter reads start_date and end_date. Like Oura, each may be a date or
// a datetime (its own date is used); end_date defaults to today and
// start_date to the day before end_date.
func (s *Server) dayFilter(startS, endS string) (cursor, []validationError) {
	var verrs []validationError
	parse := func(name, v string) (time.Time, bool) {
		if t, err := time.Parse(dateLayout, v); err == nil {
			return t, true
		}
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
			y, m, d := t.Date()
			return time.Date(y, m, d, 0, 0, 0, 0, time.UTC), true
		}
		verrs = append(verrs, validationError{
			Type: "date_from_datetime_parsing", Loc: []string{"query", name},
			Msg: "Input should be a valid date or datetime", Input: v,
		})
		return time.Time{}, false
	}
	end := s.cfg.Now().UTC().Truncate(24 * time.Hour)
	if endS != "" {
		end, _ = parse("end_date", endS)
	}
	start := end.AddDate(0, 0, -1)
	if startS != "" {
		start, _ = parse("start_date", startS)
	}
	if len(verrs) > 0 {
		return cursor{}, verrs
	}
	if start.After(end) {
		return cursor{}, []validationError{{
			Type: "value_error", Loc: []string{"query", "start_date"},
			Msg: "Start date must be before end date", Input: startS,
		}}
	}
	return cursor{From: start.Format(dateLayout), To: end.Format(dateLayout)}, nil
}

// timeFilter reads start_datetime and end_datetime (RFC 3339); end
// defaults to now and start to a day before end.
func (s *Server) timeFilter(startS, endS string) (cursor, []validationError) {
	var verrs []validationError
	parse := func(name, v string) (time.Time, bool) {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			verrs = append(verrs, validationError{
				Type: "datetime_from_date_parsing", Loc: []string{"query", name},
				Msg: "Input should be a valid datetime", Input: v,
			})
			return time.Time{}, false
		}
		return t, true
	}
	end := s.cfg.Now()
	if endS != "" {
		end, _ = parse("end_datetime", endS)
	}
	start := end.Add(-24 * time.Hour)
	if startS != "" {
		start, _ = parse("start_datetime", startS)
	}
	if len(verrs) > 0 {
		return cursor{}, verrs
	}
	if start.After(end) {
		return cursor{}, []validationError{{
			Type: "value_error", Loc: []string{"query", "start_datetime"},
			Msg: "Start datetime must be before end datetime", Input: startS,
		}}
	}
	return cursor{From: start.Format(time.RFC3339Nano), To: end.Format(time.RFC3339Nano)}, nil
}
