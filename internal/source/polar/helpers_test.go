package polar

import (
	"context"
	"encoding/json"
	"io/fs"
	"sync"
	"testing"

	"github.com/wearbridge/wearbridge/internal/model"
	"github.com/wearbridge/wearbridge/internal/model/terraschema"
	"github.com/wearbridge/wearbridge/internal/sandbox/fixtures"
)

// fixture reads internal/sandbox/fixtures/polar/<name>.
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := fs.ReadFile(fixtures.FS, "polar/"+name)
	if err != nil {
		t.Fatalf("read fixture %s: %v", name, err)
	}
	return b
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
