package polar

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
	"github.com/wearbridge/wearbridge/internal/source"
)

// dayLayout is Polar's calendar date.
const dayLayout = "2006-01-02"

const day = 24 * time.Hour

// FormatTime renders t in Terra's layout, keeping t's own offset.
func FormatTime(t time.Time) string { return model.FormatTime(t) }

func formatPtr(t time.Time) *string {
	s := FormatTime(t)
	return &s
}

// zone returns the fixed zone offsetSeconds east of UTC.
func zone(offsetSeconds int) *time.Location {
	if offsetSeconds == 0 {
		return time.UTC
	}
	return time.FixedZone("", offsetSeconds)
}

// maxOffset bounds a UTC offset: real ones lie within -12:00 .. +14:00.
const maxOffset = 18 * 60 * 60

// parseDay checks a Polar date (YYYY-MM-DD) and returns its midnight UTC.
func parseDay(s string) (time.Time, error) {
	d, err := time.Parse(dayLayout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("bad date %q", s)
	}
	return d, nil
}

// midnight returns 00:00 of the calendar day d in loc.
func midnight(d time.Time, loc *time.Location) time.Time {
	y, m, dd := d.Date()
	return time.Date(y, m, dd, 0, 0, 0, 0, loc)
}

// parseClock reads a zone-less wall-clock time of day, "HH:MM" or
// "HH:MM:SS" (fractions allowed), as the duration since midnight.
func parseClock(s string) (time.Duration, error) {
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return 0, fmt.Errorf("bad time of day %q", s)
	}
	h, err1 := strconv.Atoi(parts[0])
	m, err2 := strconv.Atoi(parts[1])
	if err := errors.Join(err1, err2); err != nil || h < 0 || h > 23 || m < 0 || m > 59 || len(parts[0]) != 2 || len(parts[1]) != 2 {
		return 0, fmt.Errorf("bad time of day %q", s)
	}
	var sec float64
	if len(parts) == 3 {
		v, err := strconv.ParseFloat(parts[2], 64)
		if err != nil || v < 0 || v >= 60 || len(parts[2]) < 2 || strings.ContainsAny(parts[2], "eE+-") {
			return 0, fmt.Errorf("bad time of day %q", s)
		}
		sec = v
	}
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(math.Round(sec*1e6))*time.Microsecond, nil
}

// parseDuration reads an ISO 8601 duration as Polar writes them
// ("PT2H44M", "PT4S", "PT210.026S", "P1DT2H"). Years, months and weeks
// are not durations of fixed length and are refused; so are negative
// durations.
func parseDuration(s string) (time.Duration, error) {
	bad := fmt.Errorf("bad ISO 8601 duration %q", s)
	rest, ok := strings.CutPrefix(s, "P")
	if !ok || rest == "" {
		return 0, bad
	}
	var total float64 // seconds
	inTime := false
	seen := false
	for rest != "" {
		if rest[0] == 'T' {
			if inTime {
				return 0, bad
			}
			inTime = true
			rest = rest[1:]
			if rest == "" {
				return 0, bad
			}
			continue
		}
		i := strings.IndexAny(rest, "DHMS")
		if i <= 0 {
			return 0, bad
		}
		num := rest[:i]
		if strings.ContainsAny(num, "eE+-") {
			return 0, bad
		}
		v, err := strconv.ParseFloat(num, 64)
		if err != nil || v < 0 {
			return 0, bad
		}
		switch unit := rest[i]; {
		case unit == 'D' && !inTime:
			total += v * 86400
		case unit == 'H' && inTime:
			total += v * 3600
		case unit == 'M' && inTime:
			total += v * 60
		case unit == 'S' && inTime:
			total += v
		default:
			return 0, bad
		}
		seen = true
		rest = rest[i+1:]
	}
	if !seen || total > float64(math.MaxInt64/int64(time.Second)) {
		return 0, bad
	}
	return time.Duration(math.Round(total*1e6)) * time.Microsecond, nil
}

func ptr[T any](v T) *T { return &v }

// intPtr converts an optional count to an int, rounding.
func intPtr(v *float64) *int {
	if v == nil {
		return nil
	}
	return ptr(int(math.Round(*v)))
}

// mapper maps Polar documents and collects the notes about unknown enum
// values met on the way, each reported once per pull.
type mapper struct {
	seen     map[string]bool
	problems []model.Problem
}

func newMapper() *mapper { return &mapper{seen: make(map[string]bool)} }

// unknown records that field had a value the mapper does not know. The
// record still lands (the value is in its raw payload); the value is
// reported once.
func (m *mapper) unknown(t model.DataType, field, value string, raw []byte) {
	k := string(t) + "\x00" + field + "\x00" + value
	if m.seen[k] {
		return
	}
	m.seen[k] = true
	m.problems = append(m.problems, model.Problem{
		Type: t,
		Err:  fmt.Sprintf("polar %s: unknown value %q; the record was kept and the value is in its raw payload", field, value),
		Raw:  raw,
	})
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
