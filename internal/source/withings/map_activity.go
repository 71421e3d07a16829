package withings

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/wearbridge/wearbridge/internal/model"
)

// workout is one entry of Measure v2 - Getworkouts' series (API reference
// workout_object).
type workout struct {
	ID        json.Number `json:"id"`
	Category  *int        `json:"category"`
	Timezone  string      `json:"timezone"`
	Model     *int        `json:"model"`
	Attrib    *int        `json:"attrib"`
	StartDate *int64      `json:"startdate"`
	EndDate   *int64      `json:"enddate"`
	Date      string      `json:"date"`
	Data      workoutData `json:"data"`
}

// workoutData is the workout's data: kcal, meters, floors, bpm, seconds.
type workoutData struct {
	Calories       *float64 `json:"calories"`
	ManualCalories *float64 `json:"manual_calories"`
	Distance       *float64 `json:"distance"`
	ManualDistance *float64 `json:"manual_distance"`
	Steps          *float64 `json:"steps"`
	Elevation      *float64 `json:"elevation"`
	HRAverage      *float64 `json:"hr_average"`
	HRMin          *float64 `json:"hr_min"`
	HRMax          *float64 `json:"hr_max"`
	HRZone0        *float64 `json:"hr_zone_0"`
	HRZone1        *float64 `json:"hr_zone_1"`
	HRZone2        *float64 `json:"hr_zone_2"`
	HRZone3        *float64 `json:"hr_zone_3"`
	SpO2Average    *float64 `json:"spo2_average"`
	PoolLaps       *float64 `json:"pool_laps"`
	Strokes        *float64 `json:"strokes"`
	PoolLength     *float64 `json:"pool_length"`
}

// workoutDataFields is the data_fields asked of getworkouts.
const workoutDataFields = "calories,intensity,manual_distance,manual_calories,hr_average,hr_min,hr_max," +
	"hr_zone_0,hr_zone_1,hr_zone_2,hr_zone_3,pause_duration,algo_pause_duration,spo2_average,steps," +
	"distance,elevation,pool_laps,strokes,pool_length"

// workoutCategory is a Withings workout category: its name and the Terra
// activity type it maps to.
type workoutCategory struct {
	name string
	typ  model.ActivityType
}

// workoutCategories are the categories of the API reference
// (workout_object.category). Categories Terra has no type for map to
// Other; they are known, so they are not reported.
var workoutCategories = map[int]workoutCategory{
	1: {"Walk", model.ActivityTypeWalking}, 2: {"Run", model.ActivityTypeRunning},
	3: {"Hiking", model.ActivityTypeHiking}, 4: {"Skating", model.ActivityTypeSkating},
	5: {"BMX", model.ActivityTypeBiking}, 6: {"Bicycling", model.ActivityTypeBiking},
	7: {"Swimming", model.ActivityTypeSwimming}, 8: {"Surfing", model.ActivityTypeSurfing},
	9: {"Kitesurfing", model.ActivityTypeKitesurfing}, 10: {"Windsurfing", model.ActivityTypeWindsurfing},
	11: {"Bodyboard", model.ActivityTypeSurfing}, 12: {"Tennis", model.ActivityTypeTennis},
	13: {"Table tennis", model.ActivityTypeTableTennis}, 14: {"Squash", model.ActivityTypeSquash},
	15: {"Badminton", model.ActivityTypeBadminton}, 16: {"Lift weights", model.ActivityTypeWeightlifting},
	17: {"Fitness", model.ActivityTypeCalisthenics}, 18: {"Elliptical", model.ActivityTypeElliptical},
	19: {"Pilates", model.ActivityTypePilates}, 20: {"Basket-ball", model.ActivityTypeBasketball},
	21: {"Soccer", model.ActivityTypeEnglishFootball}, 22: {"Football", model.ActivityTypeAmericanFootball},
	23: {"Rugby", model.ActivityTypeRugby}, 24: {"Volley-ball", model.ActivityTypeVolleyball},
	25: {"Waterpolo", model.ActivityTypeWaterPolo}, 26: {"Horse riding", model.ActivityTypeHorsebackRiding},
	27: {"Golf", model.ActivityTypeGolf}, 28: {"Yoga", model.ActivityTypeYoga},
	29: {"Dancing", model.ActivityTypeDancing}, 30: {"Boxing", model.ActivityTypeBoxing},
	31: {"Fencing", model.ActivityTypeFencing}, 32: {"Wrestling", model.ActivityTypeMartialArts},
	33: {"Martial arts", model.ActivityTypeMartialArts}, 34: {"Skiing", model.ActivityTypeSkiing},
	35: {"Snowboarding", model.ActivityTypeSnowboarding}, 36: {"Other", model.ActivityTypeOther},
	128: {"No activity", model.ActivityTypeStill}, 187: {"Rowing", model.ActivityTypeRowing},
	188: {"Zumba", model.ActivityTypeZumba}, 191: {"Baseball", model.ActivityTypeBaseball},
	192: {"Handball", model.ActivityTypeHandball}, 193: {"Hockey", model.ActivityTypeHockey},
	194: {"Ice hockey", model.ActivityTypeHockey}, 195: {"Climbing", model.ActivityTypeRockClimbing},
	196: {"Ice skating", model.ActivityTypeIceSkating}, 272: {"Multi-sport", model.ActivityTypeMultisport},
	306: {"Indoor walk", model.ActivityTypeWalking}, 307: {"Indoor running", model.ActivityTypeIndoorRunning},
	308: {"Indoor cycling", model.ActivityTypeStationaryBiking},
	455: {"Standup Paddleboarding", model.ActivityTypeStandUpPaddleboarding},
	456: {"Padel", model.ActivityTypePadelTennis}, 457: {"Gaming", model.ActivityTypeOther},
	490: {"Beach volleyball", model.ActivityTypeBeachVolleyball},
	491: {"Stair Stepper", model.ActivityTypeStairClimbingMachine},
	492: {"Skateboarding", model.ActivityTypeSkateboarding}, 493: {"Parkour", model.ActivityTypeOther},
	494: {"Kayaking", model.ActivityTypeKayaking}, 495: {"Canoeing", model.ActivityTypeCanoeing},
	496: {"Sailing", model.ActivityTypeSailing}, 497: {"Fishing", model.ActivityTypeFishing},
	498: {"Trail Running", model.ActivityTypeTrailRunning}, 499: {"Snowshoeing", model.ActivityTypeSnowshoeing},
	500: {"Paintball", model.ActivityTypeOther}, 501: {"Archery", model.ActivityTypeArchery},
	502: {"Scuba Diving", model.ActivityTypeScubaDiving}, 503: {"Baseball Training", model.ActivityTypeBaseball},
	504: {"Biathlon", model.ActivityTypeBiathlon}, 505: {"Bocce", model.ActivityTypeOther},
	506: {"Pétanque", model.ActivityTypeOther}, 507: {"Paragliding", model.ActivityTypeParagliding},
	508: {"Frisbee", model.ActivityTypeFrisbee}, 509: {"Skydiving", model.ActivityTypeSkyDiving},
	510: {"Pickleball", model.ActivityTypeOther}, 511: {"Cornhole", model.ActivityTypeOther},
	512: {"Dodgeball", model.ActivityTypeTeamSports}, 513: {"Ultimate", model.ActivityTypeFrisbee},
	514: {"Teqball", model.ActivityTypeOther},
	515: {"Pushing a Wheelchair (Running Pace)", model.ActivityTypeWheelchair},
	516: {"Pushing a Wheelchair (Walking Pace)", model.ActivityTypeWheelchair},
	517: {"Athletics", model.ActivityTypeOther}, 518: {"Track Cycling", model.ActivityTypeBiking},
	519: {"Pentathlon", model.ActivityTypeMultisport}, 520: {"Sport Shooting", model.ActivityTypeOther},
	521: {"Triathlon", model.ActivityTypeTriathlon}, 522: {"Diving", model.ActivityTypeDiving},
	523: {"Mountain Biking", model.ActivityTypeMountainBiking}, 524: {"Gravel Biking", model.ActivityTypeGravelCycling},
	525: {"E-Biking", model.ActivityTypeEBiking}, 526: {"E-Mountain Biking", model.ActivityTypeEMountainBiking},
	527: {"Handcycling", model.ActivityTypeHandBiking}, 528: {"Velomobile", model.ActivityTypeBiking},
	529: {"Backcountry Skiing", model.ActivityTypeBackCountrySkiing}, 530: {"Nordic Skiing", model.ActivityTypeCrossCountrySkiing},
	531: {"Roller Skiing", model.ActivityTypeRollerSkiing}, 532: {"Racquetball", model.ActivityTypeRacquetball},
	534: {"Hip Hop", model.ActivityTypeDancing}, 535: {"Muaythai", model.ActivityTypeKickboxing},
	536: {"Taekwondo", model.ActivityTypeMartialArts}, 537: {"Judo", model.ActivityTypeMartialArts},
	538: {"Trampoline", model.ActivityTypeGymnastics}, 539: {"Standing Frame", model.ActivityTypePhysicalTherapy},
	540: {"Seated Strength", model.ActivityTypeStrengthTraining}, 541: {"Seated Cardio", model.ActivityTypeCardioTraining},
	542: {"Walk With Walker", model.ActivityTypeWalking}, 543: {"Walk With Cane", model.ActivityTypeWalking},
	544: {"Breaking", model.ActivityTypeDancing}, 545: {"Chores", model.ActivityTypeHousework},
	546: {"Crossfit", model.ActivityTypeCrossFit}, 547: {"Spinclass", model.ActivityTypeSpinning},
	548: {"Cricket", model.ActivityTypeCricket}, 549: {"Flamenco Dancing", model.ActivityTypeDancing},
	550: {"HIIT", model.ActivityTypeHIIT}, 551: {"Meditation", model.ActivityTypeMeditation},
	552: {"Stretching", model.ActivityTypeStretching}, 553: {"Yard Work Gardening", model.ActivityTypeGardening},
	554: {"Cleaning", model.ActivityTypeHousework}, 555: {"Public Speaking", model.ActivityTypeOther},
	556: {"Spikeball", model.ActivityTypeOther}, 557: {"Lacrosse", model.ActivityTypeLacrosse},
	558: {"Baby Wearing", model.ActivityTypeOther}, 559: {"Dog Walking", model.ActivityTypeWalking},
	560: {"Breathing exercises", model.ActivityTypeGuidedBreathing}, 561: {"Balance Drills", model.ActivityTypeOther},
	562: {"Pushing a Stroller", model.ActivityTypeWalkingWithStroller}, 563: {"Toddler Wearing", model.ActivityTypeOther},
	564: {"Bowling", model.ActivityTypeOther}, 565: {"Lasertag", model.ActivityTypeOther},
	566: {"Nordic Walking", model.ActivityTypeNordicWalking}, 567: {"Sumo Wrestling", model.ActivityTypeMartialArts},
	568: {"Cooking", model.ActivityTypeOther},
}

// thirdPartyModels are the workout sources (model) that are other apps
// syncing into Withings: Google Fit, Samsung Health, HealthKit, Health
// Connect, Huawei. Their workouts are third-party uploads.
var thirdPartyModels = map[int]bool{1055: true, 1056: true, 1057: true, 1058: true, 1059: true, 1060: true, 1062: true}

// uploadType says how a workout came to be, from its attrib and model.
func (m *mapper) uploadType(attrib, mdl *int, raw []byte) model.UploadType {
	if attrib != nil {
		switch {
		case *attrib == attribManual || *attrib == attribManualCreation:
			return model.UploadTypeManual
		case !knownAttribs[*attrib]:
			m.unknown(model.TypeActivity, "workout.attrib", strconv.Itoa(*attrib), raw)
			return model.UploadTypeUnknown
		}
	}
	if mdl != nil && thirdPartyModels[*mdl] {
		return model.UploadTypeThirdPartyUpload
	}
	return model.UploadTypeAutomatic
}

// workout maps one workout to an Activity keyed by its id, filed under
// Withings' day. Calories are active kcal (net of BMR); the user's manual
// calories and distance stand in where the measured value is missing or
// zero. Elevation is floors climbed. Heart rate values of 0 mean "not
// measured" and are left out.
func (m *mapper) workout(raw json.RawMessage) (model.Record, error) {
	var w workout
	if err := json.Unmarshal(raw, &w); err != nil {
		return model.Record{}, fmt.Errorf("decode workout: %w", err)
	}
	id, err := strconv.ParseInt(string(w.ID), 10, 64)
	if err != nil {
		return model.Record{}, fmt.Errorf("workout has no usable id (%q)", w.ID)
	}
	key := strconv.FormatInt(id, 10)
	if err := checkDay(w.Date); err != nil {
		return model.Record{}, fmt.Errorf("workout %s: %w", key, err)
	}
	start, end, err := session(w.StartDate, w.EndDate, m.zone(model.TypeActivity, w.Timezone, raw))
	if err != nil {
		return model.Record{}, fmt.Errorf("workout %s: %w", key, err)
	}
	d := w.Data
	if !finite(d.Calories, d.ManualCalories, d.Distance, d.ManualDistance, d.Steps, d.Elevation) {
		return model.Record{}, fmt.Errorf("workout %s: a value is not finite", key)
	}

	cat := workoutCategory{name: "Other", typ: model.ActivityTypeOther}
	switch {
	case w.Category == nil:
		m.unknown(model.TypeActivity, "workout.category", "(none)", raw)
	default:
		c, known := workoutCategories[*w.Category]
		if known {
			cat = c
		} else {
			cat.name = "category " + strconv.Itoa(*w.Category)
			m.unknown(model.TypeActivity, "workout.category", strconv.Itoa(*w.Category), raw)
		}
	}
	out := &model.Activity{Metadata: &model.ActivityMetadata{
		StartTime:  model.FormatTime(start),
		EndTime:    model.FormatTime(end),
		SummaryId:  key,
		Name:       ptr(cat.name),
		Type:       cat.typ,
		UploadType: m.uploadType(w.Attrib, w.Model, raw),
	}}
	if c := measuredOrManual(d.Calories, d.ManualCalories); c != nil {
		out.CaloriesData = &model.CaloriesData{NetActivityCalories: c}
	}
	summary := &model.DistanceDataSummary{
		DistanceMeters: measuredOrManual(d.Distance, d.ManualDistance),
		Steps:          intPtr(d.Steps),
		FloorsClimbed:  intPtr(d.Elevation),
	}
	if d.PoolLaps != nil || d.Strokes != nil || d.PoolLength != nil {
		summary.Swimming = &model.SwimmingData{NumLaps: intPtr(d.PoolLaps), NumStrokes: intPtr(d.Strokes), PoolLengthMeters: intPtr(d.PoolLength)}
	}
	if summary.DistanceMeters != nil || summary.Steps != nil || summary.FloorsClimbed != nil || summary.Swimming != nil {
		out.DistanceData = &model.DistanceData{Summary: summary}
	}
	if hr := heartSummary(d.HRAverage, d.HRMin, d.HRMax, d.HRZone0, d.HRZone1, d.HRZone2, d.HRZone3); hr != nil {
		out.HeartRateData = &model.HeartRateData{Summary: hr}
	}
	if s := nonZero(d.SpO2Average); s != nil {
		out.OxygenData = &model.OxygenData{AvgSaturationPercentage: s}
	}
	return model.Record{
		Type:  model.TypeActivity,
		Key:   key,
		Start: start,
		End:   end,
		Day:   w.Date,
		Data:  out,
		Raw:   raw,
	}, nil
}

// measuredOrManual is the measured value, or the user's manual one when
// nothing was measured.
func measuredOrManual(measured, manual *float64) *float64 {
	if (measured == nil || *measured == 0) && manual != nil && *manual != 0 {
		return manual
	}
	return measured
}

// hrZoneNames are Withings' heart rate zones, in order (API reference
// Glossary): hr_zone_0 light ... hr_zone_3 maximal.
var hrZoneNames = [4]string{"light", "moderate", "intense", "maximal"}

// heartSummary builds a heart rate summary from Withings' average, minimum,
// maximum and zone durations; nil when none was measured.
func heartSummary(avg, lo, hi *float64, zones ...*float64) *model.HeartRateDataSummary {
	s := &model.HeartRateDataSummary{AvgHrBpm: nonZero(avg), MinHrBpm: nonZero(lo), MaxHrBpm: nonZero(hi)}
	anyZone := false
	for _, z := range zones {
		if nonZero(z) != nil {
			anyZone = true
		}
	}
	if anyZone {
		for i, z := range zones {
			if z == nil {
				continue
			}
			s.HrZoneData = append(s.HrZoneData, model.HeartRateZoneData{Zone: ptr(i), Name: ptr(hrZoneNames[i]), DurationSeconds: z})
		}
	}
	if s.AvgHrBpm == nil && s.MinHrBpm == nil && s.MaxHrBpm == nil && len(s.HrZoneData) == 0 {
		return nil
	}
	return s
}
