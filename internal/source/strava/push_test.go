package strava

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wearbridge/wearbridge/internal/model"
	"github.com/wearbridge/wearbridge/internal/source"
)

// The event shape is Strava's documented example
// (developers.strava.com/docs/webhooks): owner 134815, subscription 120475.
func event(objectType, aspect string, objectID int64, updates string) []byte {
	b, _ := json.Marshal(map[string]any{
		"aspect_type": aspect, "event_time": 1516126040, "object_id": objectID,
		"object_type": objectType, "owner_id": 134815, "subscription_id": 120475,
		"updates": json.RawMessage(updates),
	})
	return b
}

func TestParsePush(t *testing.T) {
	tests := []struct {
		name     string
		body     []byte
		pull     string // ItemID of the one expected pull
		revoked  bool
		problem  string // fragment of the one expected problem
		probType model.DataType
	}{
		{"activity create", event("activity", "create", 1360128428, `{}`), "1360128428", false, "", ""},
		{"activity title update", event("activity", "update", 1360128428, `{"title":"Messy"}`), "1360128428", false, "", ""},
		{"activity privacy update", event("activity", "update", 1360128428, `{"private":"true"}`), "1360128428", false, "", ""},
		{"activity delete", event("activity", "delete", 1360128428, `{}`), "", false, "deleting records needs a core seam", model.TypeActivity},
		{"deauthorization", event("athlete", "update", 134815, `{"authorized":"false"}`), "", true, "", ""},
		{"deauthorization as a JSON false", event("athlete", "update", 134815, `{"authorized":false}`), "", true, "", ""},
		{"other athlete update", event("athlete", "update", 134815, `{"weight":"70"}`), "", false, "athlete update event not handled", ""},
		{"unknown object", event("club", "create", 5, `{}`), "", false, "club create event not handled", ""},
		{"activity without id", event("activity", "create", 0, `{}`), "", false, "no activity id", model.TypeActivity},
		{"updates not an object", event("athlete", "update", 134815, `"authorized=false"`), "", false, "not handled", ""},
	}
	p := New(Config{SubscriptionID: 120475})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			batches, err := p.ParsePush(context.Background(), nil, tt.body)
			if err != nil {
				t.Fatal(err)
			}
			if len(batches) != 1 {
				t.Fatalf("batches = %+v", batches)
			}
			b := batches[0]
			Eq(t, "owner", b.ProviderUserID, "134815")
			Eq(t, "revoked", b.Revoked, tt.revoked)
			if len(b.Records) != 0 {
				t.Errorf("records from an event: %+v", b.Records)
			}
			if tt.pull != "" {
				if len(b.Pulls) != 1 || b.Pulls[0].ItemID != tt.pull || b.Pulls[0].Type != model.TypeActivity {
					t.Errorf("pulls = %+v, want activity %s", b.Pulls, tt.pull)
				}
			} else if len(b.Pulls) != 0 {
				t.Errorf("pulls = %+v, want none", b.Pulls)
			}
			if tt.problem == "" {
				if len(b.Problems) != 0 {
					t.Errorf("problems = %+v", b.Problems)
				}
				return
			}
			pr := wantProblem(t, b.Problems, tt.problem)
			Eq(t, "problem type", pr.Type, tt.probType)
			if string(pr.Raw) != string(tt.body) {
				t.Errorf("problem raw = %s, want the event", pr.Raw)
			}
		})
	}
}

func TestParsePushRefused(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		body string
	}{
		{"not json", Config{}, `hello`},
		{"array", Config{}, `[{"object_type":"activity","owner_id":1}]`},
		{"null", Config{}, `null`},
		{"empty", Config{}, ``},
		{"no owner", Config{}, `{"object_type":"activity","object_id":1,"aspect_type":"create"}`},
		{"no object type", Config{}, `{"owner_id":1,"object_id":1,"aspect_type":"create"}`},
		{"owner as text", Config{}, `{"object_type":"activity","owner_id":"1","object_id":1,"aspect_type":"create"}`},
		{"other subscription", Config{SubscriptionID: 999}, string(event("activity", "create", 1, `{}`))},
		{"no subscription id", Config{SubscriptionID: 120475}, `{"object_type":"activity","owner_id":1,"object_id":1,"aspect_type":"create"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			batches, err := New(tt.cfg).ParsePush(context.Background(), nil, []byte(tt.body))
			if !errors.Is(err, source.ErrBadPush) {
				t.Fatalf("err = %v, want ErrBadPush", err)
			}
			if batches != nil {
				t.Errorf("batches = %+v", batches)
			}
		})
	}
	// Without a configured subscription id, any is accepted.
	if _, err := New(Config{}).ParsePush(context.Background(), nil, event("activity", "create", 1, `{}`)); err != nil {
		t.Errorf("no SubscriptionID configured: %v", err)
	}
}

func TestVerifySubscription(t *testing.T) {
	tests := []struct {
		name, configured, query string
		status                  int
		body                    string
	}{
		{"right token", "STRAVA", "hub.mode=subscribe&hub.challenge=15f7d1a91c1f40&hub.verify_token=STRAVA", 200, `{"hub.challenge":"15f7d1a91c1f40"}`},
		{"wrong token", "STRAVA", "hub.mode=subscribe&hub.challenge=15f7d1a91c1f40&hub.verify_token=guess", 403, ""},
		{"no token sent", "STRAVA", "hub.mode=subscribe&hub.challenge=15f7d1a91c1f40", 403, ""},
		{"nothing configured", "", "hub.mode=subscribe&hub.challenge=15f7d1a91c1f40&hub.verify_token=", 403, ""},
		{"no challenge", "STRAVA", "hub.mode=subscribe&hub.verify_token=STRAVA", 400, ""},
		{"other mode", "STRAVA", "hub.mode=unsubscribe&hub.challenge=x&hub.verify_token=STRAVA", 400, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := New(Config{VerifyToken: tt.configured})
			w := httptest.NewRecorder()
			p.VerifySubscription(w, httptest.NewRequest(http.MethodGet, "/push/strava?"+tt.query, nil))
			Eq(t, "status", w.Code, tt.status)
			if tt.body != "" {
				Eq(t, "body", strings.TrimSpace(w.Body.String()), tt.body)
				Eq(t, "content type", w.Header().Get("Content-Type"), "application/json")
			} else if strings.Contains(w.Body.String(), "15f7d1a91c1f40") {
				t.Errorf("challenge echoed on refusal: %s", w.Body.String())
			}
		})
	}
}

// FuzzParsePush: no input panics; an accepted event gives one batch for a
// positive owner.
func FuzzParsePush(f *testing.F) {
	f.Add(event("activity", "create", 1360128428, `{}`))
	f.Add(event("athlete", "update", 134815, `{"authorized":"false"}`))
	f.Add(event("activity", "delete", 1, `{"title":"x"}`))
	f.Add([]byte(`{"object_type":"activity","owner_id":1e30}`))
	f.Add([]byte(`{}`))
	p := New(Config{})
	f.Fuzz(func(t *testing.T, body []byte) {
		batches, err := p.ParsePush(context.Background(), nil, body)
		if err != nil {
			if !errors.Is(err, source.ErrBadPush) {
				t.Fatalf("error not ErrBadPush: %v", err)
			}
			return
		}
		if len(batches) != 1 || batches[0].ProviderUserID == "" || strings.HasPrefix(batches[0].ProviderUserID, "-") {
			t.Fatalf("batches = %+v", batches)
		}
	})
}

// FuzzMapActivity feeds arbitrary bodies as activity, laps and streams:
// nothing panics and whatever maps marshals. Seeds are kept small (the
// recorded activities are 20-100 KB, which makes minimising crawl).
func FuzzMapActivity(f *testing.F) {
	f.Add([]byte(act(`"average_heartrate":150.5,"calories":500,"kilojoules":400,"manual":false,"start_latlng":[1,2],"map":{"summary_polyline":"abc"}`)), []byte(nil), []byte(nil))
	f.Add([]byte(act("")), Fixture(f, "activity_laps.json"), []byte(`{"time":{"data":[0,1]},"heartrate":{"data":[1,2]},"latlng":{"data":[[1,2],[3,4]]}}`))
	f.Add([]byte(act(`"laps":[{"start_date":"2024-03-10T06:59:59Z","elapsed_time":1e300}]`)), []byte(`[]`), []byte(`[{"type":"time","data":[1e300,-1]},{"type":"latlng","data":[[1],[1,2,3],null]}]`))
	f.Fuzz(func(t *testing.T, activity, laps, streams []byte) {
		m := newMapper()
		rec, err := m.activity(fetched{activity: activity, laps: laps, streams: streams})
		if err != nil {
			return
		}
		if _, err := json.Marshal(rec.Data); err != nil {
			t.Fatalf("marshal: %v", err)
		}
		if !json.Valid(rec.Raw) {
			t.Fatalf("Raw is not JSON: %q", rec.Raw)
		}
	})
}
