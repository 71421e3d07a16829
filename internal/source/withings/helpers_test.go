package withings

import (
	"context"
	"encoding/json"
	"io/fs"
	"strings"
	"sync"
	"testing"

	"github.com/wearbridge/wearbridge/internal/model"
	"github.com/wearbridge/wearbridge/internal/model/terraschema"
	"github.com/wearbridge/wearbridge/internal/sandbox/fixtures"
)

// fixture reads internal/sandbox/fixtures/withings/<name>.
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := fs.ReadFile(fixtures.FS, "withings/"+name)
	if err != nil {
		t.Fatalf("read fixture %s: %v", name, err)
	}
	return b
}

// fixtureBody returns the "body" of an enveloped fixture.
func fixtureBody(t testing.TB, name string) json.RawMessage {
	t.Helper()
	var env struct {
		Status int             `json:"status"`
		Body   json.RawMessage `json:"body"`
	}
	if err := json.Unmarshal(fixture(t, name), &env); err != nil {
		t.Fatalf("decode fixture %s: %v", name, err)
	}
	if env.Status != 0 {
		t.Fatalf("fixture %s: status %d", name, env.Status)
	}
	return env.Body
}

// fixtureList returns body.<key> of an enveloped fixture.
func fixtureList(t testing.TB, name, key string) []json.RawMessage {
	t.Helper()
	var body map[string]json.RawMessage
	if err := json.Unmarshal(fixtureBody(t, name), &body); err != nil {
		t.Fatalf("decode fixture %s body: %v", name, err)
	}
	var items []json.RawMessage
	if err := json.Unmarshal(body[key], &items); err != nil {
		t.Fatalf("decode fixture %s body.%s: %v", name, key, err)
	}
	return items
}

// fixtureItem returns the item of a list whose field has value (compared
// as JSON text, e.g. `366956482` or `"2015-06-19"`).
func fixtureItem(t testing.TB, items []json.RawMessage, field, value string) json.RawMessage {
	t.Helper()
	for _, it := range items {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(it, &m); err == nil && strings.TrimSpace(string(m[field])) == value {
			return it
		}
	}
	t.Fatalf("no item with %s = %s", field, value)
	return nil
}

var testValidator = sync.OnceValues(terraschema.New)

// Validate checks rec.Data against its Terra schema.
func Validate(t testing.TB, rec model.Record) {
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

// MemSink keeps what a pull produced.
type MemSink struct {
	mu       sync.Mutex
	Recs     []model.Record
	Probs    []model.Problem
	Batches  int
	MaxBatch int
}

// Records implements source.Sink.
func (s *MemSink) Records(_ context.Context, recs []model.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Recs = append(s.Recs, recs...)
	s.Batches++
	s.MaxBatch = max(s.MaxBatch, len(recs))
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

// Eq compares a value with the expected one.
func Eq[T comparable](t testing.TB, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}
