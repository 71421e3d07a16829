package model

import "time"

// TimeLayout is how every timestamp in a Terra payload is written: ISO 8601
// with microseconds and the UTC offset in force where the data was
// recorded ("2022-11-24T08:00:00.000000+01:00").
const TimeLayout = "2006-01-02T15:04:05.000000-07:00"

// FormatTime writes t in TimeLayout, keeping t's own offset.
func FormatTime(t time.Time) string { return t.Format(TimeLayout) }

// InOffset returns t in a fixed zone offsetSeconds east of UTC.
func InOffset(t time.Time, offsetSeconds int) time.Time {
	return t.In(time.FixedZone("", offsetSeconds))
}
