// Package sqs delivers events as messages to an Amazon SQS queue, standard
// or FIFO.
//
// # Settings
//
//		{"queue_url": "https://sqs.eu-west-1.amazonaws.com/123456789012/wearbridge-events.fifo",
//		 "region": "eu-west-1", "access_key_id": "AKIA...", "secret_access_key": "..."}
//
//	  - queue_url (required): the queue's URL, as SQS shows it. A name ending
//	    in ".fifo" makes it a FIFO queue.
//	  - region: the queue's AWS region. Optional when the queue URL names it
//	    (sqs.<region>.amazonaws.com).
//	  - endpoint: the SQS endpoint to call instead of the region's own, for
//	    SQS-compatible servers and VPC endpoints ("http://127.0.0.1:54566").
//	  - access_key_id, secret_access_key (required): static credentials of an
//	    IAM user allowed sqs:GetQueueAttributes and sqs:SendMessage on the
//	    queue. The secret key lives only here; it never appears in logs or
//	    error messages.
//
// Open checks that the queue exists and that the credentials work (an
// unreachable endpoint is not an error then: deliveries fail, retryably,
// until it answers).
//
// # Messages
//
// One message per event. The body is the event envelope exactly as the
// webhook kind would POST it ({"type":"sleep","user":{...},"data":[...],
// "version":"2022-03-16"}). Message attributes (all String except version,
// which is Number):
//
//   - type: the body's "type" ("sleep", "auth", "healthcheck", "s3_payload")
//   - user_id: the wearbridge user id (absent for events about no user)
//   - delivery_id: the delivery id, the same on every retry and replay
//   - signature: "t=<unix seconds>,v1=<hex HMAC-SHA256>" of "<t>.<body>"
//     keyed with the destination's signing secret, exactly like the
//     webhook's terra-signature header (verify it with the same code)
//   - record_key, version: the record's key and version (data events only)
//
// A message is limited to 256 KiB (or the queue's MaximumMessageSize if
// lower), body and attributes together. A larger event is offloaded: the
// body becomes an s3_payload event,
//
//	{"type":"s3_payload","status":"success","url":"https://...","expires_in":604800,
//	 "user":{...},"version":"2022-03-16"}
//
// whose url serves the full envelope until it expires (expires_in seconds
// after sending; 0 when the offloader's URL does not say). Its attributes
// are those of the original event, except type.
//
// On a FIFO queue, MessageGroupId is the user id (the event type for events
// about no user), so each user's events stay in order, and
// MessageDeduplicationId is the delivery id (hashed when longer than 128
// characters).
//
// # Duplicates
//
// SQS delivers at least once. A FIFO queue drops a message whose delivery
// id was sent in the last 5 minutes; a standard queue cannot drop
// duplicates at all, and a retry or replay after 5 minutes is sent again on
// both. Consumers drop duplicates by the delivery_id attribute, and keep a
// record only if its version is at least the one they hold.
//
// Events are sent with SendMessageBatch, 10 (and at most 256 KiB) per call,
// several calls at a time on standard queues and one at a time, in order,
// on FIFO queues. A rejected entry fails only its own event.
//
// # Errors
//
// A refused connection, a timeout, throttling, a 5xx, a missing queue and
// AccessDenied are retried (a queue or a policy can appear later); refused
// credentials (InvalidClientTokenId, SignatureDoesNotMatch, ...) and a
// message SQS rejects as invalid are not.
//
// # Read-back and healthchecks
//
// ReadBack (for tests and the demo) receives the queue's visible messages,
// at most 1,000, finds the one with the event's delivery_id and makes them
// all visible again; on a FIFO queue it sees only the first message of each
// message group. RemoveHealthcheck deletes the healthcheck message the
// same way.
package sqs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/wearbridge/wearbridge/internal/destination"
)

// KindName is the name SQS destinations are registered under.
const KindName = "sqs"

// Defaults and limits.
const (
	// DefaultTimeout bounds one Deliver, ReadBack or RemoveHealthcheck
	// call, and the queue check in Open.
	DefaultTimeout = 30 * time.Second
	// maxMessageBytes is the size limit of one message and of one batch,
	// body and attributes together.
	maxMessageBytes = 256 << 10
	// maxBatchEntries is SQS's limit of entries per SendMessageBatch.
	maxBatchEntries = 10
	// maxInFlight is how many SendMessageBatch calls one Deliver makes at
	// once on a standard queue.
	maxInFlight = 4
	// maxAttempts is how often the SDK tries one call before the error goes
	// back to the pipeline, which retries with its own backoff.
	maxAttempts = 2
)

// Settings is an SQS destination's JSON settings.
type Settings struct {
	// QueueURL is the queue's URL. Required.
	QueueURL string `json:"queue_url"`
	// Region is the queue's region; optional when QueueURL names it.
	Region string `json:"region,omitempty"`
	// Endpoint replaces the region's SQS endpoint (an absolute http or
	// https URL).
	Endpoint string `json:"endpoint,omitempty"`
	// AccessKeyID and SecretAccessKey are the static credentials. Required.
	AccessKeyID     string `json:"access_key_id"`
	SecretAccessKey string `json:"secret_access_key"`
}

// Options configures a Kind. The zero value is ready to use.
type Options struct {
	// Logger receives debug lines about deliveries; nil discards them.
	Logger *slog.Logger
	// Timeout bounds each Deliver, ReadBack and RemoveHealthcheck call and
	// the queue check in Open; zero means DefaultTimeout.
	Timeout time.Duration
	// Now is the clock used to sign messages; nil means time.Now.
	Now func() time.Time
}

// Kind builds SQS destinations.
type Kind struct {
	log     *slog.Logger
	timeout time.Duration
	now     func() time.Time
}

var (
	_ destination.Kind               = (*Kind)(nil)
	_ destination.Destination        = (*Queue)(nil)
	_ destination.ReadBacker         = (*Queue)(nil)
	_ destination.HealthcheckRemover = (*Queue)(nil)
)

// NewKind returns the SQS kind configured by opts.
func NewKind(opts Options) *Kind {
	k := &Kind{log: opts.Logger, timeout: opts.Timeout, now: opts.Now}
	if k.log == nil {
		k.log = slog.New(slog.DiscardHandler)
	}
	if k.timeout <= 0 {
		k.timeout = DefaultTimeout
	}
	if k.now == nil {
		k.now = time.Now
	}
	return k
}

// Name returns "sqs".
func (k *Kind) Name() string { return KindName }

// Queue is an open SQS destination.
type Queue struct {
	id       string
	url      string // the queue URL
	name     string // the queue name, for messages
	endpoint string // where calls go, for messages ("" = the region's)
	fifo     bool
	limit    int // size limit of one message and one batch
	secret   string
	client   *sqs.Client
	tr       *http.Transport
	offload  destination.Offloader
	scrubs   []string // secrets that must not appear in errors
	timeout  time.Duration
	now      func() time.Time
	log      *slog.Logger
}

// Open validates cfg and checks the queue: a missing queue, refused
// credentials and bad settings are errors, an unreachable endpoint is not.
func (k *Kind) Open(ctx context.Context, cfg destination.Config) (destination.Destination, error) {
	s, err := parseSettings(cfg.Settings)
	if err != nil {
		return nil, fmt.Errorf("sqs destination %q: %w", cfg.ID, err)
	}
	if cfg.Secret == "" {
		return nil, fmt.Errorf("sqs destination %q: a signing secret is required", cfg.ID)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 2 * maxInFlight
	opts := sqs.Options{
		HTTPClient:  &http.Client{Transport: tr},
		Region:      s.region,
		Credentials: credentials.NewStaticCredentialsProvider(s.accessKey, s.secretKey, ""),
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = maxAttempts
			// The pipeline backs off itself; the SDK's retry quota would
			// only turn outages into "retry quota exceeded" errors.
			o.RateLimiter = ratelimit.None
		}),
	}
	if s.endpoint != "" {
		opts.BaseEndpoint = aws.String(s.endpoint)
	}
	q := &Queue{
		id:       cfg.ID,
		url:      s.queueURL,
		name:     s.name,
		endpoint: s.endpoint,
		fifo:     s.fifo,
		limit:    maxMessageBytes,
		secret:   cfg.Secret,
		client:   sqs.New(opts),
		tr:       tr,
		offload:  cfg.Offload,
		scrubs:   []string{s.secretKey},
		timeout:  k.timeout,
		now:      k.now,
		log:      k.log.With("destination_id", cfg.ID, "kind", KindName),
	}
	octx, cancel := context.WithTimeout(ctx, k.timeout)
	defer cancel()
	if err := q.check(octx); err != nil {
		if !unreachable(err) {
			return nil, fmt.Errorf("sqs destination %q: %w", cfg.ID, q.explain("check queue", err))
		}
		q.log.WarnContext(ctx, "sqs endpoint unreachable; deliveries will be retried", "error", q.explain("check queue", err))
	}
	return q, nil
}

// check reads the queue's attributes: it fails when the queue is missing or
// the credentials are refused, and lowers the size limit to the queue's.
func (q *Queue) check(ctx context.Context) error {
	out, err := q.client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(q.url),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameMaximumMessageSize},
	})
	if err != nil {
		return err
	}
	if v, err := strconv.Atoi(out.Attributes[string(types.QueueAttributeNameMaximumMessageSize)]); err == nil && v > 0 && v < q.limit {
		q.limit = v
	}
	return nil
}

// Close releases idle connections. It is safe to call more than once.
func (q *Queue) Close() error {
	q.tr.CloseIdleConnections()
	return nil
}

// settings is Settings validated.
type settings struct {
	queueURL, name       string
	fifo                 bool
	region, endpoint     string
	accessKey, secretKey string
}

// queueName is what an SQS queue name looks like (".fifo" included).
var queueName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,75}(\.fifo|[A-Za-z0-9_-]{0,5})$`)

// regionName is what an AWS region looks like.
var regionName = regexp.MustCompile(`^[a-z0-9-]{2,40}$`)

// urlRegion finds the region in an SQS host name:
// sqs.<region>.amazonaws.com[.cn] or the legacy <region>.queue.amazonaws.com.
var urlRegion = regexp.MustCompile(`^(?:sqs\.([a-z0-9-]+)\.|([a-z0-9-]+)\.queue\.amazonaws\.com)`)

// parseSettings decodes and validates raw.
func parseSettings(raw json.RawMessage) (settings, error) {
	var s Settings
	if len(bytes.TrimSpace(raw)) == 0 {
		return settings{}, errors.New("settings: queue_url is required")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		// json errors quote at most a type or field name, never values.
		return settings{}, fmt.Errorf("settings: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return settings{}, errors.New("settings: trailing data after the JSON object")
	}
	if strings.TrimSpace(s.QueueURL) == "" {
		return settings{}, errors.New("settings: queue_url is required")
	}
	u, err := url.Parse(s.QueueURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return settings{}, fmt.Errorf("settings: queue_url %q: must be an http(s) URL like https://sqs.<region>.amazonaws.com/<account>/<queue>", s.QueueURL)
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(parts) != 2 || parts[0] == "" || !queueName.MatchString(parts[1]) || u.RawQuery != "" {
		return settings{}, fmt.Errorf("settings: queue_url %q: the path must be /<account>/<queue name>", s.QueueURL)
	}
	out := settings{
		queueURL:  s.QueueURL,
		name:      parts[1],
		fifo:      strings.HasSuffix(parts[1], ".fifo"),
		region:    s.Region,
		accessKey: s.AccessKeyID,
		secretKey: s.SecretAccessKey,
	}
	if out.region == "" {
		if m := urlRegion.FindStringSubmatch(u.Hostname()); m != nil {
			out.region = m[1] + m[2]
		}
	}
	switch {
	case out.region == "":
		return settings{}, errors.New("settings: region is required (the queue_url does not name one)")
	case !regionName.MatchString(out.region):
		return settings{}, fmt.Errorf("settings: region %q: not a region name like eu-west-1", out.region)
	}
	if s.Endpoint != "" {
		e, err := url.Parse(s.Endpoint)
		if err != nil || (e.Scheme != "https" && e.Scheme != "http") || e.Host == "" || e.User != nil || e.RawQuery != "" {
			return settings{}, fmt.Errorf("settings: endpoint %q: must be an http(s) URL without credentials or query", s.Endpoint)
		}
		out.endpoint = strings.TrimRight(s.Endpoint, "/")
	}
	switch {
	case strings.TrimSpace(s.AccessKeyID) == "":
		return settings{}, errors.New("settings: access_key_id is required")
	case s.SecretAccessKey == "":
		return settings{}, errors.New("settings: secret_access_key is required")
	}
	return out, nil
}
