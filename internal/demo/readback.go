package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"reflect"
	"strings"

	"github.com/wearbridge/wearbridge/internal/api"
	"github.com/wearbridge/wearbridge/internal/app"
	"github.com/wearbridge/wearbridge/internal/destination"
	"github.com/wearbridge/wearbridge/internal/pipeline"
	"github.com/wearbridge/wearbridge/internal/secretbox"
	"github.com/wearbridge/wearbridge/internal/store"
)

// SettingsFromEnv builds a destination's settings from the variables that
// `scripts/test-servers up` prints, with names of its own (a new schema,
// table prefix, database, bucket, container, queue or topic, created on the
// emulator) so that runs do not see each other's data.
// WB_DEMO_<KIND>_SETTINGS, when set, is used as is instead.
func SettingsFromEnv(kind string) (json.RawMessage, error) {
	suffix := strings.ToLower(strings.NewReplacer("-", "", "_", "").Replace(secretbox.RandomToken(6)))
	need := func(names ...string) (map[string]string, error) {
		out := map[string]string{}
		for _, n := range names {
			v := os.Getenv(n)
			if v == "" {
				return nil, fmt.Errorf("demo --destination %s needs %s: run eval \"$(scripts/test-servers up)\" first", kind, n)
			}
			out[n] = v
		}
		return out, nil
	}
	var settings map[string]any
	switch kind {
	case "postgres":
		env, err := need("TEST_DATABASE_URL")
		if err != nil {
			return nil, err
		}
		settings = map[string]any{"dsn": env["TEST_DATABASE_URL"], "schema": "wearbridge_demo_" + suffix}
	case "mysql":
		env, err := need("TEST_MYSQL_DSN")
		if err != nil {
			return nil, err
		}
		settings = map[string]any{"dsn": env["TEST_MYSQL_DSN"], "table_prefix": "demo_" + suffix + "_"}
	case "mongodb":
		env, err := need("TEST_MONGODB_URI")
		if err != nil {
			return nil, err
		}
		settings = map[string]any{"uri": env["TEST_MONGODB_URI"], "database": "wearbridge_demo_" + suffix}
	default:
		if raw := os.Getenv("WB_DEMO_" + strings.ToUpper(kind) + "_SETTINGS"); raw != "" {
			return json.RawMessage(raw), nil
		}
		return provision(context.Background(), kind, suffix)
	}
	return json.Marshal(settings)
}

func maskedSettings(raw json.RawMessage) []byte {
	b, _ := json.Marshal(api.MaskSettings(raw))
	return b
}

// readBack opens the developer's destination of kind and reads back what it
// holds for every event; an event counts as delivered and verified when the
// stored document equals the envelope or its record.
func readBack(ctx context.Context, a *app.App, kind string, evs []store.Event) (*Result, error) {
	if len(evs) == 0 {
		return &Result{ByType: map[string]int{}}, nil
	}
	dests, err := a.Store.Destinations(ctx, evs[0].DeveloperID)
	if err != nil {
		return nil, err
	}
	var dst store.Destination
	for _, d := range dests {
		if d.Kind == kind {
			dst = d
		}
	}
	k, ok := a.Kinds.Get(kind)
	if !ok {
		return nil, fmt.Errorf("unknown destination kind %q", kind)
	}
	target, err := k.Open(ctx, destination.Config{ID: dst.ID, Kind: kind, Settings: dst.Settings, Secret: dst.Secret})
	if err != nil {
		return nil, err
	}
	defer target.Close()
	rb, ok := target.(destination.ReadBacker)
	if !ok {
		return nil, fmt.Errorf("destination kind %s cannot read back", kind)
	}
	toDest := func(ev store.Event) destination.Event {
		return destination.Event{Seq: ev.Seq, DeliveryID: pipeline.DeliveryID(dst.ID, ev.Seq), Type: ev.Type,
			UserID: ev.UserID, Provider: ev.Provider, RecordKey: ev.RecordKey, Version: ev.Version, Start: ev.Start, End: ev.End,
			CreatedAt: ev.CreatedAt, Body: ev.Body}
	}
	var bulk map[string]json.RawMessage
	if b, ok := target.(destination.BulkReadBacker); ok {
		all := make([]destination.Event, len(evs))
		for i, ev := range evs {
			all[i] = toDest(ev)
		}
		// A queue may answer a receive with nothing while messages are
		// there (SQS samples its servers): look again for what is missing.
		bulk = map[string]json.RawMessage{}
		for try := 0; try < 5 && len(all) > 0; try++ {
			got, err := b.ReadBackAll(ctx, all)
			if err != nil {
				return nil, fmt.Errorf("read back: %w", err)
			}
			missing := all[:0]
			for _, ev := range all {
				if doc, ok := got[ev.DeliveryID]; ok {
					bulk[ev.DeliveryID] = doc
				} else {
					missing = append(missing, ev)
				}
			}
			all = missing
		}
	}
	res := &Result{ByType: map[string]int{}, Events: len(evs)}
	// A record's destination row holds its newest version only: an event
	// superseded by a newer one of the same record is checked through that
	// one.
	newest := map[string]int{}
	for _, ev := range evs {
		if ev.RecordKey != "" {
			id := ev.UserID + "\x00" + ev.Type + "\x00" + ev.RecordKey
			newest[id] = max(newest[id], ev.Version)
		}
	}
	for _, ev := range evs {
		if ev.RecordKey != "" && newest[ev.UserID+"\x00"+ev.Type+"\x00"+ev.RecordKey] > ev.Version {
			res.Delivered++
			res.Verified++
			res.ByType[ev.Type]++
			continue
		}
		var got json.RawMessage
		var err error
		if bulk != nil {
			var ok bool
			if got, ok = bulk[pipeline.DeliveryID(dst.ID, ev.Seq)]; !ok {
				err = destination.ErrNotFound
			}
		} else {
			got, err = rb.ReadBack(ctx, toDest(ev))
		}
		if err != nil {
			if !errors.Is(err, destination.ErrNotFound) {
				return nil, fmt.Errorf("read back event %d: %w", ev.Seq, err)
			}
			res.Failed++
			continue
		}
		if url := offloadedURL(got); url != "" {
			// Too large for the destination: it carries a link to the body.
			if got, err = fetch(ctx, url); err != nil {
				return nil, fmt.Errorf("fetch offloaded event %d: %w", ev.Seq, err)
			}
		}
		if !sameDocument(got, ev.Body) {
			res.Failed++
			continue
		}
		res.Delivered++
		res.Verified++
		res.ByType[ev.Type]++
		res.Bodies = append(res.Bodies, got)
	}
	return res, nil
}

// sameDocument reports whether got equals the envelope body or its first
// record, compared as JSON values.
func sameDocument(got, body []byte) bool {
	var g, b any
	if json.Unmarshal(got, &g) != nil || json.Unmarshal(body, &b) != nil {
		return false
	}
	if reflect.DeepEqual(g, b) {
		return true
	}
	if env, ok := b.(map[string]any); ok {
		if data, ok := env["data"].([]any); ok && len(data) == 1 {
			return reflect.DeepEqual(g, data[0])
		}
	}
	return false
}

// offloadedURL returns the link of an s3_payload event, or "".
func offloadedURL(doc []byte) string {
	var p struct {
		Type string `json:"type"`
		URL  string `json:"url"`
	}
	if json.Unmarshal(doc, &p) != nil || p.Type != "s3_payload" {
		return ""
	}
	return p.URL
}

func fetch(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return io.ReadAll(io.LimitReader(resp.Body, 64<<20))
}
