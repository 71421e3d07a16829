package kafka

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/wearbridge/wearbridge/internal/destination"
)

// unreachableError marks an error meaning no broker answered.
type unreachableError struct{ err error }

func (e *unreachableError) Error() string { return e.err.Error() }
func (e *unreachableError) Unwrap() error { return e.err }

// noAnswerError marks an error meaning the brokers accepted connections but
// did not answer: a configuration problem more likely than an outage.
type noAnswerError struct{ err error }

func (e *noAnswerError) Error() string { return e.err.Error() }
func (e *noAnswerError) Unwrap() error { return e.err }

// unreachable reports whether err means the brokers did not answer
// (connection refused, DNS, timeout), as opposed to answering with an
// error.
func unreachable(err error) bool {
	var ue *unreachableError
	if errors.As(err, &ue) {
		return true
	}
	var na *noAnswerError
	if errors.As(err, &na) {
		return false
	}
	var ke *kerr.Error
	if errors.As(err, &ke) || isTLS(err) {
		return false
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, kgo.ErrRecordTimeout) || errors.Is(err, kgo.ErrRecordRetries)
}

// isTLS reports whether err is a failed TLS handshake or certificate check.
func isTLS(err error) bool {
	var (
		rec  tls.RecordHeaderError
		alr  tls.AlertError
		cert *tls.CertificateVerificationError
		ua   x509.UnknownAuthorityError
		hn   x509.HostnameError
		ci   x509.CertificateInvalidError
	)
	return errors.As(err, &rec) || errors.As(err, &alr) || errors.As(err, &cert) ||
		errors.As(err, &ua) || errors.As(err, &hn) || errors.As(err, &ci)
}

// isUnknownTopic reports whether err says the topic does not exist.
func isUnknownTopic(err error) bool {
	return errors.Is(err, kerr.UnknownTopicOrPartition) || errors.Is(err, kerr.UnknownTopicID)
}

// isTopicExists reports whether err says the topic already exists.
func isTopicExists(err error) bool { return errors.Is(err, kerr.TopicAlreadyExists) }

// isAuth reports whether err is a refused SASL login.
func isAuth(err error) bool {
	return errors.Is(err, kerr.SaslAuthenticationFailed) || errors.Is(err, kerr.IllegalSaslState) ||
		errors.Is(err, kerr.UnsupportedSaslMechanism)
}

// isDenied reports whether err is a missing ACL (which may be granted).
func isDenied(err error) bool {
	var ae *kadm.AuthError
	return errors.As(err, &ae) || errors.Is(err, kerr.TopicAuthorizationFailed) ||
		errors.Is(err, kerr.ClusterAuthorizationFailed) || errors.Is(err, kerr.TransactionalIDAuthorizationFailed)
}

// recordPermanent lists the per-record errors that sending again cannot
// fix.
var recordPermanent = []error{
	kerr.MessageTooLarge, kerr.RecordListTooLarge, kerr.InvalidRecord, kerr.CorruptMessage,
	kerr.InvalidTopicException, kerr.UnsupportedForMessageFormat, kerr.InvalidRequiredAcks,
}

// explainedError is an error with a message for people and the original
// error underneath.
type explainedError struct {
	msg string
	err error
}

func (e *explainedError) Error() string { return e.msg }
func (e *explainedError) Unwrap() error { return e.err }

// explain describes err from the call that did what: unreachable brokers,
// a refused login, a missing ACL or a failed TLS handshake are said so
// plainly.
func (d *Kafka) explain(what string, err error) error {
	var msg string
	switch {
	case isAuth(err):
		msg = fmt.Sprintf("kafka: %s: brokers %s refused the SASL login (check sasl.username and sasl.password): %v", what, d.brokers, err)
	case isDenied(err):
		msg = fmt.Sprintf("kafka: %s: topic %q: not authorized (the user needs the Describe and Write ACLs on it, and Create to create it): %v", what, d.topic, err)
	case isUnknownTopic(err):
		msg = fmt.Sprintf("kafka: %s: topic %q does not exist on brokers %s", what, d.topic, d.brokers)
	case isTLS(err):
		msg = fmt.Sprintf("kafka: %s: TLS with brokers %s failed (check the tls settings): %v", what, d.brokers, err)
	case unreachable(err):
		msg = fmt.Sprintf("kafka: %s: cannot reach brokers %s: %v", what, d.brokers, err)
		return &unreachableError{&explainedError{msg: d.scrubText(msg), err: err}}
	default:
		msg = fmt.Sprintf("kafka: %s: topic %q: %v", what, d.topic, err)
	}
	return &explainedError{msg: d.scrubText(msg), err: err}
}

// recordResult classifies the error a record was produced with.
func (d *Kafka) recordResult(parent context.Context, err error) destination.Result {
	if err == nil {
		return destination.Result{}
	}
	if parent.Err() != nil {
		return destination.Result{Err: fmt.Errorf("kafka: not sent: %w", context.Cause(parent))}
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, kgo.ErrRecordTimeout) {
		return destination.Result{Err: &explainedError{
			msg: fmt.Sprintf("kafka: produce to topic %q: not acknowledged within %s (are brokers %s reachable?)", d.topic, d.timeout, d.brokers),
			err: err,
		}}
	}
	for _, p := range recordPermanent {
		if errors.Is(err, p) {
			return destination.Result{Err: d.explain("produce", err), Permanent: true}
		}
	}
	return destination.Result{Err: d.explain("produce", err), Permanent: isAuth(err)}
}

// scrub replaces the secrets in err's text.
func (d *Kafka) scrub(err error) error {
	if msg := d.scrubText(err.Error()); msg != err.Error() {
		return &explainedError{msg: msg, err: err}
	}
	return err
}

// scrubText replaces the secrets in s with x's.
func (d *Kafka) scrubText(s string) string {
	for _, secret := range d.scrubs {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, "xxxxx")
		}
	}
	return s
}
