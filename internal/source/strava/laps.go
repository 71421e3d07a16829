package strava

import (
	"encoding/json"
	"math"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
)

// lap is a Strava Lap (GET /activities/{id}/laps, or the "laps" of a
// detailed activity).
type lap struct {
	ID               int64    `json:"id"`
	StartDate        string   `json:"start_date"`
	ElapsedTime      *float64 `json:"elapsed_time"`
	MovingTime       *float64 `json:"moving_time"`
	Distance         *float64 `json:"distance"`
	AverageSpeed     *float64 `json:"average_speed"`
	AverageHeartrate *float64 `json:"average_heartrate"`
	AverageWatts     *float64 `json:"average_watts"`
}

// laps maps an activity's laps to Terra lap samples, in Strava's order.
// Times are shown in loc, the activity's start offset, so that a lap never
// has another offset than its activity. A lap that cannot be read is
// noted with its JSON and left out; the others are kept.
func (m *mapper) laps(activityID string, raws []json.RawMessage, loc *time.Location) []model.LapSample {
	var out []model.LapSample
	for i, raw := range raws {
		var l lap
		if err := json.Unmarshal(raw, &l); err != nil {
			m.note(raw, "strava activity %s lap %d: %v; the lap was left out", activityID, i+1, err)
			continue
		}
		start, err := time.Parse(time.RFC3339Nano, l.StartDate)
		if err != nil {
			m.note(raw, "strava activity %s lap %d: bad start_date %q; the lap was left out", activityID, i+1, l.StartDate)
			continue
		}
		elapsed := firstOf(l.ElapsedTime, l.MovingTime)
		if elapsed < 0 || elapsed > maxDuration.Seconds() {
			m.note(raw, "strava activity %s lap %d: elapsed_time %v out of range; the lap was left out", activityID, i+1, elapsed)
			continue
		}
		start = start.In(loc)
		s := model.LapSample{
			StartTime:               formatTimePtr(start),
			EndTime:                 formatTimePtr(start.Add(seconds(elapsed))),
			DistanceMeters:          l.Distance,
			AvgSpeedMetersPerSecond: l.AverageSpeed,
			AvgHrBpm:                l.AverageHeartrate,
			AvgWatts:                l.AverageWatts,
		}
		if l.MovingTime != nil && *l.MovingTime >= 0 && *l.MovingTime <= maxDuration.Seconds() {
			s.ActiveDurationSeconds = ptr(int(math.Round(*l.MovingTime)))
		}
		out = append(out, s)
	}
	return out
}
