package withings

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wearbridge/wearbridge/internal/sandbox/fixtures"
)

// The fixture files, in fixtures.FS.
const (
	fileMeasureBody = "withings/measure_getmeas_body.json" // {"body": {"measuregrps": [...]}}
	fileMeasureList = "withings/measuregrps_list.json"     // a bare measuregrps array
	fileActivity    = "withings/activity_getactivity.json"
	fileIntraday    = "withings/intraday_activity.json"
	fileWorkouts    = "withings/workouts_getworkouts.json"
	fileSleep       = "withings/sleep_getsummary.json"
	dateLayout      = time.DateOnly
)

// item is one recorded list item: its bytes as recorded and what it is
// filtered and sorted by.
type item struct {
	raw       json.RawMessage
	date      string // activity, workout, sleep: Withings' day
	unix      int64  // measure group: date; workout, sleep: startdate; intraday: key
	key       string // intraday: the series key as recorded
	grpid     int64
	category  int
	modified  int64
	meastypes []int
}

// recorded is the fixture data, by service.
type recorded struct {
	measures   []item // newest first, as Withings lists them
	activities []item // by day
	intraday   []item // by time
	workouts   []item // by start (the recording lists one workout twice; both are kept)
	sleeps     []item // by start
}

// loadRecorded reads the embedded fixtures.
func loadRecorded() (*recorded, error) {
	var d recorded
	var err error
	body, err := envelopeList(fileMeasureBody, "measuregrps")
	if err != nil {
		return nil, err
	}
	list, err := fs.ReadFile(fixtures.FS, fileMeasureList)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", fileMeasureList, err)
	}
	var bare []json.RawMessage
	if err := json.Unmarshal(list, &bare); err != nil {
		return nil, fmt.Errorf("decode %s: %w", fileMeasureList, err)
	}
	for _, raw := range append(body, bare...) {
		var g struct {
			GrpID    int64  `json:"grpid"`
			Date     int64  `json:"date"`
			Category int    `json:"category"`
			Modified *int64 `json:"modified"`
			Measures []struct {
				Type int `json:"type"`
			} `json:"measures"`
		}
		if err := json.Unmarshal(raw, &g); err != nil {
			return nil, fmt.Errorf("decode measure group: %w", err)
		}
		it := item{raw: raw, unix: g.Date, grpid: g.GrpID, category: g.Category, modified: g.Date}
		if g.Modified != nil {
			it.modified = *g.Modified
		}
		for _, m := range g.Measures {
			it.meastypes = append(it.meastypes, m.Type)
		}
		d.measures = append(d.measures, it)
	}
	slices.SortStableFunc(d.measures, func(a, b item) int { return cmp.Or(cmp.Compare(b.unix, a.unix), cmp.Compare(b.grpid, a.grpid)) })

	if d.activities, err = dayItems(fileActivity, "activities"); err != nil {
		return nil, err
	}
	if d.workouts, err = dayItems(fileWorkouts, "series"); err != nil {
		return nil, err
	}
	if d.sleeps, err = dayItems(fileSleep, "series"); err != nil {
		return nil, err
	}

	b, err := fs.ReadFile(fixtures.FS, fileIntraday)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", fileIntraday, err)
	}
	var in struct {
		Body struct {
			Series map[string]json.RawMessage `json:"series"`
		} `json:"body"`
	}
	if err := json.Unmarshal(b, &in); err != nil {
		return nil, fmt.Errorf("decode %s: %w", fileIntraday, err)
	}
	for k, raw := range in.Body.Series {
		sec, err := strconv.ParseInt(k, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: series key %q: %w", fileIntraday, k, err)
		}
		d.intraday = append(d.intraday, item{raw: raw, unix: sec, key: k})
	}
	slices.SortFunc(d.intraday, func(a, b item) int { return cmp.Compare(a.unix, b.unix) })
	return &d, nil
}

// envelopeList reads body.<key> of a recorded answer.
func envelopeList(file, key string) ([]json.RawMessage, error) {
	b, err := fs.ReadFile(fixtures.FS, file)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	var env struct {
		Body map[string]json.RawMessage `json:"body"`
	}
	if err := json.Unmarshal(b, &env); err != nil {
		return nil, fmt.Errorf("decode %s: %w", file, err)
	}
	var items []json.RawMessage
	if err := json.Unmarshal(env.Body[key], &items); err != nil {
		return nil, fmt.Errorf("decode %s body.%s: %w", file, key, err)
	}
	return items, nil
}

// dayItems reads the items of a day-filtered list, ordered by day then
// start.
func dayItems(file, key string) ([]item, error) {
	raws, err := envelopeList(file, key)
	if err != nil {
		return nil, err
	}
	out := make([]item, 0, len(raws))
	for _, raw := range raws {
		var h struct {
			Date      string `json:"date"`
			StartDate int64  `json:"startdate"`
			Modified  int64  `json:"modified"`
		}
		if err := json.Unmarshal(raw, &h); err != nil {
			return nil, fmt.Errorf("decode %s item: %w", file, err)
		}
		if _, err := time.Parse(dateLayout, h.Date); err != nil {
			return nil, fmt.Errorf("%s item: date %q: %w", file, h.Date, err)
		}
		out = append(out, item{raw: raw, date: h.Date, unix: h.StartDate, modified: h.Modified})
	}
	slices.SortStableFunc(out, func(a, b item) int { return cmp.Or(strings.Compare(a.date, b.date), cmp.Compare(a.unix, b.unix)) })
	return out, nil
}

// measure serves /measure: getmeas.
func (s *Server) measure(w http.ResponseWriter, r *http.Request, user string) {
	f := r.Form
	if f.Get("action") != "getmeas" {
		reply(w, statusNotImpl, nil, "Not implemented")
		return
	}
	ints := map[string]int64{}
	for _, k := range []string{"category", "startdate", "enddate", "lastupdate", "offset", "meastype"} {
		if v := f.Get(k); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				reply(w, statusInvalidParams, nil, "Invalid Params: "+k)
				return
			}
			ints[k] = n
		}
	}
	types := map[int]bool{}
	if t, ok := ints["meastype"]; ok {
		types[int(t)] = true
	}
	for _, v := range strings.Split(f.Get("meastypes"), ",") {
		if v = strings.TrimSpace(v); v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			reply(w, statusInvalidParams, nil, "Invalid Params: meastypes")
			return
		}
		types[n] = true
	}
	var match []json.RawMessage
	for _, g := range s.data.measures {
		if c, ok := ints["category"]; ok && int64(g.category) != c {
			continue
		}
		if v, ok := ints["startdate"]; ok && g.unix < v {
			continue
		}
		if v, ok := ints["enddate"]; ok && g.unix > v {
			continue
		}
		if v, ok := ints["lastupdate"]; ok && g.modified < v {
			continue
		}
		raw := g.raw
		if len(types) > 0 {
			var err error
			if raw, err = onlyTypes(g.raw, types); err != nil {
				reply(w, 2555, nil, "An error occurred")
				return
			}
			if raw == nil {
				continue
			}
		}
		match = append(match, raw)
	}
	page, more, next := s.page(match, ints["offset"])
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"updatetime":%d,"timezone":%q,"measuregrps":`, s.cfg.Now().Unix(), s.cfg.Timezone)
	writeList(&b, page)
	fmt.Fprintf(&b, `,"more":%d,"offset":%d}`, boolInt(more), next)
	reply(w, statusOK, b.Bytes(), "")
}

// onlyTypes rewrites a measure group to the measures of the given types;
// nil when none is left.
func onlyTypes(raw json.RawMessage, types map[int]bool) (json.RawMessage, error) {
	var g map[string]json.RawMessage
	if err := json.Unmarshal(raw, &g); err != nil {
		return nil, err
	}
	var ms []json.RawMessage
	if err := json.Unmarshal(g["measures"], &ms); err != nil {
		return nil, err
	}
	var keep []json.RawMessage
	for _, m := range ms {
		var h struct {
			Type int `json:"type"`
		}
		if err := json.Unmarshal(m, &h); err != nil {
			return nil, err
		}
		if types[h.Type] {
			keep = append(keep, m)
		}
	}
	if len(keep) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(keep)
	if err != nil {
		return nil, err
	}
	g["measures"] = b
	return json.Marshal(g)
}

// page cuts one page of items from offset, as Withings does: "more" and
// the offset of the next page.
func (s *Server) page(items []json.RawMessage, offset int64) (page []json.RawMessage, more bool, next int64) {
	from := min(max(offset, 0), int64(len(items)))
	to := min(from+int64(s.cfg.PageSize), int64(len(items)))
	if to < int64(len(items)) {
		return items[from:to], true, to
	}
	return items[from:to], false, 0
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// writeList writes raw items as a JSON array, each as recorded.
func writeList(b *bytes.Buffer, items []json.RawMessage) {
	b.WriteByte('[')
	for i, it := range items {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(bytes.TrimSpace(it))
	}
	b.WriteByte(']')
}

// measureV2 serves /v2/measure: getactivity, getintradayactivity,
// getworkouts.
func (s *Server) measureV2(w http.ResponseWriter, r *http.Request, user string) {
	switch r.Form.Get("action") {
	case "getactivity":
		s.dayList(w, r.Form, s.data.activities, "activities")
	case "getworkouts":
		s.dayList(w, r.Form, s.data.workouts, "series")
	case "getintradayactivity":
		s.intradayActivity(w, r.Form)
	default:
		reply(w, statusNotImpl, nil, "Not implemented")
	}
}

// sleep serves /v2/sleep: getsummary.
func (s *Server) sleep(w http.ResponseWriter, r *http.Request, user string) {
	switch r.Form.Get("action") {
	case "getsummary":
		s.dayList(w, r.Form, s.data.sleeps, "series")
	default:
		reply(w, statusNotImpl, nil, "Not implemented")
	}
}

// dayList answers a list filtered by startdateymd..enddateymd (inclusive)
// or by lastupdate, with more/offset paging.
func (s *Server) dayList(w http.ResponseWriter, f url.Values, items []item, key string) {
	from, to := f.Get("startdateymd"), f.Get("enddateymd")
	var lastupdate int64 = -1
	if v := f.Get("lastupdate"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			reply(w, statusInvalidParams, nil, "Invalid Params: lastupdate")
			return
		}
		lastupdate = n
	}
	if lastupdate < 0 {
		_, err1 := time.Parse(dateLayout, from)
		_, err2 := time.Parse(dateLayout, to)
		if err1 != nil || err2 != nil {
			reply(w, statusInvalidParams, nil, "Invalid Params: startdateymd and enddateymd, or lastupdate, are required")
			return
		}
	}
	var offset int64
	if v := f.Get("offset"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			reply(w, statusInvalidParams, nil, "Invalid Params: offset")
			return
		}
		offset = n
	}
	var match []json.RawMessage
	for _, it := range items {
		if lastupdate >= 0 {
			if it.modified < lastupdate {
				continue
			}
		} else if it.date < from || it.date > to {
			continue
		}
		match = append(match, it.raw)
	}
	page, more, next := s.page(match, offset)
	var b bytes.Buffer
	fmt.Fprintf(&b, `{%q:`, key)
	writeList(&b, page)
	fmt.Fprintf(&b, `,"more":%t,"offset":%d}`, more, next)
	reply(w, statusOK, b.Bytes(), "")
}

// intradayActivity answers getintradayactivity: the entries from
// startdate to enddate (both included), at most the first 24 hours; with
// no range, the last recorded 24 hours. No entries is "series": [], as
// Withings writes it.
func (s *Server) intradayActivity(w http.ResponseWriter, f url.Values) {
	in := s.data.intraday
	var from, to int64
	switch v := f.Get("startdate"); {
	case v != "":
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			reply(w, statusInvalidParams, nil, "Invalid Params: startdate")
			return
		}
		from, to = n, n+86400-1
		if e := f.Get("enddate"); e != "" {
			m, err := strconv.ParseInt(e, 10, 64)
			if err != nil {
				reply(w, statusInvalidParams, nil, "Invalid Params: enddate")
				return
			}
			to = min(to, m)
		}
	case len(in) > 0:
		to = in[len(in)-1].unix
		from = to - 86400 + 1
	}
	var b bytes.Buffer
	b.WriteString(`{"series":`)
	n := 0
	for _, it := range in {
		if it.unix < from || it.unix > to {
			continue
		}
		if n == 0 {
			b.WriteByte('{')
		} else {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%q:", it.key)
		b.Write(bytes.TrimSpace(it.raw))
		n++
	}
	if n == 0 {
		b.WriteString("[]")
	} else {
		b.WriteByte('}')
	}
	b.WriteByte('}')
	reply(w, statusOK, b.Bytes(), "")
}
