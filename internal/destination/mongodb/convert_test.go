package mongodb

import (
	"math"
	"reflect"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

func TestJSONToBSON(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bson.D
	}{
		{"empty", `{}`, bson.D{}},
		{"order kept", `{"b":1,"a":2}`, bson.D{{Key: "b", Value: int32(1)}, {Key: "a", Value: int32(2)}}},
		{"numbers", `{"i":-7,"big":4294967296,"huge":18446744073709551616,"f":27415.794,"e":1e3,"z":0.0}`, bson.D{
			{Key: "i", Value: int32(-7)},
			{Key: "big", Value: int64(4294967296)},
			{Key: "huge", Value: 18446744073709551616.0},
			{Key: "f", Value: 27415.794},
			{Key: "e", Value: 1000.0},
			{Key: "z", Value: 0.0},
		}},
		{"int32 edges", `{"max":2147483647,"over":2147483648,"min":-2147483648}`, bson.D{
			{Key: "max", Value: int32(math.MaxInt32)},
			{Key: "over", Value: int64(math.MaxInt32 + 1)},
			{Key: "min", Value: int32(math.MinInt32)},
		}},
		{"other values", `{"s":"x\u0000y","t":true,"f":false,"n":null}`, bson.D{
			{Key: "s", Value: "x\x00y"}, {Key: "t", Value: true}, {Key: "f", Value: false}, {Key: "n", Value: nil},
		}},
		{"nested", `{"a":[1,"s",{"q":[]},[]],"o":{"p":{}}}`, bson.D{
			{Key: "a", Value: bson.A{int32(1), "s", bson.D{{Key: "q", Value: bson.A{}}}, bson.A{}}},
			{Key: "o", Value: bson.D{{Key: "p", Value: bson.D{}}}},
		}},
		{"last duplicate wins in place", `{"a":1,"b":2,"a":3}`, bson.D{{Key: "a", Value: int32(3)}, {Key: "b", Value: int32(2)}}},
		{"extended JSON keys stay keys", `{"$date":"2024-01-01"}`, bson.D{{Key: "$date", Value: "2024-01-01"}}},
		{"whitespace", " {\n\"a\" : [ 1 , 2 ] }\n", bson.D{{Key: "a", Value: bson.A{int32(1), int32(2)}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := jsonToBSON([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("jsonToBSON(%s)\n got  %#v\n want %#v", tc.in, got, tc.want)
			}
		})
	}
}

func TestJSONToBSONErrors(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"array", `[1]`, "not a JSON object"},
		{"string", `"x"`, "not a JSON object"},
		{"truncated", `{"a":`, "EOF"},
		{"trailing", `{} {}`, "trailing data"},
		{"missing colon", `{"a" 1}`, "invalid character"},
		{"out of range", `{"a":1e400}`, "out of range"},
		{"too deep", strings.Repeat(`{"a":`, maxDepth+1) + `1` + strings.Repeat(`}`, maxDepth+1), "nested deeper"},
		{"too deep in arrays", `{"a":` + strings.Repeat(`[`, maxDepth) + strings.Repeat(`]`, maxDepth) + `}`, "nested deeper"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := jsonToBSON([]byte(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
	// The deepest allowed nesting converts.
	ok := strings.Repeat(`{"a":`, maxDepth-1) + `1` + strings.Repeat(`}`, maxDepth-1)
	if _, err := jsonToBSON([]byte("{\"x\":" + ok + "}")); err != nil {
		t.Errorf("nesting of %d levels: %v", maxDepth, err)
	}
}

// TestRoundTrip converts the test envelopes to BSON and back to JSON.
func TestRoundTrip(t *testing.T) {
	for _, body := range []string{sleepBody, dailyBody, authBody, `{"a":[1.5,2.0,-0.25,9007199254740993],"b":"é\"\\<>&"}`} {
		doc, err := jsonToBSON([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		raw, err := bson.Marshal(bson.D{{Key: "v", Value: doc}})
		if err != nil {
			t.Fatal(err)
		}
		got, err := bsonToJSON(bson.Raw(raw).Lookup("v"))
		if err != nil {
			t.Fatal(err)
		}
		sameJSON(t, "round trip", got, []byte(body))
	}
	if _, err := bsonToJSON(bson.RawValue{Type: bson.TypeString, Value: []byte{2, 0, 0, 0, 'x', 0}}); err == nil {
		t.Error("bsonToJSON of a string succeeded")
	}
}

func TestKeyString(t *testing.T) {
	tests := []struct {
		keys bson.D
		want string
	}{
		{bson.D{{Key: "user_id", Value: 1}}, "user_id:1"},
		{bson.D{{Key: "user_id", Value: int32(1)}, {Key: "created_at", Value: int64(-1)}}, "user_id:1,created_at:-1"},
		{bson.D{{Key: "a", Value: 1.0}}, "a:1"},
		{bson.D{{Key: "loc", Value: "2dsphere"}}, "loc:2dsphere"},
	}
	for _, tc := range tests {
		if got := keyString(tc.keys); got != tc.want {
			t.Errorf("keyString(%v) = %q, want %q", tc.keys, got, tc.want)
		}
	}
}
