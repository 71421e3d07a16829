package sqs

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestSQSSafeKeepsTheJSONValue(t *testing.T) {
	for _, in := range []string{
		`{"name":"Morning run 🏃 with 🐕"}`,
		`{"name":"plain ascii"}`,
		`{"name":"é à ü 日本"}`,
	} {
		out := sqsSafe([]byte(in))
		for _, r := range string(out) {
			if r > 0xFFFF {
				t.Errorf("sqsSafe(%s) = %s still has %U", in, out, r)
			}
		}
		var a, b any
		if err := json.Unmarshal([]byte(in), &a); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(out, &b); err != nil {
			t.Fatalf("sqsSafe(%s) = %s is not JSON: %v", in, out, err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("sqsSafe(%s) = %s changes the value", in, out)
		}
	}
}
