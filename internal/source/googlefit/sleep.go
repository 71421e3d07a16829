package googlefit

import (
	"encoding/json"
	"sort"
	"strconv"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
)

// maxNightGap is the longest gap between two sleep-type activity segments
// of one night recorded the legacy way.
const maxNightGap = 15 * time.Minute

// stageLevels maps com.google.sleep.segment values to Terra: Google's
// numbers are Terra's (1 awake, 2 sleeping, 3 out of bed, 4 light, 5
// deep, 6 REM; developers.google.com/fit/scenarios/read-sleep-data).
var stageLevels = map[int64]model.SleepLevel{
	1: model.SleepLevelAwake,
	2: model.SleepLevelSleeping,
	3: model.SleepLevelOutOfBed,
	4: model.SleepLevelLightSleep,
	5: model.SleepLevelDeepSleep,
	6: model.SleepLevelREMSleep,
}

// legacyLevels maps the sleep activity types of activity segments to
// Terra levels.
var legacyLevels = map[int]model.SleepLevel{
	typeSleeping:   model.SleepLevelSleeping,
	typeLightSleep: model.SleepLevelLightSleep,
	typeDeepSleep:  model.SleepLevelDeepSleep,
	typeREMSleep:   model.SleepLevelREMSleep,
	typeSleepAwake: model.SleepLevelAwake,
}

// night is one sleep to map: a sleep session, or a run of sleep-type
// activity segments no sleep session covers.
type night struct {
	sess       *session
	legacy     []point // sleep-type activity segments inside the night
	start, end time.Time
	key        string
	upload     model.SleepUploadType
}

// sleepRaw is the Raw of a Sleep: the session (if any) and the points the
// night was built from, as received.
type sleepRaw struct {
	Session          json.RawMessage   `json:"session,omitempty"`
	ActivitySegments []json.RawMessage `json:"activity_segments,omitempty"`
	SleepSegments    []json.RawMessage `json:"sleep_segments,omitempty"`
}

// legacySleep is a sleep-type activity segment with its type read.
type legacySleep struct {
	p   point
	typ int
}

// nights finds the nights among sleep sessions and the merged activity
// segments. A sleep session lying wholly inside another is not a second
// night. Sleep-type segments are grouped into runs (gaps up to
// maxNightGap); a run that overlaps a sleep session belongs to it and is
// not a night of its own.
func (m *mapper) nights(sessions []session, segments []point) []night {
	var sleepSess []*session
	for i := range sessions {
		if isSleepType(*sessions[i].ActivityType) {
			sleepSess = append(sleepSess, &sessions[i])
		}
	}
	// Outer sessions first: earlier start, then longer.
	sort.SliceStable(sleepSess, func(i, j int) bool {
		a, b := sleepSess[i], sleepSess[j]
		if !a.start.Equal(b.start) {
			return a.start.Before(b.start)
		}
		return a.end.After(b.end)
	})
	var kept []*session
	for _, s := range sleepSess {
		inside := false
		for _, k := range kept {
			if !s.start.Before(k.start) && !s.end.After(k.end) {
				inside = true
				break
			}
		}
		if !inside {
			kept = append(kept, s)
		}
	}

	var legacy []legacySleep
	for _, p := range segments {
		typ, err := p.intValue(0)
		if err != nil || !isSleepType(int(typ)) {
			continue // an unreadable segment is reported by the activity pull
		}
		legacy = append(legacy, legacySleep{p: p, typ: int(typ)})
	}
	sort.SliceStable(legacy, func(i, j int) bool { return legacy[i].p.start.Before(legacy[j].p.start) })

	out := make([]night, 0, len(kept))
	for _, s := range kept {
		n := night{sess: s, start: s.start, end: s.end, key: s.ID, upload: model.SleepUploadTypeAutomatic}
		for _, l := range legacy {
			if midpointIn(l.p.start, l.p.end, s.start, s.end) {
				n.legacy = append(n.legacy, l.p)
			}
		}
		out = append(out, n)
	}

	var run []point
	var runEnd time.Time
	flush := func() {
		if len(run) == 0 {
			return
		}
		start := run[0].start
		for _, s := range kept {
			if overlaps(start, runEnd, s.start, s.end) {
				run = nil
				return
			}
		}
		upload := model.SleepUploadTypeAutomatic
		if userInput(run[0].origin) {
			upload = model.SleepUploadTypeManual
		}
		out = append(out, night{legacy: run, start: start, end: runEnd, key: run[0].segmentKey(), upload: upload})
		run = nil
	}
	for _, l := range legacy {
		if len(run) > 0 && l.p.start.Sub(runEnd) > maxNightGap {
			flush()
		}
		if len(run) == 0 || l.p.end.After(runEnd) {
			runEnd = l.p.end
		}
		run = append(run, l.p)
	}
	flush()
	sort.SliceStable(out, func(i, j int) bool { return out[i].start.Before(out[j].start) })
	return out
}

// stageSpan is one stretch of a night at one level.
type stageSpan struct {
	start, end time.Time
	level      model.SleepLevel
}

// sleep maps one night. stages are the sleep-stage points of the window
// (only those inside the night are used); hr its heart-rate samples.
//
// The hypnogram comes from the sleep-stage stream or, when the night has
// no point there, from its legacy sleep-type segments. Durations are the
// sums of the stages clipped to the night. A night with no stage data is
// taken as asleep throughout, as Google Fit shows it.
func (m *mapper) sleep(n night, stages []point, hr []bpmSample) model.Record {
	raw := sleepRaw{}
	if n.sess != nil {
		raw.Session = n.sess.raw
	}
	for _, p := range n.legacy {
		raw.ActivitySegments = append(raw.ActivitySegments, p.raw)
	}
	var spans []stageSpan
	for _, p := range stages {
		if !midpointIn(p.start, p.end, n.start, n.end) {
			continue
		}
		v, err := p.intValue(0)
		if err != nil {
			m.problem(model.TypeSleep, err, p.raw)
			continue
		}
		raw.SleepSegments = append(raw.SleepSegments, p.raw)
		level, known := stageLevels[v]
		if !known {
			level = model.SleepLevelUnknown
			m.unknown(model.TypeSleep, "sleep_segment_type", strconv.FormatInt(v, 10), p.raw)
		}
		spans = append(spans, stageSpan{start: p.start, end: p.end, level: level})
	}
	if len(spans) == 0 {
		for _, p := range n.legacy {
			typ, _ := p.intValue(0) // nights() kept only segments whose type it read
			spans = append(spans, stageSpan{start: p.start, end: p.end, level: legacyLevels[int(typ)]})
		}
	}
	sort.SliceStable(spans, func(i, j int) bool { return spans[i].start.Before(spans[j].start) })

	total := n.end.Sub(n.start).Seconds()
	durations := &model.SleepDurationsData{Other: &model.OtherSleepDurations{DurationInBedSeconds: ptr(total)}}
	if len(spans) == 0 {
		durations.Asleep = &model.AsleepDurations{DurationAsleepStateSeconds: ptr(total)}
	} else {
		fillDurations(durations, spans, n.start, n.end)
	}

	// The parts were decoded from JSON, so marshalling them cannot fail.
	rawJSON, _ := json.Marshal(raw)
	return model.Record{
		Type:  model.TypeSleep,
		Key:   n.key,
		Start: n.start,
		End:   n.end,
		Day:   n.end.UTC().Format(dayLayout),
		Data: &model.Sleep{
			Metadata: &model.SleepMetadata{
				StartTime:  formatTime(n.start),
				EndTime:    formatTime(n.end),
				SummaryId:  ptr(n.key),
				UploadType: n.upload,
			},
			SleepDurationsData: durations,
			HeartRateData:      heartRateData(within(hr, n.start, n.end)),
		},
		Raw: rawJSON,
	}
}

// fillDurations sets the hypnogram and the stage sums of d from spans
// (sorted by start), clipped to [from, to].
func fillDurations(d *model.SleepDurationsData, spans []stageSpan, from, to time.Time) {
	sums := make(map[model.SleepLevel]float64)
	counts := make(map[model.SleepLevel]int)
	granular := false
	prev := model.SleepLevel(-1)
	for _, s := range spans {
		start, end := s.start, s.end
		if start.Before(from) {
			start = from
		}
		if end.After(to) {
			end = to
		}
		d.HypnogramSamples = append(d.HypnogramSamples, model.SleepHypnogramSample{
			Timestamp: formatTimePtr(start),
			Level:     ptr(s.level),
		})
		if end.After(start) {
			sums[s.level] += end.Sub(start).Seconds()
		}
		if s.level != prev {
			counts[s.level]++
		}
		prev = s.level
		switch s.level {
		case model.SleepLevelLightSleep, model.SleepLevelDeepSleep, model.SleepLevelREMSleep:
			granular = true
		}
	}
	asleep := sums[model.SleepLevelSleeping] + sums[model.SleepLevelLightSleep] + sums[model.SleepLevelDeepSleep] + sums[model.SleepLevelREMSleep]
	d.Asleep = &model.AsleepDurations{DurationAsleepStateSeconds: ptr(asleep)}
	if granular {
		d.Asleep.DurationLightSleepStateSeconds = ptr(sums[model.SleepLevelLightSleep])
		d.Asleep.DurationDeepSleepStateSeconds = ptr(sums[model.SleepLevelDeepSleep])
		d.Asleep.DurationREMSleepStateSeconds = ptr(sums[model.SleepLevelREMSleep])
		d.Asleep.NumREMEvents = ptr(counts[model.SleepLevelREMSleep])
	}
	d.Awake = &model.AwakeDurations{
		DurationAwakeStateSeconds: ptr(sums[model.SleepLevelAwake] + sums[model.SleepLevelOutOfBed]),
		NumWakeupEvents:           ptr(counts[model.SleepLevelAwake]),
		NumOutOfBedEvents:         ptr(counts[model.SleepLevelOutOfBed]),
	}
}
