package oura

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
)

// The collections merged into one Daily per day.
const (
	collDailyActivity  = "daily_activity"
	collDailyReadiness = "daily_readiness"
	collDailySpO2      = "daily_spo2"
	collDailySleep     = "daily_sleep"
)

// classStep is the spacing of class_5_min.
const classStep = 5 * time.Minute

// activityLevels maps class_5_min characters to Terra levels. Oura's 0 is
// "non-wear".
var activityLevels = map[rune]model.ActivityLevel{
	'0': model.ActivityLevelUnknown,
	'1': model.ActivityLevelRest,
	'2': model.ActivityLevelInactive,
	'3': model.ActivityLevelLowIntensity,
	'4': model.ActivityLevelMediumIntensity,
	'5': model.ActivityLevelHighIntensity,
}

// dailyDay gathers one day's documents from the daily collections, each
// decoded and with its raw JSON.
type dailyDay struct {
	activity     *dailyActivity
	readiness    *dailyReadiness
	spo2         *dailySpO2
	sleep        *dailySleep
	activityRaw  json.RawMessage
	readinessRaw json.RawMessage
	spo2Raw      json.RawMessage
	sleepRaw     json.RawMessage
}

// dailyRaw is the Raw of a merged Daily: one key per source collection.
type dailyRaw struct {
	DailyActivity  json.RawMessage `json:"daily_activity,omitempty"`
	DailyReadiness json.RawMessage `json:"daily_readiness,omitempty"`
	DailySpO2      json.RawMessage `json:"daily_spo2,omitempty"`
	DailySleep     json.RawMessage `json:"daily_sleep,omitempty"`
}

func (d *dailyDay) raw() dailyRaw {
	return dailyRaw{
		DailyActivity:  d.activityRaw,
		DailyReadiness: d.readinessRaw,
		DailySpO2:      d.spo2Raw,
		DailySleep:     d.sleepRaw,
	}
}

// dailyHead is what every daily document has.
type dailyHead struct {
	ID  string `json:"id"`
	Day string `json:"day"`
}

// decodeDaily decodes a document of one of the daily collections into its
// day's slot in days, creating the day. keep filters by day; a document of
// a day keep refuses is ignored. A second document for a slot already
// filled is an error (the first is kept).
func decodeDaily(days map[string]*dailyDay, collection string, raw json.RawMessage, keep func(day string) bool) error {
	var head dailyHead
	if err := json.Unmarshal(raw, &head); err != nil {
		return fmt.Errorf("decode %s: %w", collection, err)
	}
	if _, err := parseDay(head.Day); err != nil {
		return fmt.Errorf("%s %s: %w", collection, head.ID, err)
	}
	if keep != nil && !keep(head.Day) {
		return nil
	}
	d := days[head.Day]
	if d == nil {
		d = &dailyDay{}
	}
	dup := fmt.Errorf("%s %s: a second document for day %s; the first was kept", collection, head.ID, head.Day)
	switch collection {
	case collDailyActivity:
		if d.activity != nil {
			return dup
		}
		var a dailyActivity
		if err := json.Unmarshal(raw, &a); err != nil {
			return fmt.Errorf("decode %s: %w", collection, err)
		}
		t, err := parseTime(a.Timestamp, nil)
		if err != nil {
			return fmt.Errorf("%s %s timestamp: %w", collection, a.ID, err)
		}
		a.start = t
		if _, err := a.Met.points(t.Location()); err != nil {
			return fmt.Errorf("%s %s met: %w", collection, a.ID, err)
		}
		d.activity, d.activityRaw = &a, raw
	case collDailyReadiness:
		if d.readiness != nil {
			return dup
		}
		var r dailyReadiness
		if err := json.Unmarshal(raw, &r); err != nil {
			return fmt.Errorf("decode %s: %w", collection, err)
		}
		d.readiness, d.readinessRaw = &r, raw
	case collDailySpO2:
		if d.spo2 != nil {
			return dup
		}
		var s dailySpO2
		if err := json.Unmarshal(raw, &s); err != nil {
			return fmt.Errorf("decode %s: %w", collection, err)
		}
		d.spo2, d.spo2Raw = &s, raw
	case collDailySleep:
		if d.sleep != nil {
			return dup
		}
		var s dailySleep
		if err := json.Unmarshal(raw, &s); err != nil {
			return fmt.Errorf("decode %s: %w", collection, err)
		}
		d.sleep, d.sleepRaw = &s, raw
	default:
		return fmt.Errorf("not a daily collection: %s", collection)
	}
	days[head.Day] = d
	return nil
}

// dailies merges the gathered days into Daily records, in day order.
//
// The day's offset comes from its daily_activity timestamp (Oura writes it
// in the user's offset). A day without daily_activity borrows the offset of
// the nearest day that has one; with none at all, UTC. (daily_readiness and
// daily_sleep timestamps are midnight UTC, not local, so they cannot tell.)
// A day that cannot be mapped becomes a Problem holding the day's raw
// documents.
func (m *mapper) dailies(days map[string]*dailyDay) ([]model.Record, []model.Problem) {
	keys := make([]string, 0, len(days))
	for k := range days {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var probs []model.Problem
	recs := make([]model.Record, 0, len(keys))
	for i, k := range keys {
		rec, err := m.daily(k, days[k], nearestZone(keys, days, i))
		if err != nil {
			raw, _ := json.Marshal(days[k].raw())
			probs = append(probs, model.Problem{Type: model.TypeDaily, Err: err.Error(), Raw: raw})
			continue
		}
		recs = append(recs, rec)
	}
	return recs, probs
}

// nearestZone is the zone of keys[i]'s daily_activity or, failing that, of
// the closest day's.
func nearestZone(keys []string, days map[string]*dailyDay, i int) *time.Location {
	for d := 0; d < len(keys); d++ {
		for _, j := range []int{i - d, i + d} {
			if j >= 0 && j < len(keys) && days[keys[j]].activity != nil {
				return days[keys[j]].activity.start.Location()
			}
		}
	}
	return time.UTC
}

// daily maps one day's documents to a Daily. loc is the day's zone.
func (m *mapper) daily(day string, d *dailyDay, loc *time.Location) (model.Record, error) {
	dayStart, err := parseDay(day)
	if err != nil {
		return model.Record{}, err
	}
	start := midnight(dayStart, loc)
	end := start.Add(24 * time.Hour)
	out := &model.Daily{Metadata: &model.DailyMetadata{
		StartTime:  FormatTime(start),
		EndTime:    FormatTime(end),
		UploadType: model.UploadTypeAutomatic,
	}}
	scores := &model.ScoresData{}

	if a := d.activity; a != nil {
		if err := m.dailyActivity(out, a, d.activityRaw); err != nil {
			return model.Record{}, fmt.Errorf("daily_activity %s: %w", a.ID, err)
		}
		scores.Activity = a.Score
	}
	if r := d.readiness; r != nil {
		scores.Recovery = r.Score
	}
	if s := d.sleep; s != nil {
		scores.Sleep = s.Score
	}
	if scores.Activity != nil || scores.Recovery != nil || scores.Sleep != nil {
		out.Scores = scores
	}
	if s := d.spo2; s != nil && s.SpO2Percentage != nil && s.SpO2Percentage.Average != nil {
		out.OxygenData = &model.OxygenData{AvgSaturationPercentage: s.SpO2Percentage.Average}
	}

	raw, err := json.Marshal(d.raw())
	if err != nil {
		return model.Record{}, fmt.Errorf("daily %s: raw: %w", day, err)
	}
	return model.Record{
		Type:  model.TypeDaily,
		Key:   day,
		Start: start,
		End:   end,
		Day:   day,
		Data:  out,
		Raw:   raw,
	}, nil
}

// dailyActivity fills the activity parts of out from a daily_activity.
func (m *mapper) dailyActivity(out *model.Daily, a *dailyActivity, raw json.RawMessage) error {
	loc := a.start.Location()
	if a.Steps != nil || a.EquivalentWalkingDistance != nil {
		out.DistanceData = &model.DailyDistanceData{
			Steps:          intPtr(a.Steps),
			DistanceMeters: a.EquivalentWalkingDistance,
		}
	}
	if a.ActiveCalories != nil || a.TotalCalories != nil {
		out.CaloriesData = &model.CaloriesData{
			NetActivityCalories: a.ActiveCalories,
			TotalBurnedCalories: a.TotalCalories,
		}
	}

	met := &model.METData{
		AvgLevel:                    a.AverageMetMinutes,
		NumHighIntensityMinutes:     minutes(a.HighActivityTime),
		NumModerateIntensityMinutes: minutes(a.MediumActivityTime),
		NumLowIntensityMinutes:      minutes(a.LowActivityTime),
		NumInactiveMinutes:          minutes(a.SedentaryTime),
	}
	pts, err := a.Met.points(loc)
	if err != nil {
		return fmt.Errorf("met: %w", err)
	}
	for _, p := range pts {
		met.METSamples = append(met.METSamples, model.METSample{Timestamp: formatTimePtr(p.t), Level: ptr(p.v)})
	}
	out.METData = met

	act := &model.ActiveDurationsData{
		InactivitySeconds:            a.SedentaryTime,
		LowIntensitySeconds:          a.LowActivityTime,
		ModerateIntensitySeconds:     a.MediumActivityTime,
		VigorousIntensitySeconds:     a.HighActivityTime,
		RestSeconds:                  a.RestingTime,
		NumContinuousInactivePeriods: intPtr(a.InactivityAlerts),
	}
	if a.LowActivityTime != nil && a.MediumActivityTime != nil && a.HighActivityTime != nil {
		act.ActivitySeconds = ptr(*a.LowActivityTime + *a.MediumActivityTime + *a.HighActivityTime)
	}
	if a.Class5Min != nil {
		for i, c := range []rune(*a.Class5Min) {
			level, known := activityLevels[c]
			if !known {
				level = model.ActivityLevelUnknown
				m.unknown(model.TypeDaily, "daily_activity.class_5_min", string(c), raw)
			}
			act.ActivityLevelsSamples = append(act.ActivityLevelsSamples, model.ActivityLevelSample{
				Timestamp:     formatTimePtr(a.start.Add(time.Duration(i) * classStep)),
				ActivityLevel: ptr(level),
			})
		}
	}
	out.ActiveDurationsData = act
	return nil
}
