package terraschema_test

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/wearbridge/wearbridge/internal/model"
	"github.com/wearbridge/wearbridge/internal/model/terraschema"
)

func newValidator(t *testing.T) *terraschema.Validator {
	t.Helper()
	v, err := terraschema.New()
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return v
}

// validSleepEvent is built from the example values in SleepEvent.yaml,
// TerraUser.yaml, SleepMetadata.yaml, HeartRateDataSummary.yaml,
// HeartRateDataSample.yaml, AsleepDurations.yaml and SleepLevel.yaml.
const validSleepEvent = `{
	"type": "sleep",
	"version": "2022-03-16",
	"user": {
		"user_id": "123e4567-e89b-12d3-a456-426614174000",
		"provider": "FITBIT",
		"reference_id": "user123@email.com",
		"active": true,
		"last_webhook_update": "2022-12-12T10:00:00.000000+00:00"
	},
	"data": [{
		"metadata": {
			"start_time": "1999-11-23T22:00:00.000000+02:00",
			"end_time": "2022-11-24T08:00:00.000000+01:00",
			"upload_type": 1,
			"is_nap": false,
			"summary_id": null
		},
		"heart_rate_data": {
			"summary": {"avg_hr_bpm": 145},
			"detailed": {"hr_samples": [{"timestamp": "2022-11-23T09:00:00.000000+02:00", "bpm": 142}]}
		},
		"sleep_durations_data": {
			"asleep": {"duration_REM_sleep_state_seconds": 5400},
			"hypnogram_samples": [{"timestamp": "2022-11-23T09:00:00.000000+02:00", "level": 2}]
		},
		"device_data": null
	}]
}`

// edit decodes validSleepEvent, applies change and re-encodes it.
func edit(t *testing.T, change func(ev map[string]any)) []byte {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal([]byte(validSleepEvent), &ev); err != nil {
		t.Fatalf("bad fixture: %v", err)
	}
	change(ev)
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sleepMetadata(ev map[string]any) map[string]any {
	return ev["data"].([]any)[0].(map[string]any)["metadata"].(map[string]any)
}

func TestValidateSleepEvent(t *testing.T) {
	v := newValidator(t)
	tests := []struct {
		name string
		body []byte
		// want lists the pointer and message fragments the error must
		// name; nil means the body is valid.
		want []string
	}{
		{name: "valid", body: []byte(validSleepEvent)},
		{
			name: "start_time is a number",
			body: edit(t, func(ev map[string]any) { sleepMetadata(ev)["start_time"] = 1 }),
			want: []string{`"/data/0/metadata/start_time"`, "got number, want string"},
		},
		{
			name: "version missing",
			body: edit(t, func(ev map[string]any) { delete(ev, "version") }),
			want: []string{`"/version": missing property`},
		},
		{
			name: "upload_type out of the enum",
			body: edit(t, func(ev map[string]any) { sleepMetadata(ev)["upload_type"] = 9 }),
			want: []string{`"/data/0/metadata/upload_type"`, "got 9, want one of 0, 1, 2, 3, 4"},
		},
		{
			name: "nullable object of the wrong type",
			body: edit(t, func(ev map[string]any) {
				ev["data"].([]any)[0].(map[string]any)["heart_rate_data"] = "high"
			}),
			want: []string{`"/data/0/heart_rate_data": got string, want object`},
		},
		{
			name: "wrong type const",
			body: edit(t, func(ev map[string]any) { ev["type"] = "daily" }),
			want: []string{`"/type"`, "sleep"},
		},
		{
			name: "empty user_id",
			body: edit(t, func(ev map[string]any) { ev["user"].(map[string]any)["user_id"] = "" }),
			want: []string{`"/user/user_id"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := v.Validate("SleepEvent", tt.body)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate passed, want an error")
			}
			t.Log(err)
			var verr *terraschema.Error
			if !errors.As(err, &verr) {
				t.Fatalf("error %v is %T, want *terraschema.Error", err, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			// The "want null" half of nullable fields is not reported.
			if strings.Contains(err.Error(), "want null") {
				t.Errorf("error %q reports a null alternative", err)
			}
		})
	}
}

func TestValidateErrors(t *testing.T) {
	v := newValidator(t)
	if err := v.Validate("NoSuchSchema", []byte(`{}`)); !errors.Is(err, terraschema.ErrUnknownSchema) {
		t.Errorf("unknown schema: got %v, want ErrUnknownSchema", err)
	}
	err := v.Validate("Sleep", []byte(`{"metadata":`))
	var verr *terraschema.Error
	if err == nil || errors.As(err, &verr) {
		t.Errorf("malformed JSON: got %v, want a decode error", err)
	}
	if err := v.ValidateEvent([]byte(`{"type":"healthcheck"}`)); !errors.Is(err, terraschema.ErrUnknownEvent) {
		t.Errorf("healthcheck: got %v, want ErrUnknownEvent", err)
	}
}

func TestValidateEvent(t *testing.T) {
	v := newValidator(t)
	if err := v.ValidateEvent([]byte(validSleepEvent)); err != nil {
		t.Errorf("sleep event: %v", err)
	}
	// AuthSuccessEvent.yaml: type auth, status success, user required.
	auth := `{"type":"auth","status":"success","user":{"user_id":"123e4567-e89b-12d3-a456-426614174000","provider":"FITBIT"}}`
	if err := v.ValidateEvent([]byte(auth)); err != nil {
		t.Errorf("auth success event: %v", err)
	}
	// S3PayloadEvent.yaml: url and expires_in (integer) are required.
	s3 := `{"type":"s3_payload","status":"success","url":"https://example.com/x","expires_in":1.5}`
	err := v.ValidateEvent([]byte(s3))
	if err == nil || !strings.Contains(err.Error(), `"/expires_in"`) {
		t.Errorf("s3 event with fractional expires_in: got %v, want an error at /expires_in", err)
	}
}

func TestEventSchema(t *testing.T) {
	tests := []struct {
		typ, status, want string
	}{
		{"activity", "", "ActivityEvent"},
		{"sleep", "", "SleepEvent"},
		{"daily", "", "DailyEvent"},
		{"body", "", "BodyEvent"},
		{"nutrition", "", "NutritionEvent"},
		{"menstruation", "", "MenstruationEvent"},
		{"athlete", "", "AthleteEvent"},
		{"auth", "success", "AuthSuccessEvent"},
		{"auth", "error", "AuthErrorEvent"},
		{"deauth", "success", "DeauthEvent"},
		{"user_reauth", "warning", "UserReauthEvent"},
		{"access_revoked", "warning", "AccessRevokedEvent"},
		{"connection_error", "warning", "ConnectionErrorEvent"},
		{"s3_payload", "success", "S3PayloadEvent"},
	}
	for _, tt := range tests {
		got, err := terraschema.EventSchema(tt.typ, tt.status)
		if err != nil || got != tt.want {
			t.Errorf("EventSchema(%q, %q) = %q, %v; want %q", tt.typ, tt.status, got, err, tt.want)
		}
	}
	for _, bad := range [][2]string{{"auth", ""}, {"healthcheck", ""}, {"", ""}} {
		if _, err := terraschema.EventSchema(bad[0], bad[1]); !errors.Is(err, terraschema.ErrUnknownEvent) {
			t.Errorf("EventSchema(%q, %q): got %v, want ErrUnknownEvent", bad[0], bad[1], err)
		}
	}
}

// eventConsts reads the type and status consts of an event schema file.
func eventConsts(t *testing.T, file string) (typ, status string) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Properties struct {
			Type   struct{ Const string } `yaml:"type"`
			Status struct{ Const string } `yaml:"status"`
		}
	}
	if err := yaml.Unmarshal(data, &s); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return s.Properties.Type.Const, s.Properties.Status.Const
}

// TestEveryEventSchema compiles every *Event schema and checks that
// EventSchema maps its type (and status) consts back to it, and that every
// member of the WebhookEventType union is an event schema.
func TestEveryEventSchema(t *testing.T) {
	v := newValidator(t)
	files, err := filepath.Glob(filepath.Join("schemas", "*Event.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no event schemas: %v", err)
	}
	events := map[string]bool{}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		events[name] = true
		// Compiling happens on first Validate; any outcome but a
		// compile error is fine for "{}".
		if err := v.Validate(name, []byte(`{}`)); err != nil {
			var verr *terraschema.Error
			if !errors.As(err, &verr) {
				t.Errorf("%s: %v", name, err)
			}
		}
		if name == "WebhookEvent" {
			continue // the base all events extend
		}
		typ, status := eventConsts(t, file)
		if typ == "" {
			t.Errorf("%s: no type const", name)
			continue
		}
		got, err := terraschema.EventSchema(typ, status)
		if err != nil || got != name {
			t.Errorf("EventSchema(%q, %q) = %q, %v; want %q", typ, status, got, err, name)
		}
	}
	data, err := os.ReadFile(filepath.Join("schemas", "WebhookEventType.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var union struct {
		OneOf []struct {
			Ref string `yaml:"$ref"`
		} `yaml:"oneOf"`
	}
	if err := yaml.Unmarshal(data, &union); err != nil {
		t.Fatal(err)
	}
	if len(union.OneOf) == 0 {
		t.Fatal("WebhookEventType has no members")
	}
	for _, m := range union.OneOf {
		if name := strings.TrimSuffix(m.Ref, ".yaml"); !events[name] {
			t.Errorf("WebhookEventType member %s is not an *Event.yaml schema", m.Ref)
		}
	}
}

// TestEverySchemaCompiles compiles all embedded schemas.
func TestEverySchemaCompiles(t *testing.T) {
	v := newValidator(t)
	names := v.Schemas()
	files, err := fs.Glob(os.DirFS("schemas"), "*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != len(files) {
		t.Errorf("Schemas() has %d names, schemas/ has %d files", len(names), len(files))
	}
	for _, name := range names {
		if err := v.Validate(name, []byte(`null`)); err != nil {
			var verr *terraschema.Error
			if !errors.As(err, &verr) {
				t.Errorf("%s: %v", name, err)
			}
		}
	}
}

// TestGeneratedSleepEventValidates checks that the generated Go types
// marshal to payloads the schemas accept.
func TestGeneratedSleepEventValidates(t *testing.T) {
	v := newValidator(t)
	level := model.SleepLevelDeepSleep
	bpm := 52.0
	ev := model.SleepEvent{
		Type:    "sleep",
		Version: "2022-03-16",
		User:    &model.TerraUser{UserId: "123e4567-e89b-12d3-a456-426614174000", Provider: "FITBIT"},
		Data: []model.Sleep{{
			Metadata: &model.SleepMetadata{
				StartTime:  "1999-11-23T22:00:00.000000+02:00",
				EndTime:    "2022-11-24T08:00:00.000000+01:00",
				UploadType: model.SleepUploadTypeAutomatic,
			},
			HeartRateData: &model.HeartRateData{
				Detailed: &model.HeartRateDataDetailed{HrSamples: []model.HeartRateDataSample{{Bpm: &bpm}}},
			},
			SleepDurationsData: &model.SleepDurationsData{
				HypnogramSamples: []model.SleepHypnogramSample{{Level: &level}},
			},
		}},
	}
	body, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.ValidateEvent(body); err != nil {
		t.Errorf("generated SleepEvent: %v\n%s", err, body)
	}

	// A Sleep without its required metadata marshals "metadata": null,
	// which the schema rejects.
	body, err = json.Marshal(model.Sleep{})
	if err != nil {
		t.Fatal(err)
	}
	err = v.Validate("Sleep", body)
	if err == nil || !strings.Contains(err.Error(), `"/metadata"`) {
		t.Errorf("Sleep without metadata: got %v, want an error at /metadata", err)
	}
}

// TestConcurrentValidate runs validations in parallel against one
// Validator, for the race detector.
func TestConcurrentValidate(t *testing.T) {
	v := newValidator(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			errs <- v.ValidateEvent([]byte(validSleepEvent))
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}
