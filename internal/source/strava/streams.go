package strava

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
)

// stream is one Strava stream: the values of one series, point by point.
// With key_by_type=true Strava answers {"<type>": stream, ...}; without it
// a list of streams each naming its "type". Both are read.
type stream struct {
	Type         string          `json:"type"`
	Data         json.RawMessage `json:"data"`
	SeriesType   string          `json:"series_type"`
	OriginalSize int             `json:"original_size"`
	Resolution   string          `json:"resolution"`
}

// decodeStreams reads a streams answer in either form.
func decodeStreams(body []byte) (map[string]stream, error) {
	b := bytes.TrimSpace(body)
	if len(b) > 0 && b[0] == '[' {
		var list []stream
		if err := json.Unmarshal(b, &list); err != nil {
			return nil, err
		}
		out := make(map[string]stream, len(list))
		for _, s := range list {
			if s.Type == "" {
				return nil, errors.New("stream without a type")
			}
			out[s.Type] = s
		}
		return out, nil
	}
	var out map[string]stream
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	if out == nil {
		return nil, errors.New("streams answer is null")
	}
	return out, nil
}

// sampleStreams are the streams that become Terra samples; "time" gives
// their timestamps.
var sampleStreams = []string{"heartrate", "latlng", "distance", "altitude", "watts", "cadence", "velocity_smooth"}

// streams adds an activity's streams to out as samples. Point i of every
// stream is at start + time[i] seconds, shown in start's offset (the
// activity's). Strava's time stream counts elapsed seconds, pauses
// included, so timer_duration_seconds (which excludes pauses) is not set.
//
// What cannot be used is noted with the streams body: a body that is not
// a streams answer, streams without a time stream (their points have no
// timestamps; the recorded answer to a request without keys= is such a
// case), a stream whose values are not numbers, and a stream of another
// length than time (only the common points are mapped).
func (m *mapper) streams(activityID string, body []byte, start time.Time, out *model.Activity) {
	ss, err := decodeStreams(body)
	if err != nil {
		m.note(body, "strava activity %s streams: not a streams answer: %v; no samples were mapped", activityID, err)
		return
	}
	var present []string
	for _, k := range sampleStreams {
		if _, ok := ss[k]; ok {
			present = append(present, k)
		}
	}
	if len(present) == 0 {
		return
	}
	ts, ok := ss["time"]
	if !ok {
		parts := make([]string, 0, len(present))
		for _, k := range present {
			parts = append(parts, fmt.Sprintf("%s (%d points)", k, points(ss[k].Data)))
		}
		m.note(body, "strava activity %s streams: no time stream, so %s have no timestamps and were not mapped", activityID, strings.Join(parts, ", "))
		return
	}
	var offsets []*float64
	if err := json.Unmarshal(ts.Data, &offsets); err != nil {
		m.note(body, "strava activity %s streams: time stream is not a list of seconds: %v; no samples were mapped", activityID, err)
		return
	}
	stamps := make([]*string, len(offsets))
	for i, o := range offsets {
		if o != nil && *o >= 0 && *o <= maxDuration.Seconds() {
			stamps[i] = formatTimePtr(start.Add(seconds(*o)))
		}
	}
	for _, k := range present {
		if k == "latlng" {
			m.latlngStream(activityID, body, ss[k], stamps, out)
			continue
		}
		var vals []*float64
		if err := json.Unmarshal(ss[k].Data, &vals); err != nil {
			m.note(body, "strava activity %s streams: %s is not a list of numbers: %v; it was not mapped", activityID, k, err)
			continue
		}
		n := m.common(activityID, body, k, len(vals), len(stamps))
		for i := range n {
			if stamps[i] == nil || vals[i] == nil {
				continue
			}
			addSample(out, k, stamps[i], vals[i])
		}
	}
}

// latlngStream adds the position samples.
func (m *mapper) latlngStream(activityID string, body []byte, s stream, stamps []*string, out *model.Activity) {
	var vals [][]*float64
	if err := json.Unmarshal(s.Data, &vals); err != nil {
		m.note(body, "strava activity %s streams: latlng is not a list of [lat, lng]: %v; it was not mapped", activityID, err)
		return
	}
	n := m.common(activityID, body, "latlng", len(vals), len(stamps))
	for i := range n {
		pos := latLng(vals[i])
		if stamps[i] == nil || pos == nil {
			continue
		}
		if out.PositionData == nil {
			out.PositionData = &model.PositionData{}
		}
		out.PositionData.PositionSamples = append(out.PositionData.PositionSamples, model.PositionSample{Timestamp: stamps[i], CoordsLatLngDeg: pos})
	}
}

// common returns how many points of a stream can be mapped, noting a
// length that differs from the time stream's.
func (m *mapper) common(activityID string, body []byte, key string, n, times int) int {
	if n != times {
		m.note(body, "strava activity %s streams: %s has %d points but time has %d; only the first %d were mapped", activityID, key, n, times, min(n, times))
	}
	return min(n, times)
}

// addSample adds one point of a numeric stream.
func addSample(out *model.Activity, key string, ts *string, v *float64) {
	switch key {
	case "heartrate":
		if out.HeartRateData == nil {
			out.HeartRateData = &model.HeartRateData{}
		}
		if out.HeartRateData.Detailed == nil {
			out.HeartRateData.Detailed = &model.HeartRateDataDetailed{}
		}
		d := out.HeartRateData.Detailed
		d.HrSamples = append(d.HrSamples, model.HeartRateDataSample{Timestamp: ts, Bpm: v})
	case "distance", "altitude":
		if out.DistanceData == nil {
			out.DistanceData = &model.DistanceData{}
		}
		if out.DistanceData.Detailed == nil {
			out.DistanceData.Detailed = &model.DistanceDataDetailed{}
		}
		d := out.DistanceData.Detailed
		if key == "distance" {
			d.DistanceSamples = append(d.DistanceSamples, model.DistanceSample{Timestamp: ts, DistanceMeters: v})
		} else {
			d.ElevationSamples = append(d.ElevationSamples, model.ElevationSample{Timestamp: ts, ElevMeters: v})
		}
	case "watts":
		if out.PowerData == nil {
			out.PowerData = &model.PowerData{}
		}
		out.PowerData.PowerSamples = append(out.PowerData.PowerSamples, model.PowerSample{Timestamp: ts, Watts: v})
	case "cadence", "velocity_smooth":
		if out.MovementData == nil {
			out.MovementData = &model.MovementData{}
		}
		d := out.MovementData
		if key == "cadence" {
			d.CadenceSamples = append(d.CadenceSamples, model.CadenceSample{Timestamp: ts, CadenceRpm: v})
		} else {
			d.SpeedSamples = append(d.SpeedSamples, model.SpeedSample{Timestamp: ts, SpeedMetersPerSecond: v})
		}
	}
}

// points counts a stream's values, -1 when they are not a list.
func points(data json.RawMessage) int {
	var vals []json.RawMessage
	if json.Unmarshal(data, &vals) != nil {
		return -1
	}
	return len(vals)
}

// streamsQuery is the query of the streams request.
func streamsQuery() string {
	return "keys=" + strings.Join(StreamKeys, ",") + "&key_by_type=true"
}
