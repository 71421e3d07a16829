package googlefit

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
)

// activityKind is what a Google Fit activity type is: its Terra type and
// Google's name for it.
type activityKind struct {
	typ  model.ActivityType
	name string
}

// activityTypes maps Google Fit activity types
// (developers.google.com/fit/rest/v1/reference/activity-types) to Terra.
// Terra's ActivityType numbers are Google's, so each maps to the Terra
// constant of the same number, except "on foot" (2), which Terra lacks
// and which becomes walking. Sleep types (72, 109-112) are not here: they
// are sleep, not activities.
var activityTypes = map[int]activityKind{
	0:   {model.ActivityTypeInVehicle, "In vehicle"},
	1:   {model.ActivityTypeBiking, "Biking"},
	2:   {model.ActivityTypeWalking, "On foot"},
	3:   {model.ActivityTypeStill, "Still"},
	4:   {model.ActivityTypeUnknown, "Unknown"},
	5:   {model.ActivityTypeTilting, "Tilting"},
	7:   {model.ActivityTypeWalking, "Walking"},
	8:   {model.ActivityTypeRunning, "Running"},
	9:   {model.ActivityTypeAerobics, "Aerobics"},
	10:  {model.ActivityTypeBadminton, "Badminton"},
	11:  {model.ActivityTypeBaseball, "Baseball"},
	12:  {model.ActivityTypeBasketball, "Basketball"},
	13:  {model.ActivityTypeBiathlon, "Biathlon"},
	14:  {model.ActivityTypeHandBiking, "Handbiking"},
	15:  {model.ActivityTypeMountainBiking, "Mountain biking"},
	16:  {model.ActivityTypeRoadBiking, "Road biking"},
	17:  {model.ActivityTypeSpinning, "Spinning"},
	18:  {model.ActivityTypeStationaryBiking, "Stationary biking"},
	19:  {model.ActivityTypeUtilityBiking, "Utility biking"},
	20:  {model.ActivityTypeBoxing, "Boxing"},
	21:  {model.ActivityTypeCalisthenics, "Calisthenics"},
	22:  {model.ActivityTypeCircuitTraining, "Circuit training"},
	23:  {model.ActivityTypeCricket, "Cricket"},
	24:  {model.ActivityTypeDancing, "Dancing"},
	25:  {model.ActivityTypeElliptical, "Elliptical"},
	26:  {model.ActivityTypeFencing, "Fencing"},
	27:  {model.ActivityTypeAmericanFootball, "Football (American)"},
	28:  {model.ActivityTypeAustralianFootball, "Football (Australian)"},
	29:  {model.ActivityTypeEnglishFootball, "Football (Soccer)"},
	30:  {model.ActivityTypeFrisbee, "Frisbee"},
	31:  {model.ActivityTypeGardening, "Gardening"},
	32:  {model.ActivityTypeGolf, "Golf"},
	33:  {model.ActivityTypeGymnastics, "Gymnastics"},
	34:  {model.ActivityTypeHandball, "Handball"},
	35:  {model.ActivityTypeHiking, "Hiking"},
	36:  {model.ActivityTypeHockey, "Hockey"},
	37:  {model.ActivityTypeHorsebackRiding, "Horseback riding"},
	38:  {model.ActivityTypeHousework, "Housework"},
	39:  {model.ActivityTypeJumpingRope, "Jumping rope"},
	40:  {model.ActivityTypeKayaking, "Kayaking"},
	41:  {model.ActivityTypeKettlebellTraining, "Kettlebell training"},
	42:  {model.ActivityTypeKickboxing, "Kickboxing"},
	43:  {model.ActivityTypeKitesurfing, "Kitesurfing"},
	44:  {model.ActivityTypeMartialArts, "Martial arts"},
	45:  {model.ActivityTypeMeditation, "Meditation"},
	46:  {model.ActivityTypeMixedMartialArts, "Mixed martial arts"},
	47:  {model.ActivityTypeP90XExercises, "P90X exercises"},
	48:  {model.ActivityTypeParagliding, "Paragliding"},
	49:  {model.ActivityTypePilates, "Pilates"},
	50:  {model.ActivityTypePolo, "Polo"},
	51:  {model.ActivityTypeRacquetball, "Racquetball"},
	52:  {model.ActivityTypeRockClimbing, "Rock climbing"},
	53:  {model.ActivityTypeRowing, "Rowing"},
	54:  {model.ActivityTypeRowingMachine, "Rowing machine"},
	55:  {model.ActivityTypeRugby, "Rugby"},
	56:  {model.ActivityTypeJogging, "Jogging"},
	57:  {model.ActivityTypeRunningOnSand, "Running on sand"},
	58:  {model.ActivityTypeTreadmillRunning, "Running (treadmill)"},
	59:  {model.ActivityTypeSailing, "Sailing"},
	60:  {model.ActivityTypeScubaDiving, "Scuba diving"},
	61:  {model.ActivityTypeSkateboarding, "Skateboarding"},
	62:  {model.ActivityTypeSkating, "Skating"},
	63:  {model.ActivityTypeCrossSkating, "Cross skating"},
	64:  {model.ActivityTypeIndoorRollerblading, "Inline skating"},
	65:  {model.ActivityTypeSkiing, "Skiing"},
	66:  {model.ActivityTypeBackCountrySkiing, "Back-country skiing"},
	67:  {model.ActivityTypeCrossCountrySkiing, "Cross-country skiing"},
	68:  {model.ActivityTypeDownhillSkiing, "Downhill skiing"},
	69:  {model.ActivityTypeKiteSkiing, "Kite skiing"},
	70:  {model.ActivityTypeRollerSkiing, "Roller skiing"},
	71:  {model.ActivityTypeSledding, "Sledding"},
	73:  {model.ActivityTypeSnowboarding, "Snowboarding"},
	74:  {model.ActivityTypeSnowmobile, "Snowmobile"},
	75:  {model.ActivityTypeSnowshoeing, "Snowshoeing"},
	76:  {model.ActivityTypeSquash, "Squash"},
	77:  {model.ActivityTypeStairClimbing, "Stair climbing"},
	78:  {model.ActivityTypeStairClimbingMachine, "Stair-climbing machine"},
	79:  {model.ActivityTypeStandUpPaddleboarding, "Stand-up paddleboarding"},
	80:  {model.ActivityTypeStrengthTraining, "Strength training"},
	81:  {model.ActivityTypeSurfing, "Surfing"},
	82:  {model.ActivityTypeSwimming, "Swimming"},
	83:  {model.ActivityTypeSwimmingInPool, "Swimming (pool)"},
	84:  {model.ActivityTypeOpenWaterSwimming, "Swimming (open water)"},
	85:  {model.ActivityTypeTableTennis, "Table tennis"},
	86:  {model.ActivityTypeTeamSports, "Team sports"},
	87:  {model.ActivityTypeTennis, "Tennis"},
	88:  {model.ActivityTypeTreadmill, "Treadmill"},
	89:  {model.ActivityTypeVolleyball, "Volleyball"},
	90:  {model.ActivityTypeBeachVolleyball, "Volleyball (beach)"},
	91:  {model.ActivityTypeIndoorVolleyball, "Volleyball (indoor)"},
	92:  {model.ActivityTypeWakeboarding, "Wakeboarding"},
	93:  {model.ActivityTypeWalkingForFitness, "Walking (fitness)"},
	94:  {model.ActivityTypeNordicWalking, "Nordic walking"},
	95:  {model.ActivityTypeTreadmillWalking, "Walking (treadmill)"},
	96:  {model.ActivityTypeWaterPolo, "Water polo"},
	97:  {model.ActivityTypeWeightlifting, "Weightlifting"},
	98:  {model.ActivityTypeWheelchair, "Wheelchair"},
	99:  {model.ActivityTypeWindsurfing, "Windsurfing"},
	100: {model.ActivityTypeYoga, "Yoga"},
	101: {model.ActivityTypeZumba, "Zumba"},
	102: {model.ActivityTypeDiving, "Diving"},
	103: {model.ActivityTypeErgometer, "Ergometer"},
	104: {model.ActivityTypeIceSkating, "Ice skating"},
	105: {model.ActivityTypeIndoorSkating, "Indoor skating"},
	106: {model.ActivityTypeCurling, "Curling"},
	108: {model.ActivityTypeOther, "Other"},
	113: {model.ActivityTypeCrossFit, "CrossFit"},
	114: {model.ActivityTypeHIIT, "HIIT"},
	115: {model.ActivityTypeIntervalTraining, "Interval training"},
	116: {model.ActivityTypeWalkingWithStroller, "Walking (stroller)"},
	117: {model.ActivityTypeElevator, "Elevator"},
	118: {model.ActivityTypeEscalator, "Escalator"},
	119: {model.ActivityTypeArchery, "Archery"},
	120: {model.ActivityTypeSoftball, "Softball"},
	122: {model.ActivityTypeGuidedBreathing, "Guided breathing"},
}

// Google Fit's sleep activity types: sleeping, and the legacy stage
// segments light, deep, REM and awake (during sleep).
const (
	typeSleeping   = 72
	typeLightSleep = 109
	typeDeepSleep  = 110
	typeREMSleep   = 111
	typeSleepAwake = 112
)

// isSleepType reports whether a Google activity type is sleep.
func isSleepType(t int) bool {
	return t == typeSleeping || (t >= typeLightSleep && t <= typeSleepAwake)
}

// backgroundTypes are segment types that are the absence of an activity
// (still, unknown, tilting); segments of these types are not activities.
var backgroundTypes = map[int]bool{3: true, 4: true, 5: true}

// sessionTotals are the sums dataset:aggregate gives for one session.
type sessionTotals struct {
	steps, meters, kcal *float64
}

// activityInput is what one pull window read for activities.
type activityInput struct {
	sessions []session // every session, sleep included
	segments []point   // the merged activity-segment stream
	hr       []bpmSample
	totals   map[string]sessionTotals
}

// activityItem is one activity to map: a session or a segment.
type activityItem struct {
	sess       *session
	seg        *point
	googleType int
	start, end time.Time
}

// activityItems picks the activities of in: non-sleep sessions, and the
// segments of activity types (not sleep, not background) that no non-sleep
// session overlaps. Segments whose type cannot be read are recorded as
// problems.
func (m *mapper) activityItems(in activityInput) []activityItem {
	var items []activityItem
	var sess []*session
	for i := range in.sessions {
		s := &in.sessions[i]
		if isSleepType(*s.ActivityType) {
			continue
		}
		sess = append(sess, s)
		items = append(items, activityItem{sess: s, googleType: *s.ActivityType, start: s.start, end: s.end})
	}
	for i := range in.segments {
		seg := &in.segments[i]
		typ, err := seg.intValue(0)
		if err != nil {
			m.problem(model.TypeActivity, err, seg.raw)
			continue
		}
		if isSleepType(int(typ)) || backgroundTypes[int(typ)] {
			continue
		}
		covered := false
		for _, s := range sess {
			if overlaps(seg.start, seg.end, s.start, s.end) {
				covered = true
				break
			}
		}
		if !covered {
			items = append(items, activityItem{seg: seg, googleType: int(typ), start: seg.start, end: seg.end})
		}
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].start.Before(items[j].start) })
	return items
}

// activity maps one activity item.
func (m *mapper) activity(it activityItem, hr []bpmSample, totals map[string]sessionTotals) model.Record {
	var raw json.RawMessage
	var key, name string
	var upload model.UploadType
	if s := it.sess; s != nil {
		raw, key = s.raw, s.ID
		name = s.Name
		upload = sessionUploadType(s.Application.PackageName)
	} else {
		raw, key = it.seg.raw, it.seg.segmentKey()
		upload = segmentUploadType(it.seg.origin)
	}
	kind, known := activityTypes[it.googleType]
	if !known {
		kind = activityKind{model.ActivityTypeOther, "Activity type " + strconv.Itoa(it.googleType)}
		m.unknown(model.TypeActivity, "activityType", strconv.Itoa(it.googleType), raw)
	}
	if name == "" {
		name = kind.name
	}
	out := &model.Activity{Metadata: &model.ActivityMetadata{
		StartTime:  formatTime(it.start),
		EndTime:    formatTime(it.end),
		SummaryId:  key,
		Name:       ptr(name),
		Type:       kind.typ,
		UploadType: upload,
	}}
	if s := it.sess; s != nil {
		if s.ActiveTimeMillis.set {
			out.ActiveDurationsData = &model.ActiveDurationsData{ActivitySeconds: ptr(float64(s.ActiveTimeMillis.v) / 1000)}
		}
		if tot, ok := totals[s.ID]; ok {
			if tot.kcal != nil {
				out.CaloriesData = &model.CaloriesData{TotalBurnedCalories: tot.kcal}
			}
			if tot.meters != nil || tot.steps != nil {
				sum := &model.DistanceDataSummary{DistanceMeters: tot.meters}
				if tot.steps != nil {
					sum.Steps = ptr(int(math.Round(*tot.steps)))
				}
				out.DistanceData = &model.DistanceData{Summary: sum}
			}
		}
	}
	out.HeartRateData = heartRateData(within(hr, it.start, it.end))
	return model.Record{
		Type:  model.TypeActivity,
		Key:   key,
		Start: it.start,
		End:   it.end,
		Day:   it.start.UTC().Format(dayLayout),
		Data:  out,
		Raw:   raw,
	}
}

// segmentUploadType tells how a segment was recorded from its origin
// stream: Google Fit's manual entry, Google's own detection, or another
// app.
func segmentUploadType(origin string) model.UploadType {
	pkg, stream, ok := sourceParts(origin)
	switch {
	case !ok:
		return model.UploadTypeUnknown
	case stream == "user_input":
		return model.UploadTypeManual
	case strings.HasPrefix(pkg, "com.google."):
		return model.UploadTypeAutomatic
	default:
		return model.UploadTypeThirdPartyUpload
	}
}

// sessionUploadType tells how a session was recorded from the app that
// wrote it.
func sessionUploadType(pkg string) model.UploadType {
	switch {
	case pkg == "":
		return model.UploadTypeUnknown
	case strings.HasPrefix(pkg, "com.google."):
		return model.UploadTypeAutomatic
	default:
		return model.UploadTypeThirdPartyUpload
	}
}

// sessionTotalsFrom reads the buckets of a bucketBySession aggregate over
// steps, distance and calories into totals per session id. A bucket that
// cannot be read is recorded as a problem.
func (m *mapper) sessionTotalsFrom(buckets []json.RawMessage) map[string]sessionTotals {
	out := make(map[string]sessionTotals)
	for _, raw := range buckets {
		b, pts, err := decodeBucket(raw)
		if err != nil {
			m.problem(model.TypeActivity, err, raw)
			continue
		}
		if b.Session == nil || b.Session.ID == "" {
			continue
		}
		var tot sessionTotals
		for _, p := range pts {
			var err error
			switch p.dataType {
			case "com.google.step_count.delta":
				var v int64
				if v, err = p.intValue(0); err == nil {
					tot.steps = addTo(tot.steps, float64(v))
				}
			case "com.google.distance.delta":
				var v float64
				if v, err = p.fpValue(0); err == nil {
					tot.meters = addTo(tot.meters, v)
				}
			case "com.google.calories.expended":
				var v float64
				if v, err = p.fpValue(0); err == nil {
					tot.kcal = addTo(tot.kcal, v)
				}
			}
			if err != nil {
				m.problem(model.TypeActivity, fmt.Errorf("session %s totals: %w", b.Session.ID, err), raw)
			}
		}
		out[b.Session.ID] = tot
	}
	return out
}

// addTo adds v to an optional sum.
func addTo(sum *float64, v float64) *float64 {
	if sum == nil {
		return ptr(v)
	}
	return ptr(*sum + v)
}
