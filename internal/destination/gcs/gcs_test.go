package gcs

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"cloud.google.com/go/storage"
	"google.golang.org/api/option"

	"github.com/wearbridge/wearbridge/internal/destination"
	"github.com/wearbridge/wearbridge/internal/destination/objectstore"
	"github.com/wearbridge/wearbridge/internal/destination/objectstore/objectstoretest"
)

// A made-up service-account key: the private key is not a real key.
const fakeKey = `{"type":"service_account","project_id":"p","client_email":"wb@p.iam.gserviceaccount.com","private_key":"-----BEGIN PRIVATE KEY-----\nnot-a-key\n-----END PRIVATE KEY-----\n"}`

func TestParseSettings(t *testing.T) {
	keyAsString, _ := json.Marshal(fakeKey)
	tests := []struct {
		name, in string
		emulator bool
		want     string // "" for valid, else a substring of the error
	}{
		{"key object", `{"bucket":"my-bucket","credentials_json":` + fakeKey + `}`, false, ""},
		{"key string", `{"bucket":"my-bucket","credentials_json":` + string(keyAsString) + `,"prefix":"a/b"}`, false, ""},
		{"endpoint", `{"bucket":"my-bucket","endpoint":"http://127.0.0.1:4443/storage/v1/"}`, false, ""},
		{"emulator", `{"bucket":"my-bucket"}`, true, ""},
		{"no credentials", `{"bucket":"my-bucket"}`, false, "credentials_json is required"},
		{"not a service account", `{"bucket":"my-bucket","credentials_json":{"type":"external_account"}}`, false, "only service_account"},
		{"missing private key", `{"bucket":"my-bucket","credentials_json":{"type":"service_account","client_email":"x"}}`, false, "private_key"},
		{"credentials not JSON", `{"bucket":"my-bucket","credentials_json":"nope"}`, false, "not a JSON"},
		{"no bucket", `{"endpoint":"http://x"}`, false, "bucket: is required"},
		{"uppercase bucket", `{"bucket":"MyBucket","endpoint":"http://x"}`, false, "lowercase"},
		{"bad endpoint", `{"bucket":"bkt","endpoint":"gs://x"}`, false, "endpoint"},
		{"bad prefix", `{"bucket":"bkt","endpoint":"http://x","prefix":"a//b"}`, false, "prefix"},
		{"unknown field", `{"bucket":"bkt","endpoint":"http://x","project":"p"}`, false, "unknown field"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := parseSettings(json.RawMessage(tc.in), tc.emulator)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("error: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one saying %q", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "not-a-key") {
				t.Errorf("error shows the private key: %v", err)
			}
			if tc.name == "endpoint" && s.endpoint != "http://127.0.0.1:4443" {
				t.Errorf("endpoint = %q", s.endpoint)
			}
			if strings.HasPrefix(tc.name, "key ") && (s.privateKey == "" || !json.Valid(s.creds)) {
				t.Errorf("credentials not parsed: %+v", s)
			}
		})
	}
}

// ---------------------------------------------------------------- server tests

// serverAddr returns the fake-gcs-server's host:port from TEST_GCS_ENDPOINT.
func serverAddr(t *testing.T) string {
	t.Helper()
	u, err := url.Parse(objectstoretest.Require(t, "TEST_GCS_ENDPOINT"))
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

func settingsFor(addr, bucket, prefix string) json.RawMessage {
	b, _ := json.Marshal(Settings{Bucket: bucket, Endpoint: "http://" + addr, Prefix: prefix})
	return b
}

// newBucket creates a bucket with a unique name on the server at addr.
func newBucket(addr string) func(t *testing.T) string {
	return func(t *testing.T) string {
		t.Helper()
		c, err := storage.NewClient(t.Context(), option.WithEndpoint("http://"+addr+"/storage/v1/"), option.WithoutAuthentication())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		name := objectstoretest.UniqueName("wbt")
		if err := c.Bucket(name).Create(t.Context(), "test-project", nil); err != nil {
			t.Fatalf("create bucket %s: %v", name, err)
		}
		return name
	}
}

func TestConformance(t *testing.T) {
	addr := serverAddr(t)
	objectstoretest.Run(t, objectstoretest.Server{
		Kind:      NewKind(Options{Logger: objectstoretest.Logger(t)}),
		Addr:      addr,
		MetaSep:   "-",
		NewBucket: newBucket(addr),
		Settings:  settingsFor,
	})
}

// serviceAccountKey returns a service-account key with a fresh RSA key,
// whose tokens come from tokenURL.
func serviceAccountKey(t *testing.T, tokenURL string) (keyJSON, privatePEM string) {
	t.Helper()
	pk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(pk)
	if err != nil {
		t.Fatal(err)
	}
	privatePEM = string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	b, _ := json.Marshal(map[string]string{
		"type": "service_account", "project_id": "p", "private_key_id": "k1", "private_key": privatePEM,
		"client_email": "wb@p.iam.gserviceaccount.com", "client_id": "1", "token_uri": tokenURL,
	})
	return string(b), privatePEM
}

// TestBadCredentials: a service-account key that Google's token endpoint
// refuses fails Open, permanently, with a clear error that does not show
// the key. fake-gcs-server accepts anything, so the token endpoint is
// faked here.
func TestBadCredentials(t *testing.T) {
	addr := serverAddr(t)
	t.Setenv("STORAGE_EMULATOR_HOST", "") // the emulator mode would ignore the key
	tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"error":"invalid_grant","error_description":"Invalid JWT Signature."}`)
	}))
	defer tokens.Close()
	key, private := serviceAccountKey(t, tokens.URL)
	bucket := newBucket(addr)(t)
	raw, _ := json.Marshal(map[string]any{"bucket": bucket, "endpoint": "http://" + addr, "credentials_json": json.RawMessage(key)})
	_, err := NewKind(Options{}).Open(t.Context(), destination.Config{ID: "dst_bad", Settings: raw})
	if err == nil {
		t.Fatal("Open succeeded")
	}
	t.Logf("error: %v", err)
	if !strings.Contains(err.Error(), "credentials were refused") || !strings.Contains(err.Error(), "invalid_grant") {
		t.Errorf("error %q does not say the credentials were refused", err)
	}
	var oe *objectstore.Error
	if !errors.As(err, &oe) || !oe.Permanent {
		t.Errorf("not permanent: %#v", err)
	}
	body := strings.Split(private, "\n")[1] // a line of the key's base64
	if strings.Contains(err.Error(), body) {
		t.Errorf("error shows the private key: %v", err)
	}
}

// TestEmulatorFromEnvironment: with STORAGE_EMULATOR_HOST set, settings
// need only the bucket.
func TestEmulatorFromEnvironment(t *testing.T) {
	objectstoretest.Require(t, "STORAGE_EMULATOR_HOST")
	bucket := newBucket(serverAddr(t))(t)
	d, err := NewKind(Options{}).Open(t.Context(), destination.Config{ID: "dst_env", Settings: json.RawMessage(`{"bucket":"` + bucket + `"}`)})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer d.Close()
	ev := destination.Event{DeliveryID: "dlv_1", Type: "auth", UserID: "u1", Body: json.RawMessage(`{"type":"auth"}`)}
	if r := d.Deliver(t.Context(), []destination.Event{ev}); r[0].Err != nil {
		t.Fatalf("Deliver: %v", r[0].Err)
	}
	got, err := d.(*objectstore.Dest).ReadBack(t.Context(), ev)
	if err != nil || string(got) != `{"type":"auth"}` {
		t.Errorf("ReadBack = %s, %v", got, err)
	}
}
