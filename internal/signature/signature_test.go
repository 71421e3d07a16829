package signature

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// Test vectors, computed outside Go with OpenSSL:
//
//	printf '%s' '1700000000.{"type":"auth"}' | openssl dgst -sha256 -hmac secret
//	printf '%s' '1700000000.{"type":"auth"}' | openssl dgst -sha256 -hmac old-secret
//	printf '%s' '1723808700.{"type":"healthcheck","status":"success"}' | openssl dgst -sha256 -hmac 'whsec_test'
//	printf '%s' '1700000000.' | openssl dgst -sha256 -hmac secret
const (
	authBody      = `{"type":"auth"}`
	authMAC       = "3a9d1003aa0b50b0a2d569458765d5015ab3f22c3c9b02f146909c95a583a1f5" // key "secret"
	authMACOld    = "ec20e0478e488bc2a770edf7a7b3509a82b2f232e6987b42f2717f9d3ab4bd4e" // key "old-secret"
	healthBody    = `{"type":"healthcheck","status":"success"}`
	healthMAC     = "c24a817ae154bee497f740e13244f424a995e864c02a0d8d6ad41fe255b4f0e3" // key "whsec_test", t=1723808700
	emptyBodyMAC  = "4bc5f74d868b97888288889c5d9d65df02526f94c1592a79fdf4fe8b26e311e5" // key "secret", body ""
	authUnix      = 1700000000
	authHeader    = "t=1700000000,v1=" + authMAC
	authHeaderOld = "t=1700000000,v1=" + authMACOld
)

var authTime = time.Unix(authUnix, 0)

func TestSign(t *testing.T) {
	tests := []struct {
		name   string
		secret string
		t      time.Time
		body   string
		want   string
	}{
		{"auth", "secret", authTime, authBody, authHeader},
		{"sub-second time truncates", "secret", authTime.Add(999 * time.Millisecond), authBody, authHeader},
		{"other secret", "old-secret", authTime, authBody, authHeaderOld},
		{"healthcheck", "whsec_test", time.Unix(1723808700, 0), healthBody, "t=1723808700,v1=" + healthMAC},
		{"empty body", "secret", authTime, "", "t=1700000000,v1=" + emptyBodyMAC},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Sign(tt.secret, tt.t, []byte(tt.body)); got != tt.want {
				t.Errorf("Sign() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestVerify(t *testing.T) {
	tol := 5 * time.Minute
	tests := []struct {
		name    string
		secret  string
		header  string
		body    string
		now     time.Time
		tol     time.Duration
		wantErr error // nil means valid
	}{
		{"valid", "secret", authHeader, authBody, authTime, tol, nil},
		{"valid, uppercase hex", "secret", "t=1700000000,v1=" + strings.ToUpper(authMAC), authBody, authTime, tol, nil},
		{"valid, spaces after commas", "secret", "t=1700000000, v1=" + authMAC, authBody, authTime, tol, nil},
		{"valid, v1 before t", "secret", "v1=" + authMAC + ",t=1700000000", authBody, authTime, tol, nil},
		{"valid, unknown scheme ignored", "secret", authHeader + ",v0=whatever", authBody, authTime, tol, nil},
		{"valid, 5 minutes old", "secret", authHeader, authBody, authTime.Add(5 * time.Minute), tol, nil},
		{"valid, 5 minutes ahead", "secret", authHeader, authBody, authTime.Add(-5 * time.Minute), tol, nil},
		{"valid, zero tolerance skips age", "secret", authHeader, authBody, authTime.Add(1000 * time.Hour), 0, nil},
		{"rotation, new secret second", "secret", authHeaderOld + ",v1=" + authMAC, authBody, authTime, tol, nil},
		{"rotation, old secret first", "old-secret", authHeaderOld + ",v1=" + authMAC, authBody, authTime, tol, nil},
		{"healthcheck vector", "whsec_test", "t=1723808700,v1=" + healthMAC, healthBody, time.Unix(1723808700, 0), tol, nil},
		{"empty body", "secret", "t=1700000000,v1=" + emptyBodyMAC, "", authTime, tol, nil},

		{"tampered body", "secret", authHeader, `{"type":"auth "}`, authTime, tol, ErrMismatch},
		{"tampered timestamp", "secret", "t=1700000001,v1=" + authMAC, authBody, authTime, tol, ErrMismatch},
		{"wrong secret", "wrong", authHeader, authBody, authTime, tol, ErrMismatch},
		{"empty-body mac on a body", "secret", "t=1700000000,v1=" + emptyBodyMAC, authBody, authTime, tol, ErrMismatch},
		{"mismatch beats stale", "wrong", authHeader, authBody, authTime.Add(time.Hour), tol, ErrMismatch},
		{"stale, 5m01s old", "secret", authHeader, authBody, authTime.Add(5*time.Minute + time.Second), tol, ErrStale},
		{"stale, a day old", "secret", authHeader, authBody, authTime.Add(24 * time.Hour), tol, ErrStale},
		{"stale, from the future", "secret", authHeader, authBody, authTime.Add(-time.Hour), tol, ErrStale},

		{"empty header", "secret", "", authBody, authTime, tol, ErrMalformed},
		{"blank header", "secret", "   ", authBody, authTime, tol, ErrMalformed},
		{"no equals", "secret", "garbage", authBody, authTime, tol, ErrMalformed},
		{"no timestamp", "secret", "v1=" + authMAC, authBody, authTime, tol, ErrMalformed},
		{"no signature", "secret", "t=1700000000", authBody, authTime, tol, ErrMalformed},
		{"only other scheme", "secret", "t=1700000000,v0=" + authMAC, authBody, authTime, tol, ErrMalformed},
		{"two timestamps", "secret", "t=1700000000,t=1700000000,v1=" + authMAC, authBody, authTime, tol, ErrMalformed},
		{"timestamp not a number", "secret", "t=abc,v1=" + authMAC, authBody, authTime, tol, ErrMalformed},
		{"negative timestamp", "secret", "t=-1,v1=" + authMAC, authBody, authTime, tol, ErrMalformed},
		{"signed timestamp", "secret", "t=+1700000000,v1=" + authMAC, authBody, authTime, tol, ErrMalformed},
		{"timestamp in ms overflows int64", "secret", "t=99999999999999999999,v1=" + authMAC, authBody, authTime, tol, ErrMalformed},
		{"empty timestamp", "secret", "t=,v1=" + authMAC, authBody, authTime, tol, ErrMalformed},
		{"short signature", "secret", "t=1700000000,v1=" + authMAC[:62], authBody, authTime, tol, ErrMalformed},
		{"long signature", "secret", "t=1700000000,v1=" + authMAC + "00", authBody, authTime, tol, ErrMalformed},
		{"non-hex signature", "secret", "t=1700000000,v1=" + strings.Repeat("zz", 32), authBody, authTime, tol, ErrMalformed},
		{"empty signature", "secret", "t=1700000000,v1=", authBody, authTime, tol, ErrMalformed},
		{"trailing comma", "secret", authHeader + ",", authBody, authTime, tol, ErrMalformed},
		{"semicolons", "secret", "t=1700000000;v1=" + authMAC, authBody, authTime, tol, ErrMalformed},
		{"too many signatures", "secret", "t=1700000000" + strings.Repeat(",v1="+authMAC, maxSignatures+1), authBody, authTime, tol, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify(tt.secret, tt.header, []byte(tt.body), tt.now, tt.tol)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Verify() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Verify() = %v, want an error wrapping %v", err, tt.wantErr)
			}
		})
	}
}

func TestVerifyEmptySecret(t *testing.T) {
	// The empty-key HMAC of the auth vector would be a valid signature if
	// empty secrets were accepted; they never are.
	h := Sign("", authTime, []byte(authBody))
	if err := Verify("", h, []byte(authBody), authTime, time.Minute); err == nil {
		t.Fatal("Verify with an empty secret = nil, want an error")
	}
}

func FuzzVerify(f *testing.F) {
	seeds := []string{
		authHeader,
		authHeaderOld + ",v1=" + authMAC,
		"",
		"t=",
		"v1=",
		"t=1700000000,v1=zz",
		"t=99999999999999999999,v1=" + authMAC,
		",,,,=,=",
		"t=1700000000,v1=" + authMAC + ",v0=x,t=1",
	}
	for _, s := range seeds {
		f.Add("secret", s, []byte(authBody), int64(authUnix))
	}
	f.Fuzz(func(t *testing.T, secret, header string, body []byte, nowUnix int64) {
		now := time.Unix(nowUnix, 0)
		_ = Verify(secret, header, body, now, DefaultTolerance) // must not panic
		if secret == "" || nowUnix < 0 {
			return
		}
		// What Sign produces, Verify accepts (for times after 1970).
		if err := Verify(secret, Sign(secret, now, body), body, now, DefaultTolerance); err != nil {
			t.Fatalf("Verify(Sign()) = %v", err)
		}
	})
}
