package fitbit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	fitbitsource "github.com/wearbridge/wearbridge/internal/source/fitbit"
)

// DefaultVerificationCode is the subscriber verification code
// ProviderConfig configures, as dev.fitbit.com would show it.
const DefaultVerificationCode = "sandbox-subscriber-verification-code"

// firstRecordedDay is the earliest day of the fixtures (the first weight
// log of body_log_weight.json), used when they cannot be read.
const firstRecordedDay = "2015-05-13"

// FirstRecordedDay returns the earliest day the fixtures hold data for.
func FirstRecordedDay() (time.Time, error) {
	days, err := RecordedDays()
	if err != nil {
		return time.Time{}, err
	}
	var first string
	for _, list := range days {
		if len(list) > 0 && (first == "" || list[0] < first) {
			first = list[0]
		}
	}
	if first == "" {
		return time.Time{}, errNoData
	}
	return time.Parse(dateLayout, first)
}

// ProviderConfig returns the provider settings that point at a fake
// mounted at base: the fake's client credentials, its endpoints, the
// verification code, and a backfill deep enough to reach the first
// recorded day from now (plus a day, for users behind UTC).
func ProviderConfig(base string) fitbitsource.Config {
	base = strings.TrimRight(base, "/")
	first, err := FirstRecordedDay()
	if err != nil {
		first, _ = time.Parse(dateLayout, firstRecordedDay)
	}
	return fitbitsource.Config{
		ClientID:                   DefaultClientID,
		ClientSecret:               DefaultClientSecret,
		AuthURL:                    base + "/oauth2/authorize",
		TokenURL:                   base + "/oauth2/token",
		APIBase:                    base,
		BackfillDepth:              time.Since(first) + 48*time.Hour,
		SubscriberVerificationCode: DefaultVerificationCode,
	}
}

// PushAll sends Fitbit's notifications for the recorded data to pushURL,
// as Fitbit's subscription service would for providerUserID: one POST per
// collection (activities, body, sleep), each a JSON array with one
// notification per recorded day, signed in X-Fitbit-Signature with
// DefaultClientSecret. The subscriptionId is providerUserID, the id the
// provider subscribes with. It stops at the first answer that is not 2xx
// and returns how many POSTs were accepted.
func PushAll(ctx context.Context, hc *http.Client, pushURL, providerUserID string) (int, error) {
	days, err := RecordedDays()
	if err != nil {
		return 0, err
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	sent := 0
	for _, coll := range []string{"activities", "body", "sleep"} {
		var list []fitbitsource.Notification
		for _, day := range days[coll] {
			list = append(list, fitbitsource.Notification{
				CollectionType: coll,
				Date:           day,
				OwnerID:        providerUserID,
				OwnerType:      "user",
				SubscriptionID: providerUserID,
			})
		}
		if len(list) == 0 {
			continue
		}
		body, err := json.Marshal(list)
		if err != nil {
			return sent, fmt.Errorf("encode %s notifications: %w", coll, err)
		}
		if err := notify(ctx, hc, pushURL, body, DefaultClientSecret); err != nil {
			return sent, fmt.Errorf("notify %s: %w", coll, err)
		}
		sent++
	}
	return sent, nil
}

// notify POSTs one signed notification body.
func notify(ctx context.Context, hc *http.Client, pushURL string, body []byte, secret string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, pushURL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(fitbitsource.SignatureHeader, fitbitsource.Sign(body, secret))
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	reply, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<12)) // best effort, for the error message
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("status %d: %s", resp.StatusCode, strings.TrimSpace(string(reply)))
	}
	return nil
}
