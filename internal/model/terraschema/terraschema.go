// Package terraschema validates JSON payloads against Terra's published
// JSON Schemas (tryterra/openapi, embedded unchanged under schemas/).
//
// Schemas are named by their file name without ".yaml": "Sleep",
// "SleepEvent", "Daily", ... A Validator compiles each schema on first use
// and keeps it; it is safe for concurrent use.
//
// Format keywords (only "date-time", on lab-report schemas) are annotations
// here, as JSON Schema 2020-12 has them by default: they are not asserted.
package terraschema

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"

	"github.com/goccy/go-yaml"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

//go:embed schemas/*.yaml
var schemaFS embed.FS

// baseURL is where the schema files are registered with the compiler, so
// that their relative $refs ("SleepMetadata.yaml") resolve to each other.
const baseURL = "file:///schemas/"

// ErrUnknownSchema is returned for a schema name with no schema file.
var ErrUnknownSchema = errors.New("unknown schema")

// ErrUnknownEvent is returned for an event type (and status) that no event
// schema describes.
var ErrUnknownEvent = errors.New("unknown event type")

// Validator validates payloads against the embedded Terra schemas.
type Validator struct {
	names []string // sorted schema names

	mu       sync.Mutex
	compiler *jsonschema.Compiler
	compiled map[string]*jsonschema.Schema
}

// New loads every embedded schema. Schemas are compiled lazily, on first
// use by Validate.
func New() (*Validator, error) {
	files, err := fs.Glob(schemaFS, "schemas/*.yaml")
	if err != nil {
		return nil, fmt.Errorf("list schemas: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	// Every schema is added below; never read a missing one from disk.
	c.UseLoader(noLoader{})
	v := &Validator{compiler: c, compiled: map[string]*jsonschema.Schema{}}
	for _, file := range files {
		data, err := schemaFS.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("read schema %s: %w", file, err)
		}
		js, err := yaml.YAMLToJSON(data)
		if err != nil {
			return nil, fmt.Errorf("convert schema %s: %w", file, err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
		if err != nil {
			return nil, fmt.Errorf("decode schema %s: %w", file, err)
		}
		base := path.Base(file)
		if err := c.AddResource(baseURL+base, doc); err != nil {
			return nil, fmt.Errorf("add schema %s: %w", file, err)
		}
		v.names = append(v.names, strings.TrimSuffix(base, ".yaml"))
	}
	slices.Sort(v.names)
	return v, nil
}

// Schemas returns the names of every embedded schema, sorted.
func (v *Validator) Schemas() []string {
	return slices.Clone(v.names)
}

// schema returns the compiled schema called name, compiling it on first
// use.
func (v *Validator) schema(name string) (*jsonschema.Schema, error) {
	if _, ok := slices.BinarySearch(v.names, name); !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownSchema, name)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if s, ok := v.compiled[name]; ok {
		return s, nil
	}
	s, err := v.compiler.Compile(baseURL + name + ".yaml")
	if err != nil {
		return nil, fmt.Errorf("compile schema %s: %w", name, err)
	}
	v.compiled[name] = s
	return s, nil
}

// Validate checks payload, a JSON document, against the schema called
// schema ("SleepEvent", "Sleep", ...). A payload that does not match gives
// an *Error listing each failing location; a payload that is not JSON, or
// an unknown schema name, gives another error.
func (v *Validator) Validate(schema string, payload []byte) error {
	s, err := v.schema(schema)
	if err != nil {
		return err
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(payload))
	if err != nil {
		return fmt.Errorf("decode payload: %w", err)
	}
	err = s.Validate(doc)
	if err == nil {
		return nil
	}
	var verr *jsonschema.ValidationError
	if !errors.As(err, &verr) {
		return fmt.Errorf("validate against %s: %w", schema, err)
	}
	e := &Error{Schema: schema}
	collect(verr, &e.Problems)
	if len(e.Problems) == 0 {
		e.Problems = []Problem{{Pointer: "", Message: verr.Error()}}
	}
	return e
}

// ValidateEvent validates a webhook event body against the schema its
// "type" and "status" fields select (see EventSchema).
func (v *Validator) ValidateEvent(body []byte) error {
	var envelope struct {
		Type   string `json:"type"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal(body, &envelope); err != nil {
		return fmt.Errorf("decode event envelope: %w", err)
	}
	schema, err := EventSchema(envelope.Type, envelope.Status)
	if err != nil {
		return err
	}
	return v.Validate(schema, body)
}

// Error is a payload's mismatch with a schema.
type Error struct {
	// Schema is the schema name the payload was checked against.
	Schema string
	// Problems lists each failing location, in the order found.
	Problems []Problem
}

// Problem is one failing location in a payload.
type Problem struct {
	// Pointer is the JSON pointer (RFC 6901) of the failing value; for a
	// missing property it points at where the property should be.
	Pointer string
	// Message says what is wrong there.
	Message string
}

// Error lists every problem, e.g.
// `payload does not match SleepEvent: "/version": missing property`.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "payload does not match %s: ", e.Schema)
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%q: %s", p.Pointer, p.Message)
	}
	return b.String()
}

// collect flattens a validation error tree into problems at its leaves.
// Two kinds of noise are removed: in an anyOf/oneOf the "want null"
// alternative of a nullable value is dropped, and an enum written as a
// oneOf of consts is reported once as "want one of ...".
func collect(e *jsonschema.ValidationError, out *[]Problem) {
	ptr := pointer(e.InstanceLocation)
	switch k := e.ErrorKind.(type) {
	case *kind.Required:
		for _, name := range k.Missing {
			*out = append(*out, Problem{Pointer: ptr + "/" + escape(name), Message: "missing property"})
		}
		return
	case *kind.AnyOf, *kind.OneOf:
		causes := make([]*jsonschema.ValidationError, 0, len(e.Causes))
		for _, c := range e.Causes {
			if !wantsOnlyNull(c) {
				causes = append(causes, c)
			}
		}
		if want, got, ok := constAlternatives(causes); ok && len(causes) > 1 {
			*out = append(*out, Problem{Pointer: ptr, Message: fmt.Sprintf("got %s, want one of %s", got, want)})
			return
		}
		if len(causes) == 0 {
			causes = e.Causes
		}
		if len(causes) == 0 {
			*out = append(*out, Problem{Pointer: ptr, Message: leafMessage(e)})
			return
		}
		for _, c := range causes {
			collect(c, out)
		}
		return
	}
	if len(e.Causes) == 0 {
		*out = append(*out, Problem{Pointer: ptr, Message: leafMessage(e)})
		return
	}
	for _, c := range e.Causes {
		collect(c, out)
	}
}

// wantsOnlyNull reports whether e, once $ref wrappers are removed, is a
// type mismatch against {type: null}.
func wantsOnlyNull(e *jsonschema.ValidationError) bool {
	e = unwrapRefs(e)
	t, ok := e.ErrorKind.(*kind.Type)
	return ok && len(e.Causes) == 0 && len(t.Want) == 1 && t.Want[0] == "null"
}

// constAlternatives reports whether every cause is a const mismatch, and if
// so the wanted values and the value found.
func constAlternatives(causes []*jsonschema.ValidationError) (want, got string, ok bool) {
	if len(causes) == 0 {
		return "", "", false
	}
	wants := make([]string, 0, len(causes))
	for _, c := range causes {
		c = unwrapRefs(c)
		k, isConst := c.ErrorKind.(*kind.Const)
		if !isConst || len(c.Causes) != 0 {
			return "", "", false
		}
		wants = append(wants, jsonText(k.Want))
		got = jsonText(k.Got)
	}
	return strings.Join(wants, ", "), got, true
}

// unwrapRefs skips $ref wrappers that have a single cause.
func unwrapRefs(e *jsonschema.ValidationError) *jsonschema.ValidationError {
	for len(e.Causes) == 1 {
		if _, ok := e.ErrorKind.(*kind.Reference); !ok {
			break
		}
		e = e.Causes[0]
	}
	return e
}

// leafMessage is the library's message for a leaf error, without its
// location prefix.
func leafMessage(e *jsonschema.ValidationError) string {
	leaf := &jsonschema.ValidationError{SchemaURL: e.SchemaURL, ErrorKind: e.ErrorKind}
	msg := leaf.Error()
	if rest, ok := strings.CutPrefix(msg, "at '': "); ok {
		return rest
	}
	return msg
}

// jsonText renders a decoded JSON value compactly.
func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// pointer builds a JSON pointer from instance location tokens.
func pointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(escape(t))
	}
	return b.String()
}

// escape escapes one JSON pointer reference token.
func escape(token string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(token)
}

// noLoader refuses to load any URL: every schema is added up front.
type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("schema %s is not embedded", url)
}
