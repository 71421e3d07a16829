package whoop

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
)

// dailyRaw is the Raw of a Daily: the cycle and, when one was found, its
// recovery, each as received.
type dailyRaw struct {
	Cycle    json.RawMessage `json:"cycle"`
	Recovery json.RawMessage `json:"recovery,omitempty"`
}

// daily maps one physiological cycle, with its recovery when rec is not
// nil, to a Daily keyed by the cycle id.
//
// The Terra day is the local date of the cycle's start in the cycle's own
// timezone_offset, and the Daily spans that date's local midnight to the
// next (Terra's daily metadata always runs midnight to midnight). From the
// cycle: strain, kcal burned (kilojoule / 4.184: WHOOP's kilojoule is energy
// expended) and average/max heart rate. From the recovery: the recovery
// score, resting heart rate, HRV (WHOOP's hrv_rmssd_milli is RMSSD in ms)
// and SpO2. The recovery's skin temperature has no Daily field (Terra's
// Daily has no temperature data) and stays in Raw.
func (m *mapper) daily(raw json.RawMessage, rec *recoveryItem) (model.Record, error) {
	var c cycleDoc
	if err := json.Unmarshal(raw, &c); err != nil {
		return model.Record{}, fmt.Errorf("decode cycle: %w", err)
	}
	if c.ID == "" {
		return model.Record{}, errors.New("cycle has no id")
	}
	endS := ""
	if c.End != nil {
		endS = *c.End
	}
	_, start, _, err := span(c.TimezoneOffset, c.Start, endS)
	if err != nil {
		return model.Record{}, fmt.Errorf("cycle %s: %w", c.ID, err)
	}
	if rec != nil && rec.doc.CycleID != c.ID {
		return model.Record{}, fmt.Errorf("cycle %s: recovery is for cycle %s", c.ID, rec.doc.CycleID)
	}
	dayStart := localMidnight(start)
	dayEnd := dayStart.AddDate(0, 0, 1)
	day := dayStart.Format(dayLayout)

	out := &model.Daily{Metadata: &model.DailyMetadata{
		StartTime:  model.FormatTime(dayStart),
		EndTime:    model.FormatTime(dayEnd),
		UploadType: model.UploadTypeAutomatic,
	}}
	summary := &model.HeartRateDataSummary{}
	if s, ok := c.Score, m.scored(model.TypeDaily, "cycle.score_state", c.ScoreState, raw); ok && s != nil {
		if s.Strain != nil {
			out.StrainData = &model.StrainData{StrainLevel: s.Strain}
		}
		if s.Kilojoule != nil {
			out.CaloriesData = &model.CaloriesData{TotalBurnedCalories: kcal(s.Kilojoule)}
		}
		summary.AvgHrBpm = s.AverageHeartRate
		summary.MaxHrBpm = s.MaxHeartRate
	}
	var recRaw json.RawMessage
	if rec != nil {
		recRaw = rec.raw
		if s, ok := rec.doc.Score, m.scored(model.TypeDaily, "recovery.score_state", rec.doc.ScoreState, rec.raw); ok && s != nil {
			if s.RecoveryScore != nil {
				out.Scores = &model.ScoresData{Recovery: s.RecoveryScore}
			}
			summary.RestingHrBpm = s.RestingHeartRate
			summary.AvgHrvRmssd = s.HRVRmssdMilli
			if s.SpO2Percentage != nil {
				out.OxygenData = &model.OxygenData{AvgSaturationPercentage: s.SpO2Percentage}
			}
		}
	}
	if summary.AvgHrBpm != nil || summary.MaxHrBpm != nil || summary.RestingHrBpm != nil || summary.AvgHrvRmssd != nil {
		out.HeartRateData = &model.HeartRateData{Summary: summary}
	}

	full, err := json.Marshal(dailyRaw{Cycle: raw, Recovery: recRaw})
	if err != nil {
		return model.Record{}, fmt.Errorf("cycle %s: raw: %w", c.ID, err)
	}
	return model.Record{
		Type:  model.TypeDaily,
		Key:   string(c.ID),
		Start: dayStart,
		End:   dayEnd,
		Day:   day,
		Data:  out,
		Raw:   full,
	}, nil
}

// cycleDay returns the Terra day of a cycle document (the local date of
// its start), for filing the cycle's sleeps.
func cycleDay(raw json.RawMessage) (id flexID, day string, err error) {
	var c cycleDoc
	if err := json.Unmarshal(raw, &c); err != nil {
		return "", "", fmt.Errorf("decode cycle: %w", err)
	}
	if c.ID == "" {
		return "", "", errors.New("cycle has no id")
	}
	_, start, _, err := span(c.TimezoneOffset, c.Start, "")
	if err != nil {
		return "", "", fmt.Errorf("cycle %s: %w", c.ID, err)
	}
	return c.ID, start.Format(dayLayout), nil
}

// dayBounds returns the UTC midnights of t's UTC day and the next.
func dayBounds(t time.Time) (time.Time, time.Time) {
	d := t.UTC().Truncate(24 * time.Hour)
	return d, d.Add(24 * time.Hour)
}
