package strava

import "github.com/wearbridge/wearbridge/internal/model"

// sportTypes maps Strava's sport_type values (and the older, coarser
// "type" values, which are a subset) to Terra activity types. Sports with
// no Terra counterpart (Pickleball, Workout) are known and map to Other
// without a problem. Source: the SportType and ActivityType enums of the
// Strava API reference.
var sportTypes = map[string]model.ActivityType{
	"AlpineSki":                     model.ActivityTypeDownhillSkiing,
	"BackcountrySki":                model.ActivityTypeBackCountrySkiing,
	"Badminton":                     model.ActivityTypeBadminton,
	"Basketball":                    model.ActivityTypeBasketball,
	"Canoeing":                      model.ActivityTypeCanoeing,
	"Cricket":                       model.ActivityTypeCricket,
	"Crossfit":                      model.ActivityTypeCrossFit,
	"Dance":                         model.ActivityTypeDancing,
	"EBikeRide":                     model.ActivityTypeEBiking,
	"Elliptical":                    model.ActivityTypeElliptical,
	"EMountainBikeRide":             model.ActivityTypeEMountainBiking,
	"Golf":                          model.ActivityTypeGolf,
	"GravelRide":                    model.ActivityTypeGravelCycling,
	"Handcycle":                     model.ActivityTypeHandBiking,
	"HighIntensityIntervalTraining": model.ActivityTypeHIIT,
	"Hike":                          model.ActivityTypeHiking,
	"IceSkate":                      model.ActivityTypeIceSkating,
	"InlineSkate":                   model.ActivityTypeInlineSkating,
	"Kayaking":                      model.ActivityTypeKayaking,
	"Kitesurf":                      model.ActivityTypeKitesurfing,
	"MountainBikeRide":              model.ActivityTypeMountainBiking,
	"NordicSki":                     model.ActivityTypeCrossCountrySkiing,
	"Padel":                         model.ActivityTypePadelTennis,
	"Pickleball":                    model.ActivityTypeOther,
	"Pilates":                       model.ActivityTypePilates,
	"Racquetball":                   model.ActivityTypeRacquetball,
	"Ride":                          model.ActivityTypeBiking,
	"RockClimbing":                  model.ActivityTypeRockClimbing,
	"RollerSki":                     model.ActivityTypeRollerSkiing,
	"Rowing":                        model.ActivityTypeRowing,
	"Run":                           model.ActivityTypeRunning,
	"Sail":                          model.ActivityTypeSailing,
	"Skateboard":                    model.ActivityTypeSkateboarding,
	"Snowboard":                     model.ActivityTypeSnowboarding,
	"Snowshoe":                      model.ActivityTypeSnowshoeing,
	"Soccer":                        model.ActivityTypeEnglishFootball,
	"Squash":                        model.ActivityTypeSquash,
	"StairStepper":                  model.ActivityTypeStairClimbingMachine,
	"StandUpPaddling":               model.ActivityTypeStandUpPaddleboarding,
	"Surfing":                       model.ActivityTypeSurfing,
	"Swim":                          model.ActivityTypeSwimming,
	"TableTennis":                   model.ActivityTypeTableTennis,
	"Tennis":                        model.ActivityTypeTennis,
	"TrailRun":                      model.ActivityTypeTrailRunning,
	"Velomobile":                    model.ActivityTypeBiking,
	"VirtualRide":                   model.ActivityTypeStationaryBiking,
	"VirtualRow":                    model.ActivityTypeRowingMachine,
	"VirtualRun":                    model.ActivityTypeTreadmillRunning,
	"Volleyball":                    model.ActivityTypeVolleyball,
	"Walk":                          model.ActivityTypeWalking,
	"WeightTraining":                model.ActivityTypeStrengthTraining,
	"Wheelchair":                    model.ActivityTypeWheelchair,
	"Windsurf":                      model.ActivityTypeWindsurfing,
	"Workout":                       model.ActivityTypeOther,
	"Yoga":                          model.ActivityTypeYoga,
}

// activityType picks the Terra type of an activity: sport_type where
// Strava gives a known one, else the older "type". It returns the values
// that were not known, to be reported.
func activityType(sportType, typ string) (model.ActivityType, []string) {
	var unknown []string
	if sportType != "" {
		if t, ok := sportTypes[sportType]; ok {
			return t, nil
		}
		unknown = append(unknown, "sport_type="+sportType)
	}
	if typ != "" {
		if t, ok := sportTypes[typ]; ok {
			return t, unknown
		}
		unknown = append(unknown, "type="+typ)
	}
	if sportType == "" && typ == "" {
		return model.ActivityTypeUnknown, []string{"no sport_type or type"}
	}
	return model.ActivityTypeOther, unknown
}
