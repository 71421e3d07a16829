package whoop

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/wearbridge/wearbridge/internal/model"
)

// sleepRaw is the Raw of a Sleep: the sleep and, when one was joined, the
// recovery computed from it, each as received.
type sleepRaw struct {
	Sleep    json.RawMessage `json:"sleep"`
	Recovery json.RawMessage `json:"recovery,omitempty"`
}

// sleep maps one WHOOP sleep or nap to a Sleep keyed by its UUID.
//
// day is the Terra day of the sleep's cycle; when it is empty (the cycle
// was not found) the local date of the sleep's own start is used, which is
// the cycle's day for a main sleep since a main sleep starts its cycle.
// rec, when not nil, is the recovery WHOOP computed from this sleep (its
// sleep_id is this sleep's id).
//
// Stage durations come from stage_summary (milliseconds → seconds); asleep
// is light + slow wave (deep) + REM. disturbance_count ("number of times the
// user was disturbed") is the number of wake-up events. The sleep score is
// sleep_performance_percentage, WHOOP's own score for the night. From the
// recovery: readiness (the recovery score), resting heart rate, HRV (RMSSD,
// ms) and SpO2. sleep_consistency_percentage, sleep_needed,
// sleep_cycle_count and the recovery's absolute skin temperature have no
// Terra field (Terra's sleep temperature is a delta from baseline) and stay
// in Raw.
func (m *mapper) sleep(raw json.RawMessage, day string, rec *recoveryItem) (model.Record, error) {
	var s sleepDoc
	if err := json.Unmarshal(raw, &s); err != nil {
		return model.Record{}, fmt.Errorf("decode sleep: %w", err)
	}
	if s.ID == "" {
		return model.Record{}, errors.New("sleep has no id")
	}
	if s.End == "" {
		return model.Record{}, fmt.Errorf("sleep %s has no end", s.ID)
	}
	_, start, end, err := span(s.TimezoneOffset, s.Start, s.End)
	if err != nil {
		return model.Record{}, fmt.Errorf("sleep %s: %w", s.ID, err)
	}
	if rec != nil && rec.doc.SleepID != s.ID {
		return model.Record{}, fmt.Errorf("sleep %s: recovery is for sleep %s", s.ID, rec.doc.SleepID)
	}
	if day == "" {
		day = start.Format(dayLayout)
	}

	out := &model.Sleep{Metadata: &model.SleepMetadata{
		StartTime:  model.FormatTime(start),
		EndTime:    model.FormatTime(end),
		SummaryId:  ptr(s.ID),
		IsNap:      s.Nap,
		UploadType: model.SleepUploadTypeAutomatic,
	}}
	if sc, ok := s.Score, m.scored(model.TypeSleep, "sleep.score_state", s.ScoreState, raw); ok && sc != nil {
		if st := sc.StageSummary; st != nil {
			asleep := &model.AsleepDurations{
				DurationDeepSleepStateSeconds:  seconds(st.TotalSlowWaveSleepTimeMilli),
				DurationLightSleepStateSeconds: seconds(st.TotalLightSleepTimeMilli),
				DurationREMSleepStateSeconds:   seconds(st.TotalREMSleepTimeMilli),
			}
			if st.TotalLightSleepTimeMilli != nil && st.TotalSlowWaveSleepTimeMilli != nil && st.TotalREMSleepTimeMilli != nil {
				asleep.DurationAsleepStateSeconds = ptr((*st.TotalLightSleepTimeMilli + *st.TotalSlowWaveSleepTimeMilli + *st.TotalREMSleepTimeMilli) / 1000)
			}
			out.SleepDurationsData = &model.SleepDurationsData{
				Asleep: asleep,
				Awake: &model.AwakeDurations{
					DurationAwakeStateSeconds: seconds(st.TotalAwakeTimeMilli),
					NumWakeupEvents:           intPtr(st.DisturbanceCount),
				},
				Other: &model.OtherSleepDurations{
					DurationInBedSeconds:             seconds(st.TotalInBedTimeMilli),
					DurationUnmeasurableSleepSeconds: seconds(st.TotalNoDataTimeMilli),
				},
				SleepEfficiency: sc.SleepEfficiencyPercentage,
			}
		} else if sc.SleepEfficiencyPercentage != nil {
			out.SleepDurationsData = &model.SleepDurationsData{SleepEfficiency: sc.SleepEfficiencyPercentage}
		}
		if sc.SleepPerformancePercentage != nil {
			out.Scores = &model.SleepScores{Sleep: sc.SleepPerformancePercentage}
		}
		if sc.RespiratoryRate != nil {
			out.RespirationData = &model.RespirationData{BreathsData: &model.BreathsData{
				AvgBreathsPerMin: sc.RespiratoryRate,
				StartTime:        ptr(model.FormatTime(start)),
				EndTime:          ptr(model.FormatTime(end)),
			}}
		}
	}

	var recRaw json.RawMessage
	if rec != nil {
		recRaw = rec.raw
		if rs, ok := rec.doc.Score, m.scored(model.TypeSleep, "recovery.score_state", rec.doc.ScoreState, rec.raw); ok && rs != nil {
			if rs.RecoveryScore != nil {
				out.ReadinessData = &model.ReadinessData{Readiness: rs.RecoveryScore}
			}
			if rs.RestingHeartRate != nil || rs.HRVRmssdMilli != nil {
				out.HeartRateData = &model.HeartRateData{Summary: &model.HeartRateDataSummary{
					RestingHrBpm: rs.RestingHeartRate,
					AvgHrvRmssd:  rs.HRVRmssdMilli,
				}}
			}
			if rs.SpO2Percentage != nil {
				if out.RespirationData == nil {
					out.RespirationData = &model.RespirationData{}
				}
				out.RespirationData.OxygenSaturationData = &model.OxygenSaturationData{
					AvgSaturationPercentage: rs.SpO2Percentage,
					StartTime:               ptr(model.FormatTime(start)),
					EndTime:                 ptr(model.FormatTime(end)),
				}
			}
		}
	}

	full, err := json.Marshal(sleepRaw{Sleep: raw, Recovery: recRaw})
	if err != nil {
		return model.Record{}, fmt.Errorf("sleep %s: raw: %w", s.ID, err)
	}
	return model.Record{
		Type:  model.TypeSleep,
		Key:   s.ID,
		Start: start,
		End:   end,
		Day:   day,
		Data:  out,
		Raw:   full,
	}, nil
}

// sleepHead is what the pull needs of a sleep before mapping it.
type sleepHead struct {
	ID      string `json:"id"`
	CycleID flexID `json:"cycle_id"`
	Nap     *bool  `json:"nap"`
}
