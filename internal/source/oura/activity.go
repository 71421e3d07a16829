package oura

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
)

// workoutTypes maps Oura workout activity names to Terra activity types.
// Oura writes the names in snake_case or camelCase; keys here are
// normalised by normActivity (lower case, no separators).
var workoutTypes = map[string]model.ActivityType{
	"walking":            model.ActivityTypeWalking,
	"running":            model.ActivityTypeRunning,
	"trailrunning":       model.ActivityTypeTrailRunning,
	"treadmillrunning":   model.ActivityTypeTreadmillRunning,
	"indoorrunning":      model.ActivityTypeIndoorRunning,
	"jogging":            model.ActivityTypeJogging,
	"hiking":             model.ActivityTypeHiking,
	"cycling":            model.ActivityTypeBiking,
	"biking":             model.ActivityTypeBiking,
	"mountainbiking":     model.ActivityTypeMountainBiking,
	"indoorcycling":      model.ActivityTypeStationaryBiking,
	"spinning":           model.ActivityTypeSpinning,
	"ebiking":            model.ActivityTypeEBiking,
	"swimming":           model.ActivityTypeSwimming,
	"rowing":             model.ActivityTypeRowing,
	"rowingmachine":      model.ActivityTypeRowingMachine,
	"kayaking":           model.ActivityTypeKayaking,
	"canoeing":           model.ActivityTypeCanoeing,
	"paddling":           model.ActivityTypePaddling,
	"standuppaddling":    model.ActivityTypeStandUpPaddleboarding,
	"surfing":            model.ActivityTypeSurfing,
	"sailing":            model.ActivityTypeSailing,
	"waterpolo":          model.ActivityTypeWaterPolo,
	"strengthtraining":   model.ActivityTypeStrengthTraining,
	"weightlifting":      model.ActivityTypeWeightlifting,
	"crossfit":           model.ActivityTypeCrossFit,
	"hiit":               model.ActivityTypeHIIT,
	"circuittraining":    model.ActivityTypeCircuitTraining,
	"functionaltraining": model.ActivityTypeCircuitTraining,
	"cardio":             model.ActivityTypeCardioTraining,
	"cardiotraining":     model.ActivityTypeCardioTraining,
	"elliptical":         model.ActivityTypeElliptical,
	"stairclimbing":      model.ActivityTypeStairClimbing,
	"jumprope":           model.ActivityTypeJumpingRope,
	"yoga":               model.ActivityTypeYoga,
	"pilates":            model.ActivityTypePilates,
	"stretching":         model.ActivityTypeStretching,
	"meditation":         model.ActivityTypeMeditation,
	"breathwork":         model.ActivityTypeGuidedBreathing,
	"skiing":             model.ActivityTypeSkiing,
	"downhillskiing":     model.ActivityTypeDownhillSkiing,
	"crosscountryskiing": model.ActivityTypeCrossCountrySkiing,
	"snowboarding":       model.ActivityTypeSnowboarding,
	"snowshoeing":        model.ActivityTypeSnowshoeing,
	"iceskating":         model.ActivityTypeIceSkating,
	"skating":            model.ActivityTypeSkating,
	"inlineskating":      model.ActivityTypeInlineSkating,
	"skateboarding":      model.ActivityTypeSkateboarding,
	"soccer":             model.ActivityTypeEnglishFootball,
	"football":           model.ActivityTypeEnglishFootball,
	"americanfootball":   model.ActivityTypeAmericanFootball,
	"basketball":         model.ActivityTypeBasketball,
	"volleyball":         model.ActivityTypeVolleyball,
	"baseball":           model.ActivityTypeBaseball,
	"softball":           model.ActivityTypeSoftball,
	"rugby":              model.ActivityTypeRugby,
	"cricket":            model.ActivityTypeCricket,
	"handball":           model.ActivityTypeHandball,
	"lacrosse":           model.ActivityTypeLacrosse,
	"hockey":             model.ActivityTypeHockey,
	"icehockey":          model.ActivityTypeHockey,
	"fieldhockey":        model.ActivityTypeHockey,
	"tennis":             model.ActivityTypeTennis,
	"squash":             model.ActivityTypeSquash,
	"badminton":          model.ActivityTypeBadminton,
	"tabletennis":        model.ActivityTypeTableTennis,
	"padel":              model.ActivityTypePadelTennis,
	"racquetball":        model.ActivityTypeRacquetball,
	"boxing":             model.ActivityTypeBoxing,
	"kickboxing":         model.ActivityTypeKickboxing,
	"martialarts":        model.ActivityTypeMartialArts,
	"climbing":           model.ActivityTypeRockClimbing,
	"rockclimbing":       model.ActivityTypeRockClimbing,
	"golf":               model.ActivityTypeGolf,
	"horsebackriding":    model.ActivityTypeHorsebackRiding,
	"dancing":            model.ActivityTypeDancing,
	"dance":              model.ActivityTypeDancing,
	"aerobics":           model.ActivityTypeAerobics,
	"zumba":              model.ActivityTypeZumba,
	"gymnastics":         model.ActivityTypeGymnastics,
	"triathlon":          model.ActivityTypeTriathlon,
	"gardening":          model.ActivityTypeGardening,
	"housework":          model.ActivityTypeHousework,
	"other":              model.ActivityTypeOther,
}

// workoutSources maps Oura workout sources to Terra upload types.
var workoutSources = map[string]model.UploadType{
	"manual":             model.UploadTypeManual,
	"autodetected":       model.UploadTypeAutomatic,
	"confirmed":          model.UploadTypeAutomatic,
	"workout_heart_rate": model.UploadTypeAutomatic,
}

// sessionTypes maps Oura session (moment) types to Terra activity types.
var sessionTypes = map[string]model.ActivityType{
	"breathing":   model.ActivityTypeGuidedBreathing,
	"meditation":  model.ActivityTypeMeditation,
	"relaxation":  model.ActivityTypeMeditation,
	"rest":        model.ActivityTypeOther,
	"nap":         model.ActivityTypeOther,
	"body_status": model.ActivityTypeOther,
}

// normActivity lower-cases an activity name and drops separators, so that
// "strength_training", "strengthTraining" and "Strength Training" match.
func normActivity(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r != '_' && r != '-' && r != ' ' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// span parses a document's start and end, showing the end in the start's
// offset.
func span(startS, endS string) (start, end time.Time, err error) {
	start, err = parseTime(startS, nil)
	if err != nil {
		return start, end, fmt.Errorf("start: %w", err)
	}
	end, err = parseTime(endS, start.Location())
	if err != nil {
		return start, end, fmt.Errorf("end: %w", err)
	}
	end = end.In(start.Location())
	if end.Before(start) {
		return start, end, errors.New("ends before it starts")
	}
	return start, end, nil
}

// workout maps one Oura workout to an Activity.
func (m *mapper) workout(raw json.RawMessage) (model.Record, error) {
	var w workout
	if err := json.Unmarshal(raw, &w); err != nil {
		return model.Record{}, fmt.Errorf("decode workout: %w", err)
	}
	if w.ID == "" {
		return model.Record{}, errors.New("workout has no id")
	}
	if _, err := parseDay(w.Day); err != nil {
		return model.Record{}, fmt.Errorf("workout %s: %w", w.ID, err)
	}
	start, end, err := span(w.StartDatetime, w.EndDatetime)
	if err != nil {
		return model.Record{}, fmt.Errorf("workout %s: %w", w.ID, err)
	}
	typ, known := workoutTypes[normActivity(w.Activity)]
	if !known {
		typ = model.ActivityTypeOther
		m.unknown(model.TypeActivity, "workout.activity", w.Activity, raw)
	}
	upload, known := workoutSources[w.Source]
	if !known {
		upload = model.UploadTypeUnknown
		m.unknown(model.TypeActivity, "workout.source", w.Source, raw)
	}
	name := w.Activity
	if w.Label != nil && *w.Label != "" {
		name = *w.Label
	}
	out := &model.Activity{Metadata: &model.ActivityMetadata{
		StartTime:  FormatTime(start),
		EndTime:    FormatTime(end),
		SummaryId:  w.ID,
		Name:       ptr(name),
		Type:       typ,
		UploadType: upload,
	}}
	if w.Calories != nil {
		out.CaloriesData = &model.CaloriesData{TotalBurnedCalories: w.Calories}
	}
	if w.Distance != nil {
		out.DistanceData = &model.DistanceData{Summary: &model.DistanceDataSummary{DistanceMeters: w.Distance}}
	}
	return model.Record{
		Type:  model.TypeActivity,
		Key:   w.ID,
		Start: start,
		End:   end,
		Day:   w.Day,
		Data:  out,
		Raw:   raw,
	}, nil
}

// session maps one Oura session (meditation, breathing, ...) to an
// Activity.
func (m *mapper) session(raw json.RawMessage) (model.Record, error) {
	var s session
	if err := json.Unmarshal(raw, &s); err != nil {
		return model.Record{}, fmt.Errorf("decode session: %w", err)
	}
	if s.ID == "" {
		return model.Record{}, errors.New("session has no id")
	}
	if _, err := parseDay(s.Day); err != nil {
		return model.Record{}, fmt.Errorf("session %s: %w", s.ID, err)
	}
	start, end, err := span(s.StartDatetime, s.EndDatetime)
	if err != nil {
		return model.Record{}, fmt.Errorf("session %s: %w", s.ID, err)
	}
	typ, known := sessionTypes[s.Type]
	if !known {
		typ = model.ActivityTypeOther
		m.unknown(model.TypeActivity, "session.type", s.Type, raw)
	}
	out := &model.Activity{Metadata: &model.ActivityMetadata{
		StartTime:  FormatTime(start),
		EndTime:    FormatTime(end),
		SummaryId:  s.ID,
		Name:       ptr(s.Type),
		Type:       typ,
		UploadType: model.UploadTypeAutomatic,
	}}
	loc := start.Location()
	hr, err := s.HeartRate.points(loc)
	if err != nil {
		return model.Record{}, fmt.Errorf("session %s heart_rate: %w", s.ID, err)
	}
	hrv, err := s.HeartRateVariability.points(loc)
	if err != nil {
		return model.Record{}, fmt.Errorf("session %s heart_rate_variability: %w", s.ID, err)
	}
	if len(hr) > 0 || len(hrv) > 0 {
		detailed := &model.HeartRateDataDetailed{}
		for _, p := range hr {
			detailed.HrSamples = append(detailed.HrSamples, model.HeartRateDataSample{Timestamp: formatTimePtr(p.t), Bpm: ptr(p.v)})
		}
		for _, p := range hrv {
			detailed.HrvSamplesRmssd = append(detailed.HrvSamplesRmssd, model.HeartRateVariabilityDataSampleRMSSD{Timestamp: formatTimePtr(p.t), HrvRmssd: ptr(p.v)})
		}
		out.HeartRateData = &model.HeartRateData{Detailed: detailed}
	}
	return model.Record{
		Type:  model.TypeActivity,
		Key:   s.ID,
		Start: start,
		End:   end,
		Day:   s.Day,
		Data:  out,
		Raw:   raw,
	}, nil
}
