// Package offload builds the s3_payload event that queue and log
// destinations (SQS, Kafka) send instead of an event too large for them:
// it links to the full envelope, fetched from the core's signed payload URL.
package offload

import (
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"time"
)

// payloadEvent is the s3_payload event (S3PayloadEvent.yaml) that stands in
// for an event too large to send: url serves the full envelope.
type payloadEvent struct {
	Type      string          `json:"type"`
	Status    string          `json:"status"`
	URL       string          `json:"url"`
	ExpiresIn int64           `json:"expires_in"`
	User      json.RawMessage `json:"user,omitempty"`
	Version   json.RawMessage `json:"version,omitempty"`
}

// PayloadBody returns the s3_payload event for an event whose envelope is
// body and which can be fetched at link, with the user and version of the
// original envelope.
func PayloadBody(body []byte, link string, now time.Time) ([]byte, error) {
	var env struct {
		User    json.RawMessage `json:"user"`
		Version json.RawMessage `json:"version"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("decode envelope: %w", err)
	}
	if string(env.User) == "null" {
		env.User = nil
	}
	if string(env.Version) == "null" {
		env.Version = nil
	}
	return json.Marshal(payloadEvent{
		Type: "s3_payload", Status: "success", URL: link, ExpiresIn: ExpiresIn(link, now),
		User: env.User, Version: env.Version,
	})
}

// ExpiresIn returns how many seconds from now a signed URL stays valid, read
// from its query: wearbridge's own payload URLs (exp, unix seconds), S3 and
// GCS V4 presigned URLs (X-Amz-Date + X-Amz-Expires, X-Goog-Date +
// X-Goog-Expires), Azure SAS (se) and V2 presigned URLs (Expires, unix
// seconds). It returns 0 when the URL does not say or has expired.
func ExpiresIn(link string, now time.Time) int64 {
	u, err := url.Parse(link)
	if err != nil {
		return 0
	}
	q := u.Query()
	var until time.Time
	switch {
	case q.Get("exp") != "":
		until = unixTime(q.Get("exp"))
	case q.Get("X-Amz-Expires") != "":
		until = signedUntil(q.Get("X-Amz-Date"), q.Get("X-Amz-Expires"))
	case q.Get("X-Goog-Expires") != "":
		until = signedUntil(q.Get("X-Goog-Date"), q.Get("X-Goog-Expires"))
	case q.Get("se") != "":
		until, _ = time.Parse(time.RFC3339, q.Get("se"))
	case q.Get("Expires") != "":
		until = unixTime(q.Get("Expires"))
	}
	if until.IsZero() || !until.After(now) {
		return 0
	}
	return int64(until.Sub(now) / time.Second)
}

// unixTime parses unix seconds; the zero time when s is not a number.
func unixTime(s string) time.Time {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n > math.MaxInt64/int64(time.Second) {
		return time.Time{}
	}
	return time.Unix(n, 0)
}

// signedUntil is the end of a V4 presigned URL's validity: its signing date
// (20060102T150405Z) plus its lifetime in seconds.
func signedUntil(date, secs string) time.Time {
	t, err := time.Parse("20060102T150405Z", date)
	n, err2 := strconv.ParseInt(secs, 10, 64)
	if err != nil || err2 != nil || n < 0 || n > 1<<31 {
		return time.Time{}
	}
	return t.Add(time.Duration(n) * time.Second)
}
