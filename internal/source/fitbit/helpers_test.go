package fitbit

import (
	"context"
	"encoding/json"
	"io/fs"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
	"github.com/wearbridge/wearbridge/internal/model/terraschema"
	"github.com/wearbridge/wearbridge/internal/sandbox/fixtures"
)

// fixture reads internal/sandbox/fixtures/fitbit/<name>.
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := fs.ReadFile(fixtures.FS, "fitbit/"+name)
	if err != nil {
		t.Fatalf("read fixture %s: %v", name, err)
	}
	return b
}

// fixtureList returns the items of a list in a fixture ("sleep",
// "weight", "activities").
func fixtureList(t testing.TB, name, key string) []json.RawMessage {
	t.Helper()
	var v map[string]json.RawMessage
	if err := json.Unmarshal(fixture(t, name), &v); err != nil {
		t.Fatalf("decode fixture %s: %v", name, err)
	}
	var items []json.RawMessage
	if err := json.Unmarshal(v[key], &items); err != nil {
		t.Fatalf("decode fixture %s %s: %v", name, key, err)
	}
	return items
}

// zoneOf returns the zone of an IANA name.
func zoneOf(t testing.TB, name string) zone {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("load zone %s: %v", name, err)
	}
	return zone{loc: loc}
}

var testValidator = sync.OnceValues(terraschema.New)

// validate checks rec.Data against its Terra schema.
func validate(t testing.TB, rec model.Record) {
	t.Helper()
	v, err := testValidator()
	if err != nil {
		t.Fatalf("terraschema: %v", err)
	}
	schema := map[model.DataType]string{
		model.TypeSleep:    "Sleep",
		model.TypeDaily:    "Daily",
		model.TypeActivity: "Activity",
		model.TypeBody:     "Body",
	}[rec.Type]
	if schema == "" {
		t.Fatalf("record %s/%s: no schema for type %q", rec.Type, rec.Key, rec.Type)
	}
	b, err := json.Marshal(rec.Data)
	if err != nil {
		t.Fatalf("marshal %s/%s: %v", rec.Type, rec.Key, err)
	}
	if err := v.Validate(schema, b); err != nil {
		t.Errorf("record %s/%s does not match %s: %v", rec.Type, rec.Key, schema, err)
	}
}

// memSink keeps what a pull produced.
type memSink struct {
	mu    sync.Mutex
	recs  []model.Record
	probs []model.Problem
}

func (s *memSink) Records(_ context.Context, recs []model.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recs = append(s.recs, recs...)
	return nil
}

func (s *memSink) Problem(_ context.Context, p model.Problem) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.probs = append(s.probs, p)
	return nil
}

func (s *memSink) byKey() map[string]model.Record {
	m := make(map[string]model.Record, len(s.recs))
	for _, r := range s.recs {
		m[r.Key] = r
	}
	return m
}

// val dereferences an optional value, failing the test when it is nil.
func val[T any](t testing.TB, what string, p *T) T {
	t.Helper()
	if p == nil {
		t.Fatalf("%s is nil", what)
		var zero T
		return zero
	}
	return *p
}

func eq[T comparable](t testing.TB, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

// near compares floats that went through a unit conversion.
func near(t testing.TB, what string, got, want float64) {
	t.Helper()
	if math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func nilPtr[T any](t testing.TB, what string, p *T) {
	t.Helper()
	if p != nil {
		t.Errorf("%s = %v, want nil", what, *p)
	}
}
