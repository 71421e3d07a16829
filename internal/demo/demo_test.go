package demo_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/wearbridge/wearbridge/internal/app"
	"github.com/wearbridge/wearbridge/internal/demo"
	"github.com/wearbridge/wearbridge/internal/model/terraschema"
	"github.com/wearbridge/wearbridge/internal/store/storetest"
)

// TestDemo runs the README's demo on every database and validates every
// delivered body against the Terra schemas.
func TestDemo(t *testing.T) {
	v, err := terraschema.New()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range storetest.Dialects(t) {
		t.Run(storetest.Name(d), func(t *testing.T) {
			var out bytes.Buffer
			res, err := demo.Run(context.Background(), demo.Options{DatabaseURL: storetest.URL(t, d), Stdout: &out, Timeout: 50 * time.Second})
			if err != nil {
				t.Fatalf("demo: %v\n%s", err, out.String())
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			last := lines[len(lines)-1]
			if !strings.HasPrefix(last, "demo: ") || !strings.HasSuffix(last, " 0 failed") {
				t.Fatalf("last line = %q", last)
			}
			// One auth event per provider, one backfill start and end per
			// pulled provider.
			if want := len(app.ProviderNames()); res.ByType["auth"] != want {
				t.Errorf("auth events = %d, want %d (one per provider)", res.ByType["auth"], want)
			}
			if res.ByType["large_request_processing"] != res.ByType["large_request_sending"] {
				t.Errorf("backfills started %d, finished %d", res.ByType["large_request_processing"], res.ByType["large_request_sending"])
			}
			// At least the 48 Oura sleep periods of sleep_2024-10-09_11-03.json
			// and the Garmin sleep of push_sleeps.json.
			if res.ByType["sleep"] < 49 {
				t.Errorf("sleep events = %d, want at least 49", res.ByType["sleep"])
			}
			if res.Delivered != res.Events || res.Verified != res.Events {
				t.Errorf("delivered %d, verified %d of %d events", res.Delivered, res.Verified, res.Events)
			}
			// Every provider connected through its sandbox delivered data.
			data := map[string]int{}
			for _, b := range res.Bodies {
				var env struct {
					Type string `json:"type"`
					User struct {
						Provider string `json:"provider"`
					} `json:"user"`
					Data []json.RawMessage `json:"data"`
				}
				if json.Unmarshal(b, &env) == nil && len(env.Data) > 0 {
					data[env.User.Provider]++
				}
			}
			for _, p := range app.ProviderNames() {
				if data[p] == 0 {
					t.Errorf("no data event from %s", p)
				}
			}
			for i, b := range res.Bodies {
				if err := v.ValidateEvent(b); err != nil {
					t.Errorf("body %d does not match the Terra schema: %v\n%s", i+1, err, abbreviate(b))
				}
				var env struct {
					Type string `json:"type"`
				}
				_ = json.Unmarshal(b, &env)
				if env.Type == "" {
					t.Errorf("body %d has no type", i+1)
				}
			}
		})
	}
}

func abbreviate(b []byte) string {
	if len(b) > 600 {
		return string(b[:600]) + "..."
	}
	return string(b)
}
