package connect

import (
	"net/http"
	"sync"
	"time"

	"github.com/wearbridge/wearbridge/internal/source"
)

// limiter spaces requests to one provider so that at most n are started per
// period (an even spacing, not bursts), within this process.
type limiter struct {
	mu       sync.Mutex
	interval time.Duration
	next     time.Time
}

func (c *Connector) limiter(name string, b source.Budgeted, base http.RoundTripper) http.RoundTripper {
	n, per := b.RequestBudget()
	if n <= 0 || per <= 0 {
		return base
	}
	l, _ := c.limiters.LoadOrStore(name, &limiter{interval: per / time.Duration(n)})
	if base == nil {
		base = http.DefaultTransport
	}
	return &limitedTransport{l: l.(*limiter), base: base}
}

// wait reserves the next slot and returns how long to wait for it.
func (l *limiter) reserve(now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.next.Before(now) {
		l.next = now
	}
	wait := l.next.Sub(now)
	l.next = l.next.Add(l.interval)
	return wait
}

type limitedTransport struct {
	l    *limiter
	base http.RoundTripper
}

func (t *limitedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if wait := t.l.reserve(time.Now()); wait > 0 {
		timer := time.NewTimer(wait)
		defer timer.Stop()
		select {
		case <-r.Context().Done():
			return nil, r.Context().Err()
		case <-timer.C:
		}
	}
	return t.base.RoundTrip(r)
}
