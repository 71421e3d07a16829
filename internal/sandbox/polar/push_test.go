package polar

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
	"github.com/wearbridge/wearbridge/internal/source"
	"github.com/wearbridge/wearbridge/internal/source/polar"
)

// receiver runs the provider's ParsePush on each delivery, as the core's
// push endpoint does, and answers 400 to a refused one.
type receiver struct {
	mu      sync.Mutex
	p       *polar.Provider
	batches []source.PushBatch
	events  []string
	failAt  int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.events = append(rc.events, r.Header.Get("Polar-Webhook-Event"))
	if len(rc.events) == rc.failAt {
		http.Error(w, "storage down", http.StatusServiceUnavailable)
		return
	}
	bs, err := rc.p.ParsePush(r.Context(), r, body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rc.batches = append(rc.batches, bs...)
	w.WriteHeader(http.StatusOK)
}

func TestPushAll(t *testing.T) {
	rc := &receiver{p: polar.New(ProviderConfig("http://unused"))}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	n, err := PushAll(context.Background(), srv.Client(), srv.URL+"/push/polar", "1")
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "accepted", n, 4)
	eq(t, "events", strings.Join(rc.events, ","), "PING,EXERCISE,SLEEP,CONTINUOUS_HEART_RATE")
	eq(t, "batches", len(rc.batches), 3) // the PING carries nothing
	want := []source.PullRequest{
		{Type: model.TypeActivity, ItemID: "2AC312F"},
		{Type: model.TypeSleep, Start: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2020, 1, 2, 0, 0, 0, 0, time.UTC)},
		{Type: model.TypeDaily, Start: time.Date(2022, 9, 12, 0, 0, 0, 0, time.UTC), End: time.Date(2022, 9, 13, 0, 0, 0, 0, time.UTC)},
	}
	for i, b := range rc.batches {
		eq(t, "user", b.ProviderUserID, "1")
		if len(b.Pulls) != 1 || len(b.Problems) != 0 {
			t.Fatalf("batch %d = %+v", i, b)
		}
		got := b.Pulls[0]
		if got.Type != want[i].Type || got.ItemID != want[i].ItemID || !got.Start.Equal(want[i].Start) || !got.End.Equal(want[i].End) {
			t.Errorf("pull %d = %+v, want %+v", i, got, want[i])
		}
	}
}

// TestPushAllSignature: a receiver with another secret refuses the
// deliveries (the PING still passes); PushAll stops there.
func TestPushAllSignature(t *testing.T) {
	cfg := ProviderConfig("http://unused")
	cfg.WebhookSecret = "another"
	rc := &receiver{p: polar.New(cfg)}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	n, err := PushAll(context.Background(), srv.Client(), srv.URL, "1")
	if err == nil || !strings.Contains(err.Error(), "status 400") || !strings.Contains(err.Error(), "Polar-Webhook-Signature") {
		t.Fatalf("err = %v, want the refusal", err)
	}
	eq(t, "accepted", n, 1)
}

func TestPushAllStopsAtARejection(t *testing.T) {
	rc := &receiver{p: polar.New(ProviderConfig("http://unused")), failAt: 3}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	n, err := PushAll(context.Background(), srv.Client(), srv.URL, "1")
	if err == nil || !strings.Contains(err.Error(), "status 503") || !strings.Contains(err.Error(), "storage down") {
		t.Fatalf("err = %v, want the status and body", err)
	}
	eq(t, "accepted", n, 2)
	if _, err := PushAll(context.Background(), srv.Client(), srv.URL, "alice"); err == nil {
		t.Error("non-numeric user: no error")
	}
}
