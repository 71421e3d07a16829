package fitbit

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
)

// loggedActivity is one entry of the "activities" list of GET
// /1/user/-/activities/date/{day}.json.
type loggedActivity struct {
	LogID              json.Number `json:"logId"`
	ActivityParentName string      `json:"activityParentName"`
	Name               string      `json:"name"`
	Calories           *float64    `json:"calories"`
	Distance           *float64    `json:"distance"` // km
	Duration           *float64    `json:"duration"` // ms
	Steps              *float64    `json:"steps"`
	StartDate          string      `json:"startDate"`
	StartTime          string      `json:"startTime"` // local "HH:mm"
	HasStartTime       *bool       `json:"hasStartTime"`
	LogType            *string     `json:"logType"`
}

// activityTypes maps Fitbit activity names (the activity's name or its
// parent's, normalised by normActivity) to Terra activity types. Fitbit's
// catalogue is large; names not listed become Other and are reported.
var activityTypes = map[string]model.ActivityType{
	"walk":                  model.ActivityTypeWalking,
	"walking":               model.ActivityTypeWalking,
	"run":                   model.ActivityTypeRunning,
	"running":               model.ActivityTypeRunning,
	"jogging":               model.ActivityTypeJogging,
	"treadmill":             model.ActivityTypeTreadmill,
	"hike":                  model.ActivityTypeHiking,
	"hiking":                model.ActivityTypeHiking,
	"bike":                  model.ActivityTypeBiking,
	"biking":                model.ActivityTypeBiking,
	"bicycling":             model.ActivityTypeBiking,
	"cycling":               model.ActivityTypeBiking,
	"outdoorbike":           model.ActivityTypeBiking,
	"mountainbiking":        model.ActivityTypeMountainBiking,
	"spinning":              model.ActivityTypeSpinning,
	"stationarybike":        model.ActivityTypeStationaryBiking,
	"swim":                  model.ActivityTypeSwimming,
	"swimming":              model.ActivityTypeSwimming,
	"elliptical":            model.ActivityTypeElliptical,
	"yoga":                  model.ActivityTypeYoga,
	"pilates":               model.ActivityTypePilates,
	"weights":               model.ActivityTypeWeightlifting,
	"weightlifting":         model.ActivityTypeWeightlifting,
	"strengthtraining":      model.ActivityTypeStrengthTraining,
	"aerobicworkout":        model.ActivityTypeAerobics,
	"aerobics":              model.ActivityTypeAerobics,
	"intervalworkout":       model.ActivityTypeIntervalTraining,
	"hiit":                  model.ActivityTypeHIIT,
	"circuittraining":       model.ActivityTypeCircuitTraining,
	"bootcamp":              model.ActivityTypeCircuitTraining,
	"crossfit":              model.ActivityTypeCrossFit,
	"stairclimber":          model.ActivityTypeStairClimbingMachine,
	"stairclimbing":         model.ActivityTypeStairClimbing,
	"rowing":                model.ActivityTypeRowing,
	"rowingmachine":         model.ActivityTypeRowingMachine,
	"kayaking":              model.ActivityTypeKayaking,
	"dancing":               model.ActivityTypeDancing,
	"dance":                 model.ActivityTypeDancing,
	"zumba":                 model.ActivityTypeZumba,
	"kickboxing":            model.ActivityTypeKickboxing,
	"boxing":                model.ActivityTypeBoxing,
	"martialarts":           model.ActivityTypeMartialArts,
	"tennis":                model.ActivityTypeTennis,
	"golf":                  model.ActivityTypeGolf,
	"basketball":            model.ActivityTypeBasketball,
	"soccer":                model.ActivityTypeEnglishFootball,
	"volleyball":            model.ActivityTypeVolleyball,
	"baseball":              model.ActivityTypeBaseball,
	"softball":              model.ActivityTypeSoftball,
	"hockey":                model.ActivityTypeHockey,
	"icehockey":             model.ActivityTypeHockey,
	"skiing":                model.ActivityTypeSkiing,
	"crosscountryskiing":    model.ActivityTypeCrossCountrySkiing,
	"snowboarding":          model.ActivityTypeSnowboarding,
	"iceskating":            model.ActivityTypeIceSkating,
	"rockclimbing":          model.ActivityTypeRockClimbing,
	"surfing":               model.ActivityTypeSurfing,
	"standuppaddleboarding": model.ActivityTypeStandUpPaddleboarding,
	"meditation":            model.ActivityTypeMeditation,
	"stretching":            model.ActivityTypeStretching,
	"sport":                 model.ActivityTypeOther,
	"workout":               model.ActivityTypeOther,
}

// activityLogTypes maps logType (when Fitbit gives one) to Terra upload
// types.
var activityLogTypes = map[string]model.UploadType{
	"manual":        model.UploadTypeManual,
	"auto_detected": model.UploadTypeAutomatic,
	"mobile_run":    model.UploadTypeAutomatic,
	"tracker":       model.UploadTypeAutomatic,
}

// normActivity lower-cases an activity name and drops separators, so that
// "Outdoor Bike" and "outdoor_bike" match.
func normActivity(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r != '_' && r != '-' && r != ' ' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// activityDistances is the day summary's "distances" list: km per
// activity name, and "total", "tracker", "loggedActivities", ... .
type activityDistances map[string]float64

// activity maps one logged activity of day. Its start is startDate and the
// local startTime ("11:55") read in the user's zone; its end is start plus
// duration (ms), or the start when Fitbit gives no duration. Fitbit puts a
// placeholder startTime on activities logged without one (hasStartTime
// false); it is kept, as it is all there is.
//
// A manually logged activity may have no distance of its own while the
// day's summary lists distance per activity name; when the day has exactly
// one activity of that name (named counts the names of the day), that
// distance is the activity's.
func (m *mapper) activity(raw json.RawMessage, dists activityDistances, named map[string]int) (model.Record, error) {
	var a loggedActivity
	if err := json.Unmarshal(raw, &a); err != nil {
		return model.Record{}, fmt.Errorf("decode activity: %w", err)
	}
	id, err := logID(a.LogID)
	if err != nil {
		return model.Record{}, fmt.Errorf("activity: %w", err)
	}
	if _, err := parseDay(a.StartDate); err != nil {
		return model.Record{}, fmt.Errorf("activity %s startDate: %w", id, err)
	}
	start, err := m.z.parseDayClock(a.StartDate, a.StartTime)
	if err != nil {
		return model.Record{}, fmt.Errorf("activity %s startTime: %w", id, err)
	}
	start = start.In(fixedAt(start))
	end := start
	if a.Duration != nil {
		if !(*a.Duration >= 0) || *a.Duration > 7*24*3600e3 {
			return model.Record{}, fmt.Errorf("activity %s: duration %v ms is out of range", id, *a.Duration)
		}
		end = start.Add(time.Duration(*a.Duration * float64(time.Millisecond)))
	}

	typ, known := activityTypes[normActivity(a.Name)]
	if !known {
		typ, known = activityTypes[normActivity(a.ActivityParentName)]
	}
	if !known {
		typ = model.ActivityTypeOther
		m.unknown(model.TypeActivity, "activity.name", a.Name, raw)
	}
	upload := model.UploadTypeUnknown
	if a.LogType != nil {
		if u, ok := activityLogTypes[*a.LogType]; ok {
			upload = u
		} else {
			m.unknown(model.TypeActivity, "activity.logType", *a.LogType, raw)
		}
	}
	meta := &model.ActivityMetadata{
		StartTime:  formatTime(start),
		EndTime:    formatTime(end),
		SummaryId:  id,
		Type:       typ,
		UploadType: upload,
	}
	if a.Name != "" {
		meta.Name = ptr(a.Name)
	}
	out := &model.Activity{Metadata: meta}
	if a.Calories != nil {
		out.CaloriesData = &model.CaloriesData{TotalBurnedCalories: a.Calories}
	}
	km := a.Distance
	if km == nil && a.Name != "" && named[a.Name] == 1 {
		if d, ok := dists[a.Name]; ok {
			km = ptr(d)
		}
	}
	if km != nil || a.Steps != nil {
		out.DistanceData = &model.DistanceData{Summary: &model.DistanceDataSummary{
			DistanceMeters: times(km, 1000),
			Steps:          intPtr(a.Steps),
		}}
	}
	return model.Record{
		Type:  model.TypeActivity,
		Key:   id,
		Start: start,
		End:   end,
		Day:   a.StartDate,
		Data:  out,
		Raw:   raw,
	}, nil
}
