// Package s3 delivers events as JSON objects to an Amazon S3 bucket or an
// S3-compatible store (MinIO, Cloudflare R2, Ceph, ...), one object per
// record, kept current by version-guarded conditional writes.
//
// # Settings
//
//	{"bucket": "my-health-data", "region": "eu-west-1",
//	 "access_key_id": "AKIA...", "secret_access_key": "...", "prefix": "wearbridge"}
//
// Fields:
//
//   - bucket (required): the bucket; it must exist.
//   - region (required unless endpoint is set; then default us-east-1):
//     the bucket's region.
//   - endpoint (optional): the base URL of an S3-compatible store
//     ("https://minio.example.com:9000"). When set, requests use path-style
//     addressing (endpoint/bucket/key).
//   - access_key_id, secret_access_key (required): the credentials. The
//     secret never appears in logs or error messages.
//   - prefix (optional): a folder for all objects ("wearbridge/prod").
//
// The credentials need s3:PutObject, s3:GetObject, s3:DeleteObject and
// s3:ListBucket on the bucket. Open writes and deletes the object
// [prefix/].wearbridge-write-check to check that the bucket exists and
// takes writes.
//
// # Layout
//
// One object per record, holding the full event envelope:
//
//	[prefix/]2022-03-16/{type}/{user_id}-{start}-{record_key}.json      data events
//	[prefix/]2022-03-16/{type}/{user_id}-{created}-{delivery_id}.json   other events
//
// with {start} (or {created}) in UTC as 20241010T010159Z, and metadata
// x-amz-meta-wearbridge-version, -delivery-id, -record-key, -user-id,
// -provider and -type. The objectstore package documents the layout in
// full.
//
// A data event overwrites the record's object only if its version is at
// least the stored one, using S3 conditional writes (If-Match with the
// ETag read just before, If-None-Match: * for a new object). A store that
// answers conditional writes with 501 Not Implemented gets plain writes
// after a HEAD check instead, which leaves a short window in which two
// concurrent writers could race.
package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/wearbridge/wearbridge/internal/destination"
	"github.com/wearbridge/wearbridge/internal/destination/objectstore"
)

// KindName is the name S3 destinations are registered under.
const KindName = "s3"

// defaultRegion is the region used with an endpoint when none is set.
const defaultRegion = "us-east-1"

// maxObject is the most Get reads of one object.
const maxObject = 64 << 20

// Settings is an S3 destination's JSON settings.
type Settings struct {
	// Bucket is the bucket's name. Required.
	Bucket string `json:"bucket"`
	// Region is the bucket's region. Required unless Endpoint is set.
	Region string `json:"region,omitempty"`
	// Endpoint is the base URL of an S3-compatible store; path-style
	// addressing is used when it is set.
	Endpoint string `json:"endpoint,omitempty"`
	// AccessKeyID and SecretAccessKey are the credentials. Required.
	AccessKeyID     string `json:"access_key_id"`
	SecretAccessKey string `json:"secret_access_key"`
	// Prefix is a folder for all objects.
	Prefix string `json:"prefix,omitempty"`
}

// Options configures a Kind. The zero value is ready to use.
type Options struct {
	// Logger receives debug lines about deliveries; nil discards them.
	Logger *slog.Logger
	// Timeout bounds each Deliver, ReadBack and RemoveHealthcheck call;
	// zero means objectstore.DefaultTimeout.
	Timeout time.Duration
	// Concurrency is how many objects one Deliver writes at once; zero
	// means objectstore.DefaultConcurrency.
	Concurrency int
}

// Kind builds S3 destinations.
type Kind struct {
	opts Options
}

var (
	_ destination.Kind  = (*Kind)(nil)
	_ objectstore.Store = (*store)(nil)
)

// NewKind returns the S3 kind configured by opts.
func NewKind(opts Options) *Kind {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Kind{opts: opts}
}

// Name returns "s3".
func (k *Kind) Name() string { return KindName }

// Open validates cfg and checks that the bucket exists and takes writes.
// A missing bucket and refused credentials are errors; an unreachable
// endpoint is not: the destination is returned and its deliveries fail,
// retryably, until the endpoint answers.
func (k *Kind) Open(ctx context.Context, cfg destination.Config) (destination.Destination, error) {
	s, err := parseSettings(cfg.Settings)
	if err != nil {
		return nil, fmt.Errorf("s3 destination %q: %w", cfg.ID, err)
	}
	st := newStore(s)
	d := objectstore.New(objectstore.Config{
		Kind: KindName, ID: cfg.ID, Store: st, Prefix: s.Prefix, MetaSep: "-",
		Logger: k.opts.Logger, Timeout: k.opts.Timeout, Concurrency: k.opts.Concurrency,
	})
	if err := d.Check(ctx); err != nil {
		if objectstore.IsUnreachable(err) {
			k.opts.Logger.DebugContext(ctx, "s3 destination unreachable at open", "destination_id", cfg.ID, "error", err)
			return d, nil
		}
		_ = d.Close()
		return nil, fmt.Errorf("s3 destination %q: %w", cfg.ID, err)
	}
	return d, nil
}

// parseSettings decodes and validates raw; Prefix comes back cleaned and
// Region filled in.
func parseSettings(raw []byte) (Settings, error) {
	var s Settings
	if err := objectstore.DecodeSettings(raw, &s); err != nil {
		return s, err
	}
	if err := checkBucket(s.Bucket); err != nil {
		return s, fmt.Errorf("settings: bucket: %w", err)
	}
	if s.Endpoint != "" {
		e, err := objectstore.ParseEndpoint(s.Endpoint)
		if err != nil {
			return s, fmt.Errorf("settings: endpoint: %w", err)
		}
		s.Endpoint = e
		if s.Region == "" {
			s.Region = defaultRegion
		}
	}
	if s.Region == "" {
		return s, errors.New("settings: region is required (or set endpoint for an S3-compatible store)")
	}
	if strings.ContainsAny(s.Region, "/ ") {
		return s, fmt.Errorf("settings: region %q is not a region name", s.Region)
	}
	if s.AccessKeyID == "" {
		return s, errors.New("settings: access_key_id is required")
	}
	if s.SecretAccessKey == "" {
		return s, errors.New("settings: secret_access_key is required")
	}
	p, err := objectstore.CleanPrefix(s.Prefix)
	if err != nil {
		return s, fmt.Errorf("settings: prefix: %w", err)
	}
	s.Prefix = p
	return s, nil
}

// checkBucket accepts the names S3 and the common S3-compatible stores
// allow: 3 to 255 letters, digits, dots, hyphens and underscores.
func checkBucket(b string) error {
	if b == "" {
		return errors.New("is required")
	}
	if len(b) < 3 || len(b) > 255 {
		return fmt.Errorf("%q: must be 3 to 255 characters long", b)
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-' || c == '_') {
			return fmt.Errorf("%q: only letters, digits, '.', '-' and '_' are allowed", b)
		}
	}
	return nil
}

// store is a bucket as objectstore uses it.
type store struct {
	client   *s3.Client
	http     *http.Client
	bucket   string
	endpoint string // for messages
	secret   string // to scrub from messages
	// plain is set once the store refused a conditional request with 501:
	// from then on writes and deletes are unconditional.
	plain atomic.Bool
}

// newStore returns the store of validated settings.
func newStore(s Settings) *store {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 2 * objectstore.DefaultConcurrency
	hc := &http.Client{Transport: tr}
	endpoint := s.Endpoint
	if endpoint == "" {
		endpoint = "https://s3." + s.Region + ".amazonaws.com"
	}
	o := s3.Options{
		Region:      s.Region,
		Credentials: aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(s.AccessKeyID, s.SecretAccessKey, "")),
		HTTPClient:  hc,
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = 3
			o.MaxBackoff = 2 * time.Second
		}),
	}
	if s.Endpoint != "" {
		o.BaseEndpoint = aws.String(s.Endpoint)
		o.UsePathStyle = true
		// Many S3-compatible stores reject the flexible checksums the SDK
		// sends by default; send them only where S3 requires them.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	}
	return &store{client: s3.New(o), http: hc, bucket: s.Bucket, endpoint: endpoint, secret: s.SecretAccessKey}
}

// Close closes idle connections.
func (s *store) Close() error {
	s.http.CloseIdleConnections()
	return nil
}

// Head returns an object's ETag and metadata.
func (s *store) Head(ctx context.Context, name string) (objectstore.Attrs, error) {
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: &name})
	if err != nil {
		return objectstore.Attrs{}, s.fail("head "+name, err)
	}
	return objectstore.Attrs{Token: aws.ToString(out.ETag), Meta: out.Metadata, ContentType: aws.ToString(out.ContentType)}, nil
}

// Get reads an object.
func (s *store) Get(ctx context.Context, name string) ([]byte, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: &name})
	if err != nil {
		return nil, s.fail("get "+name, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(io.LimitReader(out.Body, maxObject+1))
	if err != nil {
		return nil, s.fail("get "+name, err)
	}
	if len(b) > maxObject {
		return nil, fmt.Errorf("get %s: larger than %d bytes", name, maxObject)
	}
	return b, nil
}

// Put writes an object if cond holds.
func (s *store) Put(ctx context.Context, name string, body []byte, meta map[string]string, cond objectstore.Cond) error {
	in := &s3.PutObjectInput{
		Bucket:        &s.bucket,
		Key:           &name,
		Body:          bytes.NewReader(body), // seekable: the SDK rewinds it to retry and to sign over plain HTTP
		ContentLength: aws.Int64(int64(len(body))),
		ContentType:   aws.String("application/json"),
		Metadata:      meta,
	}
	conditional := !s.plain.Load()
	if conditional {
		if cond.IfAbsent {
			in.IfNoneMatch = aws.String("*")
		} else if cond.IfToken != "" {
			in.IfMatch = aws.String(cond.IfToken)
		}
	}
	_, err := s.client.PutObject(ctx, in)
	if err != nil && (in.IfMatch != nil || in.IfNoneMatch != nil) && notImplemented(err) {
		s.plain.Store(true)
		in.IfMatch, in.IfNoneMatch = nil, nil
		in.Body = bytes.NewReader(body)
		_, err = s.client.PutObject(ctx, in)
	}
	if err != nil {
		return s.fail("put "+name, err)
	}
	return nil
}

// Delete deletes an object if its ETag is still token.
func (s *store) Delete(ctx context.Context, name, token string) error {
	in := &s3.DeleteObjectInput{Bucket: &s.bucket, Key: &name}
	if token != "" && !s.plain.Load() {
		in.IfMatch = aws.String(token)
	}
	_, err := s.client.DeleteObject(ctx, in)
	if err != nil && in.IfMatch != nil && notImplemented(err) {
		s.plain.Store(true)
		in.IfMatch = nil
		_, err = s.client.DeleteObject(ctx, in)
	}
	if err != nil {
		return s.fail("delete "+name, err)
	}
	return nil
}

// List lists the names under prefix.
func (s *store) List(ctx context.Context, prefix string, fn func(string) error) error {
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: &prefix})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return s.fail("list "+prefix, err)
		}
		for _, o := range page.Contents {
			if err := fn(aws.ToString(o.Key)); err != nil {
				return err
			}
		}
	}
	return nil
}

// notImplemented reports whether the store does not support a request
// (a conditional header, on some S3-compatible stores).
func notImplemented(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "NotImplemented" {
		return true
	}
	return statusOf(err) == http.StatusNotImplemented
}

// statusOf returns the HTTP status of a failed request, or 0.
func statusOf(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// fail classifies an SDK error of operation op.
func (s *store) fail(op string, err error) error {
	if e := objectstore.NetworkError(op, s.endpoint, err); e != nil {
		e.Msg = objectstore.Scrub(e.Msg, s.secret)
		return e
	}
	if errors.Is(err, context.Canceled) {
		return &objectstore.Error{Msg: op + ": canceled", Err: err}
	}
	status := statusOf(err)
	code, msg := "", ""
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code, msg = ae.ErrorCode(), ae.ErrorMessage()
	}
	e := &objectstore.Error{Err: err}
	switch {
	case code == "NoSuchBucket":
		e.Msg = fmt.Sprintf("%s: bucket %q does not exist at %s", op, s.bucket, s.endpoint)
	case code == "NoSuchKey" || code == "NotFound" || status == http.StatusNotFound:
		e.Msg, e.Err = op+": not found", fmt.Errorf("%w: %w", destination.ErrNotFound, err)
	case code == "PreconditionFailed" || code == "ConditionalRequestConflict" ||
		status == http.StatusPreconditionFailed || status == http.StatusConflict:
		e.Msg, e.Err = op+": "+objectstore.ErrConflict.Error(), fmt.Errorf("%w: %w", objectstore.ErrConflict, err)
	case code == "AccessDenied" || code == "InvalidAccessKeyId" || code == "SignatureDoesNotMatch" ||
		code == "AllAccessDisabled" || code == "AccountProblem" || code == "InvalidToken" || code == "ExpiredToken" ||
		status == http.StatusUnauthorized || status == http.StatusForbidden:
		e.Msg = fmt.Sprintf("%s: access to bucket %q denied: %s", op, s.bucket, detail(code, msg, status))
		e.Permanent = true
	case code == "SlowDown" || code == "Throttling" || code == "ThrottlingException" || code == "RequestLimitExceeded" ||
		status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable:
		e.Msg = fmt.Sprintf("%s: throttled by %s: %s", op, s.endpoint, detail(code, msg, status))
		e.RetryAfter = time.Second
	case status == http.StatusRequestTimeout || status >= 500 || status == 0:
		e.Msg = fmt.Sprintf("%s: %s", op, detail(code, msg, status))
		if status == 0 && code == "" {
			e.Msg = fmt.Sprintf("%s: %v", op, err)
		}
	default:
		// Other 4xx: the store rejects this request (wrong region, bad
		// name, ...); sending it again will not help.
		e.Msg = fmt.Sprintf("%s: rejected by %s: %s", op, s.endpoint, detail(code, msg, status))
		e.Permanent = true
	}
	e.Msg = objectstore.Scrub(e.Msg, s.secret)
	return e
}

// detail renders an S3 error code, message and status.
func detail(code, msg string, status int) string {
	var parts []string
	if code != "" {
		parts = append(parts, code)
	}
	if msg != "" {
		parts = append(parts, msg)
	}
	s := strings.Join(parts, ": ")
	if status != 0 {
		if s == "" {
			return "HTTP " + strconv.Itoa(status)
		}
		s += " (HTTP " + strconv.Itoa(status) + ")"
	}
	return s
}
