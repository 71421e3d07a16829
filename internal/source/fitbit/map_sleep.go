package fitbit

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
)

// sleepLog is one sleep v1.2 log, as far as the mapper reads it.
type sleepLog struct {
	LogID               json.Number `json:"logId"`
	DateOfSleep         string      `json:"dateOfSleep"`
	StartTime           string      `json:"startTime"`
	EndTime             string      `json:"endTime"`
	Efficiency          *float64    `json:"efficiency"`
	IsMainSleep         *bool       `json:"isMainSleep"`
	LogType             *string     `json:"logType"`
	MinutesAfterWakeup  *float64    `json:"minutesAfterWakeup"`
	MinutesAsleep       *float64    `json:"minutesAsleep"`
	MinutesAwake        *float64    `json:"minutesAwake"`
	MinutesToFallAsleep *float64    `json:"minutesToFallAsleep"`
	TimeInBed           *float64    `json:"timeInBed"`
	Type                string      `json:"type"`
	Levels              *struct {
		Data      []sleepLevel             `json:"data"`
		ShortData []sleepLevel             `json:"shortData"`
		Summary   map[string]*levelSummary `json:"summary"`
	} `json:"levels"`
}

// sleepLevel is one entry of levels.data or levels.shortData: the level the
// user was in for seconds from dateTime.
type sleepLevel struct {
	DateTime string  `json:"dateTime"`
	Level    string  `json:"level"`
	Seconds  float64 `json:"seconds"`
}

type levelSummary struct {
	Count   *float64 `json:"count"`
	Minutes *float64 `json:"minutes"`
}

// sleepLevels maps Fitbit's sleep levels to Terra levels: "stages" logs use
// deep, light, rem and wake; "classic" logs use asleep, restless and
// awake. Fitbit counts restless minutes as awake (minutesAwake is awake
// plus restless), so restless is Awake here too.
var sleepLevels = map[string]model.SleepLevel{
	"deep":     model.SleepLevelDeepSleep,
	"light":    model.SleepLevelLightSleep,
	"rem":      model.SleepLevelREMSleep,
	"wake":     model.SleepLevelAwake,
	"asleep":   model.SleepLevelSleeping,
	"restless": model.SleepLevelAwake,
	"awake":    model.SleepLevelAwake,
}

// sleepLogTypes maps logType to Terra upload types.
var sleepLogTypes = map[string]model.SleepUploadType{
	"auto_detected": model.SleepUploadTypeAutomatic,
	"manual":        model.SleepUploadTypeManual,
}

// sleep maps one sleep v1.2 log. The log's day is dateOfSleep (the day the
// sleep ended); its zone-less times are read in the user's zone and shown
// in the offset in force when the sleep started.
func (m *mapper) sleep(raw json.RawMessage) (model.Record, error) {
	var s sleepLog
	if err := json.Unmarshal(raw, &s); err != nil {
		return model.Record{}, fmt.Errorf("decode sleep log: %w", err)
	}
	id, err := logID(s.LogID)
	if err != nil {
		return model.Record{}, fmt.Errorf("sleep log: %w", err)
	}
	if _, err := parseDay(s.DateOfSleep); err != nil {
		return model.Record{}, fmt.Errorf("sleep log %s dateOfSleep: %w", id, err)
	}
	start, err := m.z.parseLocal(s.StartTime)
	if err != nil {
		return model.Record{}, fmt.Errorf("sleep log %s startTime: %w", id, err)
	}
	loc := fixedAt(start)
	start = start.In(loc)
	end, err := m.z.parseLocal(s.EndTime)
	if err != nil {
		return model.Record{}, fmt.Errorf("sleep log %s endTime: %w", id, err)
	}
	end = end.In(loc)
	if end.Before(start) {
		return model.Record{}, fmt.Errorf("sleep log %s ends before it starts", id)
	}

	meta := &model.SleepMetadata{
		StartTime:  formatTime(start),
		EndTime:    formatTime(end),
		SummaryId:  ptr(id),
		UploadType: model.SleepUploadTypeUnknown,
	}
	if s.IsMainSleep != nil {
		meta.IsNap = ptr(!*s.IsMainSleep)
	}
	if s.LogType != nil {
		if u, known := sleepLogTypes[*s.LogType]; known {
			meta.UploadType = u
		} else {
			m.unknown(model.TypeSleep, "sleep.logType", *s.LogType, raw)
		}
	}
	switch s.Type {
	case "stages", "classic", "":
	default:
		m.unknown(model.TypeSleep, "sleep.type", s.Type, raw)
	}

	asleep := &model.AsleepDurations{DurationAsleepStateSeconds: times(s.MinutesAsleep, 60)}
	awake := &model.AwakeDurations{
		DurationAwakeStateSeconds: times(s.MinutesAwake, 60),
		SleepLatencySeconds:       times(s.MinutesToFallAsleep, 60),
		WakeUpLatencySeconds:      times(s.MinutesAfterWakeup, 60),
	}
	durations := &model.SleepDurationsData{
		Asleep:          asleep,
		Awake:           awake,
		Other:           &model.OtherSleepDurations{DurationInBedSeconds: times(s.TimeInBed, 60)},
		SleepEfficiency: s.Efficiency,
	}
	if lv := s.Levels; lv != nil {
		sum := func(level string) *levelSummary {
			if v := lv.Summary[level]; v != nil {
				return v
			}
			return &levelSummary{}
		}
		if s.Type == "stages" {
			asleep.DurationDeepSleepStateSeconds = times(sum("deep").Minutes, 60)
			asleep.DurationLightSleepStateSeconds = times(sum("light").Minutes, 60)
			asleep.DurationREMSleepStateSeconds = times(sum("rem").Minutes, 60)
			awake.NumWakeupEvents = intPtr(sum("wake").Count)
		} else {
			awake.NumWakeupEvents = intPtr(sum("awake").Count)
		}
		hyp, err := m.hypnogram(lv.Data, lv.ShortData, loc, raw)
		if err != nil {
			return model.Record{}, fmt.Errorf("sleep log %s levels: %w", id, err)
		}
		durations.HypnogramSamples = hyp
	}

	return model.Record{
		Type:  model.TypeSleep,
		Key:   id,
		Start: start,
		End:   end,
		Day:   s.DateOfSleep,
		Data:  &model.Sleep{Metadata: meta, SleepDurationsData: durations},
		Raw:   raw,
	}, nil
}

// span is one stretch of a sleep level.
type span struct {
	from, to time.Time
	level    model.SleepLevel
}

// hypnogram turns levels.data, with the short wakes of levels.shortData
// laid over it (a "stages" log lists wakes of up to three minutes there,
// inside the data spans), into one sample per change of level.
func (m *mapper) hypnogram(data, short []sleepLevel, loc *time.Location, raw []byte) ([]model.SleepHypnogramSample, error) {
	toSpans := func(in []sleepLevel) ([]span, error) {
		out := make([]span, 0, len(in))
		for _, e := range in {
			t, err := m.z.parseLocal(e.DateTime)
			if err != nil {
				return nil, err
			}
			if !(e.Seconds >= 0) || e.Seconds > 7*24*3600 {
				return nil, fmt.Errorf("level at %s lasts %v seconds", e.DateTime, e.Seconds)
			}
			level, known := sleepLevels[e.Level]
			if !known {
				level = model.SleepLevelUnknown
				m.unknown(model.TypeSleep, "sleep.levels.level", e.Level, raw)
			}
			out = append(out, span{from: t, to: t.Add(time.Duration(e.Seconds * float64(time.Second))), level: level})
		}
		return out, nil
	}
	long, err := toSpans(data)
	if err != nil {
		return nil, err
	}
	wakes, err := toSpans(short)
	if err != nil {
		return nil, err
	}
	if len(long) == 0 && len(wakes) == 0 {
		return nil, nil
	}
	// Every start and end is a point where the level may change.
	var points []time.Time
	for _, sp := range append(append([]span(nil), long...), wakes...) {
		points = append(points, sp.from, sp.to)
	}
	sort.Slice(points, func(i, j int) bool { return points[i].Before(points[j]) })
	levelAt := func(t time.Time) (model.SleepLevel, bool) {
		for _, sp := range wakes {
			if !t.Before(sp.from) && t.Before(sp.to) {
				return sp.level, true
			}
		}
		for _, sp := range long {
			if !t.Before(sp.from) && t.Before(sp.to) {
				return sp.level, true
			}
		}
		return 0, false
	}
	var out []model.SleepHypnogramSample
	var last model.SleepLevel
	have := false
	for i, t := range points {
		if i > 0 && t.Equal(points[i-1]) {
			continue
		}
		level, ok := levelAt(t)
		if !ok || (have && level == last) {
			continue
		}
		out = append(out, model.SleepHypnogramSample{Timestamp: formatTimePtr(t.In(loc)), Level: ptr(level)})
		last, have = level, true
	}
	return out, nil
}
