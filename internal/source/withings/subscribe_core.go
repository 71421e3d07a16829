package withings

import (
	"context"
	"net/http"
	"net/url"
)

// SubscribeUser subscribes the connected user to the default notifications
// at pushURL, with the NotifyToken added when one is configured. It is the
// core's source.Subscriber.
func (p *Provider) SubscribeUser(ctx context.Context, hc *http.Client, pushURL string) error {
	if p.cfg.NotifyToken != "" {
		u, err := url.Parse(pushURL)
		if err != nil {
			return err
		}
		q := u.Query()
		q.Set(NotifyTokenParam, p.cfg.NotifyToken)
		u.RawQuery = q.Encode()
		pushURL = u.String()
	}
	return p.Subscribe(ctx, hc, pushURL)
}
