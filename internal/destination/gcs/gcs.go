// Package gcs delivers events as JSON objects to a Google Cloud Storage
// bucket, one object per record, kept current by version-guarded writes
// with generation preconditions.
//
// # Settings
//
//	{"bucket": "my-health-data", "credentials_json": "{\"type\":\"service_account\",...}", "prefix": "wearbridge"}
//
// Fields:
//
//   - bucket (required): the bucket; it must exist.
//   - credentials_json (required unless endpoint is set or the server runs
//     with STORAGE_EMULATOR_HOST): a service-account key file's contents,
//     as a JSON string or as the JSON object itself. Only service-account
//     keys are accepted. The private key never appears in logs or error
//     messages.
//   - endpoint (optional): the base URL of a GCS-compatible server or
//     emulator ("http://127.0.0.1:4443"); requests go to
//     endpoint/storage/v1/, without credentials unless credentials_json is
//     set too.
//   - prefix (optional): a folder for all objects ("wearbridge/prod").
//
// The service account needs roles/storage.objectAdmin on the bucket (or
// storage.objects.create, get, delete and list). Open writes and deletes
// the object [prefix/].wearbridge-write-check to check that the bucket
// exists and takes writes.
//
// # Layout
//
// One object per record, holding the full event envelope:
//
//	[prefix/]2022-03-16/{type}/{user_id}-{start}-{record_key}.json      data events
//	[prefix/]2022-03-16/{type}/{user_id}-{created}-{delivery_id}.json   other events
//
// with {start} (or {created}) in UTC as 20241010T010159Z, and custom
// metadata wearbridge-version, wearbridge-delivery-id,
// wearbridge-record-key, wearbridge-user-id, wearbridge-provider and
// wearbridge-type. The objectstore package documents the layout in full.
//
// A data event overwrites the record's object only if its version is at
// least the stored one: the write carries the generation read just before
// as ifGenerationMatch (ifGenerationMatch=0 for a new object), and is
// repeated if another writer got in between.
package gcs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/auth"
	"cloud.google.com/go/storage"
	"github.com/googleapis/gax-go/v2"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"

	"github.com/wearbridge/wearbridge/internal/destination"
	"github.com/wearbridge/wearbridge/internal/destination/objectstore"
)

// KindName is the name GCS destinations are registered under.
const KindName = "gcs"

// defaultEndpoint is where requests go without an endpoint setting (for
// messages; the client library picks it).
const defaultEndpoint = "https://storage.googleapis.com"

// maxObject is the most Get reads of one object.
const maxObject = 64 << 20

// Settings is a GCS destination's JSON settings.
type Settings struct {
	// Bucket is the bucket's name. Required.
	Bucket string `json:"bucket"`
	// CredentialsJSON is a service-account key, as a JSON string or
	// object. Required unless Endpoint is set or STORAGE_EMULATOR_HOST is.
	CredentialsJSON json.RawMessage `json:"credentials_json,omitempty"`
	// Endpoint is the base URL of a GCS-compatible server.
	Endpoint string `json:"endpoint,omitempty"`
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
	// EmulatorHost is the value of STORAGE_EMULATOR_HOST, which the
	// client library obeys: when set, destinations need no credentials.
	// Empty means read the environment variable.
	EmulatorHost string
}

// Kind builds GCS destinations.
type Kind struct {
	opts Options
}

var (
	_ destination.Kind  = (*Kind)(nil)
	_ objectstore.Store = (*store)(nil)
)

// NewKind returns the GCS kind configured by opts.
func NewKind(opts Options) *Kind {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Kind{opts: opts}
}

// Name returns "gcs".
func (k *Kind) Name() string { return KindName }

// settings is Settings validated.
type settings struct {
	bucket     string
	creds      []byte // service-account JSON, or nil
	privateKey string // to scrub from messages
	endpoint   string // "" for Google's
	prefix     string
}

// Open validates cfg and checks that the bucket exists and takes writes.
// A missing bucket and refused credentials are errors; an unreachable
// endpoint is not: the destination is returned and its deliveries fail,
// retryably, until the endpoint answers.
func (k *Kind) Open(ctx context.Context, cfg destination.Config) (destination.Destination, error) {
	emulator := k.opts.EmulatorHost
	if emulator == "" {
		emulator = os.Getenv("STORAGE_EMULATOR_HOST")
	}
	s, err := parseSettings(cfg.Settings, emulator != "")
	if err != nil {
		return nil, fmt.Errorf("gcs destination %q: %w", cfg.ID, err)
	}
	st, err := newStore(ctx, s, emulator)
	if err != nil {
		return nil, fmt.Errorf("gcs destination %q: %w", cfg.ID, err)
	}
	d := objectstore.New(objectstore.Config{
		Kind: KindName, ID: cfg.ID, Store: st, Prefix: s.prefix, MetaSep: "-",
		Logger: k.opts.Logger, Timeout: k.opts.Timeout, Concurrency: k.opts.Concurrency,
	})
	if err := d.Check(ctx); err != nil {
		if objectstore.IsUnreachable(err) {
			k.opts.Logger.DebugContext(ctx, "gcs destination unreachable at open", "destination_id", cfg.ID, "error", err)
			return d, nil
		}
		_ = d.Close()
		return nil, fmt.Errorf("gcs destination %q: %w", cfg.ID, err)
	}
	return d, nil
}

// parseSettings decodes and validates raw; emulator tells whether
// STORAGE_EMULATOR_HOST is set.
func parseSettings(raw []byte, emulator bool) (settings, error) {
	var s Settings
	if err := objectstore.DecodeSettings(raw, &s); err != nil {
		return settings{}, err
	}
	if err := checkBucket(s.Bucket); err != nil {
		return settings{}, fmt.Errorf("settings: bucket: %w", err)
	}
	out := settings{bucket: s.Bucket}
	if s.Endpoint != "" {
		e, err := objectstore.ParseEndpoint(s.Endpoint)
		if err != nil {
			return settings{}, fmt.Errorf("settings: endpoint: %w", err)
		}
		out.endpoint = strings.TrimSuffix(e, "/storage/v1")
	}
	if len(s.CredentialsJSON) > 0 && string(s.CredentialsJSON) != "null" {
		creds, key, err := parseCredentials(s.CredentialsJSON)
		if err != nil {
			return settings{}, fmt.Errorf("settings: credentials_json: %w", err)
		}
		out.creds, out.privateKey = creds, key
	} else if out.endpoint == "" && !emulator {
		return settings{}, errors.New("settings: credentials_json is required (a service-account key)")
	}
	p, err := objectstore.CleanPrefix(s.Prefix)
	if err != nil {
		return settings{}, fmt.Errorf("settings: prefix: %w", err)
	}
	out.prefix = p
	return out, nil
}

// parseCredentials accepts a service-account key as a JSON object or as a
// string holding one, and returns the key's JSON and its private key.
func parseCredentials(raw json.RawMessage) ([]byte, string, error) {
	b := []byte(raw)
	var str string
	if json.Unmarshal(raw, &str) == nil {
		b = []byte(str)
	}
	var key struct {
		Type        string `json:"type"`
		ClientEmail string `json:"client_email"`
		PrivateKey  string `json:"private_key"`
	}
	if err := json.Unmarshal(b, &key); err != nil {
		return nil, "", errors.New("not a JSON service-account key")
	}
	switch {
	case key.Type != "service_account":
		return nil, "", fmt.Errorf("type %q: only service_account keys are accepted", key.Type)
	case key.ClientEmail == "" || key.PrivateKey == "":
		return nil, "", errors.New("client_email and private_key are required")
	}
	return b, key.PrivateKey, nil
}

// checkBucket accepts GCS bucket names: 3 to 222 lowercase letters,
// digits, '-', '_' and '.'.
func checkBucket(b string) error {
	if b == "" {
		return errors.New("is required")
	}
	if len(b) < 3 || len(b) > 222 {
		return fmt.Errorf("%q: must be 3 to 222 characters long", b)
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '-' || c == '_') {
			return fmt.Errorf("%q: only lowercase letters, digits, '.', '-' and '_' are allowed", b)
		}
	}
	return nil
}

// store is a bucket as objectstore uses it.
type store struct {
	client   *storage.Client
	bucket   *storage.BucketHandle
	name     string
	endpoint string // for messages
	secret   string // to scrub from messages
}

// newStore returns the store of validated settings.
func newStore(ctx context.Context, s settings, emulator string) (*store, error) {
	opts := []option.ClientOption{storage.WithJSONReads()}
	endpoint := defaultEndpoint
	switch {
	case s.endpoint != "":
		endpoint = s.endpoint
		opts = append(opts, option.WithEndpoint(s.endpoint+"/storage/v1/"))
	case emulator != "":
		endpoint = emulator
		if !strings.Contains(endpoint, "://") {
			endpoint = "http://" + endpoint
		}
	}
	if s.creds != nil {
		opts = append(opts, option.WithAuthCredentialsJSON(option.ServiceAccount, s.creds))
	} else {
		opts = append(opts, option.WithoutAuthentication())
	}
	c, err := storage.NewClient(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("client: %s", objectstore.Scrub(err.Error(), s.privateKey))
	}
	c.SetRetry(storage.WithMaxAttempts(3), storage.WithBackoff(gax.Backoff{Initial: 100 * time.Millisecond, Max: 2 * time.Second, Multiplier: 2}))
	return &store{client: c, bucket: c.Bucket(s.bucket), name: s.bucket, endpoint: endpoint, secret: s.privateKey}, nil
}

// Close closes the client.
func (s *store) Close() error { return s.client.Close() }

// Head returns an object's generation and metadata.
func (s *store) Head(ctx context.Context, name string) (objectstore.Attrs, error) {
	a, err := s.bucket.Object(name).Attrs(ctx)
	if err != nil {
		return objectstore.Attrs{}, s.fail("head "+name, err, false)
	}
	return objectstore.Attrs{Token: strconv.FormatInt(a.Generation, 10), Meta: a.Metadata, ContentType: a.ContentType}, nil
}

// Get reads an object.
func (s *store) Get(ctx context.Context, name string) ([]byte, error) {
	r, err := s.bucket.Object(name).NewReader(ctx)
	if err != nil {
		return nil, s.fail("get "+name, err, false)
	}
	defer r.Close()
	b, err := io.ReadAll(io.LimitReader(r, maxObject+1))
	if err != nil {
		return nil, s.fail("get "+name, err, false)
	}
	if len(b) > maxObject {
		return nil, fmt.Errorf("get %s: larger than %d bytes", name, maxObject)
	}
	return b, nil
}

// Put writes an object if cond holds.
func (s *store) Put(ctx context.Context, name string, body []byte, meta map[string]string, cond objectstore.Cond) error {
	o := s.bucket.Object(name)
	switch {
	case cond.IfAbsent:
		o = o.If(storage.Conditions{DoesNotExist: true})
	case cond.IfToken != "":
		gen, err := strconv.ParseInt(cond.IfToken, 10, 64)
		if err != nil {
			return fmt.Errorf("put %s: bad generation %q", name, cond.IfToken)
		}
		o = o.If(storage.Conditions{GenerationMatch: gen})
	}
	w := o.NewWriter(ctx)
	w.ContentType = "application/json"
	w.Metadata = meta
	w.ChunkSize = 0 // one request
	if _, err := w.Write(body); err != nil {
		_ = w.Close()
		return s.fail("put "+name, err, true)
	}
	if err := w.Close(); err != nil {
		return s.fail("put "+name, err, true)
	}
	return nil
}

// Delete deletes an object if its generation is still token.
func (s *store) Delete(ctx context.Context, name, token string) error {
	o := s.bucket.Object(name)
	if token != "" {
		gen, err := strconv.ParseInt(token, 10, 64)
		if err != nil {
			return fmt.Errorf("delete %s: bad generation %q", name, token)
		}
		o = o.If(storage.Conditions{GenerationMatch: gen})
	}
	if err := o.Delete(ctx); err != nil {
		return s.fail("delete "+name, err, false)
	}
	return nil
}

// List lists the names under prefix.
func (s *store) List(ctx context.Context, prefix string, fn func(string) error) error {
	q := &storage.Query{Prefix: prefix}
	if err := q.SetAttrSelection([]string{"Name"}); err != nil {
		return fmt.Errorf("list %s: %w", prefix, err)
	}
	it := s.bucket.Objects(ctx, q)
	for {
		a, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return nil
		}
		if err != nil {
			return s.fail("list "+prefix, err, true)
		}
		if err := fn(a.Name); err != nil {
			return err
		}
	}
}

// fail classifies an error of operation op; for writes and listings
// (bucketOp), a 404 means the bucket is missing.
func (s *store) fail(op string, err error, bucketOp bool) error {
	if e := objectstore.NetworkError(op, s.endpoint, err); e != nil {
		e.Msg = objectstore.Scrub(e.Msg, s.secret)
		return e
	}
	if errors.Is(err, context.Canceled) {
		return &objectstore.Error{Msg: op + ": canceled", Err: err}
	}
	e := &objectstore.Error{Err: err}
	var ae *auth.Error
	if errors.As(err, &ae) && ae.Response != nil && ae.Response.StatusCode >= 400 && ae.Response.StatusCode < 500 {
		// The token endpoint refused the service-account key.
		e.Msg = objectstore.Scrub(fmt.Sprintf("%s: the credentials were refused: %s (HTTP %d)", op, tokenError(ae), ae.Response.StatusCode), s.secret)
		e.Permanent = true
		return e
	}
	var ge *googleapi.Error
	status := 0
	msg := err.Error()
	if errors.As(err, &ge) {
		status = ge.Code
		if ge.Message != "" {
			msg = ge.Message
		}
	}
	switch {
	case errors.Is(err, storage.ErrBucketNotExist) || (bucketOp && status == http.StatusNotFound):
		e.Msg = fmt.Sprintf("%s: bucket %q does not exist at %s", op, s.name, s.endpoint)
	case errors.Is(err, storage.ErrObjectNotExist) || status == http.StatusNotFound:
		e.Msg, e.Err = op+": not found", fmt.Errorf("%w: %w", destination.ErrNotFound, err)
	case status == http.StatusPreconditionFailed || status == http.StatusConflict:
		e.Msg, e.Err = op+": "+objectstore.ErrConflict.Error(), fmt.Errorf("%w: %w", objectstore.ErrConflict, err)
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		e.Msg = fmt.Sprintf("%s: access to bucket %q denied: %s (HTTP %d)", op, s.name, msg, status)
		e.Permanent = true
	case status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable:
		e.Msg = fmt.Sprintf("%s: throttled by %s: %s (HTTP %d)", op, s.endpoint, msg, status)
		e.RetryAfter = time.Second
	case status == 0 || status == http.StatusRequestTimeout || status >= 500:
		e.Msg = fmt.Sprintf("%s: %s", op, msg)
		if status != 0 {
			e.Msg += fmt.Sprintf(" (HTTP %d)", status)
		}
	default:
		e.Msg = fmt.Sprintf("%s: rejected by %s: %s (HTTP %d)", op, s.endpoint, msg, status)
		e.Permanent = true
	}
	e.Msg = objectstore.Scrub(e.Msg, s.secret)
	return e
}

// tokenError renders a refused token request: the OAuth error and its
// description when the body has them, else the error on one line.
func tokenError(ae *auth.Error) string {
	var body struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if json.Unmarshal(ae.Body, &body) == nil && body.Error != "" {
		if body.Description != "" {
			return body.Error + ": " + body.Description
		}
		return body.Error
	}
	return strings.Join(strings.Fields(ae.Error()), " ")
}
