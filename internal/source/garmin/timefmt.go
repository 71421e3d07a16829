package garmin

import (
	"math"
	"time"
)

// TerraTimeLayout is the layout of Terra timestamps: ISO 8601 with
// microseconds and a numeric UTC offset ("2022-11-24T08:00:00.000000+01:00").
// UTC is written "+00:00", never "Z".
const TerraTimeLayout = "2006-01-02T15:04:05.000000-07:00"

// FormatTime renders t in Terra's layout, in t's own location.
func FormatTime(t time.Time) string { return t.Format(TerraTimeLayout) }

// localTime returns the instant unixSeconds (fractions allowed) shown in the
// fixed zone offsetSeconds east of UTC.
func localTime(unixSeconds float64, offsetSeconds int) time.Time {
	sec, frac := math.Modf(unixSeconds)
	nsec := int64(math.Round(frac*1e6)) * 1e3 // microsecond precision, as Terra
	return time.Unix(int64(sec), nsec).In(zone(offsetSeconds))
}

// zone returns the fixed zone offsetSeconds east of UTC.
func zone(offsetSeconds int) *time.Location {
	if offsetSeconds == 0 {
		return time.UTC
	}
	return time.FixedZone("", offsetSeconds)
}

// formatPtr returns FormatTime(t) as a pointer, for optional fields.
func formatPtr(t time.Time) *string {
	s := FormatTime(t)
	return &s
}
