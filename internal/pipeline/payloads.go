package pipeline

import (
	"context"
	"crypto/hmac"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wearbridge/wearbridge/internal/destination"
	"github.com/wearbridge/wearbridge/internal/secretbox"
	"github.com/wearbridge/wearbridge/internal/store"
)

// PayloadURLs is wearbridge's own offloader for events too large for a
// queue message: it hands out signed, expiring URLs at which the event body
// can be fetched (GET /payloads/{seq}?exp=...&sig=...).
type PayloadURLs struct {
	PublicURL string
	Box       *secretbox.Box
	Store     *store.Store
	// TTL is how long a URL works. Default 7 days.
	TTL time.Duration
	Now func() time.Time
}

var _ destination.Offloader = (*PayloadURLs)(nil)

func (p *PayloadURLs) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p *PayloadURLs) sign(seq int64, exp int64) string {
	return p.Box.MAC("payload-url", []byte(strconv.FormatInt(seq, 10)+"."+strconv.FormatInt(exp, 10)))
}

// Offload returns the signed URL of ev's body; the body stays in the event
// log, so nothing is written.
func (p *PayloadURLs) Offload(_ context.Context, ev destination.Event) (string, error) {
	ttl := p.TTL
	if ttl <= 0 {
		ttl = 7 * 24 * time.Hour
	}
	exp := p.now().Add(ttl).Unix()
	return fmt.Sprintf("%s/payloads/%d?exp=%d&sig=%s", strings.TrimRight(p.PublicURL, "/"), ev.Seq, exp, p.sign(ev.Seq, exp)), nil
}

// ServeHTTP serves GET /payloads/{seq}.
func (p *PayloadURLs) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	seq, err1 := strconv.ParseInt(r.PathValue("seq"), 10, 64)
	exp, err2 := strconv.ParseInt(r.URL.Query().Get("exp"), 10, 64)
	sig := r.URL.Query().Get("sig")
	if err1 != nil || err2 != nil || !hmac.Equal([]byte(sig), []byte(p.sign(seq, exp))) {
		http.Error(w, "invalid payload link", http.StatusForbidden)
		return
	}
	if p.now().Unix() > exp {
		http.Error(w, "payload link expired", http.StatusGone)
		return
	}
	evs, err := p.Store.EventsBySeq(r.Context(), []int64{seq})
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if len(evs) == 0 {
		http.Error(w, "payload not found", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(evs[0].Body)
}
