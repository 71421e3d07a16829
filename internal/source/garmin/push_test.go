package garmin

import (
	"context"
	"errors"
	"io/fs"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wearbridge/wearbridge/internal/model"
	"github.com/wearbridge/wearbridge/internal/sandbox/fixtures"
	"github.com/wearbridge/wearbridge/internal/source"
)

func TestParsePushRejectsBadBodies(t *testing.T) {
	tests := []struct {
		name string
		body string
	}{
		{"not json", `dailies=1`},
		{"truncated", `{"dailies": [`},
		{"array", `[{"userId": "u"}]`},
		{"string", `"dailies"`},
		{"null", `null`},
		{"empty", ``},
	}
	p := New(Config{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := p.ParsePush(context.Background(), nil, []byte(tt.body))
			if !errors.Is(err, source.ErrBadPush) {
				t.Fatalf("err = %v, want ErrBadPush", err)
			}
			if got != nil {
				t.Errorf("batches = %+v, want none", got)
			}
		})
	}
}

func TestParsePushChecksClientIDHeader(t *testing.T) {
	body := `{"dailies": [{"userId": "u1", "summaryId": "d1", "startTimeInSeconds": 1593788400, "startTimeOffsetInSeconds": 0}]}`
	tests := []struct {
		name, header string
		wantErr      bool
	}{
		{"no header", "", false},
		{"ours", "client-1", false},
		{"another app", "client-2", true},
	}
	p := New(Config{ClientID: "client-1"})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/push/garmin", strings.NewReader(body))
			if tt.header != "" {
				r.Header.Set(ClientIDHeader, tt.header)
			}
			_, err := p.ParsePush(context.Background(), r, []byte(body))
			if got := errors.Is(err, source.ErrBadPush); got != tt.wantErr {
				t.Errorf("err = %v, want bad push %v", err, tt.wantErr)
			}
		})
	}
}

// findBatch returns the batch of userID.
func findBatch(t *testing.T, bs []source.PushBatch, userID string) source.PushBatch {
	t.Helper()
	for _, b := range bs {
		if b.ProviderUserID == userID {
			return b
		}
	}
	t.Fatalf("no batch for %q in %+v", userID, bs)
	return source.PushBatch{}
}

func TestParsePushKeepsGoingPastBadItems(t *testing.T) {
	body := `{
	"epochs": [{"userId": "u1", "summaryId": "e1", "startTimeInSeconds": 1593788400}],
	"dailies": [
		{"userId": "u1", "summaryId": "d1", "startTimeInSeconds": 1593788400, "startTimeOffsetInSeconds": 3600, "steps": 10},
		{"userId": "u1", "summaryId": "d2", "startTimeInSeconds": 1593874800, "steps": "many"},
		{"summaryId": "d3", "startTimeInSeconds": 1593961200},
		{"userId": "u2", "summaryId": "d4", "startTimeInSeconds": 1593788400, "startTimeOffsetInSeconds": -18000},
		{"userId": "u2", "startTimeInSeconds": 1593788400},
		{"userId": "u2", "callbackURL": "https://apis.garmin.com/wellness-api/rest/dailies?token=x"},
		42
	],
	"sleeps": {"userId": "u1"},
	"deregistrations": [{"userId": "u2"}]
}`
	batches, err := New(Config{}).ParsePush(context.Background(), nil, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(batches) != 3 {
		t.Fatalf("got %d batches, want u1, u2 and the one without a user: %+v", len(batches), batches)
	}

	u1 := findBatch(t, batches, "u1")
	if len(u1.Records) != 1 || u1.Records[0].Key != "d1" {
		t.Errorf("u1 records = %+v, want d1 only", u1.Records)
	}
	wantProblems(t, u1, `dailies[1]: decode daily`, `epochs[0]: unsupported summary type "epochs"`)
	if !strings.Contains(string(u1.Problems[0].Raw), `"many"`) || u1.Problems[0].Type != model.TypeDaily {
		t.Errorf("bad daily problem = %+v, want its raw item and type daily", u1.Problems[0])
	}

	u2 := findBatch(t, batches, "u2")
	if len(u2.Records) != 1 || u2.Records[0].Key != "d4" {
		t.Errorf("u2 records = %+v, want d4 only", u2.Records)
	}
	// Offsets have a sign: -18000 is five hours behind UTC.
	if got := u2.Records[0].Data.(*model.Daily).Metadata.StartTime; got != "2020-07-03T10:00:00.000000-05:00" {
		t.Errorf("d4 start = %s", got)
	}
	wantProblems(t, u2, "dailies[4]: summary has no summaryId", "dailies[5]: ping notification", `deregistrations[0]: unsupported summary type`)

	nobody := findBatch(t, batches, "")
	if len(nobody.Records) != 0 {
		t.Errorf("records without a user: %+v", nobody.Records)
	}
	wantProblems(t, nobody, "dailies[2]: summary has no userId", "dailies[6]: summary is not a JSON object", `"sleeps": value is not a list`)
}

func TestParsePushMissingOffsetIsReported(t *testing.T) {
	body := `{"dailies": [{"userId": "u1", "summaryId": "d1", "startTimeInSeconds": 1593788400}]}`
	batches, err := New(Config{}).ParsePush(context.Background(), nil, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	b := findBatch(t, batches, "u1")
	wantProblems(t, b, "no startTimeOffsetInSeconds; times are given in UTC")
	if got := b.Records[0].Data.(*model.Daily).Metadata.StartTime; got != "2020-07-03T15:00:00.000000+00:00" {
		t.Errorf("start = %s", got)
	}
}

func TestParsePushAcceptsBodyCompsKey(t *testing.T) {
	// Garmin documents the list key "bodyComps"; the recorded fixture uses "body".
	body := `{"bodyComps": [{"userId": "u1", "summaryId": "b1", "measurementTimeInSeconds": 1593788400, "measurementTimeOffsetInSeconds": 7200, "weightInGrams": 80000}]}`
	batches, err := New(Config{}).ParsePush(context.Background(), nil, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	b := findBatch(t, batches, "u1")
	wantProblems(t, b)
	if len(b.Records) != 1 || b.Records[0].Key != "bodycomp:b1" {
		t.Fatalf("records = %+v", b.Records)
	}
	approx(t, "weight", b.Records[0].Data.(*model.Body).MeasurementsData.Measurements[0].WeightKg, 80)
}

func TestParsePushSameIDDifferentSummaryTypes(t *testing.T) {
	// Garmin ids are user + start time, so a pulse ox and a respiration
	// summary starting together share an id; their keys must not.
	body := `{
	"pulseox": [{"userId": "u1", "summaryId": "x1-5eff4770", "startTimeInSeconds": 1593788400, "startTimeOffsetInSeconds": 0, "durationInSeconds": 60, "timeOffsetSpo2Values": {"0": 97}}],
	"allDayRespiration": [{"userId": "u1", "summaryId": "x1-5eff4770", "startTimeInSeconds": 1593788400, "startTimeOffsetInSeconds": 0, "durationInSeconds": 60, "timeOffsetEpochToBreaths": {"0": 15}}]
}`
	batches, err := New(Config{}).ParsePush(context.Background(), nil, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	b := findBatch(t, batches, "u1")
	if len(b.Records) != 2 || b.Records[0].Key == b.Records[1].Key {
		t.Fatalf("records = %+v, want two with distinct keys", b.Records)
	}
}

func FuzzParsePush(f *testing.F) {
	for _, name := range []string{"push_dailies.json", "push_sleeps.json", "push_body_comps.json", "push_pulseox.json", "push_respiration.json"} {
		b, err := fs.ReadFile(fixtures.FS, "garmin/"+name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"sleeps": [{"userId": "u", "summaryId": "s", "startTimeInSeconds": 1e300, "startTimeOffsetInSeconds": -1, "durationInSeconds": 1e300, "sleepLevelsMap": {"deep": [{"startTimeInSeconds": 1, "endTimeInSeconds": 0}]}}]}`))
	p := New(Config{})
	f.Fuzz(func(t *testing.T, body []byte) {
		batches, err := p.ParsePush(context.Background(), nil, body)
		if err != nil {
			if !errors.Is(err, source.ErrBadPush) {
				t.Fatalf("error %v does not wrap ErrBadPush", err)
			}
			return
		}
		for _, b := range batches {
			for _, r := range b.Records {
				if r.Key == "" || r.Data == nil || len(r.Raw) == 0 {
					t.Fatalf("incomplete record %+v", r)
				}
			}
		}
	})
}
