package garmin

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Garmin summary fields, as documented in the Health API (v1.2.2). Numbers
// are decoded as float64 whatever Garmin documents (some "integer" start
// times are floats in practice); missing fields stay nil.

// window is the timing part of a summary.
type window struct {
	SummaryID    string   `json:"summaryId"`
	CalendarDate string   `json:"calendarDate"`
	StartTime    *float64 `json:"startTimeInSeconds"`
	StartOffset  *float64 `json:"startTimeOffsetInSeconds"`
	Duration     *float64 `json:"durationInSeconds"`
}

// offsetMap is a Garmin "timeOffset..." map: offset in seconds from the
// summary start → value.
type offsetMap map[string]*float64

// sample is one entry of an offsetMap, placed in time.
type sample struct {
	at  time.Time
	val float64
}

// key returns the record key: the summaryId without surrounding whitespace
// (Garmin's examples carry a leading space), with prefix.
func (w window) key(prefix string) (string, error) {
	id := strings.TrimSpace(w.SummaryID)
	if id == "" {
		return "", errors.New("summary has no summaryId")
	}
	return prefix + id, nil
}

// span returns the start and end of the summary in the summary's own offset.
func (w window) span() (start, end time.Time, warnings []string, err error) {
	if w.StartTime == nil {
		return time.Time{}, time.Time{}, nil, errors.New("summary has no startTimeInSeconds")
	}
	off, warn, err := offsetSeconds(w.StartOffset, "startTimeOffsetInSeconds")
	if err != nil {
		return time.Time{}, time.Time{}, nil, err
	}
	if warn != "" {
		warnings = append(warnings, warn)
	}
	if err := checkUnixTime(*w.StartTime, "startTimeInSeconds"); err != nil {
		return time.Time{}, time.Time{}, nil, err
	}
	start = localTime(*w.StartTime, off)
	end = start
	if w.Duration != nil {
		if !(*w.Duration >= 0 && *w.Duration <= maxDuration.Seconds()) {
			return time.Time{}, time.Time{}, nil, fmt.Errorf("durationInSeconds %v is out of range", *w.Duration)
		}
		end = start.Add(seconds(*w.Duration))
	}
	return start, end, warnings, nil
}

// Sanity bounds for Garmin times: a summary starts between 1970 and 2100
// and lasts at most maxDuration. Anything else is garbage, not a record.
const (
	maxUnixTime = 4102444800 // 2100-01-01T00:00:00Z
	maxDuration = 31 * 24 * time.Hour
)

// checkUnixTime rejects Unix times outside the sanity bounds.
func checkUnixTime(v float64, field string) error {
	if !(v >= 0 && v < maxUnixTime) {
		return fmt.Errorf("%s %v is out of range", field, v)
	}
	return nil
}

// offsetSeconds validates a Garmin offset field. A missing offset gives UTC
// and a warning: the record's local times are then unknown.
func offsetSeconds(v *float64, field string) (int, string, error) {
	if v == nil {
		return 0, "no " + field + "; times are given in UTC", nil
	}
	if math.IsNaN(*v) || math.Abs(*v) >= 24*3600 {
		return 0, "", fmt.Errorf("%s %v is not a UTC offset", field, *v)
	}
	return int(math.Round(*v)), "", nil
}

// seconds converts a float number of seconds to a Duration, to the
// microsecond.
func seconds(s float64) time.Duration {
	return time.Duration(math.Round(s*1e6)) * time.Microsecond
}

// day returns the record's calendar day: Garmin's calendarDate where the
// summary has one, otherwise the local date of fallback. A calendarDate that
// is not a local date of [start, end] is kept (it is Garmin's own day) and
// reported.
func (w window) day(start, end, fallback time.Time) (string, []string) {
	if w.CalendarDate == "" {
		return fallback.Format(time.DateOnly), nil
	}
	if _, err := time.Parse(time.DateOnly, w.CalendarDate); err != nil {
		return fallback.Format(time.DateOnly), []string{fmt.Sprintf("calendarDate %q is not YYYY-MM-DD; using the local date", w.CalendarDate)}
	}
	first := start.Format(time.DateOnly)
	last := first
	if end.After(start) {
		last = end.Add(-time.Nanosecond).Format(time.DateOnly)
	}
	if w.CalendarDate < first || w.CalendarDate > last {
		return w.CalendarDate, []string{fmt.Sprintf("calendarDate %s is not a local date of the summary (%s to %s); kept as Garmin's day", w.CalendarDate, first, last)}
	}
	return w.CalendarDate, nil
}

// sampleSlack is how far past the summary end a sample may lie.
const sampleSlack = time.Minute

// place turns an offset map into samples ordered by time, all in start's
// zone. Entries whose key is not a number of seconds, or whose value is
// null, are dropped and reported, and so are entries that fall outside
// [start, end] when the summary has a duration (an on-demand pulse ox
// summary has duration 0 and samples at any offset).
func (m offsetMap) place(field string, start, end time.Time) ([]sample, []string) {
	if len(m) == 0 {
		return nil, nil
	}
	type entry struct {
		off float64
		val float64
	}
	entries := make([]entry, 0, len(m))
	var bad, outside []string
	limit := maxDuration.Seconds()
	if end.After(start) {
		limit = end.Sub(start.Add(-sampleSlack)).Seconds()
	}
	for k, v := range m {
		off, err := strconv.ParseFloat(strings.TrimSpace(k), 64)
		switch {
		case err != nil || math.IsNaN(off) || v == nil:
			bad = append(bad, strconv.Quote(k))
		case off < 0 || off > limit:
			outside = append(outside, strconv.Quote(k))
		default:
			entries = append(entries, entry{off, *v})
		}
	}
	slices.SortFunc(entries, func(a, b entry) int { return cmpFloat(a.off, b.off) })
	out := make([]sample, len(entries))
	for i, e := range entries {
		out[i] = sample{at: start.Add(seconds(e.off)), val: e.val}
	}
	var warnings []string
	if len(bad) > 0 {
		slices.Sort(bad)
		warnings = append(warnings, fmt.Sprintf("%s: dropped %d entries with a bad offset or no value: %s", field, len(bad), strings.Join(bad, ", ")))
	}
	if len(outside) > 0 {
		slices.Sort(outside)
		warnings = append(warnings, fmt.Sprintf("%s: dropped %d entries outside the summary window: %s", field, len(outside), strings.Join(outside, ", ")))
	}
	return out, warnings
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// stats returns the mean, minimum and maximum of the sample values.
func stats(ss []sample) (mean, lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	var sum float64
	for _, s := range ss {
		sum += s.val
		lo = min(lo, s.val)
		hi = max(hi, s.val)
	}
	return sum / float64(len(ss)), lo, hi
}

// ptr returns a pointer to v.
func ptr[T any](v T) *T { return &v }

// intPtr rounds a Garmin count to an int pointer.
func intPtr(v *float64) *int {
	if v == nil {
		return nil
	}
	return ptr(int(math.Round(*v)))
}

// nonNegative returns v when it is a real reading: Garmin uses negative
// values (-1, -2, ...) for "no data".
func nonNegative(v *float64) *float64 {
	if v == nil || *v < 0 {
		return nil
	}
	return v
}

// allNil reports whether every v is nil.
func allNil(vs ...*float64) bool {
	for _, v := range vs {
		if v != nil {
			return false
		}
	}
	return true
}
