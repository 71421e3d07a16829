package strava

import (
	"fmt"
	"math"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
)

// maxOffset is the largest UTC offset in use (+14:00, Kiribati).
const maxOffset = 14 * time.Hour

// maxDuration bounds the durations and offsets read from Strava (one
// activity, lap or stream point), against absurd values.
const maxDuration = 366 * 24 * time.Hour

// wallLayout is the wall-clock part of start_date_local.
const wallLayout = "2006-01-02T15:04:05"

// activityStart reads an activity's (or lap's) start instant and shows it
// in the activity's own UTC offset.
//
// start_date is the instant, in UTC. start_date_local is the wall clock
// where the activity was recorded, though Strava writes it with a "Z":
// their difference is the offset in force at the start. Where
// start_date_local is missing or unusable, utc_offset (seconds) is used;
// where both are, the offset is zero and ok is false.
func activityStart(startDate, startDateLocal string, utcOffset *float64) (start time.Time, offset int, ok bool, err error) {
	start, err = time.Parse(time.RFC3339Nano, startDate)
	if err != nil {
		return time.Time{}, 0, false, fmt.Errorf("bad start_date %q", startDate)
	}
	start = start.UTC()
	if len(startDateLocal) >= len(wallLayout) {
		if wall, err := time.Parse(wallLayout, startDateLocal[:len(wallLayout)]); err == nil {
			d := wall.Sub(start.Truncate(time.Second))
			if d%time.Second == 0 && d <= maxOffset && d >= -maxOffset {
				return model.InOffset(start, int(d/time.Second)), int(d / time.Second), true, nil
			}
		}
	}
	if utcOffset != nil && math.Abs(*utcOffset) <= maxOffset.Seconds() && *utcOffset == math.Trunc(*utcOffset) {
		off := int(*utcOffset)
		return model.InOffset(start, off), off, true, nil
	}
	return start, 0, false, nil
}

// seconds converts a count of seconds to a Duration at full precision.
func seconds(v float64) time.Duration {
	return time.Duration(v * float64(time.Second))
}

// formatTimePtr is model.FormatTime for an optional field.
func formatTimePtr(t time.Time) *string {
	s := model.FormatTime(t)
	return &s
}
