package whoop

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

// fixtureRecords returns the records of internal/sandbox/fixtures/whoop/<name>.
func fixtureRecords(t testing.TB, name string) []json.RawMessage {
	t.Helper()
	b, err := fs.ReadFile(fixtures.FS, "whoop/"+name)
	if err != nil {
		t.Fatalf("read fixture %s: %v", name, err)
	}
	var pg struct {
		Records []json.RawMessage `json:"records"`
	}
	if err := json.Unmarshal(b, &pg); err != nil {
		t.Fatalf("decode fixture %s: %v", name, err)
	}
	if len(pg.Records) == 0 {
		t.Fatalf("fixture %s has no records", name)
	}
	return pg.Records
}

// fixtureRecovery decodes the recorded recovery.
func fixtureRecovery(t testing.TB) *recoveryItem {
	t.Helper()
	r, err := decodeRecovery(fixtureRecords(t, "recovery_collection.json")[0])
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// withJSON returns raw with the top-level fields in set replaced.
func withJSON(t testing.TB, raw json.RawMessage, set map[string]any) json.RawMessage {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	for k, v := range set {
		if v == nil {
			delete(m, k)
			continue
		}
		m[k] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
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
