package garmin

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/wearbridge/wearbridge/internal/sandbox/fixtures"
)

// receiver records the pushes it gets and answers status to the n-th
// (1-based) one when failAt is set.
type receiver struct {
	mu     sync.Mutex
	bodies [][]byte
	failAt int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
		http.Error(w, "want a JSON POST", http.StatusBadRequest)
		return
	}
	rc.bodies = append(rc.bodies, body)
	if len(rc.bodies) == rc.failAt {
		http.Error(w, "storage down", http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func TestPushAllSendsTheRecordedBytes(t *testing.T) {
	rc := &receiver{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	n, err := PushAll(context.Background(), srv.Client(), srv.URL+"/push/garmin")
	if err != nil {
		t.Fatal(err)
	}
	// Five recorded files in internal/sandbox/fixtures/garmin.
	if n != 5 || len(rc.bodies) != 5 {
		t.Fatalf("accepted %d, received %d; want 5", n, len(rc.bodies))
	}
	files := []string{"push_body_comps.json", "push_dailies.json", "push_pulseox.json", "push_respiration.json", "push_sleeps.json"}
	for i, f := range files {
		want, err := fs.ReadFile(fixtures.FS, "garmin/"+f)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(rc.bodies[i], want) {
			t.Errorf("push %d is not %s byte for byte", i, f)
		}
	}
}

func TestPushAllStopsAtARejection(t *testing.T) {
	rc := &receiver{failAt: 2}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	n, err := PushAll(context.Background(), srv.Client(), srv.URL)
	if err == nil || !strings.Contains(err.Error(), "status 503") || !strings.Contains(err.Error(), "storage down") {
		t.Fatalf("err = %v, want the status and body", err)
	}
	if n != 1 || len(rc.bodies) != 2 {
		t.Errorf("accepted %d, received %d; want 1 and 2", n, len(rc.bodies))
	}
}
