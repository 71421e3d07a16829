package fitbit

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

// mapper maps Fitbit JSON in the user's zone and collects the notes about
// unknown enum values met on the way, each reported once per pull.
type mapper struct {
	z        zone
	seen     map[string]bool
	problems []model.Problem
}

func newMapper(z zone) *mapper {
	if z.loc == nil {
		z.loc = time.UTC
	}
	return &mapper{z: z, seen: make(map[string]bool)}
}

// unknown records that field had a value the mapper does not know. The
// record still lands (with the value kept in its raw payload); the value is
// reported once.
func (m *mapper) unknown(t model.DataType, field, value string, raw []byte) {
	k := string(t) + "\x00" + field + "\x00" + value
	if m.seen[k] {
		return
	}
	m.seen[k] = true
	m.problems = append(m.problems, model.Problem{
		Type: t,
		Err:  fmt.Sprintf("fitbit %s: unknown value %q; the record was kept and the value is in its raw payload", field, value),
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

// logID reads a Fitbit log id. Fitbit's ids are unsigned 64-bit integers
// (dev.fitbit.com, "Numerical Ids"), so they are kept as their decimal
// text, never as a float.
func logID(n json.Number) (string, error) {
	s := strings.TrimSpace(n.String())
	if s == "" {
		return "", errors.New("no logId")
	}
	if _, err := strconv.ParseUint(s, 10, 64); err != nil {
		return "", fmt.Errorf("logId %q is not an unsigned integer", s)
	}
	return s, nil
}

// flexNumber is a number Fitbit sends either as a JSON number or as a
// string ("3212" in activities-steps).
type flexNumber struct {
	v  float64
	ok bool
}

func (f *flexNumber) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		*f = flexNumber{}
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		s = strings.TrimSpace(s)
		if s == "" {
			*f = flexNumber{}
			return nil
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("not a number: %q", s)
		}
		*f = flexNumber{v: v, ok: true}
		return nil
	}
	var v float64
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*f = flexNumber{v: v, ok: true}
	return nil
}

func (f flexNumber) ptr() *float64 {
	if !f.ok {
		return nil
	}
	return ptr(f.v)
}

// rawObject builds a JSON object from raw values kept as received (no
// re-encoding, so their bytes are unchanged); empty values are left out,
// and a value that is not JSON is kept as a JSON string.
func rawObject(kv ...any) json.RawMessage {
	var b bytes.Buffer
	b.WriteByte('{')
	n := 0
	for i := 0; i+1 < len(kv); i += 2 {
		k, _ := kv[i].(string)
		v, _ := kv[i+1].(json.RawMessage)
		if len(bytes.TrimSpace(v)) == 0 {
			continue
		}
		if n > 0 {
			b.WriteByte(',')
		}
		key, _ := json.Marshal(k)
		b.Write(key)
		b.WriteByte(':')
		if json.Valid(v) {
			b.Write(v)
		} else {
			s, _ := json.Marshal(string(v))
			b.Write(s)
		}
		n++
	}
	b.WriteByte('}')
	return b.Bytes()
}

func ptr[T any](v T) *T { return &v }

// times multiplies an optional value (minutes to seconds, km to m).
func times(v *float64, k float64) *float64 {
	if v == nil {
		return nil
	}
	return ptr(*v * k)
}

// intPtr converts an optional count to an int, rounding.
func intPtr(v *float64) *int {
	if v == nil || math.IsNaN(*v) || math.Abs(*v) > math.MaxInt32 {
		return nil
	}
	return ptr(int(math.Round(*v)))
}

// positive reports whether an optional value is set and above zero.
func positive(v *float64) bool { return v != nil && *v > 0 }
