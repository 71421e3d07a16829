package whoop

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/wearbridge/wearbridge/internal/model"
)

// sportTypes maps WHOOP sport names, normalised by normSport, to Terra
// activity types. It lists every sport of WHOOP's sports table
// (developer.whoop.com/docs/developing/user-data/workout, "WHOOP Sports");
// sports without a Terra equivalent map to Other. A name not listed here
// is reported as unknown.
var sportTypes = map[string]model.ActivityType{
	"activity":             model.ActivityTypeOther, // WHOOP's generic activity
	"running":              model.ActivityTypeRunning,
	"cycling":              model.ActivityTypeBiking,
	"baseball":             model.ActivityTypeBaseball,
	"basketball":           model.ActivityTypeBasketball,
	"rowing":               model.ActivityTypeRowing,
	"fencing":              model.ActivityTypeFencing,
	"fieldhockey":          model.ActivityTypeHockey,
	"football":             model.ActivityTypeAmericanFootball, // WHOOP lists soccer separately
	"golf":                 model.ActivityTypeGolf,
	"icehockey":            model.ActivityTypeHockey,
	"lacrosse":             model.ActivityTypeLacrosse,
	"rugby":                model.ActivityTypeRugby,
	"sailing":              model.ActivityTypeSailing,
	"skiing":               model.ActivityTypeSkiing,
	"soccer":               model.ActivityTypeEnglishFootball,
	"softball":             model.ActivityTypeSoftball,
	"squash":               model.ActivityTypeSquash,
	"swimming":             model.ActivityTypeSwimming,
	"tennis":               model.ActivityTypeTennis,
	"trackfield":           model.ActivityTypeOther,
	"trackandfield":        model.ActivityTypeOther,
	"volleyball":           model.ActivityTypeVolleyball,
	"waterpolo":            model.ActivityTypeWaterPolo,
	"wrestling":            model.ActivityTypeOther,
	"boxing":               model.ActivityTypeBoxing,
	"dance":                model.ActivityTypeDancing,
	"pilates":              model.ActivityTypePilates,
	"yoga":                 model.ActivityTypeYoga,
	"weightlifting":        model.ActivityTypeWeightlifting,
	"crosscountryskiing":   model.ActivityTypeCrossCountrySkiing,
	"functionalfitness":    model.ActivityTypeCircuitTraining,
	"duathlon":             model.ActivityTypeMultisport,
	"gymnastics":           model.ActivityTypeGymnastics,
	"hikingrucking":        model.ActivityTypeHiking,
	"hiking":               model.ActivityTypeHiking,
	"horsebackriding":      model.ActivityTypeHorsebackRiding,
	"kayaking":             model.ActivityTypeKayaking,
	"martialarts":          model.ActivityTypeMartialArts,
	"mountainbiking":       model.ActivityTypeMountainBiking,
	"powerlifting":         model.ActivityTypeWeightlifting,
	"rockclimbing":         model.ActivityTypeRockClimbing,
	"paddleboarding":       model.ActivityTypeStandUpPaddleboarding,
	"triathlon":            model.ActivityTypeTriathlon,
	"walking":              model.ActivityTypeWalking,
	"surfing":              model.ActivityTypeSurfing,
	"elliptical":           model.ActivityTypeElliptical,
	"stairmaster":          model.ActivityTypeStairClimbingMachine,
	"meditation":           model.ActivityTypeMeditation,
	"other":                model.ActivityTypeOther,
	"diving":               model.ActivityTypeDiving,
	"operationstactical":   model.ActivityTypeOther,
	"operationsmedical":    model.ActivityTypeOther,
	"operationsflying":     model.ActivityTypeOther,
	"operationswater":      model.ActivityTypeOther,
	"ultimate":             model.ActivityTypeFrisbee,
	"climber":              model.ActivityTypeOther,
	"jumpingrope":          model.ActivityTypeJumpingRope,
	"australianfootball":   model.ActivityTypeAustralianFootball,
	"skateboarding":        model.ActivityTypeSkateboarding,
	"coaching":             model.ActivityTypeOther,
	"icebath":              model.ActivityTypeOther,
	"commuting":            model.ActivityTypeOther,
	"gaming":               model.ActivityTypeOther,
	"snowboarding":         model.ActivityTypeSnowboarding,
	"motocross":            model.ActivityTypeMotorbiking,
	"caddying":             model.ActivityTypeOther,
	"obstaclecourseracing": model.ActivityTypeOther,
	"motorracing":          model.ActivityTypeMotorRacing,
	"hiit":                 model.ActivityTypeHIIT,
	"spin":                 model.ActivityTypeSpinning,
	"jiujitsu":             model.ActivityTypeMartialArts,
	"manuallabor":          model.ActivityTypeOther,
	"cricket":              model.ActivityTypeCricket,
	"pickleball":           model.ActivityTypeOther,
	"inlineskating":        model.ActivityTypeInlineSkating,
	"boxfitness":           model.ActivityTypeBoxing,
	"spikeball":            model.ActivityTypeOther,
	"wheelchairpushing":    model.ActivityTypeWheelchair,
	"paddletennis":         model.ActivityTypeOther,
	"barre":                model.ActivityTypeOther,
	"stageperformance":     model.ActivityTypeOther,
	"highstresswork":       model.ActivityTypeOther,
	"parkour":              model.ActivityTypeOther,
	"gaelicfootball":       model.ActivityTypeGaelicFootball,
	"hurlingcamogie":       model.ActivityTypeHurling,
	"circusarts":           model.ActivityTypeOther,
	"massagetherapy":       model.ActivityTypeOther,
	"strengthtrainer":      model.ActivityTypeStrengthTraining,
	"watchingsports":       model.ActivityTypeOther,
	"assaultbike":          model.ActivityTypeStationaryBiking,
	"kickboxing":           model.ActivityTypeKickboxing,
	"stretching":           model.ActivityTypeStretching,
	"tabletennis":          model.ActivityTypeTableTennis,
	"badminton":            model.ActivityTypeBadminton,
	"netball":              model.ActivityTypeOther,
	"sauna":                model.ActivityTypeOther,
	"discgolf":             model.ActivityTypeOther,
	"yardwork":             model.ActivityTypeGardening,
	"aircompression":       model.ActivityTypeOther,
	"percussivemassage":    model.ActivityTypeOther,
	"paintball":            model.ActivityTypeOther,
	"iceskating":           model.ActivityTypeIceSkating,
	"handball":             model.ActivityTypeHandball,
	"f45training":          model.ActivityTypeCircuitTraining,
	"padel":                model.ActivityTypePadelTennis,
	"barrys":               model.ActivityTypeOther,
	"dedicatedparenting":   model.ActivityTypeOther,
	"strollerwalking":      model.ActivityTypeWalkingWithStroller,
	"strollerjogging":      model.ActivityTypeJogging,
	"toddlerwearing":       model.ActivityTypeOther,
	"babywearing":          model.ActivityTypeOther,
	"barre3":               model.ActivityTypeOther,
	"hotyoga":              model.ActivityTypeYoga,
	"stadiumsteps":         model.ActivityTypeStairClimbing,
	"polo":                 model.ActivityTypePolo,
	"musicalperformance":   model.ActivityTypeOther,
	"kiteboarding":         model.ActivityTypeKitesurfing,
	"dogwalking":           model.ActivityTypeWalking,
	"waterskiing":          model.ActivityTypeWaterSkiing,
	"wakeboarding":         model.ActivityTypeWakeboarding,
	"cooking":              model.ActivityTypeOther,
	"cleaning":             model.ActivityTypeHousework,
	"publicspeaking":       model.ActivityTypeOther,
}

// sportNames maps the retired v1 sport_id to the sport's normalised name,
// for workouts whose sport_name is missing (WHOOP Sports table).
var sportNames = map[int]string{
	-1: "activity", 0: "running", 1: "cycling", 16: "baseball", 17: "basketball", 18: "rowing",
	19: "fencing", 20: "fieldhockey", 21: "football", 22: "golf", 24: "icehockey", 25: "lacrosse",
	27: "rugby", 28: "sailing", 29: "skiing", 30: "soccer", 31: "softball", 32: "squash",
	33: "swimming", 34: "tennis", 35: "trackfield", 36: "volleyball", 37: "waterpolo",
	38: "wrestling", 39: "boxing", 42: "dance", 43: "pilates", 44: "yoga", 45: "weightlifting",
	47: "crosscountryskiing", 48: "functionalfitness", 49: "duathlon", 51: "gymnastics",
	52: "hikingrucking", 53: "horsebackriding", 55: "kayaking", 56: "martialarts",
	57: "mountainbiking", 59: "powerlifting", 60: "rockclimbing", 61: "paddleboarding",
	62: "triathlon", 63: "walking", 64: "surfing", 65: "elliptical", 66: "stairmaster",
	70: "meditation", 71: "other", 73: "diving", 74: "operationstactical", 75: "operationsmedical",
	76: "operationsflying", 77: "operationswater", 82: "ultimate", 83: "climber", 84: "jumpingrope",
	85: "australianfootball", 86: "skateboarding", 87: "coaching", 88: "icebath", 89: "commuting",
	90: "gaming", 91: "snowboarding", 92: "motocross", 93: "caddying", 94: "obstaclecourseracing",
	95: "motorracing", 96: "hiit", 97: "spin", 98: "jiujitsu", 99: "manuallabor", 100: "cricket",
	101: "pickleball", 102: "inlineskating", 103: "boxfitness", 104: "spikeball",
	105: "wheelchairpushing", 106: "paddletennis", 107: "barre", 108: "stageperformance",
	109: "highstresswork", 110: "parkour", 111: "gaelicfootball", 112: "hurlingcamogie",
	113: "circusarts", 121: "massagetherapy", 123: "strengthtrainer", 125: "watchingsports",
	126: "assaultbike", 127: "kickboxing", 128: "stretching", 230: "tabletennis", 231: "badminton",
	232: "netball", 233: "sauna", 234: "discgolf", 235: "yardwork", 236: "aircompression",
	237: "percussivemassage", 238: "paintball", 239: "iceskating", 240: "handball",
	248: "f45training", 249: "padel", 250: "barrys", 251: "dedicatedparenting",
	252: "strollerwalking", 253: "strollerjogging", 254: "toddlerwearing", 255: "babywearing",
	258: "barre3", 259: "hotyoga", 261: "stadiumsteps", 262: "polo", 263: "musicalperformance",
	264: "kiteboarding", 266: "dogwalking", 267: "waterskiing", 268: "wakeboarding",
	269: "cooking", 270: "cleaning", 272: "publicspeaking",
}

// normSport lower-cases a sport name and keeps only letters and digits, so
// that "functional-fitness", "Functional Fitness" and "functional_fitness"
// match, and "Hiking/Rucking" is "hikingrucking".
func normSport(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// sportType returns the Terra type of a workout's sport, from sport_name
// or, when that is empty, the retired sport_id. known is false when neither
// names a WHOOP sport.
func sportType(name string, id *int) (model.ActivityType, bool) {
	n := normSport(name)
	if n == "" && id != nil {
		n = sportNames[*id]
	}
	t, known := sportTypes[n]
	if !known {
		return model.ActivityTypeOther, false
	}
	return t, true
}

// zoneNames are the names of WHOOP's heart rate zones 0 to 5.
var zoneNames = [...]string{"zone_zero", "zone_one", "zone_two", "zone_three", "zone_four", "zone_five"}

// workout maps one WHOOP workout to an Activity keyed by its UUID.
//
// From the score: strain, average/max heart rate, the time in each of
// WHOOP's six heart rate zones (zone index 0-5, ms → s), the energy
// expended (kilojoule, kept as energy_data and converted to kcal burned:
// it is WHOOP's estimate of energy expended, not mechanical work), distance
// and the altitude climbed. The altitude descended is altitude gain minus
// altitude change (WHOOP defines gain as all the climbing and change as end
// minus start). The Terra day is the local date of the workout's start.
func (m *mapper) workout(raw json.RawMessage) (model.Record, error) {
	var w workoutDoc
	if err := json.Unmarshal(raw, &w); err != nil {
		return model.Record{}, fmt.Errorf("decode workout: %w", err)
	}
	if w.ID == "" {
		return model.Record{}, errors.New("workout has no id")
	}
	if w.End == "" {
		return model.Record{}, fmt.Errorf("workout %s has no end", w.ID)
	}
	_, start, end, err := span(w.TimezoneOffset, w.Start, w.End)
	if err != nil {
		return model.Record{}, fmt.Errorf("workout %s: %w", w.ID, err)
	}
	typ, known := sportType(w.SportName, w.SportID)
	if !known {
		v := w.SportName
		if v == "" && w.SportID != nil {
			v = fmt.Sprintf("sport_id %d", *w.SportID)
		}
		m.unknown(model.TypeActivity, "workout.sport_name", v, raw)
	}
	meta := &model.ActivityMetadata{
		StartTime:  model.FormatTime(start),
		EndTime:    model.FormatTime(end),
		SummaryId:  w.ID,
		Type:       typ,
		UploadType: model.UploadTypeUnknown, // WHOOP does not say whether a workout was detected or logged
	}
	if w.SportName != "" {
		meta.Name = ptr(w.SportName)
	}
	out := &model.Activity{Metadata: meta}

	if s, ok := w.Score, m.scored(model.TypeActivity, "workout.score_state", w.ScoreState, raw); ok && s != nil {
		if s.Strain != nil {
			out.StrainData = &model.StrainData{StrainLevel: s.Strain}
		}
		if s.Kilojoule != nil {
			out.CaloriesData = &model.CaloriesData{TotalBurnedCalories: kcal(s.Kilojoule)}
			out.EnergyData = &model.EnergyData{EnergyKilojoules: s.Kilojoule}
		}
		summary := &model.HeartRateDataSummary{AvgHrBpm: s.AverageHeartRate, MaxHrBpm: s.MaxHeartRate}
		zones := s.ZoneDurations
		if zones == nil {
			zones = s.ZoneDuration
		}
		if zones != nil {
			for i, ms := range []*float64{zones.ZoneZeroMilli, zones.ZoneOneMilli, zones.ZoneTwoMilli, zones.ZoneThreeMilli, zones.ZoneFourMilli, zones.ZoneFiveMilli} {
				if ms == nil {
					continue
				}
				summary.HrZoneData = append(summary.HrZoneData, model.HeartRateZoneData{
					Zone:            ptr(i),
					Name:            ptr(zoneNames[i]),
					DurationSeconds: seconds(ms),
				})
			}
		}
		if summary.AvgHrBpm != nil || summary.MaxHrBpm != nil || len(summary.HrZoneData) > 0 {
			out.HeartRateData = &model.HeartRateData{Summary: summary}
		}
		if s.DistanceMeter != nil || s.AltitudeGainMeter != nil {
			ds := &model.DistanceDataSummary{DistanceMeters: s.DistanceMeter}
			if s.AltitudeGainMeter != nil {
				ds.Elevation = &model.ElevationData{GainActualMeters: s.AltitudeGainMeter}
				if s.AltitudeChangeMeter != nil {
					ds.Elevation.LossActualMeters = ptr(*s.AltitudeGainMeter - *s.AltitudeChangeMeter)
				}
			}
			out.DistanceData = &model.DistanceData{Summary: ds}
		}
	}
	return model.Record{
		Type:  model.TypeActivity,
		Key:   w.ID,
		Start: start,
		End:   end,
		Day:   start.Format(dayLayout),
		Data:  out,
		Raw:   raw,
	}, nil
}
