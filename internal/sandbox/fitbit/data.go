package fitbit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/wearbridge/wearbridge/internal/sandbox/fixtures"
)

// The recorded fixtures served.
const (
	fileActivitiesDay = "fitbit/activities_date_multiple.json"
	fileHeart         = "fitbit/heart_1d_1min_intraday.json"
	fileSteps         = "fitbit/steps_1d_1min_intraday.json"
	fileSleep         = "fitbit/sleep_v1.2_classic_by_date.json"
	fileWeight        = "fitbit/body_log_weight.json"
)

// Range limits of the date-range endpoints, in days.
const (
	maxSleepRange = 100
	maxBodyRange  = 31
)

const dateLayout = time.DateOnly

// dated is one recorded log and the day it is filed under.
type dated struct {
	day string
	raw json.RawMessage
}

// recorded is the fixture data by day.
type recorded struct {
	activities map[string][]byte // day summary bodies by day
	heart      map[string][]byte // intraday heart rate bodies by day
	steps      map[string][]byte // intraday steps bodies by day
	sleepDay   map[string][]byte // sleep-by-date bodies by day
	sleep      []dated           // sleep logs by dateOfSleep
	weight     []dated           // weight logs by date
}

// loadRecorded reads the embedded fixtures.
func loadRecorded() (*recorded, error) {
	read := func(name string) ([]byte, error) {
		b, err := fs.ReadFile(fixtures.FS, name)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		return b, nil
	}
	d := &recorded{
		activities: make(map[string][]byte),
		heart:      make(map[string][]byte),
		steps:      make(map[string][]byte),
		sleepDay:   make(map[string][]byte),
	}

	// The day summary: its day is its activities' startDate.
	body, err := read(fileActivitiesDay)
	if err != nil {
		return nil, err
	}
	var act struct {
		Activities []struct {
			StartDate string `json:"startDate"`
		} `json:"activities"`
	}
	if err := json.Unmarshal(body, &act); err != nil {
		return nil, fmt.Errorf("decode %s: %w", fileActivitiesDay, err)
	}
	if len(act.Activities) == 0 {
		return nil, fmt.Errorf("%s names no day", fileActivitiesDay)
	}
	d.activities[act.Activities[0].StartDate] = body

	// Intraday series: their day is the series' dateTime.
	for _, f := range []struct {
		file, key string
		into      map[string][]byte
	}{{fileHeart, "activities-heart", d.heart}, {fileSteps, "activities-steps", d.steps}} {
		body, err := read(f.file)
		if err != nil {
			return nil, err
		}
		var v map[string]json.RawMessage
		if err := json.Unmarshal(body, &v); err != nil {
			return nil, fmt.Errorf("decode %s: %w", f.file, err)
		}
		var days []struct {
			DateTime string `json:"dateTime"`
		}
		if err := json.Unmarshal(v[f.key], &days); err != nil || len(days) != 1 {
			return nil, fmt.Errorf("%s: want one day in %s", f.file, f.key)
		}
		f.into[days[0].DateTime] = body
	}

	// Sleep logs, filed under dateOfSleep.
	if body, err = read(fileSleep); err != nil {
		return nil, err
	}
	var sl struct {
		Sleep []json.RawMessage `json:"sleep"`
	}
	if err := json.Unmarshal(body, &sl); err != nil {
		return nil, fmt.Errorf("decode %s: %w", fileSleep, err)
	}
	days := map[string]bool{}
	for _, raw := range sl.Sleep {
		var h struct {
			DateOfSleep string `json:"dateOfSleep"`
		}
		if err := json.Unmarshal(raw, &h); err != nil || h.DateOfSleep == "" {
			return nil, fmt.Errorf("%s: a log without dateOfSleep", fileSleep)
		}
		d.sleep = append(d.sleep, dated{day: h.DateOfSleep, raw: bytes.TrimSpace(raw)})
		days[h.DateOfSleep] = true
	}
	if len(days) == 1 {
		for day := range days {
			d.sleepDay[day] = body
		}
	}

	// Weight logs, filed under date.
	if body, err = read(fileWeight); err != nil {
		return nil, err
	}
	var wl struct {
		Weight []json.RawMessage `json:"weight"`
	}
	if err := json.Unmarshal(body, &wl); err != nil {
		return nil, fmt.Errorf("decode %s: %w", fileWeight, err)
	}
	for _, raw := range wl.Weight {
		var h struct {
			Date string `json:"date"`
		}
		if err := json.Unmarshal(raw, &h); err != nil || h.Date == "" {
			return nil, fmt.Errorf("%s: a log without date", fileWeight)
		}
		d.weight = append(d.weight, dated{day: h.Date, raw: bytes.TrimSpace(raw)})
	}
	return d, nil
}

// RecordedDays returns the days the fixtures hold data for, by Fitbit
// notification collection (activities, sleep, body), each list sorted.
func RecordedDays() (map[string][]string, error) {
	d, err := loadRecorded()
	if err != nil {
		return nil, err
	}
	return d.days(), nil
}

func (d *recorded) days() map[string][]string {
	set := map[string]map[string]bool{"activities": {}, "sleep": {}, "body": {}}
	for _, m := range []map[string][]byte{d.activities, d.heart, d.steps} {
		for day := range m {
			set["activities"][day] = true
		}
	}
	for _, l := range d.sleep {
		set["sleep"][l.day] = true
	}
	for _, l := range d.weight {
		set["body"][l.day] = true
	}
	out := make(map[string][]string, len(set))
	for k, days := range set {
		for day := range days {
			out[k] = append(out[k], day)
		}
		slices.Sort(out[k])
	}
	return out
}

// parseDate reads a path date; "today" is the profile zone's today.
func (s *Server) parseDate(v string) (time.Time, bool) {
	if v == "today" {
		loc, err := time.LoadLocation(s.cfg.Timezone)
		if err != nil {
			loc = time.UTC
		}
		y, m, dd := s.cfg.Now().In(loc).Date()
		return time.Date(y, m, dd, 0, 0, 0, 0, time.UTC), true
	}
	t, err := time.Parse(dateLayout, v)
	return t, err == nil
}

// jsonFile strips ".json" from a path segment; ok is false without it.
func jsonFile(seg string) (string, bool) {
	return strings.CutSuffix(seg, ".json")
}

func invalidDate(w http.ResponseWriter, field, value string) {
	fail(w, http.StatusBadRequest, apiError{ErrorType: "validation", FieldName: field,
		Message: fmt.Sprintf("Invalid date:%s", value)})
}

// dateRange reads a start and end date, checking the order and the
// maximum span in days.
func (s *Server) dateRange(w http.ResponseWriter, startS, endS string, maxDays int) (from, to time.Time, ok bool) {
	from, ok1 := s.parseDate(startS)
	if !ok1 {
		invalidDate(w, "startDate", startS)
		return from, to, false
	}
	to, ok2 := s.parseDate(endS)
	if !ok2 {
		invalidDate(w, "endDate", endS)
		return from, to, false
	}
	if to.Before(from) {
		fail(w, http.StatusBadRequest, apiError{ErrorType: "validation", FieldName: "endDate",
			Message: "Start date must be before or equal to end date"})
		return from, to, false
	}
	if to.Sub(from) >= time.Duration(maxDays)*24*time.Hour {
		fail(w, http.StatusBadRequest, apiError{ErrorType: "validation", FieldName: "endDate",
			Message: fmt.Sprintf("The maximum date range is %d days", maxDays)})
		return from, to, false
	}
	return from, to, true
}

// profile answers a synthetic profile: the sandbox user, in the configured
// zone, with Fitbit's offsetFromUTCMillis (the zone's offset now).
func (s *Server) profile(w http.ResponseWriter, r *http.Request, tok accessToken) {
	off := 0
	if loc, err := time.LoadLocation(s.cfg.Timezone); err == nil {
		_, off = s.cfg.Now().In(loc).Zone()
	}
	writeJSON(w, http.StatusOK, map[string]any{"user": map[string]any{
		"encodedId":           tok.user,
		"displayName":         "Sandbox",
		"fullName":            "Sandbox User",
		"timezone":            s.cfg.Timezone,
		"offsetFromUTCMillis": off * 1000,
		"distanceUnit":        "METRIC",
		"weightUnit":          "METRIC",
		"memberSince":         "2015-01-01",
		"locale":              "en_US",
	}})
}

// noDataDay is Fitbit's answer for a day with nothing measured.
func noDataDay() map[string]any {
	var dists []map[string]any
	for _, a := range []string{"total", "tracker", "loggedActivities", "veryActive", "moderatelyActive", "lightlyActive", "sedentaryActive"} {
		dists = append(dists, map[string]any{"activity": a, "distance": 0})
	}
	return map[string]any{
		"activities": []any{},
		"goals":      map[string]any{"activeMinutes": 30, "caloriesOut": 2095, "distance": 8.05, "steps": 10000},
		"summary": map[string]any{
			"activeScore": -1, "activityCalories": 0, "caloriesBMR": 1240, "caloriesOut": 1240,
			"distances": dists, "fairlyActiveMinutes": 0, "lightlyActiveMinutes": 0, "marginalCalories": 0,
			"sedentaryMinutes": 1440, "steps": 0, "veryActiveMinutes": 0,
		},
	}
}

// activitiesDay answers a day summary: the recording for its day, else a
// day with nothing measured.
func (s *Server) activitiesDay(w http.ResponseWriter, r *http.Request, _ accessToken) {
	name, ok := jsonFile(r.PathValue("file"))
	day, valid := s.parseDate(name)
	if !ok || !valid {
		invalidDate(w, "date", name)
		return
	}
	if body, found := s.data.activities[day.Format(dateLayout)]; found {
		writeRaw(w, http.StatusOK, body)
		return
	}
	writeJSON(w, http.StatusOK, noDataDay())
}

// intraday answers the intraday heart rate or steps of a day at 1min.
func (s *Server) intraday(w http.ResponseWriter, r *http.Request, tok accessToken) {
	res := r.PathValue("resource")
	scope := map[string]string{"heart": "heartrate", "steps": "activity"}[res]
	if scope == "" {
		fail(w, http.StatusBadRequest, apiError{ErrorType: "validation", FieldName: "resource-path",
			Message: "Invalid time series resource path: /activities/" + res})
		return
	}
	if !hasScope(tok.scope, scope) {
		fail(w, http.StatusForbidden, apiError{ErrorType: "insufficient_scope", Message: "This application does not have permission to access " + scope + " data."})
		return
	}
	detail, ok := jsonFile(r.PathValue("file"))
	if !ok || detail != "1min" {
		fail(w, http.StatusBadRequest, apiError{ErrorType: "validation", FieldName: "detail-level",
			Message: "The sandbox serves only the 1min detail level"})
		return
	}
	day, valid := s.parseDate(r.PathValue("date"))
	if !valid {
		invalidDate(w, "date", r.PathValue("date"))
		return
	}
	ds := day.Format(dateLayout)
	rec := s.data.heart
	if res == "steps" {
		rec = s.data.steps
	}
	if body, found := rec[ds]; found {
		writeRaw(w, http.StatusOK, body)
		return
	}
	empty := map[string]any{"dataset": []any{}, "datasetInterval": 1, "datasetType": "minute"}
	if res == "steps" {
		writeJSON(w, http.StatusOK, map[string]any{
			"activities-steps":          []any{map[string]any{"dateTime": ds, "value": "0"}},
			"activities-steps-intraday": empty,
		})
		return
	}
	var zones []any
	for _, z := range []struct {
		name     string
		min, max int
	}{{"Out of Range", 30, 94}, {"Fat Burn", 94, 132}, {"Cardio", 132, 160}, {"Peak", 160, 220}} {
		zones = append(zones, map[string]any{"caloriesOut": 0, "max": z.max, "min": z.min, "minutes": 0, "name": z.name})
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"activities-heart": []any{map[string]any{"dateTime": ds, "value": map[string]any{
			"customHeartRateZones": []any{}, "heartRateZones": zones,
		}}},
		"activities-heart-intraday": empty,
	})
}

// logsIn returns the raw logs filed under days in [from, to].
func logsIn(logs []dated, from, to time.Time) []json.RawMessage {
	f, t := from.Format(dateLayout), to.Format(dateLayout)
	out := []json.RawMessage{}
	for _, l := range logs {
		if l.day >= f && l.day <= t {
			out = append(out, l.raw)
		}
	}
	return out
}

// sleepDay answers the sleep logs of one day, with the day's summary.
func (s *Server) sleepDay(w http.ResponseWriter, r *http.Request, _ accessToken) {
	name, ok := jsonFile(r.PathValue("file"))
	day, valid := s.parseDate(name)
	if !ok || !valid {
		invalidDate(w, "date", name)
		return
	}
	if body, found := s.data.sleepDay[day.Format(dateLayout)]; found {
		writeRaw(w, http.StatusOK, body)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"sleep":   logsIn(s.data.sleep, day, day),
		"summary": map[string]any{"totalMinutesAsleep": 0, "totalSleepRecords": 0, "totalTimeInBed": 0},
	})
}

// sleepRange answers the sleep logs whose dateOfSleep is in the range.
func (s *Server) sleepRange(w http.ResponseWriter, r *http.Request, _ accessToken) {
	end, ok := jsonFile(r.PathValue("file"))
	if !ok {
		invalidDate(w, "endDate", r.PathValue("file"))
		return
	}
	from, to, ok := s.dateRange(w, r.PathValue("start"), end, maxSleepRange)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"sleep": logsIn(s.data.sleep, from, to)})
}

// bodyLogs answers the weight or fat logs of a range. There is no
// recorded fat log, so fat lists are empty.
func (s *Server) bodyLogs(w http.ResponseWriter, r *http.Request, _ accessToken) {
	kind := r.PathValue("kind")
	if kind != "weight" && kind != "fat" {
		fail(w, http.StatusBadRequest, apiError{ErrorType: "validation", FieldName: "resource-path",
			Message: "Invalid body log resource: " + kind})
		return
	}
	end, ok := jsonFile(r.PathValue("file"))
	if !ok {
		invalidDate(w, "endDate", r.PathValue("file"))
		return
	}
	from, to, ok := s.dateRange(w, r.PathValue("start"), end, maxBodyRange)
	if !ok {
		return
	}
	logs := []json.RawMessage{}
	if kind == "weight" {
		logs = logsIn(s.data.weight, from, to)
	}
	writeJSON(w, http.StatusOK, map[string]any{kind: logs})
}

// subscriptionCollections are the collections a subscription can name.
var subscriptionCollections = map[string]bool{"activities": true, "body": true, "foods": true, "sleep": true, "userRevokedAccess": true}

// subscribe creates a subscription: 201 when new, 200 when it exists with
// the same id, 409 when the user already has one under another id.
func (s *Server) subscribe(w http.ResponseWriter, r *http.Request, tok accessToken) {
	coll := r.PathValue("collection")
	if coll != "" && !subscriptionCollections[coll] {
		fail(w, http.StatusBadRequest, apiError{ErrorType: "validation", FieldName: "collection-path", Message: "Invalid collection: " + coll})
		return
	}
	id, ok := jsonFile(r.PathValue("file"))
	if !ok || id == "" || len(id) > 50 {
		fail(w, http.StatusBadRequest, apiError{ErrorType: "validation", FieldName: "subscription-id", Message: "Invalid subscription id"})
		return
	}
	s.mu.Lock()
	subs := s.subscriptions[tok.user]
	if subs == nil {
		subs = make(map[string]string)
		s.subscriptions[tok.user] = subs
	}
	old, exists := subs[coll]
	if !exists {
		subs[coll] = id
	}
	s.mu.Unlock()
	status := http.StatusCreated
	switch {
	case exists && old == id:
		status = http.StatusOK
	case exists:
		fail(w, http.StatusConflict, apiError{ErrorType: "conflict", Message: "This subscriber already has a subscription for this user's collection with subscriptionId " + old})
		return
	}
	writeJSON(w, status, subscriptionJSON(tok.user, coll, id))
}

func subscriptionJSON(user, coll, id string) map[string]any {
	ct := coll
	if ct == "" {
		ct = "user"
	}
	return map[string]any{"collectionType": ct, "ownerId": user, "ownerType": "user", "subscriberId": "1", "subscriptionId": id}
}

// listSubscriptions lists the user's subscriptions.
func (s *Server) listSubscriptions(w http.ResponseWriter, r *http.Request, tok accessToken) {
	coll := r.PathValue("collection")
	s.mu.Lock()
	var list []any
	keys := make([]string, 0, len(s.subscriptions[tok.user]))
	for k := range s.subscriptions[tok.user] {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if coll == "" || coll == k {
			list = append(list, subscriptionJSON(tok.user, k, s.subscriptions[tok.user][k]))
		}
	}
	s.mu.Unlock()
	if list == nil {
		list = []any{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"apiSubscriptions": list})
}

// errNoData is returned when the fixtures hold no day at all.
var errNoData = errors.New("fitbit sandbox: the fixtures hold no data")
