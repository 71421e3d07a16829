package polar

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/wearbridge/wearbridge/internal/source"
)

// FuzzParsePush: no delivery makes ParsePush panic; what it accepts has a
// user, and what it refuses is ErrBadPush.
func FuzzParsePush(f *testing.F) {
	for _, s := range []string{
		`{"event":"EXERCISE","user_id":475,"entity_id":"aQlC83","timestamp":"2018-05-15T14:22:24Z","url":"https://www.polaraccesslink.com/v3/exercises/aQlC83"}`,
		`{"event":"SLEEP","user_id":475,"date":"2019-12-31","timestamp":"2018-05-15T14:22:24Z"}`,
		`{"event":"CONTINUOUS_HEART_RATE","user_id":"475","date":"2022-09-30"}`,
		`{"timestamp":"2019-01-11T08:25:10.02Z","event":"PING"}`,
		`{"event":"ACTIVITY_SUMMARY","user_id":1e3}`,
		`[]`, `null`, ``,
	} {
		f.Add([]byte(s))
	}
	p := New(Config{WebhookSecret: testSecret})
	f.Fuzz(func(t *testing.T, body []byte) {
		bs, err := p.ParsePush(context.Background(), signed(string(body), testSecret), body)
		if err != nil {
			if !errors.Is(err, source.ErrBadPush) {
				t.Fatalf("err = %v, not ErrBadPush", err)
			}
			return
		}
		for _, b := range bs {
			if b.ProviderUserID == "" {
				t.Fatal("batch without a user")
			}
			for _, pr := range b.Pulls {
				if pr.ItemID == "" && !pr.End.After(pr.Start) {
					t.Fatalf("empty pull window %+v", pr)
				}
			}
		}
	})
}

// FuzzMappers feeds arbitrary documents to every mapper: none may panic,
// and whatever maps must marshal.
func FuzzMappers(f *testing.F) {
	for _, name := range []string{"exercise_get.json", "sleep_get.json", "nightly_recharge_get.json", "continuous_heart_rate.json", "exercise_samples_deprecated.json"} {
		f.Add(fixture(f, name))
	}
	f.Add([]byte(activityExample))
	f.Fuzz(func(t *testing.T, b []byte) {
		raw := json.RawMessage(b)
		m := newMapper()
		var out []any
		if rec, err := m.exercise(raw); err == nil {
			out = append(out, rec.Data)
		}
		if rec, err := m.sleep(raw, nil); err == nil {
			out = append(out, rec.Data)
			if rec, err := m.sleep(raw, raw); err == nil {
				out = append(out, rec.Data)
			}
		}
		off := dayOffset{seconds: 5*3600 + 1800}
		if rec, err := m.heartRateDay(raw, off); err == nil {
			out = append(out, rec.Data)
		}
		if rec, err := m.activityDay(raw, off); err == nil {
			out = append(out, rec.Data)
		}
		var s exerciseSample
		if json.Unmarshal(raw, &s) == nil {
			_, _ = s.points(time.Unix(0, 0))
		}
		for _, d := range out {
			if _, err := json.Marshal(d); err != nil {
				t.Fatalf("marshal: %v", err)
			}
		}
	})
}
