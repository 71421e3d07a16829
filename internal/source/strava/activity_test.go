package strava

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
)

// TestMapMarathon maps the recorded DetailedActivity of the 2018 NYC
// marathon (activity_1946417534.json), which carries its laps.
func TestMapMarathon(t *testing.T) {
	raw := Fixture(t, "activity_1946417534.json")
	rec, probs := mapOne(t, fetched{activity: raw})
	if len(probs) != 0 {
		t.Errorf("problems: %+v", probs)
	}
	Validate(t, rec)
	Eq(t, "key", rec.Key, "1946417534") // "id": 1946417534
	Eq(t, "day", rec.Day, "2018-11-04") // start_date_local "2018-11-04T09:53:46Z"
	a := rec.Data.(*model.Activity)
	md := a.Metadata
	// start_date "2018-11-04T14:53:46Z", start_date_local 09:53:46: -05:00
	// (US DST ended that morning; utc_offset -18000.0 agrees).
	Eq(t, "start", md.StartTime, "2018-11-04T09:53:46.000000-05:00")
	// + elapsed_time 13333 s
	Eq(t, "end", md.EndTime, "2018-11-04T13:35:59.000000-05:00")
	Eq(t, "Record.Start", rec.Start.UTC(), time.Date(2018, 11, 4, 14, 53, 46, 0, time.UTC))
	Eq(t, "Record.End", rec.End.Sub(rec.Start), 13333*time.Second)
	Eq(t, "summary id", md.SummaryId, "1946417534")
	Eq(t, "name", Val(t, "name", md.Name), "TCS NYC Marathon 2018")
	Eq(t, "type", md.Type, model.ActivityTypeRunning)         // sport_type "Run"
	Eq(t, "upload", md.UploadType, model.UploadTypeAutomatic) // manual false
	if md.City != nil || md.State != nil || md.Country != nil {
		t.Errorf("location = %v %v %v, want none (location_* null)", md.City, md.State, md.Country)
	}

	approx(t, "distance", a.DistanceData.Summary.DistanceMeters, 42268.1)                               // distance
	approx(t, "gain", a.DistanceData.Summary.Elevation.GainActualMeters, 270.9)                         // total_elevation_gain
	approx(t, "elev max", a.DistanceData.Summary.Elevation.MaxMeters, 54.7)                             // elev_high
	approx(t, "elev min", a.DistanceData.Summary.Elevation.MinMeters, -8.1)                             // elev_low
	approx(t, "avg hr", a.HeartRateData.Summary.AvgHrBpm, 170.1)                                        // average_heartrate
	approx(t, "max hr", a.HeartRateData.Summary.MaxHrBpm, 187.0)                                        // max_heartrate
	approx(t, "avg speed", a.MovementData.AvgSpeedMetersPerSecond, 3.17)                                // average_speed
	approx(t, "max speed", a.MovementData.MaxSpeedMetersPerSecond, 5.6)                                 // max_speed
	approx(t, "calories", a.CaloriesData.TotalBurnedCalories, 3760.0)                                   // calories (kcal)
	approx(t, "moving", a.ActiveDurationsData.ActivitySeconds, 13085)                                   // moving_time
	Eq(t, "device", Val(t, "device", a.DeviceData.Name), "Fitbit Ionic")                                // device_name
	Eq(t, "start pos", [2]float64(a.PositionData.StartPosLatLngDeg), [2]float64{40.601937, -74.060052}) // start_latlng
	Eq(t, "end pos", [2]float64(a.PositionData.EndPosLatLngDeg), [2]float64{40.768444, -73.980915})     // end_latlng
	if p := Val(t, "polyline", a.PolylineMapData.SummaryPolyline); !strings.HasPrefix(p, "aayvFjz_cMyu@_lDwS}VyNgI") {
		t.Errorf("polyline = %.30s..., want map.summary_polyline", p)
	}
	if a.WorkData != nil || a.PowerData != nil {
		t.Errorf("work/power data without kilojoules or watts: %+v %+v", a.WorkData, a.PowerData)
	}

	// laps: one lap, start_date "2018-11-04T14:53:46Z", elapsed_time 13306,
	// moving_time 13299, distance 42882.9, average_speed 3.22,
	// average_heartrate 170.1.
	if a.LapData == nil || len(a.LapData.Laps) != 1 {
		t.Fatalf("laps = %+v, want 1", a.LapData)
	}
	l := a.LapData.Laps[0]
	Eq(t, "lap start", Val(t, "lap start", l.StartTime), "2018-11-04T09:53:46.000000-05:00")
	Eq(t, "lap end", Val(t, "lap end", l.EndTime), "2018-11-04T13:35:32.000000-05:00")
	approx(t, "lap distance", l.DistanceMeters, 42882.9)
	approx(t, "lap speed", l.AvgSpeedMetersPerSecond, 3.22)
	approx(t, "lap hr", l.AvgHrBpm, 170.1)
	Eq(t, "lap active", Val(t, "lap active", l.ActiveDurationSeconds), 13299)

	var wrapped struct {
		Activity json.RawMessage `json:"activity"`
	}
	if err := json.Unmarshal(rec.Raw, &wrapped); err != nil || string(wrapped.Activity) != strings.TrimSpace(string(raw)) {
		t.Errorf("Raw does not hold the activity as received (%v)", err)
	}
}

// TestMapMarathonStreams maps the marathon with its recorded streams
// (activity_streams_1946417534.json). The recording was made without
// keys=, so it holds the distance stream only (13129 points, series_type
// "distance") and no time stream: the points have no timestamps. The
// record still lands, without samples, and the problem says why.
func TestMapMarathonStreams(t *testing.T) {
	streams := Fixture(t, "activity_streams_1946417534.json")
	rec, probs := mapOne(t, fetched{activity: Fixture(t, "activity_1946417534.json"), streams: streams})
	p := wantProblem(t, probs, "1946417534", "no time stream", "distance (13129 points)")
	if string(p.Raw) != string(streams) {
		t.Error("problem does not keep the streams body")
	}
	Validate(t, rec)
	a := rec.Data.(*model.Activity)
	if a.DistanceData.Detailed != nil {
		t.Errorf("distance samples without timestamps: %d", len(a.DistanceData.Detailed.DistanceSamples))
	}
	approx(t, "distance still mapped", a.DistanceData.Summary.DistanceMeters, 42268.1)
	var wrapped struct {
		Streams map[string]json.RawMessage `json:"streams"`
	}
	if err := json.Unmarshal(rec.Raw, &wrapped); err != nil || len(wrapped.Streams) != 1 {
		t.Errorf("Raw does not keep the streams (%v)", err)
	}
}

// TestMapDetailedOldShape maps activity_detailed.json (stravalib's
// DetailedActivity of 2013): no sport_type, no utc_offset, no laps key.
func TestMapDetailedOldShape(t *testing.T) {
	rec, probs := mapOne(t, fetched{activity: Fixture(t, "activity_detailed.json")})
	if len(probs) != 0 {
		t.Errorf("problems: %+v", probs)
	}
	Validate(t, rec)
	Eq(t, "key", rec.Key, "99895560")
	Eq(t, "day", rec.Day, "2013-12-12")
	a := rec.Data.(*model.Activity)
	// start_date "2013-12-12T19:36:41Z", start_date_local
	// "2013-12-12T11:36:41Z": -08:00, the only source of the offset.
	Eq(t, "start", a.Metadata.StartTime, "2013-12-12T11:36:41.000000-08:00")
	Eq(t, "end", a.Metadata.EndTime, "2013-12-12T12:29:01.000000-08:00") // + elapsed_time 3140
	Eq(t, "name", Val(t, "name", a.Metadata.Name), "Lunch Rover Shuffle-Walk-Yog with Todd")
	Eq(t, "type", a.Metadata.Type, model.ActivityTypeRunning) // type "Run"
	Eq(t, "city", Val(t, "city", a.Metadata.City), "San Francisco")
	Eq(t, "state", Val(t, "state", a.Metadata.State), "CA")
	if a.Metadata.Country != nil {
		t.Errorf("country = %q, want none (location_country null)", *a.Metadata.Country)
	}
	approx(t, "distance", a.DistanceData.Summary.DistanceMeters, 5781.1)
	approx(t, "gain", a.DistanceData.Summary.Elevation.GainActualMeters, 13.5)
	approx(t, "calories", a.CaloriesData.TotalBurnedCalories, 537.9)
	approx(t, "avg speed", a.MovementData.AvgSpeedMetersPerSecond, 2.0)
	approx(t, "max speed", a.MovementData.MaxSpeedMetersPerSecond, 8.3)
	approx(t, "moving", a.ActiveDurationsData.ActivitySeconds, 2892)
	Eq(t, "start pos", [2]float64(a.PositionData.StartPosLatLngDeg), [2]float64{37.781076, -122.395536})
	Eq(t, "end pos", [2]float64(a.PositionData.EndPosLatLngDeg), [2]float64{37.780877, -122.39548})
	if a.HeartRateData != nil || a.LapData != nil || a.DeviceData != nil {
		t.Errorf("data Strava did not give: hr %+v laps %+v device %+v", a.HeartRateData, a.LapData, a.DeviceData)
	}
}

// TestMapActivityList maps every SummaryActivity of
// athlete_activities_page1.json.
func TestMapActivityList(t *testing.T) {
	items := fixtureItems(t, "athlete_activities_page1.json")
	Eq(t, "items", len(items), 30)
	m := newMapper()
	keys := map[string]bool{}
	for _, it := range items {
		rec, err := m.activity(fetched{activity: it})
		if err != nil {
			t.Fatalf("map: %v", err)
		}
		Validate(t, rec)
		keys[rec.Key] = true
		// Every item is in New York in September/October 2025: EDT,
		// utc_offset -14400, although "timezone" says "(GMT-05:00)".
		if !strings.HasSuffix(rec.Data.(*model.Activity).Metadata.StartTime, "-04:00") {
			t.Errorf("%s starts %s, want -04:00", rec.Key, rec.Data.(*model.Activity).Metadata.StartTime)
		}
		if a := rec.Data.(*model.Activity); a.LapData != nil || a.CaloriesData != nil {
			t.Errorf("%s: laps or calories from a summary", rec.Key)
		}
	}
	Eq(t, "distinct keys", len(keys), 30)
	if len(m.problems) != 0 {
		t.Errorf("problems: %+v", m.problems)
	}

	tests := []struct {
		id, start, end, day string
		typ                 model.ActivityType
		distance, gain      float64
		avgHR, maxHR        float64
		cadence             float64
		elevHigh, elevLow   float64
	}{
		// first item: "Run with Artyom", sport_type Run, start_date
		// 2025-10-18T12:49:52Z, local 08:49:52, elapsed_time 7792,
		// distance 22601.3, total_elevation_gain 202.0, average_heartrate
		// 159.6, max_heartrate 174.0, average_cadence 78.7, elev 48.2/10.6.
		{"16181809559", "2025-10-18T08:49:52.000000-04:00", "2025-10-18T10:59:44.000000-04:00", "2025-10-18",
			model.ActivityTypeRunning, 22601.3, 202.0, 159.6, 174.0, 78.7, 48.2, 10.6},
		// "Greenbelt TrailTroop Run", sport_type TrailRun (type Run), start
		// 2025-09-20T13:26:09Z, elapsed_time 10815, distance 24301.2, gain
		// 461, hr 140.7/172, cadence 72.9, elev 122.4/6.6.
		{"15878564739", "2025-09-20T09:26:09.000000-04:00", "2025-09-20T12:26:24.000000-04:00", "2025-09-20",
			model.ActivityTypeTrailRunning, 24301.2, 461, 140.7, 172, 72.9, 122.4, 6.6},
	}
	for _, tt := range tests {
		var raw json.RawMessage
		for _, it := range items {
			var h listHead
			if json.Unmarshal(it, &h) == nil && strconv.FormatInt(h.ID, 10) == tt.id {
				raw = it
			}
		}
		if raw == nil {
			t.Fatalf("no item %s", tt.id)
		}
		rec, _ := mapOne(t, fetched{activity: raw})
		a := rec.Data.(*model.Activity)
		Eq(t, tt.id+" start", a.Metadata.StartTime, tt.start)
		Eq(t, tt.id+" end", a.Metadata.EndTime, tt.end)
		Eq(t, tt.id+" day", rec.Day, tt.day)
		Eq(t, tt.id+" type", a.Metadata.Type, tt.typ)
		approx(t, tt.id+" distance", a.DistanceData.Summary.DistanceMeters, tt.distance)
		approx(t, tt.id+" gain", a.DistanceData.Summary.Elevation.GainActualMeters, tt.gain)
		approx(t, tt.id+" elev high", a.DistanceData.Summary.Elevation.MaxMeters, tt.elevHigh)
		approx(t, tt.id+" elev low", a.DistanceData.Summary.Elevation.MinMeters, tt.elevLow)
		approx(t, tt.id+" avg hr", a.HeartRateData.Summary.AvgHrBpm, tt.avgHR)
		approx(t, tt.id+" max hr", a.HeartRateData.Summary.MaxHrBpm, tt.maxHR)
		approx(t, tt.id+" cadence", a.MovementData.AvgCadenceRpm, tt.cadence)
	}
}

// TestMapLapsFixture maps activity_laps.json, the recorded GET
// /activities/15605032352/laps, in the offset of its lap's own
// start_date_local (09:54:22 for 13:54:22Z: -04:00).
func TestMapLapsFixture(t *testing.T) {
	m := newMapper()
	laps := m.laps("15605032352", fixtureItems(t, "activity_laps.json"), time.FixedZone("", -4*3600))
	if len(m.problems) != 0 {
		t.Errorf("problems: %+v", m.problems)
	}
	if len(laps) != 1 {
		t.Fatalf("laps = %d, want 1", len(laps))
	}
	l := laps[0]
	Eq(t, "start", Val(t, "start", l.StartTime), "2025-08-27T09:54:22.000000-04:00") // start_date 13:54:22Z
	Eq(t, "end", Val(t, "end", l.EndTime), "2025-08-27T10:11:10.000000-04:00")       // + elapsed_time 1008
	approx(t, "distance", l.DistanceMeters, 133.46)                                  // distance
	approx(t, "speed", l.AvgSpeedMetersPerSecond, 0.13)                              // average_speed
	approx(t, "hr", l.AvgHrBpm, 124.9)                                               // average_heartrate
	Eq(t, "active", Val(t, "active", l.ActiveDurationSeconds), 1008)                 // moving_time
	if l.AvgWatts != nil || l.Calories != nil {
		t.Errorf("watts/calories Strava did not give: %v %v", l.AvgWatts, l.Calories)
	}

	// The same laps as the /laps answer of an activity whose detail has
	// none: they land in lap_data, and Raw keeps them.
	act := []byte(`{"id":15605032352,"name":"x","type":"Run","sport_type":"Run","start_date":"2025-08-27T13:54:22Z","start_date_local":"2025-08-27T09:54:22Z","elapsed_time":1008}`)
	rec, probs := mapOne(t, fetched{activity: act, laps: Fixture(t, "activity_laps.json")})
	if len(probs) != 0 {
		t.Errorf("problems: %+v", probs)
	}
	Validate(t, rec)
	if a := rec.Data.(*model.Activity); a.LapData == nil || len(a.LapData.Laps) != 1 {
		t.Errorf("lap_data = %+v", a.LapData)
	}
	if !strings.Contains(string(rec.Raw), `"laps":[`) {
		t.Error("Raw does not keep the laps answer")
	}
}
