package googlefit

import (
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
)

// dailyAggregates are the data types a day's bucket is asked for. Each is
// aggregated by type over every source of the user: by type, a type the
// user has no data for gives an empty dataset, where naming a data source
// that does not exist fails the whole request.
var dailyAggregates = []aggregateBy{
	{DataTypeName: "com.google.step_count.delta"},
	{DataTypeName: "com.google.distance.delta"},
	{DataTypeName: "com.google.calories.expended"},
	{DataTypeName: "com.google.active_minutes"},
	{DataTypeName: "com.google.heart_rate.bpm"},
}

// daily maps one day bucket of a bucketByTime aggregate. ok is false for a
// bucket with no data at all, or one that is not a whole day (a bucket cut
// short by the end of the window). The output types read are
// com.google.step_count.delta (intVal steps), com.google.distance.delta
// (fpVal meters), com.google.calories.expended (fpVal kcal, basal
// included), com.google.active_minutes (intVal move minutes) and
// com.google.heart_rate.summary (fpVal average, max, min bpm).
func (m *mapper) daily(raw json.RawMessage) (rec model.Record, ok bool, err error) {
	b, pts, err := decodeBucket(raw)
	if err != nil {
		return rec, false, err
	}
	if b.end.Sub(b.start) != 24*time.Hour || !b.start.Equal(utcDay(b.start)) {
		return rec, false, nil
	}
	if len(pts) == 0 {
		return rec, false, nil
	}
	day := b.start
	out := &model.Daily{Metadata: &model.DailyMetadata{
		StartTime:  formatTime(day),
		EndTime:    formatTime(b.end),
		UploadType: model.UploadTypeAutomatic,
	}}
	var steps, meters, kcal, moveMinutes *float64
	var hrAvg, hrMax, hrMin []float64
	for _, p := range pts {
		switch p.dataType {
		case "com.google.step_count.delta":
			v, err := p.intValue(0)
			if err != nil {
				return rec, false, fmt.Errorf("day %s: %w", day.Format(dayLayout), err)
			}
			steps = addTo(steps, float64(v))
		case "com.google.distance.delta":
			v, err := p.fpValue(0)
			if err != nil {
				return rec, false, fmt.Errorf("day %s: %w", day.Format(dayLayout), err)
			}
			meters = addTo(meters, v)
		case "com.google.calories.expended":
			v, err := p.fpValue(0)
			if err != nil {
				return rec, false, fmt.Errorf("day %s: %w", day.Format(dayLayout), err)
			}
			kcal = addTo(kcal, v)
		case "com.google.active_minutes":
			v, err := p.intValue(0)
			if err != nil {
				return rec, false, fmt.Errorf("day %s: %w", day.Format(dayLayout), err)
			}
			moveMinutes = addTo(moveMinutes, float64(v))
		case "com.google.heart_rate.summary":
			avg, err1 := p.fpValue(0)
			hi, err2 := p.fpValue(1)
			lo, err3 := p.fpValue(2)
			if err := firstErr(err1, err2, err3); err != nil {
				return rec, false, fmt.Errorf("day %s: %w", day.Format(dayLayout), err)
			}
			hrAvg, hrMax, hrMin = append(hrAvg, avg), append(hrMax, hi), append(hrMin, lo)
		default:
			m.unknown(model.TypeDaily, "aggregate dataTypeName", p.dataType, p.raw)
		}
	}
	if steps != nil || meters != nil {
		out.DistanceData = &model.DailyDistanceData{DistanceMeters: meters}
		if steps != nil {
			out.DistanceData.Steps = ptr(int(math.Round(*steps)))
		}
	}
	if kcal != nil {
		out.CaloriesData = &model.CaloriesData{TotalBurnedCalories: kcal}
	}
	if moveMinutes != nil {
		out.ActiveDurationsData = &model.ActiveDurationsData{ActivitySeconds: ptr(*moveMinutes * 60)}
	}
	if len(hrAvg) > 0 {
		// One summary per bucket when aggregating by type; if Google sends
		// more, their averages are averaged.
		var sum float64
		for _, v := range hrAvg {
			sum += v
		}
		out.HeartRateData = &model.HeartRateData{Summary: &model.HeartRateDataSummary{
			AvgHrBpm: ptr(sum / float64(len(hrAvg))),
			MaxHrBpm: ptr(maxOf(hrMax)),
			MinHrBpm: ptr(minOf(hrMin)),
		}}
	}
	return model.Record{
		Type:  model.TypeDaily,
		Key:   day.Format(dayLayout),
		Start: day,
		End:   b.end,
		Day:   day.Format(dayLayout),
		Data:  out,
		Raw:   b.raw,
	}, true, nil
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func maxOf(v []float64) float64 {
	out := v[0]
	for _, x := range v[1:] {
		out = max(out, x)
	}
	return out
}

func minOf(v []float64) float64 {
	out := v[0]
	for _, x := range v[1:] {
		out = min(out, x)
	}
	return out
}
