package app_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/wearbridge/wearbridge/internal/app"
	"github.com/wearbridge/wearbridge/internal/model"
	"github.com/wearbridge/wearbridge/internal/pipeline"
	"github.com/wearbridge/wearbridge/internal/store"
	"github.com/wearbridge/wearbridge/internal/store/storetest"
)

// TestReplicasShareDelivery runs two replicas on one PostgreSQL database:
// every event is delivered, and none twice.
func TestReplicasShareDelivery(t *testing.T) {
	var pg bool
	for _, d := range storetest.Dialects(t) {
		pg = pg || d == "postgres"
	}
	if !pg {
		t.Skip("needs TEST_DATABASE_URL")
	}
	url := storetest.URL(t, "postgres")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	key := "QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI=" // 32 x 'B'
	var mu sync.Mutex
	got := map[string]int{}
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		got[r.Header.Get("X-Wearbridge-Delivery")]++
		mu.Unlock()
	}))
	defer rcv.Close()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	var apps []*app.App
	for i := 0; i < 2; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		a, err := app.New(ctx, app.Config{Addr: ln.Addr().String(), DataDir: t.TempDir(), DatabaseURL: url, SecretKey: key,
			AllowPrivateWebhooks: true, Logger: quiet, Delivery: pipeline.DelivererConfig{PollInterval: 50 * time.Millisecond, LeaseTTL: 3 * time.Second}})
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		rctx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- a.Run(rctx, ln) }()
		defer func() { stop(); <-done }()
		apps = append(apps, a)
	}
	a := apps[0]
	dev, err := a.Store.CreateDeveloper(ctx)
	if err != nil {
		t.Fatal(err)
	}
	settings, _ := json.Marshal(map[string]string{"url": rcv.URL})
	if _, err := a.Destinations.Create(ctx, dev.Developer, pipeline.NewDestination{Kind: "webhook", Settings: settings, Enabled: true, SkipTest: true}); err != nil {
		t.Fatal(err)
	}
	u := store.User{ID: "u1", DeveloperID: dev.ID, Provider: "OURA", ProviderUserID: "p1"}
	if err := a.Store.InTx(ctx, func(tx *store.Tx) (err error) { u, _, err = tx.Connect(ctx, u, nil); return err }); err != nil {
		t.Fatal(err)
	}
	// Both replicas ingest concurrently.
	const perReplica = 300
	var wg sync.WaitGroup
	for i, rep := range apps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < perReplica; j += 30 {
				var recs []model.Record
				for k := j; k < j+30; k++ {
					start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i*perReplica+k) * time.Hour)
					recs = append(recs, model.Record{Type: model.TypeBody, Key: start.Format(time.RFC3339), Start: start, End: start.Add(time.Hour),
						Data: map[string]any{"n": i*perReplica + k}})
				}
				if _, err := rep.Ingest.Apply(ctx, u, recs, nil); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	want := 2 * perReplica
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= want {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("delivered %d of %d events", n, want)
		case <-time.After(50 * time.Millisecond):
		}
	}
	time.Sleep(300 * time.Millisecond) // let a double delivery show up
	mu.Lock()
	defer mu.Unlock()
	if len(got) != want {
		t.Fatalf("delivered %d distinct events, want %d", len(got), want)
	}
	for id, n := range got {
		if n != 1 {
			t.Errorf("delivery %s received %d times", id, n)
		}
	}
}
