package strava

import (
	"context"
	"encoding/json"
	"io/fs"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/wearbridge/wearbridge/internal/model"
	"github.com/wearbridge/wearbridge/internal/model/terraschema"
	"github.com/wearbridge/wearbridge/internal/sandbox/fixtures"
)

// This file is compiled into package strava for its tests; the exported
// names are also used by the external tests (package strava_test) that
// run the provider against the fake.

// Fixture reads internal/sandbox/fixtures/strava/<name>.
func Fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := fs.ReadFile(fixtures.FS, "strava/"+name)
	if err != nil {
		t.Fatalf("read fixture %s: %v", name, err)
	}
	return b
}

// fixtureItems returns the items of a fixture holding a JSON list.
func fixtureItems(t testing.TB, name string) []json.RawMessage {
	t.Helper()
	var items []json.RawMessage
	if err := json.Unmarshal(Fixture(t, name), &items); err != nil {
		t.Fatalf("decode fixture %s: %v", name, err)
	}
	return items
}

var testValidator = sync.OnceValues(terraschema.New)

// Validate checks that rec is an activity whose Data matches the Terra
// Activity schema.
func Validate(t testing.TB, rec model.Record) {
	t.Helper()
	v, err := testValidator()
	if err != nil {
		t.Fatalf("terraschema: %v", err)
	}
	if rec.Type != model.TypeActivity {
		t.Fatalf("record %s has type %q, want activity", rec.Key, rec.Type)
	}
	b, err := json.Marshal(rec.Data)
	if err != nil {
		t.Fatalf("marshal %s: %v", rec.Key, err)
	}
	if err := v.Validate("Activity", b); err != nil {
		t.Errorf("record %s does not match Activity: %v", rec.Key, err)
	}
}

// MemSink keeps what a pull produced.
type MemSink struct {
	mu    sync.Mutex
	Recs  []model.Record
	Probs []model.Problem
}

// Records implements source.Sink.
func (s *MemSink) Records(_ context.Context, recs []model.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Recs = append(s.Recs, recs...)
	return nil
}

// Problem implements source.Sink.
func (s *MemSink) Problem(_ context.Context, p model.Problem) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Probs = append(s.Probs, p)
	return nil
}

// ByKey indexes the records by key.
func (s *MemSink) ByKey() map[string]model.Record {
	m := make(map[string]model.Record, len(s.Recs))
	for _, r := range s.Recs {
		m[r.Key] = r
	}
	return m
}

// Eq fails the test when got != want.
func Eq[T comparable](t testing.TB, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

// Val dereferences an optional value, failing the test when it is nil.
func Val[T any](t testing.TB, what string, p *T) T {
	t.Helper()
	if p == nil {
		t.Fatalf("%s is nil", what)
		var zero T
		return zero
	}
	return *p
}

// approx checks an optional float.
func approx(t testing.TB, what string, got *float64, want float64) {
	t.Helper()
	if got == nil {
		t.Errorf("%s = nil, want %v", what, want)
		return
	}
	if math.Abs(*got-want) > 1e-9 {
		t.Errorf("%s = %v, want %v", what, *got, want)
	}
}

// wantProblem checks that probs has exactly one problem, mentioning every
// fragment.
func wantProblem(t testing.TB, probs []model.Problem, fragments ...string) model.Problem {
	t.Helper()
	if len(probs) != 1 {
		t.Fatalf("got %d problems %+v, want 1", len(probs), probs)
	}
	for _, f := range fragments {
		if !strings.Contains(probs[0].Err, f) {
			t.Errorf("problem %q does not mention %q", probs[0].Err, f)
		}
	}
	return probs[0]
}

// mapOne maps one activity with a fresh mapper, failing on error.
func mapOne(t testing.TB, f fetched) (model.Record, []model.Problem) {
	t.Helper()
	m := newMapper()
	rec, err := m.activity(f)
	if err != nil {
		t.Fatalf("map: %v", err)
	}
	return rec, m.problems
}
