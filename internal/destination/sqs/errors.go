package sqs

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Error codes SQS answers with, as the JSON protocol names them; the
// legacy query-protocol names (AWS.SimpleQueueService.NonExistentQueue) are
// matched too.
var (
	// missingQueue: the queue does not exist (it may be created later).
	missingQueue = []string{"QueueDoesNotExist", "NonExistentQueue", "QueueDeletedRecently"}
	// badCredentials: the credentials are not valid; only new settings help.
	badCredentials = []string{"InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch",
		"IncompleteSignature", "MissingAuthenticationToken", "InvalidSecurity", "InvalidAccessKeyId"}
	// denied: valid credentials without permission (a policy may change).
	denied = []string{"AccessDenied", "AccessDeniedException", "KmsAccessDenied", "KMS.AccessDeniedException"}
	// throttling: slow down and try again.
	throttling = []string{"RequestThrottled", "ThrottlingException", "Throttling", "KmsThrottled",
		"KMS.ThrottlingException", "OverLimit", "RequestLimitExceeded"}
	// badRequest: the request itself is wrong; sending it again cannot help.
	badRequest = []string{"InvalidParameterValue", "InvalidMessageContents", "BatchRequestTooLong",
		"TooManyEntriesInBatchRequest", "BatchEntryIdsNotDistinct", "InvalidBatchEntryId", "MissingParameter",
		"UnsupportedOperation", "InvalidAddress"}
)

// codeIn reports whether code, or its last dotted part, is in codes.
func codeIn(code string, codes []string) bool {
	short := code[strings.LastIndexByte(code, '.')+1:]
	for _, c := range codes {
		if code == c || short == c {
			return true
		}
	}
	return false
}

// apiCode returns the SQS error code in err, or "".
func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// throttled reports whether code asks to slow down.
func throttled(code string) bool { return codeIn(code, throttling) }

// permanent reports whether a call that failed with err can never succeed
// with these settings.
func permanent(err error) bool {
	code := apiCode(err)
	return code != "" && (codeIn(code, badCredentials) || codeIn(code, badRequest))
}

// unreachable reports whether err means SQS did not answer (connection
// refused, DNS, timeout), as opposed to answering with an error.
func unreachable(err error) bool {
	if apiCode(err) != "" {
		return false
	}
	var se *smithyhttp.RequestSendError
	var ne net.Error
	return errors.As(err, &se) || errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded)
}

// explainedError is an SDK error with a short message: the SDK's own
// repeats the operation, status and request id.
type explainedError struct {
	msg string
	err error
}

func (e *explainedError) Error() string { return e.msg }
func (e *explainedError) Unwrap() error { return e.err }

// explain describes err from the call that did what: a missing queue,
// refused credentials or an unreachable endpoint are said so plainly.
func (q *Queue) explain(what string, err error) error {
	code := apiCode(err)
	var ae smithy.APIError
	errors.As(err, &ae)
	var msg string
	switch {
	case code != "" && codeIn(code, missingQueue):
		msg = fmt.Sprintf("sqs: %s: queue %q does not exist (%s)", what, q.name, q.url)
	case code != "" && codeIn(code, badCredentials):
		msg = fmt.Sprintf("sqs: %s: queue %q: the credentials were refused (access_key_id or secret_access_key is wrong): %s: %s", what, q.name, code, ae.ErrorMessage())
	case code != "" && codeIn(code, denied):
		msg = fmt.Sprintf("sqs: %s: queue %q: access denied (the credentials need sqs:GetQueueAttributes and sqs:SendMessage on it): %s", what, q.name, ae.ErrorMessage())
	case code != "":
		msg = fmt.Sprintf("sqs: %s: queue %q: %s: %s", what, q.name, code, ae.ErrorMessage())
	case unreachable(err):
		msg = fmt.Sprintf("sqs: %s: cannot reach %s: %s", what, q.shownEndpoint(), rootCause(err))
	default:
		msg = fmt.Sprintf("sqs: %s: queue %q: %v", what, q.name, err)
	}
	return &explainedError{msg: q.scrubText(msg), err: err}
}

// shownEndpoint is where calls go, for messages.
func (q *Queue) shownEndpoint() string {
	if q.endpoint != "" {
		return q.endpoint
	}
	return "the SQS endpoint of the region"
}

// rootCause returns the innermost error's text ("dial tcp 127.0.0.1:1:
// connect: connection refused"), or err's own when it wraps nothing.
func rootCause(err error) string {
	var ne *net.OpError
	if errors.As(err, &ne) {
		return ne.Error()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timed out"
	}
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err.Error()
		}
		err = next
	}
}

// scrub replaces the secrets in err's text.
func (q *Queue) scrub(err error) error {
	if msg := q.scrubText(err.Error()); msg != err.Error() {
		return &explainedError{msg: msg, err: err}
	}
	return err
}

// scrubText replaces the secrets in s with x's.
func (q *Queue) scrubText(s string) string {
	for _, secret := range q.scrubs {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, "xxxxx")
		}
	}
	return s
}
