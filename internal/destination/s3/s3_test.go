package s3

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/wearbridge/wearbridge/internal/destination"
	"github.com/wearbridge/wearbridge/internal/destination/objectstore"
	"github.com/wearbridge/wearbridge/internal/destination/objectstore/objectstoretest"
)

func TestParseSettings(t *testing.T) {
	tests := []struct {
		name, in, want string // want: "" for valid, else a substring of the error
	}{
		{"aws", `{"bucket":"my-bucket","region":"eu-west-1","access_key_id":"AK","secret_access_key":"SK"}`, ""},
		{"compatible", `{"bucket":"b_1","endpoint":"http://127.0.0.1:9000/","access_key_id":"AK","secret_access_key":"SK","prefix":"a/b"}`, ""},
		{"no bucket", `{"region":"eu-west-1","access_key_id":"AK","secret_access_key":"SK"}`, "bucket: is required"},
		{"bad bucket", `{"bucket":"a/b","region":"eu-west-1","access_key_id":"AK","secret_access_key":"SK"}`, "bucket"},
		{"no region", `{"bucket":"bkt","access_key_id":"AK","secret_access_key":"SK"}`, "region is required"},
		{"no key", `{"bucket":"bkt","region":"r","secret_access_key":"SK"}`, "access_key_id is required"},
		{"no secret", `{"bucket":"bkt","region":"r","access_key_id":"AK"}`, "secret_access_key is required"},
		{"bad endpoint", `{"bucket":"bkt","endpoint":"ftp://x","access_key_id":"AK","secret_access_key":"SK"}`, "endpoint"},
		{"endpoint with user", `{"bucket":"bkt","endpoint":"http://u:p@x","access_key_id":"AK","secret_access_key":"SK"}`, "user:password"},
		{"bad prefix", `{"bucket":"bkt","region":"r","access_key_id":"AK","secret_access_key":"SK","prefix":"a/../b"}`, "prefix"},
		{"unknown field", `{"bucket":"bkt","region":"r","access_key_id":"AK","secret_access_key":"SK","acl":"public"}`, "unknown field"},
		{"empty", ``, "bucket: is required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := parseSettings(json.RawMessage(tc.in))
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("error: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one saying %q", err, tc.want)
			}
			if err == nil && strings.Contains(tc.in, "endpoint") && (s.Region != "us-east-1" || s.Endpoint != "http://127.0.0.1:9000" || s.Prefix != "a/b") {
				t.Errorf("settings = %+v", s)
			}
		})
	}
}

// ---------------------------------------------------------------- server tests

// env is the test server's settings from scripts/test-servers.
type env struct {
	endpoint, key, secret, region string
}

func serverEnv(t *testing.T) env {
	t.Helper()
	return env{
		endpoint: objectstoretest.Require(t, "TEST_S3_ENDPOINT"),
		key:      objectstoretest.Require(t, "TEST_S3_ACCESS_KEY"),
		secret:   objectstoretest.Require(t, "TEST_S3_SECRET_KEY"),
		region:   objectstoretest.Require(t, "TEST_S3_REGION"),
	}
}

func (e env) settings(addr, bucket, prefix string) json.RawMessage {
	b, _ := json.Marshal(Settings{Bucket: bucket, Region: e.region, Endpoint: "http://" + addr,
		AccessKeyID: e.key, SecretAccessKey: e.secret, Prefix: prefix})
	return b
}

// newBucket creates a bucket with a unique name.
func (e env) newBucket(t *testing.T) string {
	t.Helper()
	c := s3.New(s3.Options{Region: e.region, Credentials: credentials.NewStaticCredentialsProvider(e.key, e.secret, ""),
		BaseEndpoint: aws.String(e.endpoint), UsePathStyle: true})
	name := objectstoretest.UniqueName("wbt")
	if _, err := c.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: &name}); err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
	return name
}

func TestConformance(t *testing.T) {
	e := serverEnv(t)
	u, err := url.Parse(e.endpoint)
	if err != nil {
		t.Fatal(err)
	}
	objectstoretest.Run(t, objectstoretest.Server{
		Kind:      NewKind(Options{Logger: objectstoretest.Logger(t)}),
		Addr:      u.Host,
		MetaSep:   "-",
		NewBucket: e.newBucket,
		Settings:  e.settings,
	})
}

// TestBucketDeletedLater: a destination whose bucket disappears fails
// retryably, with a message naming the bucket.
func TestBucketDeletedLater(t *testing.T) {
	e := serverEnv(t)
	u, _ := url.Parse(e.endpoint)
	bucket := e.newBucket(t)
	d, err := NewKind(Options{}).Open(t.Context(), destination.Config{ID: "dst_1", Settings: e.settings(u.Host, bucket, "")})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	c := d.(*objectstore.Dest).Store().(*store).client
	if _, err := c.DeleteBucket(t.Context(), &s3.DeleteBucketInput{Bucket: &bucket}); err != nil {
		t.Fatal(err)
	}
	ev := destination.Event{DeliveryID: "dlv_1", Type: "auth", UserID: "u1", Body: json.RawMessage(`{"type":"auth"}`)}
	r := d.Deliver(t.Context(), []destination.Event{ev})[0]
	t.Logf("error: %v", r.Err)
	if r.Err == nil || r.Permanent || !strings.Contains(r.Err.Error(), `bucket "`+bucket+`" does not exist`) {
		t.Errorf("result %+v, want a retryable error saying the bucket does not exist", r)
	}
}

// TestSecretNotInErrors: the secret key appears in no error, even for a
// refused request.
func TestSecretNotInErrors(t *testing.T) {
	const secret = "very-secret-key-do-not-show"
	s := &store{bucket: "bkt", endpoint: "http://127.0.0.1:1", secret: secret}
	err := s.fail("put x", errors.New("signature for "+secret+" failed"))
	if strings.Contains(err.Error(), secret) {
		t.Errorf("error shows the secret: %v", err)
	}
}

// fakeS3 answers like S3 would in the cases TestErrors needs: every
// request to bucket "denied" is refused, "busy" is throttled, "old"
// refuses conditional requests with 501.
func fakeS3(t *testing.T) (*httptest.Server, *atomic.Int32) {
	var conditional atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bucket, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		fail := func(status int, code, msg string) {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(status)
			if r.Method != http.MethodHead {
				fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>%s</Message><RequestId>r1</RequestId></Error>`, code, msg)
			}
		}
		switch {
		case bucket == "denied":
			fail(http.StatusForbidden, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.")
		case bucket == "busy":
			fail(http.StatusServiceUnavailable, "SlowDown", "Please reduce your request rate.")
		case r.Header.Get("If-Match") != "" || r.Header.Get("If-None-Match") != "":
			conditional.Add(1)
			fail(http.StatusNotImplemented, "NotImplemented", "A header you provided implies functionality that is not implemented.")
		case r.Method == http.MethodHead:
			w.WriteHeader(http.StatusNotFound)
		case r.Method == http.MethodGet && r.URL.Query().Get("list-type") == "2":
			fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>old</Name><KeyCount>0</KeyCount><IsTruncated>false</IsTruncated></ListBucketResult>`)
		case r.Method == http.MethodPut || r.Method == http.MethodDelete:
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("ETag", `"abc"`)
			w.WriteHeader(http.StatusOK)
		default:
			fail(http.StatusBadRequest, "InvalidRequest", "unexpected "+r.Method)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &conditional
}

// TestErrors checks how answers of an S3 server are classified (gofakes3
// accepts any key, so refused credentials are faked here).
func TestErrors(t *testing.T) {
	srv, conditional := fakeS3(t)
	settings := func(bucket string) json.RawMessage {
		b, _ := json.Marshal(Settings{Bucket: bucket, Endpoint: srv.URL, AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "secret-never-shown"})
		return b
	}
	k := NewKind(Options{})

	// Refused credentials: Open fails, clearly, for good.
	_, err := k.Open(t.Context(), destination.Config{ID: "dst_1", Settings: settings("denied")})
	if err == nil || !strings.Contains(err.Error(), `access to bucket "denied" denied: InvalidAccessKeyId`) {
		t.Errorf("Open with refused credentials: %v", err)
	}
	t.Logf("refused: %v", err)
	var oe *objectstore.Error
	if !errors.As(err, &oe) || !oe.Permanent {
		t.Errorf("refused credentials are not permanent: %#v", err)
	}

	// Throttling: retryable, with a hint.
	st := newStore(Settings{Bucket: "busy", Region: "us-east-1", Endpoint: srv.URL, AccessKeyID: "AK", SecretAccessKey: "SK"})
	err = st.Put(t.Context(), "x.json", []byte(`{}`), nil, objectstore.Cond{})
	if !errors.As(err, &oe) || oe.Permanent || oe.RetryAfter == 0 || !strings.Contains(err.Error(), "SlowDown") {
		t.Errorf("throttled: %v", err)
	}

	// A store without conditional writes: one 501, then plain writes.
	d, err := k.Open(t.Context(), destination.Config{ID: "dst_2", Settings: settings("old")})
	if err != nil {
		t.Fatal(err)
	}
	ev := destination.Event{DeliveryID: "d1", Type: "sleep", UserID: "u1", RecordKey: "k", Version: 1, Body: json.RawMessage(`{}`)}
	for range 2 {
		if r := d.Deliver(t.Context(), []destination.Event{ev}); r[0].Err != nil {
			t.Fatalf("Deliver: %v", r[0].Err)
		}
	}
	if n := conditional.Load(); n != 1 {
		t.Errorf("%d conditional requests, want 1", n)
	}
}
