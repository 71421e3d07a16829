package fitbit

import (
	"fmt"
	"strings"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
)

// dayLayout is Fitbit's calendar day.
const dayLayout = time.DateOnly

// Fitbit's zone-less local date-times: "2016-12-13T01:16:00.000" in sleep
// logs, with or without the milliseconds.
var localLayouts = []string{"2006-01-02T15:04:05.999999999", "2006-01-02T15:04"}

// Fitbit's clock times: "18:28:59" (weight logs, intraday) and "11:55"
// (logged activities).
var clockLayouts = []string{"15:04:05", "15:04"}

// zone is the user's time zone, in which Fitbit's local times are read.
type zone struct {
	loc *time.Location
}

// zoneFromProfile returns the zone of the profile: its IANA timezone, or,
// when the name is unknown to this host, a fixed zone at
// offsetFromUTCMillis (the user's current offset). ok is false when the
// profile has neither.
func zoneFromProfile(u profileUser) (z zone, ok bool) {
	if u.Timezone != "" {
		if loc, err := time.LoadLocation(u.Timezone); err == nil {
			return zone{loc: loc}, true
		}
	}
	if u.OffsetFromUTCMillis != nil {
		ms := *u.OffsetFromUTCMillis
		if ms > -18*3600e3 && ms < 18*3600e3 {
			return zone{loc: time.FixedZone(u.Timezone, int(ms/1000))}, true
		}
	}
	return zone{loc: time.UTC}, false
}

// fixedAt returns a fixed zone at the offset in force at t; every
// timestamp of one record is shown in it.
func fixedAt(t time.Time) *time.Location {
	name, off := t.Zone()
	return time.FixedZone(name, off)
}

// parseLocal reads a zone-less local date-time in z.
func (z zone) parseLocal(s string) (time.Time, error) {
	for _, layout := range localLayouts {
		if t, err := time.ParseInLocation(layout, s, z.loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("bad local time %q", s)
}

// parseDayClock reads a local clock time on day in z.
func (z zone) parseDayClock(day, clock string) (time.Time, error) {
	clock = strings.TrimSpace(clock)
	for _, layout := range clockLayouts {
		if t, err := time.ParseInLocation(dayLayout+" "+layout, day+" "+clock, z.loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("bad time %q on %s", clock, day)
}

// midnight returns the start of day in z.
func (z zone) midnight(day time.Time) time.Time {
	y, m, d := day.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, z.loc)
}

// parseDay checks a Fitbit day (YYYY-MM-DD) and returns it as midnight UTC.
func parseDay(s string) (time.Time, error) {
	d, err := time.Parse(dayLayout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("bad day %q", s)
	}
	return d, nil
}

// civilDay returns the calendar day of t in loc, as midnight UTC.
func civilDay(t time.Time, loc *time.Location) time.Time {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// formatTime renders t in model.TimeLayout, keeping t's offset.
func formatTime(t time.Time) string { return model.FormatTime(t) }

// formatTimePtr is formatTime for an optional field.
func formatTimePtr(t time.Time) *string {
	s := formatTime(t)
	return &s
}
