package strava

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"golang.org/x/oauth2"

	"github.com/wearbridge/wearbridge/internal/model"
	"github.com/wearbridge/wearbridge/internal/source"
	stravasrc "github.com/wearbridge/wearbridge/internal/source/strava"
)

// receiver is a push endpoint like the core's: GET goes to the provider's
// VerifySubscription, POST to ParsePush. failAt answers 503 to the n-th
// event (1-based).
type receiver struct {
	p       *stravasrc.Provider
	mu      sync.Mutex
	batches []source.PushBatch
	posts   int
	failAt  int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet {
		rc.p.VerifySubscription(w, r)
		return
	}
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.posts++
	if rc.posts == rc.failAt {
		http.Error(w, "storage down", http.StatusServiceUnavailable)
		return
	}
	if r.Header.Get("Content-Type") != "application/json" {
		http.Error(w, "want JSON", http.StatusBadRequest)
		return
	}
	bs, err := rc.p.ParsePush(r.Context(), r, body)
	if errors.Is(err, source.ErrBadPush) {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rc.batches = append(rc.batches, bs...)
	w.WriteHeader(http.StatusOK)
}

type memSink struct {
	recs  []model.Record
	probs []model.Problem
}

func (s *memSink) Records(_ context.Context, recs []model.Record) error {
	s.recs = append(s.recs, recs...)
	return nil
}

func (s *memSink) Problem(_ context.Context, p model.Problem) error {
	s.probs = append(s.probs, p)
	return nil
}

// TestPushAllEndToEnd: the provider verifies the fake's subscription
// handshake, turns each event into an item pull, and fetching those items
// from the fake gives every served activity.
func TestPushAllEndToEnd(t *testing.T) {
	fake, api, _ := newTest(t, Config{})
	p := stravasrc.New(ProviderConfig(api.URL))
	rc := &receiver{p: p}
	hook := httptest.NewServer(rc)
	t.Cleanup(hook.Close)

	n, err := PushAll(context.Background(), hook.Client(), hook.URL+"/push/strava", "26462176")
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "events", n, 32)
	eq(t, "batches", len(rc.batches), 32)
	hc := oauth2.NewClient(context.Background(), oauth2.StaticTokenSource(fake.Token(26462176)))
	var sink memSink
	for i, b := range rc.batches {
		eq(t, "owner", b.ProviderUserID, "26462176")
		if len(b.Pulls) != 1 || b.Revoked || len(b.Problems) != 0 {
			t.Fatalf("batch %d = %+v", i, b)
		}
		eq(t, "item", b.Pulls[0].ItemID, strconv.FormatInt(fake.ActivityIDs()[i], 10))
		if err := p.FetchItem(context.Background(), hc, b.Pulls[0].Type, b.Pulls[0].ItemID, &sink); err != nil {
			t.Fatal(err)
		}
	}
	eq(t, "records", len(sink.recs), 32)
	// The marathon's streams have no time stream.
	if len(sink.probs) != 1 || !strings.Contains(sink.probs[0].Err, "no time stream") {
		t.Errorf("problems = %+v", sink.probs)
	}

	if err := PushDeauthorization(context.Background(), hook.Client(), hook.URL+"/push/strava", "26462176", 1700000000); err != nil {
		t.Fatal(err)
	}
	last := rc.batches[len(rc.batches)-1]
	if !last.Revoked || last.ProviderUserID != "26462176" {
		t.Errorf("deauthorization batch = %+v", last)
	}
}

func TestPushAllRefused(t *testing.T) {
	tests := []struct {
		name    string
		cfg     stravasrc.Config
		failAt  int
		user    string
		sent    int
		posts   int
		wantErr string
	}{
		{"wrong verify token", stravasrc.Config{VerifyToken: "another"}, 0, "26462176", 0, 0, "status 403"},
		{"other subscription", stravasrc.Config{VerifyToken: VerifyToken, SubscriptionID: 1}, 0, "26462176", 0, 1, "status 400"},
		{"receiver down", stravasrc.Config{VerifyToken: VerifyToken}, 2, "26462176", 1, 2, "status 503"},
		{"not an athlete id", stravasrc.Config{VerifyToken: VerifyToken}, 0, "alice", 0, 0, "not a positive integer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := &receiver{p: stravasrc.New(tt.cfg), failAt: tt.failAt}
			hook := httptest.NewServer(rc)
			t.Cleanup(hook.Close)
			n, err := PushAll(context.Background(), hook.Client(), hook.URL, tt.user)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			eq(t, "accepted", n, tt.sent)
			eq(t, "posts", rc.posts, tt.posts)
		})
	}
}
