package e2e_test

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wearbridge/wearbridge/internal/app"
	"github.com/wearbridge/wearbridge/internal/store/storetest"
)

type deadLetter struct {
	DestinationID string `json:"destination_id"`
	DeliveryID    string `json:"delivery_id"`
	EventType     string `json:"event_type"`
	UserID        string `json:"user_id"`
	Attempts      int    `json:"attempts"`
	LastError     string `json:"last_error"`
}

// TestDeadLetterAndRedrive: a receiver that always fails turns an event
// into a dead letter after MaxAttempts tries; the API lists it, and a
// redrive delivers it to the now healthy receiver under the same delivery
// id.
func TestDeadLetterAndRedrive(t *testing.T) {
	t.Parallel()
	for _, d := range storetest.Dialects(t) {
		t.Run(storetest.Name(d), func(t *testing.T) {
			e := start(t, d, func(c *app.Config) { c.Delivery.MaxAttempts = 3 })
			dev := e.newDeveloper()
			rc := newReceiver(t)
			var healthy atomic.Bool
			rc.setAnswer(func(int) int {
				if healthy.Load() {
					return http.StatusOK
				}
				return http.StatusInternalServerError
			})
			// Only auth events, so that exactly one event is at stake.
			dstID := e.addWebhook(dev, rc, []string{"auth"}, "")
			_, userID := e.connect(dev, "OURA", "dead-letter", "")

			var dl struct {
				DeadLetters []deadLetter `json:"dead_letters"`
			}
			waitFor(t, "a dead letter in GET /deadLetters", func() bool {
				e.callJSON(http.MethodGet, "/deadLetters", dev, nil, http.StatusOK, &dl)
				return len(dl.DeadLetters) > 0
			})
			if len(dl.DeadLetters) != 1 {
				t.Fatalf("dead letters = %+v, want one", dl.DeadLetters)
			}
			got := dl.DeadLetters[0]
			if got.DestinationID != dstID || got.EventType != "auth" || got.UserID != userID || got.Attempts != 3 {
				t.Errorf("dead letter = %+v, want destination %s, event auth, user %s, 3 attempts", got, dstID, userID)
			}
			if !strings.Contains(got.LastError, "500") {
				t.Errorf("last_error = %q, want the receiver's 500", got.LastError)
			}
			// Filtered by destination, and hidden from other developers.
			e.callJSON(http.MethodGet, "/deadLetters?destination_id="+dstID, dev, nil, http.StatusOK, &dl)
			if len(dl.DeadLetters) != 1 {
				t.Errorf("dead letters of %s = %d, want 1", dstID, len(dl.DeadLetters))
			}
			other := e.newDeveloper()
			e.callJSON(http.MethodGet, "/deadLetters", other, nil, http.StatusOK, &dl)
			if len(dl.DeadLetters) != 0 {
				t.Errorf("another developer sees %d dead letters", len(dl.DeadLetters))
			}
			if status, body := e.call(http.MethodPost, "/destinations/"+dstID+"/redrive", other, nil); status != http.StatusNotFound {
				t.Errorf("redrive by another developer: %d %s, want 404", status, body)
			}

			// A dead letter is not tried again on its own.
			time.Sleep(300 * time.Millisecond) // > RetryMax + several poll intervals
			tries := rc.all()
			if len(tries) != 3 {
				t.Fatalf("receiver got %d requests, want 3 (MaxAttempts)", len(tries))
			}
			for i, r := range tries {
				if r.ID != got.DeliveryID || r.Status != http.StatusInternalServerError {
					t.Errorf("try %d: delivery id %q status %d, want %q and 500", i+1, r.ID, r.Status, got.DeliveryID)
				}
			}

			healthy.Store(true)
			var rd struct {
				Redriven int `json:"redriven"`
			}
			e.callJSON(http.MethodPost, "/destinations/"+dstID+"/redrive", dev, nil, http.StatusOK, &rd)
			if rd.Redriven != 1 {
				t.Errorf("redriven = %d, want 1", rd.Redriven)
			}
			waitFor(t, "the redriven delivery", func() bool { return len(rc.delivered()) == 1 })
			e.waitIdle()
			if ok := rc.delivered()[0]; ok.ID != got.DeliveryID || ok.Type != "auth" {
				t.Errorf("redriven delivery = %s (%s), want %s (auth)", ok.ID, ok.Type, got.DeliveryID)
			}
			if n := len(rc.all()); n != 4 {
				t.Errorf("receiver got %d requests, want 3 failed + 1 redriven", n)
			}
			rc.checkSignatures(t)
			e.callJSON(http.MethodGet, "/deadLetters", dev, nil, http.StatusOK, &dl)
			if len(dl.DeadLetters) != 0 {
				t.Errorf("dead letters after redrive = %+v, want none", dl.DeadLetters)
			}
		})
	}
}
