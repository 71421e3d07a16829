package s3

import (
	"encoding/json"
	"errors"
	"net/url"
	"strings"
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
