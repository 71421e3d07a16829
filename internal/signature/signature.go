// Package signature signs and verifies webhook deliveries the way Terra does,
// so receivers written for Terra verify wearbridge deliveries unchanged.
//
// The header is
//
//	terra-signature: t=<unix seconds>,v1=<hex HMAC-SHA256>
//
// where the HMAC is keyed with the destination's secret and computed over
// "<t>.<raw body>". A header may carry several v1 values (one per secret
// while a secret is being rotated); any one of them matching is enough.
package signature

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Header is the name of the HTTP header that carries the signature.
const Header = "terra-signature"

// DefaultTolerance is the clock skew and delivery delay receivers should
// accept by default.
const DefaultTolerance = 5 * time.Minute

// Errors returned by Verify, wrapped with detail; test with errors.Is.
var (
	// ErrMalformed means the header could not be parsed.
	ErrMalformed = errors.New("malformed signature header")
	// ErrStale means the signature's timestamp is outside the tolerance.
	ErrStale = errors.New("signature timestamp outside tolerance")
	// ErrMismatch means no v1 signature in the header matches the body.
	ErrMismatch = errors.New("signature mismatch")
)

// maxSignatures bounds the v1 values Verify looks at, so a hostile header
// cannot make it compute and compare without limit.
const maxSignatures = 16

// sigLen is the length in bytes of one decoded v1 value (SHA-256).
const sigLen = sha256.Size

// Sign returns the terra-signature header value for body, signed with secret
// at time t (truncated to whole seconds; t must not be before 1970).
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

// Verify checks that header is a valid signature of body under secret and
// that its timestamp is within tolerance of now (in either direction; a
// tolerance of zero or less skips the age check). The comparison is
// constant-time. It returns nil when the body is authentic, or an error
// wrapping ErrMalformed, ErrMismatch or ErrStale.
func Verify(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	if secret == "" {
		return errors.New("verify signature: empty secret")
	}
	ts, sigs, err := parse(header)
	if err != nil {
		return err
	}
	want := mac(secret, ts, body)
	match := 0
	for _, s := range sigs {
		match |= subtle.ConstantTimeCompare(want, s) // look at every value
	}
	if match == 0 {
		return fmt.Errorf("%w: none of %d v1 signatures matches the body", ErrMismatch, len(sigs))
	}
	if tolerance > 0 {
		unix, _ := strconv.ParseInt(ts, 10, 64) // parse checked it
		age := now.Sub(time.Unix(unix, 0))
		if age > tolerance || age < -tolerance {
			return fmt.Errorf("%w: signed at t=%s, %s from now, tolerance %s", ErrStale, ts, age.Round(time.Second), tolerance)
		}
	}
	return nil
}

// mac returns HMAC-SHA256(secret, ts + "." + body).
func mac(secret, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// parse splits a header into its timestamp (as sent, digits only) and its
// decoded v1 signatures. Unknown keys (other schemes) are ignored.
func parse(header string) (string, [][]byte, error) {
	if strings.TrimSpace(header) == "" {
		return "", nil, fmt.Errorf("%w: empty header", ErrMalformed)
	}
	var ts string
	var sigs [][]byte
	for part := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return "", nil, fmt.Errorf("%w: element %q is not key=value", ErrMalformed, clip(part))
		}
		switch k {
		case "t":
			if ts != "" {
				return "", nil, fmt.Errorf("%w: more than one t=", ErrMalformed)
			}
			if !isUnixSeconds(v) {
				return "", nil, fmt.Errorf("%w: timestamp %q is not unix seconds", ErrMalformed, clip(v))
			}
			ts = v
		case "v1":
			if len(sigs) == maxSignatures {
				return "", nil, fmt.Errorf("%w: more than %d v1 signatures", ErrMalformed, maxSignatures)
			}
			b, err := hex.DecodeString(v)
			if err != nil || len(b) != sigLen {
				return "", nil, fmt.Errorf("%w: v1 %q is not %d hex characters", ErrMalformed, clip(v), 2*sigLen)
			}
			sigs = append(sigs, b)
		}
	}
	if ts == "" {
		return "", nil, fmt.Errorf("%w: no t= timestamp", ErrMalformed)
	}
	if len(sigs) == 0 {
		return "", nil, fmt.Errorf("%w: no v1= signature", ErrMalformed)
	}
	return ts, sigs, nil
}

// isUnixSeconds reports whether s is a plain non-negative decimal that fits
// in an int64 (no sign, no spaces, at most 19 digits).
func isUnixSeconds(s string) bool {
	if s == "" || len(s) > 19 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	_, err := strconv.ParseInt(s, 10, 64)
	return err == nil
}

// clip shortens s for an error message.
func clip(s string) string {
	const n = 40
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
