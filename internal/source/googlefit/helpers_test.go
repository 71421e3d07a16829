package googlefit

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"sync"
	"testing"

	"github.com/wearbridge/wearbridge/internal/model"
	"github.com/wearbridge/wearbridge/internal/model/terraschema"
	"github.com/wearbridge/wearbridge/internal/sandbox/fixtures"
)

// fixture reads internal/sandbox/fixtures/google_fit/<name>.
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := fs.ReadFile(fixtures.FS, "google_fit/"+name)
	if err != nil {
		t.Fatalf("read fixture %s: %v", name, err)
	}
	return b
}

// fixturePoints decodes the points of a dataset fixture.
func fixturePoints(t testing.TB, name string) []point {
	t.Helper()
	var pg datasetPage
	if err := json.Unmarshal(fixture(t, name), &pg); err != nil {
		t.Fatalf("decode fixture %s: %v", name, err)
	}
	pts := make([]point, 0, len(pg.Point))
	for _, raw := range pg.Point {
		p, err := decodePoint(raw)
		if err != nil {
			t.Fatalf("fixture %s: %v", name, err)
		}
		pts = append(pts, p)
	}
	return pts
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

// compact is raw without insignificant space, as a composite Raw holds
// it.
func compact(t testing.TB, raw []byte) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// rawPoints decodes inline points.
func rawPoints(t testing.TB, raws ...string) []point {
	t.Helper()
	out := make([]point, 0, len(raws))
	for _, r := range raws {
		p, err := decodePoint(json.RawMessage(r))
		if err != nil {
			t.Fatalf("point %s: %v", r, err)
		}
		out = append(out, p)
	}
	return out
}

// rawSessions decodes inline sessions.
func rawSessions(t testing.TB, raws ...string) []session {
	t.Helper()
	out := make([]session, 0, len(raws))
	for _, r := range raws {
		s, err := decodeSession(json.RawMessage(r))
		if err != nil {
			t.Fatalf("session %s: %v", r, err)
		}
		out = append(out, s)
	}
	return out
}
