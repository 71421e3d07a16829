// Command terragen generates internal/model/terra_gen.go, the Go types of
// the Terra v2 data models, from the JSON Schema files in
// internal/model/terraschema/schemas.
//
// Run it from the repository root with no flags, or through
// `go generate ./internal/model`.
//
// Conventions of the generated code:
//   - one type per schema file, named after the file;
//   - field names are the JSON names with each "_"-separated part
//     capitalised (avg_hr_bpm → AvgHrBpm, MET_data → METData), and the JSON
//     tag is the exact property name;
//   - objects are always pointers; a required object has no omitempty, so
//     a nil one marshals as null (and fails validation) rather than
//     vanishing;
//   - scalars and enums are plain values when required and not nullable,
//     otherwise pointers with omitempty;
//   - arrays and maps are slices and maps, with omitempty unless required;
//   - enums of numeric or string constants become named types with one
//     constant per member, named after the member's title;
//   - properties inherited through allOf are flattened into the struct;
//   - anything else (mixed unions) is json.RawMessage.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "terragen:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("terragen", flag.ContinueOnError)
	schemas := fs.String("schemas", filepath.FromSlash("internal/model/terraschema/schemas"), "folder of the Terra *.yaml schemas")
	out := fs.String("out", filepath.FromSlash("internal/model/terra_gen.go"), "Go file to write")
	if err := fs.Parse(args); err != nil {
		return err
	}
	src, err := generateDir(*schemas)
	if err != nil {
		return err
	}
	if old, err := os.ReadFile(*out); err == nil && bytes.Equal(old, src) {
		return nil
	}
	if err := os.WriteFile(*out, src, 0o644); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

// generateDir generates the Go source from every *.yaml file in dir.
func generateDir(dir string) ([]byte, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, fmt.Errorf("list schemas: %w", err)
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("no *.yaml schemas in %s", dir)
	}
	files := make(map[string][]byte, len(paths))
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("read schema: %w", err)
		}
		files[filepath.Base(p)] = data
	}
	return generate(files)
}
