package oura

import (
	"fmt"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
)

// TimeLayout is the ISO 8601 form of every emitted timestamp (model's).
const TimeLayout = model.TimeLayout

// dayLayout is Oura's calendar day.
const dayLayout = "2006-01-02"

// FormatTime renders t in TimeLayout, keeping t's own offset.
func FormatTime(t time.Time) string { return model.FormatTime(t) }

// formatTimePtr is FormatTime for an optional field.
func formatTimePtr(t time.Time) *string {
	s := FormatTime(t)
	return &s
}

// parseTime reads an Oura timestamp. Oura sends RFC 3339 with an offset,
// sometimes with milliseconds; a timestamp without an offset is read in loc
// (the zone of the record it belongs to), never in the host's zone. loc nil
// means such a timestamp is an error.
func parseTime(s string, loc *time.Location) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if loc != nil {
		for _, layout := range []string{"2006-01-02T15:04:05.999999999", "2006-01-02T15:04:05"} {
			if t, err := time.ParseInLocation(layout, s, loc); err == nil {
				return t, nil
			}
		}
	}
	return time.Time{}, fmt.Errorf("bad timestamp %q", s)
}

// parseDay checks an Oura day (YYYY-MM-DD) and returns it as midnight UTC.
func parseDay(s string) (time.Time, error) {
	d, err := time.Parse(dayLayout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("bad day %q", s)
	}
	return d, nil
}

// midnight returns 00:00 of day in loc.
func midnight(day time.Time, loc *time.Location) time.Time {
	y, m, d := day.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, loc)
}
