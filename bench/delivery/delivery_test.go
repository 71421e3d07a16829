// Package delivery measures durable webhook delivery from the embedded
// store against the raw HTTP ceiling of the same machine, in one process.
//
//	WB_BENCH=1 go test -run TestDeliveryThroughput -v ./bench/delivery
//
// It appends N signed data events to a SQLite store, lets the delivery
// loop send them to a local receiver, and compares events/s with plain
// POSTs of the same bodies at the same concurrency (8 in flight).
package delivery

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wearbridge/wearbridge/internal/destination"
	"github.com/wearbridge/wearbridge/internal/destination/webhook"
	"github.com/wearbridge/wearbridge/internal/model"
	"github.com/wearbridge/wearbridge/internal/pipeline"
	"github.com/wearbridge/wearbridge/internal/store"
	"github.com/wearbridge/wearbridge/internal/store/storetest"
)

func TestDeliveryThroughput(t *testing.T) {
	if os.Getenv("WB_BENCH") != "1" {
		t.Skip("set WB_BENCH=1 to run the delivery benchmark")
	}
	n := 20000
	if v, err := strconv.Atoi(os.Getenv("WB_BENCH_EVENTS")); err == nil && v > 0 {
		n = v
	}
	var got atomic.Int64
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		got.Add(1)
	}))
	defer rcv.Close()
	body := bytes.Repeat([]byte("x"), 1800)

	// Baseline: plain POSTs, 8 in flight.
	start := time.Now()
	var wg sync.WaitGroup
	next := atomic.Int64{}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				resp, err := client.Post(rcv.URL, "application/json", bytes.NewReader(body))
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	raw := float64(n) / time.Since(start).Seconds()
	got.Store(0)

	// wearbridge: append n events, then deliver them from the store.
	ctx := context.Background()
	s := storetest.Open(t, "sqlite")
	dev, _ := s.CreateDeveloper(ctx)
	u := store.User{ID: "u1", DeveloperID: dev.ID, Provider: "OURA", ProviderUserID: "p1"}
	if err := s.InTx(ctx, func(tx *store.Tx) (err error) { u, _, err = tx.Connect(ctx, u, nil); return err }); err != nil {
		t.Fatal(err)
	}
	in := pipeline.NewIngest(s, slog.New(slog.DiscardHandler), nil)
	for i := 0; i < n; i += 1000 {
		recs := make([]model.Record, 0, 1000)
		for j := i; j < i+1000 && j < n; j++ {
			st := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(j) * time.Minute)
			recs = append(recs, model.Record{Type: model.TypeBody, Key: strconv.Itoa(j), Start: st, End: st.Add(time.Minute),
				Data: map[string]any{"pad": string(body[:1500]), "n": j}})
		}
		if _, err := in.Apply(ctx, u, recs, nil); err != nil {
			t.Fatal(err)
		}
	}
	kinds, _ := destination.NewRegistry(webhook.NewKind(webhook.Options{AllowPrivate: true}))
	settings, _ := json.Marshal(map[string]string{"url": rcv.URL})
	if _, err := s.CreateDestination(ctx, store.Destination{DeveloperID: dev.ID, Kind: "webhook", Settings: settings, Secret: "s", Enabled: true}, false); err != nil {
		t.Fatal(err)
	}
	d := pipeline.NewDeliverer(s, kinds, pipeline.DelivererConfig{Logger: slog.New(slog.DiscardHandler), PollInterval: 5 * time.Millisecond})
	dctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	start = time.Now()
	go func() { _ = d.Run(dctx); close(done) }()
	for got.Load() < int64(n) {
		if time.Since(start) > 5*time.Minute {
			t.Fatalf("delivered %d of %d in 5 min", got.Load(), n)
		}
		time.Sleep(time.Millisecond)
	}
	wb := float64(n) / time.Since(start).Seconds()
	cancel()
	<-done
	fmt.Printf("delivery: %d events, raw HTTP %.0f req/s, wearbridge %.0f events/s (signed, from SQLite, cursor committed per batch), ratio %.2f\n", n, raw, wb, wb/raw)
}
