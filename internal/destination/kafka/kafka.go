// Package kafka delivers events as records to an Apache Kafka topic (or any
// broker that speaks the Kafka protocol: Redpanda, MSK, Confluent Cloud,
// ...).
//
// # Settings
//
//		{"brokers": ["kafka-1.example.com:9092", "kafka-2.example.com:9092"], "topic": "wearbridge-events",
//		 "create_topic": false, "partitions": 3, "replication_factor": 1,
//		 "sasl": {"mechanism": "SCRAM-SHA-512", "username": "wearbridge", "password": "..."},
//		 "tls": {"enabled": true, "ca_pem": "-----BEGIN CERTIFICATE-----...", "insecure_skip_verify": false},
//		 "compression": "snappy", "max_message_bytes": 1000000}
//
//	  - brokers (required): seed brokers, host:port.
//	  - topic (required): the topic; 1 to 249 of a-z A-Z 0-9 . _ -.
//	  - create_topic (default false): create the topic if it is missing, with
//	    partitions (default 3) and replication_factor (default 1). Without
//	    it, a missing topic is an error at Open.
//	  - sasl: SASL authentication; mechanism PLAIN, SCRAM-SHA-256 or
//	    SCRAM-SHA-512, with username and password. The password lives only
//	    here; it never appears in logs or error messages.
//	  - tls: enabled turns TLS on; ca_pem adds PEM CA certificates to trust
//	    (the system roots are used otherwise); insecure_skip_verify skips
//	    certificate verification (for tests only).
//	  - compression (default "snappy"): snappy, lz4, zstd, gzip or none.
//	  - max_message_bytes (default 1000000): the largest record batch the
//	    producer sends; keep it at or below the topic's max.message.bytes.
//
// Open connects, checks that the topic exists (or creates it) and that the
// credentials work; unreachable brokers are not an error then: deliveries
// fail, retryably, until they answer.
//
// # Records
//
// One record per event:
//
//   - key: the wearbridge user id, so each user's events land in one
//     partition, in order (the event type for events about no user)
//   - value: the event envelope exactly as the webhook kind would POST it
//     ({"type":"sleep","user":{...},"data":[...],"version":"2022-03-16"})
//   - headers: type (the value's "type"), delivery_id (the same on every
//     retry and replay), signature ("t=<unix seconds>,v1=<hex HMAC-SHA256>"
//     of "<t>.<value>" keyed with the destination's signing secret, exactly
//     like the webhook's terra-signature header), user_id (when there is
//     one), and for data events record_key and version (the record's
//     version, decimal).
//
// A record larger than max_message_bytes is offloaded: its value becomes
// an s3_payload event,
//
//	{"type":"s3_payload","status":"success","url":"https://...","expires_in":604800,
//	 "user":{...},"version":"2022-03-16"}
//
// whose url serves the full envelope until it expires (expires_in seconds
// after sending; 0 when the offloader's URL does not say). Its key and
// headers are those of the original event, except type.
//
// # Duplicates
//
// The producer is idempotent with acks=all, so its own retries never
// duplicate a record. But Kafka is an append-only log: a batch that the
// pipeline retries after a timeout, and every replay, appends the records
// again. Consumers drop duplicates by the delivery_id header, and keep a
// record only if its version is at least the one they hold. Log compaction
// does not deduplicate: the key is the user, so compaction would keep only
// each user's latest event, not the latest version of each record.
//
// A Deliver call produces its whole batch at once and waits for every
// record's acknowledgement; each event gets its own record's result.
//
// # Errors
//
// Unreachable brokers, timeouts, leader changes, a missing topic and
// missing ACLs are retried (a topic or an ACL can appear later); a refused
// SASL login and a record the broker rejects as invalid or too large are
// not. If the topic disappears, the destination checks it again (and,
// with create_topic, recreates it) before the next delivery.
//
// # Read-back and healthchecks
//
// ReadBack (for tests and the demo) reads the whole topic, within the
// timeout, and returns the first record with the event's delivery_id.
// There is no healthcheck removal: a record cannot be deleted from a log,
// so the healthcheck record stays in the topic (consumers skip type
// "healthcheck").
package kafka

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/wearbridge/wearbridge/internal/destination"
)

// KindName is the name Kafka destinations are registered under.
const KindName = "kafka"

// Defaults and limits.
const (
	// DefaultTimeout bounds one Deliver or ReadBack call, and the topic
	// check in Open.
	DefaultTimeout = 30 * time.Second
	// DefaultMaxMessageBytes is the default max_message_bytes.
	DefaultMaxMessageBytes = 1_000_000
	// DefaultPartitions and DefaultReplicationFactor are used when
	// create_topic creates the topic.
	DefaultPartitions        = 3
	DefaultReplicationFactor = 1
	// minMessageBytes and maxMessageBytes bound max_message_bytes.
	minMessageBytes = 1024
	maxMessageBytes = 100 << 20
	// dialTimeout bounds one connection attempt to a broker.
	dialTimeout = 10 * time.Second
)

// Settings is a Kafka destination's JSON settings.
type Settings struct {
	// Brokers are the seed brokers, host:port. Required.
	Brokers []string `json:"brokers"`
	// Topic is the topic to produce to. Required.
	Topic string `json:"topic"`
	// CreateTopic creates the topic when it is missing.
	CreateTopic bool `json:"create_topic,omitempty"`
	// Partitions and ReplicationFactor shape a created topic; defaults
	// DefaultPartitions and DefaultReplicationFactor.
	Partitions        int32 `json:"partitions,omitempty"`
	ReplicationFactor int16 `json:"replication_factor,omitempty"`
	// SASL authenticates to the brokers; nil means none.
	SASL *SASL `json:"sasl,omitempty"`
	// TLS encrypts the connections; nil means plaintext.
	TLS *TLS `json:"tls,omitempty"`
	// Compression is snappy (default), lz4, zstd, gzip or none.
	Compression string `json:"compression,omitempty"`
	// MaxMessageBytes bounds a record batch; default
	// DefaultMaxMessageBytes. Larger records are offloaded.
	MaxMessageBytes int `json:"max_message_bytes,omitempty"`
}

// SASL is the "sasl" setting.
type SASL struct {
	// Mechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.
	Mechanism string `json:"mechanism"`
	Username  string `json:"username"`
	Password  string `json:"password"`
}

// TLS is the "tls" setting.
type TLS struct {
	Enabled bool `json:"enabled"`
	// CAPEM holds PEM CA certificates to trust instead of the system's.
	CAPEM string `json:"ca_pem,omitempty"`
	// InsecureSkipVerify skips verifying the brokers' certificates.
	InsecureSkipVerify bool `json:"insecure_skip_verify,omitempty"`
}

// Options configures a Kind. The zero value is ready to use.
type Options struct {
	// Logger receives debug lines about deliveries; nil discards them.
	Logger *slog.Logger
	// Timeout bounds each Deliver and ReadBack call and the topic check in
	// Open; zero means DefaultTimeout.
	Timeout time.Duration
	// Now is the clock used to sign records; nil means time.Now.
	Now func() time.Time
}

// Kind builds Kafka destinations.
type Kind struct {
	log     *slog.Logger
	timeout time.Duration
	now     func() time.Time
}

var (
	_ destination.Kind        = (*Kind)(nil)
	_ destination.Destination = (*Kafka)(nil)
	_ destination.ReadBacker  = (*Kafka)(nil)
)

// NewKind returns the Kafka kind configured by opts.
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

// Name returns "kafka".
func (k *Kind) Name() string { return KindName }

// Kafka is an open Kafka destination. It does not implement
// destination.HealthcheckRemover: a record cannot be removed from a log, so
// the healthcheck record stays in the topic (consumers skip type
// "healthcheck").
type Kafka struct {
	id       string
	topic    string
	brokers  string // for messages
	create   bool
	parts    int32
	rf       int16
	maxBytes int
	secret   string
	offload  destination.Offloader
	scrubs   []string     // secrets that must not appear in errors
	connOpts []kgo.Opt    // brokers, SASL, TLS: shared by every client
	seeds    []string     // for the reachability probe
	client   *kgo.Client  // the producer
	adm      *kadm.Client // on client
	timeout  time.Duration
	now      func() time.Time
	log      *slog.Logger

	readyMu sync.Mutex
	ready   bool // the topic was seen (or created)
	// suspect is set when the last delivery found the brokers unreachable.
	suspect atomic.Bool
}

// Open validates cfg, connects and checks the topic (creating it when
// create_topic is set). Bad settings, a missing topic, refused credentials
// and a failed TLS handshake are errors; unreachable brokers are not.
func (k *Kind) Open(ctx context.Context, cfg destination.Config) (destination.Destination, error) {
	s, err := parseSettings(cfg.Settings)
	if err != nil {
		return nil, fmt.Errorf("kafka destination %q: %w", cfg.ID, err)
	}
	if cfg.Secret == "" {
		return nil, fmt.Errorf("kafka destination %q: a signing secret is required", cfg.ID)
	}
	d := &Kafka{
		id:       cfg.ID,
		topic:    s.Topic,
		brokers:  strings.Join(s.Brokers, ","),
		create:   s.CreateTopic,
		parts:    s.Partitions,
		rf:       s.ReplicationFactor,
		maxBytes: s.MaxMessageBytes,
		secret:   cfg.Secret,
		offload:  cfg.Offload,
		seeds:    s.Brokers,
		timeout:  k.timeout,
		now:      k.now,
		log:      k.log.With("destination_id", cfg.ID, "kind", KindName),
	}
	d.connOpts = []kgo.Opt{
		kgo.SeedBrokers(s.Brokers...),
		kgo.ClientID("wearbridge"),
		kgo.DialTimeout(dialTimeout),
	}
	if s.SASL != nil {
		d.scrubs = append(d.scrubs, s.SASL.Password)
		d.connOpts = append(d.connOpts, kgo.SASL(mechanism(*s.SASL)))
	}
	if s.TLS != nil && s.TLS.Enabled {
		tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: s.TLS.InsecureSkipVerify}
		if s.TLS.CAPEM != "" {
			pool := x509.NewCertPool()
			pool.AppendCertsFromPEM([]byte(s.TLS.CAPEM)) // checked by parseSettings
			tc.RootCAs = pool
		}
		d.connOpts = append(d.connOpts, kgo.DialTLSConfig(tc))
	}
	codec, _ := compression(s.Compression) // checked by parseSettings
	popts := append(append([]kgo.Opt(nil), d.connOpts...),
		kgo.DefaultProduceTopic(s.Topic),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerBatchCompression(codec),
		kgo.ProducerBatchMaxBytes(int32(s.MaxMessageBytes)),
		kgo.RecordDeliveryTimeout(k.timeout),
		// Fail records when Deliver's time is up, even if a request was
		// sent: the pipeline retries, and consumers drop duplicates.
		kgo.AllowIdempotentProduceCancellation(),
	)
	d.client, err = kgo.NewClient(popts...)
	if err != nil {
		return nil, fmt.Errorf("kafka destination %q: %w", cfg.ID, d.scrub(err))
	}
	d.adm = kadm.NewClient(d.client)
	octx, cancel := context.WithTimeout(ctx, k.timeout)
	defer cancel()
	if err := d.ensureTopic(octx); err != nil {
		if !unreachable(err) {
			d.client.Close()
			return nil, fmt.Errorf("kafka destination %q: %w", cfg.ID, err)
		}
		d.log.WarnContext(ctx, "kafka brokers unreachable; the topic is checked before the first delivery", "error", err)
	}
	return d, nil
}

// Close closes the producer, waiting for nothing: records still buffered
// fail.
func (d *Kafka) Close() error {
	d.client.Close()
	return nil
}

// errTopicMissing is wrapped by the error for a missing topic.
var errTopicMissing = errors.New("topic does not exist")

// ensureTopic checks, once, that the topic exists, creating it when the
// settings ask to.
func (d *Kafka) ensureTopic(ctx context.Context) error {
	d.readyMu.Lock()
	defer d.readyMu.Unlock()
	if d.ready {
		return nil
	}
	if err := d.probe(ctx); err != nil {
		return err
	}
	topics, err := d.adm.ListTopics(ctx, d.topic)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, context.DeadlineExceeded) {
			// The probe connected, so the brokers are up: a TLS or SASL
			// mismatch makes them hang up or say nothing.
			return &noAnswerError{fmt.Errorf("kafka: check topic: brokers %s accept connections but do not answer Kafka requests (%w); check the tls and sasl settings", d.brokers, d.scrub(err))}
		}
		return d.explain("check topic", err)
	}
	td, ok := topics[d.topic]
	switch {
	case ok && td.Err == nil:
		d.ready = true
		return nil
	case ok && !isUnknownTopic(td.Err):
		return d.explain("check topic", td.Err)
	case !d.create:
		return &explainedError{
			msg: fmt.Sprintf("kafka: topic %q does not exist on brokers %s (create it, or set create_topic to true)", d.topic, d.brokers),
			err: errTopicMissing,
		}
	}
	resp, err := d.adm.CreateTopic(ctx, d.parts, d.rf, nil, d.topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !isTopicExists(err) {
		msg := ""
		if resp.ErrMessage != "" {
			msg = " (" + resp.ErrMessage + ")"
		}
		return d.explain(fmt.Sprintf("create topic with %d partitions, replication factor %d%s", d.parts, d.rf, msg), err)
	}
	d.log.InfoContext(ctx, "kafka topic created", "topic", d.topic, "partitions", d.parts, "replication_factor", d.rf)
	d.ready = true
	return nil
}

// probe dials the seed brokers and returns an unreachable error when none
// accepts a TCP connection, so that a dead cluster is reported at once
// rather than when the client gives up retrying.
func (d *Kafka) probe(ctx context.Context) error {
	var first error
	dialer := &net.Dialer{Timeout: dialTimeout}
	for _, addr := range d.seeds {
		c, err := dialer.DialContext(ctx, "tcp", addr)
		if err == nil {
			_ = c.Close()
			return nil
		}
		if first == nil {
			first = err
		}
	}
	return &unreachableError{fmt.Errorf("kafka: cannot connect to brokers %s: %w", d.brokers, first)}
}

// settings defaults and checks.

// topicName is what a Kafka topic name looks like.
var topicName = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,249}$`)

// parseSettings decodes and validates raw, filling in defaults.
func parseSettings(raw json.RawMessage) (Settings, error) {
	var s Settings
	if len(bytes.TrimSpace(raw)) == 0 {
		return s, errors.New("settings: brokers is required")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		// json errors quote at most a type or field name, never values.
		return Settings{}, fmt.Errorf("settings: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Settings{}, errors.New("settings: trailing data after the JSON object")
	}
	if len(s.Brokers) == 0 {
		return Settings{}, errors.New("settings: brokers is required")
	}
	for i, b := range s.Brokers {
		host, port, err := net.SplitHostPort(b)
		n, perr := strconv.Atoi(port)
		if err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
			return Settings{}, fmt.Errorf("settings: brokers[%d] %q: must be host:port", i, b)
		}
	}
	switch {
	case s.Topic == "":
		return Settings{}, errors.New("settings: topic is required")
	case !topicName.MatchString(s.Topic) || s.Topic == "." || s.Topic == "..":
		return Settings{}, fmt.Errorf("settings: topic %q: use 1 to 249 letters, digits, '.', '_' and '-'", s.Topic)
	}
	if s.Partitions == 0 {
		s.Partitions = DefaultPartitions
	}
	if s.ReplicationFactor == 0 {
		s.ReplicationFactor = DefaultReplicationFactor
	}
	switch {
	case s.Partitions < 1 || s.Partitions > 10_000:
		return Settings{}, fmt.Errorf("settings: partitions %d: must be 1 to 10000", s.Partitions)
	case s.ReplicationFactor < 1:
		return Settings{}, fmt.Errorf("settings: replication_factor %d: must be at least 1", s.ReplicationFactor)
	}
	if s.SASL != nil {
		switch s.SASL.Mechanism {
		case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
		default:
			return Settings{}, fmt.Errorf("settings: sasl.mechanism %q: must be PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", s.SASL.Mechanism)
		}
		if s.SASL.Username == "" {
			return Settings{}, errors.New("settings: sasl.username is required")
		}
		if s.SASL.Password == "" {
			return Settings{}, errors.New("settings: sasl.password is required")
		}
	}
	if s.TLS != nil && s.TLS.CAPEM != "" {
		if !s.TLS.Enabled {
			return Settings{}, errors.New("settings: tls.ca_pem is set but tls.enabled is false")
		}
		if !x509.NewCertPool().AppendCertsFromPEM([]byte(s.TLS.CAPEM)) {
			return Settings{}, errors.New("settings: tls.ca_pem: no PEM certificate found")
		}
	}
	if s.Compression == "" {
		s.Compression = "snappy"
	}
	if _, err := compression(s.Compression); err != nil {
		return Settings{}, fmt.Errorf("settings: %w", err)
	}
	if s.MaxMessageBytes == 0 {
		s.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if s.MaxMessageBytes < minMessageBytes || s.MaxMessageBytes > maxMessageBytes {
		return Settings{}, fmt.Errorf("settings: max_message_bytes %d: must be %d to %d", s.MaxMessageBytes, minMessageBytes, maxMessageBytes)
	}
	return s, nil
}

// compression returns the codec called name.
func compression(name string) (kgo.CompressionCodec, error) {
	switch name {
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "none":
		return kgo.NoCompression(), nil
	}
	return kgo.CompressionCodec{}, fmt.Errorf("compression %q: must be snappy, lz4, zstd, gzip or none", name)
}

// mechanism returns the SASL mechanism of s (validated).
func mechanism(s SASL) sasl.Mechanism {
	switch s.Mechanism {
	case "SCRAM-SHA-256":
		return scram.Auth{User: s.Username, Pass: s.Password}.AsSha256Mechanism()
	case "SCRAM-SHA-512":
		return scram.Auth{User: s.Username, Pass: s.Password}.AsSha512Mechanism()
	}
	return plain.Auth{User: s.Username, Pass: s.Password}.AsMechanism()
}
