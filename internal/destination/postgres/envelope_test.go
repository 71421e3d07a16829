package postgres

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestSplit(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		wantUser string // "" for none
		wantData []string
		noData   bool
		wantErr  string
	}{
		{"sleep envelope", sleepBody,
			`{"user_id":"bc6cf053-f1cc-43f8-bbc6-250d047fef4c","provider":"WHOOP","created_at":"2026-12-03T17:27:16.786000+00:00","last_webhook_update":"2026-12-03T17:27:21.879687+00:00","scopes":"offline,read:recovery,read:cycles,read:sleep,read:workout,read:profile,read:body_measurement","reference_id":"demo-whoop","active":true}`,
			[]string{sleepBody[strings.Index(sleepBody, `{"metadata"`) : len(sleepBody)-len(`],"version":"2022-03-16"}`)]}, false, ""},
		{"no data key", authBody, authBody[strings.Index(authBody, `{"user_id"`) : len(authBody)-len(`,"version":"2022-03-16"}`)], nil, true, ""},
		{"spaces everywhere", " {\n\t\"data\" : [ {\"a\" : [1, 2.5e3, -0.1, true, false, null]} , {} ] , \"user\":null\r\n} ", "null",
			[]string{`{"a" : [1, 2.5e3, -0.1, true, false, null]}`, `{}`}, false, ""},
		{"escapes in strings", `{"x":"a\"b\\","data":[{"k":"}]\"{["}],"user":{"user_id":"\u0041"}}`, `{"user_id":"\u0041"}`,
			[]string{`{"k":"}]\"{["}`}, false, ""},
		{"escaped key", `{"d\u0061ta":[{}],"user":{}}`, `{}`, []string{`{}`}, false, ""},
		{"last key wins", `{"data":[{"a":1}],"data":[{"b":2}]}`, "", []string{`{"b":2}`}, false, ""},
		{"empty object", `{}`, "", nil, true, ""},
		{"empty data", `{"data":[]}`, "", []string{}, false, ""},
		{"not an object", `[1]`, "", nil, false, "not a JSON object"},
		{"unterminated string", `{"data":[{"a":"x}]}`, "", nil, false, "unterminated string"},
		{"missing colon", `{"data" [1]}`, "", nil, false, "missing ':'"},
		{"missing comma", `{"data":[1 2]}`, "", nil, false, "missing ','"},
		{"trailing data", `{"data":[]} x`, "", nil, false, "after the top-level value"},
		{"data not an array", `{"data":{}}`, "", nil, false, "not an array"},
		{"truncated", `{"data":[{"a":`, "", nil, false, "unexpected end"},
		{"control character", "{\"a\":\"x\ny\"}", "", nil, false, "control character"},
		{"bad literal", `{"a":tru"e"}`, "", nil, false, "unexpected"},
		{"too deep", `{"a":` + strings.Repeat("[", maxDepth+2) + strings.Repeat("]", maxDepth+2) + `}`, "", nil, false, "nested too deeply"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			user, data, err := split([]byte(tc.body))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(user) != tc.wantUser {
				t.Errorf("user = %s, want %s", user, tc.wantUser)
			}
			if tc.noData != (data == nil) {
				t.Errorf("data = %q, want nil: %v", data, tc.noData)
			}
			if len(data) != len(tc.wantData) {
				t.Fatalf("data = %q, want %q", data, tc.wantData)
			}
			for i := range data {
				if string(data[i]) != tc.wantData[i] {
					t.Errorf("data[%d] = %s, want %s", i, data[i], tc.wantData[i])
				}
			}
		})
	}
}

// FuzzSplit checks split against encoding/json: for every valid JSON
// object, split finds the same user value and data elements.
func FuzzSplit(f *testing.F) {
	for _, s := range []string{sleepBody, dailyBody, authBody, `{}`, `{"data":[]}`, `{"data":[1,"a",{"b":[null]}],"user":{"x":"\u00e9"}}`,
		`{"DATA":[1],"data":[2]}`, ` { "user" : [ ] } `, `{"a":"\"","data":[{}]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		user, data, err := split(body) // must not panic on any input
		var m map[string]json.RawMessage
		if json.Unmarshal(body, &m) != nil || m == nil {
			return
		}
		// Only exact-case keys are compared; encoding/json's map decoding
		// keeps keys as written, the last duplicate winning.
		if err != nil {
			if raw, ok := m["data"]; ok && bytes.TrimSpace(raw)[0] != '[' {
				return // split rejects a data value that is not an array
			}
			t.Fatalf("split rejected valid JSON %q: %v", body, err)
		}
		if raw, ok := m["user"]; ok != (user != nil) || ok && !bytes.Equal(bytes.TrimSpace(raw), user) {
			t.Fatalf("user = %q, encoding/json found %q (present %v)", user, raw, ok)
		}
		raw, ok := m["data"]
		if !ok {
			if data != nil {
				t.Fatalf("data = %q without a data key", data)
			}
			return
		}
		var elems []json.RawMessage
		if json.Unmarshal(raw, &elems) != nil {
			t.Fatalf("split accepted a data value that is not an array: %q", raw)
		}
		if len(elems) != len(data) {
			t.Fatalf("data has %d elements, encoding/json found %d", len(data), len(elems))
		}
		for i := range elems {
			if !bytes.Equal(bytes.TrimSpace(elems[i]), data[i]) {
				t.Fatalf("data[%d] = %q, encoding/json found %q", i, data[i], elems[i])
			}
		}
	})
}
