package garmin

import (
	"math"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
)

// TerraTimeLayout is the layout of Terra timestamps (model's).
const TerraTimeLayout = model.TimeLayout

// FormatTime renders t in Terra's layout, in t's own location.
func FormatTime(t time.Time) string { return model.FormatTime(t) }

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
