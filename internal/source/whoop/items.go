package whoop

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
	"github.com/wearbridge/wearbridge/internal/source"
)

// The WHOOP v2 documents, as far as the mappers read them (field names from
// the v2 OpenAPI reference). Everything else stays in Record.Raw.

// kJPerKcal converts energy: 1 kcal = 4.184 kJ.
const kJPerKcal = 4.184

// dayLayout is a calendar day.
const dayLayout = "2006-01-02"

// The score states. Only SCORED items carry a score.
const (
	stateScored       = "SCORED"
	statePendingScore = "PENDING_SCORE"
	stateUnscorable   = "UNSCORABLE"
)

// flexID is a WHOOP id that may come as a JSON integer (cycle and user ids)
// or a string; it holds the decimal text or the string.
type flexID string

// UnmarshalJSON accepts an integer, a string or null.
func (f *flexID) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*f = ""
		return nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexID(strings.TrimSpace(s))
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	if _, err := strconv.ParseInt(n.String(), 10, 64); err != nil {
		return fmt.Errorf("id %s is not an integer", n)
	}
	*f = flexID(n.String())
	return nil
}

type cycleDoc struct {
	ID             flexID      `json:"id"`
	Start          string      `json:"start"`
	End            *string     `json:"end"`
	TimezoneOffset string      `json:"timezone_offset"`
	ScoreState     string      `json:"score_state"`
	Score          *cycleScore `json:"score"`
}

type cycleScore struct {
	Strain           *float64 `json:"strain"`
	Kilojoule        *float64 `json:"kilojoule"`
	AverageHeartRate *float64 `json:"average_heart_rate"`
	MaxHeartRate     *float64 `json:"max_heart_rate"`
}

type recoveryDoc struct {
	CycleID    flexID         `json:"cycle_id"`
	SleepID    string         `json:"sleep_id"`
	ScoreState string         `json:"score_state"`
	Score      *recoveryScore `json:"score"`
}

type recoveryScore struct {
	UserCalibrating  *bool    `json:"user_calibrating"`
	RecoveryScore    *float64 `json:"recovery_score"`
	RestingHeartRate *float64 `json:"resting_heart_rate"`
	HRVRmssdMilli    *float64 `json:"hrv_rmssd_milli"`
	SpO2Percentage   *float64 `json:"spo2_percentage"`
	SkinTempCelsius  *float64 `json:"skin_temp_celsius"`
}

type sleepDoc struct {
	ID             string      `json:"id"`
	CycleID        flexID      `json:"cycle_id"`
	Start          string      `json:"start"`
	End            string      `json:"end"`
	TimezoneOffset string      `json:"timezone_offset"`
	Nap            *bool       `json:"nap"`
	ScoreState     string      `json:"score_state"`
	Score          *sleepScore `json:"score"`
}

type sleepScore struct {
	StageSummary               *stageSummary `json:"stage_summary"`
	RespiratoryRate            *float64      `json:"respiratory_rate"`
	SleepPerformancePercentage *float64      `json:"sleep_performance_percentage"`
	SleepConsistencyPercentage *float64      `json:"sleep_consistency_percentage"`
	SleepEfficiencyPercentage  *float64      `json:"sleep_efficiency_percentage"`
}

type stageSummary struct {
	TotalInBedTimeMilli         *float64 `json:"total_in_bed_time_milli"`
	TotalAwakeTimeMilli         *float64 `json:"total_awake_time_milli"`
	TotalNoDataTimeMilli        *float64 `json:"total_no_data_time_milli"`
	TotalLightSleepTimeMilli    *float64 `json:"total_light_sleep_time_milli"`
	TotalSlowWaveSleepTimeMilli *float64 `json:"total_slow_wave_sleep_time_milli"`
	TotalREMSleepTimeMilli      *float64 `json:"total_rem_sleep_time_milli"`
	SleepCycleCount             *float64 `json:"sleep_cycle_count"`
	DisturbanceCount            *float64 `json:"disturbance_count"`
}

type workoutDoc struct {
	ID             string        `json:"id"`
	Start          string        `json:"start"`
	End            string        `json:"end"`
	TimezoneOffset string        `json:"timezone_offset"`
	SportName      string        `json:"sport_name"`
	SportID        *int          `json:"sport_id"`
	ScoreState     string        `json:"score_state"`
	Score          *workoutScore `json:"score"`
}

type workoutScore struct {
	Strain              *float64       `json:"strain"`
	AverageHeartRate    *float64       `json:"average_heart_rate"`
	MaxHeartRate        *float64       `json:"max_heart_rate"`
	Kilojoule           *float64       `json:"kilojoule"`
	PercentRecorded     *float64       `json:"percent_recorded"`
	DistanceMeter       *float64       `json:"distance_meter"`
	AltitudeGainMeter   *float64       `json:"altitude_gain_meter"`
	AltitudeChangeMeter *float64       `json:"altitude_change_meter"`
	ZoneDurations       *zoneDurations `json:"zone_durations"`
	// ZoneDuration is the singular spelling of some of WHOOP's examples.
	ZoneDuration *zoneDurations `json:"zone_duration"`
}

type zoneDurations struct {
	ZoneZeroMilli  *float64 `json:"zone_zero_milli"`
	ZoneOneMilli   *float64 `json:"zone_one_milli"`
	ZoneTwoMilli   *float64 `json:"zone_two_milli"`
	ZoneThreeMilli *float64 `json:"zone_three_milli"`
	ZoneFourMilli  *float64 `json:"zone_four_milli"`
	ZoneFiveMilli  *float64 `json:"zone_five_milli"`
}

type bodyDoc struct {
	HeightMeter    *float64 `json:"height_meter"`
	WeightKilogram *float64 `json:"weight_kilogram"`
	MaxHeartRate   *float64 `json:"max_heart_rate"`
}

// recoveryItem is a decoded recovery with its raw JSON.
type recoveryItem struct {
	doc recoveryDoc
	raw json.RawMessage
}

// decodeRecovery decodes one recovery document.
func decodeRecovery(raw json.RawMessage) (*recoveryItem, error) {
	var r recoveryDoc
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("decode recovery: %w", err)
	}
	if r.CycleID == "" {
		return nil, errors.New("recovery has no cycle_id")
	}
	return &recoveryItem{doc: r, raw: raw}, nil
}

// parseOffset reads a WHOOP timezone_offset: "+hh:mm", "-hh:mm" or "Z"
// (W3C time zone designator), and returns the zone it names.
func parseOffset(s string) (*time.Location, error) {
	s = strings.TrimSpace(s)
	if s == "Z" || s == "z" {
		return time.FixedZone("", 0), nil
	}
	if len(s) < 3 || (s[0] != '+' && s[0] != '-') {
		return nil, fmt.Errorf("bad timezone_offset %q", s)
	}
	hh, mm, found := strings.Cut(s[1:], ":")
	if !found && len(hh) == 4 {
		hh, mm = hh[:2], hh[2:]
	}
	h, err1 := strconv.Atoi(hh)
	m := 0
	var err2 error
	if mm != "" {
		m, err2 = strconv.Atoi(mm)
	}
	if err1 != nil || err2 != nil || len(hh) != 2 || (mm != "" && len(mm) != 2) || h > 18 || m > 59 {
		return nil, fmt.Errorf("bad timezone_offset %q", s)
	}
	sec := h*3600 + m*60
	if s[0] == '-' {
		sec = -sec
	}
	return time.FixedZone("", sec), nil
}

// parseTime reads a WHOOP timestamp and shows it in loc. WHOOP sends UTC
// ("2022-04-24T02:25:44.774Z"); a timestamp without an offset is read in
// loc (the record's own offset), never in the host's zone.
func parseTime(s string, loc *time.Location) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.In(loc), nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05.999999999", "2006-01-02T15:04:05"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("bad timestamp %q", s)
}

// span parses a document's offset, start and optional end, shown in the
// document's offset. end is the zero time when endS is empty.
func span(offset, startS, endS string) (loc *time.Location, start, end time.Time, err error) {
	loc, err = parseOffset(offset)
	if err != nil {
		return nil, start, end, err
	}
	start, err = parseTime(startS, loc)
	if err != nil {
		return nil, start, end, fmt.Errorf("start: %w", err)
	}
	if endS == "" {
		return loc, start, end, nil
	}
	end, err = parseTime(endS, loc)
	if err != nil {
		return nil, start, end, fmt.Errorf("end: %w", err)
	}
	if end.Before(start) {
		return nil, start, end, errors.New("ends before it starts")
	}
	return loc, start, end, nil
}

// localMidnight is 00:00 of t's date in t's zone.
func localMidnight(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, t.Location())
}

// mapper maps WHOOP documents and collects the notes about unknown enum
// values met on the way, each reported once per pull.
type mapper struct {
	seen     map[string]bool
	problems []model.Problem
}

func newMapper() *mapper { return &mapper{seen: make(map[string]bool)} }

// unknown records that field had a value the mapper does not know. The
// record still lands with the value kept in its raw payload; the value is
// reported once.
func (m *mapper) unknown(t model.DataType, field, value string, raw []byte) {
	k := string(t) + "\x00" + field + "\x00" + value
	if m.seen[k] {
		return
	}
	m.seen[k] = true
	m.problems = append(m.problems, model.Problem{
		Type: t,
		Err:  fmt.Sprintf("whoop %s: unknown value %q; the record was kept and the value is in its raw payload", field, value),
		Raw:  raw,
	})
}

// scored reports whether an item in score state state carries a score to
// map. An unknown state is reported and its score, if any, used.
func (m *mapper) scored(t model.DataType, field, state string, raw []byte) bool {
	switch state {
	case stateScored:
		return true
	case statePendingScore, stateUnscorable:
		return false
	default:
		m.unknown(t, field, state, raw)
		return true
	}
}

// flush hands the collected notes to sink.
func (m *mapper) flush(ctx context.Context, sink source.Sink) error {
	var errs []error
	for _, p := range m.problems {
		if err := sink.Problem(ctx, p); err != nil {
			errs = append(errs, err)
		}
	}
	m.problems = nil
	return errors.Join(errs...)
}

func ptr[T any](v T) *T { return &v }

// seconds converts optional milliseconds to seconds.
func seconds(ms *float64) *float64 {
	if ms == nil {
		return nil
	}
	return ptr(*ms / 1000)
}

// kcal converts optional kilojoules of expended energy to kcal.
func kcal(kj *float64) *float64 {
	if kj == nil {
		return nil
	}
	return ptr(*kj / kJPerKcal)
}

// intPtr converts an optional count to an int.
func intPtr(v *float64) *int {
	if v == nil {
		return nil
	}
	return ptr(int(math.Round(*v)))
}

// isObject reports whether raw is a JSON object.
func isObject(raw []byte) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '{'
}
