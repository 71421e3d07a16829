package mongodb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"

	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/wearbridge/wearbridge/internal/destination"
)

// Server error codes the destination tells apart.
const (
	codeAuthFailed         = 18    // AuthenticationFailed
	codeUnauthorized       = 13    // Unauthorized: the user lacks a privilege
	codeMechanismMissing   = 334   // MechanismUnavailable
	codeIndexOptions       = 85    // IndexOptionsConflict: same keys, other name
	codeIndexKeySpecs      = 86    // IndexKeySpecsConflict: same name, other keys
	codeNamespaceNotFound  = 26    // NamespaceNotFound
	codeDuplicateKey       = 11000 // DuplicateKey
	codeDuplicateKeyUpdate = 11001 // DuplicateKey on update (old servers)
)

// dataCodes are server error codes that reject one document's content: a
// retry of the same event can never succeed.
var dataCodes = []int{
	2,     // BadValue (FerretDB: invalid field name)
	14,    // TypeMismatch
	15,    // Overflow
	52,    // DollarPrefixedFieldName
	56,    // EmptyFieldName
	57,    // DottedFieldName
	121,   // DocumentValidationFailure
	10334, // BSONObjectTooLarge
	17419, // document too large after update
	17420, // document too large after update
	17280, // KeyTooLong
}

// result turns the error of doing what into a delivery result.
func (m *MongoDB) result(what string, err error) destination.Result {
	if err == nil {
		return destination.Result{}
	}
	return destination.Result{Err: m.describe(what, err), Permanent: permanent(err)}
}

// describe returns err for the developer: what failed, whether the server
// could not be reached or refused the login, and the driver's message with
// the password scrubbed.
func (m *MongoDB) describe(what string, err error) error {
	switch {
	case hasCode(err, codeAuthFailed, codeMechanismMissing):
		return fmt.Errorf("mongodb: %s: the server at %s refused the login (check the user, password and authSource in the uri): %w", what, m.hosts, m.scrub(err))
	case unreachable(err):
		return fmt.Errorf("mongodb: %s: cannot reach the server at %s: %w", what, m.hosts, m.scrub(err))
	case hasCode(err, codeUnauthorized):
		return fmt.Errorf("mongodb: %s: the user may not do this in database %s (it needs the readWrite role): %w", what, m.dbName, m.scrub(err))
	}
	return fmt.Errorf("mongodb: %s: %w", what, m.scrub(err))
}

// codes returns the server error codes in err's chain.
func codes(err error) []int {
	var se mongo.ServerError
	if errors.As(err, &se) {
		return se.ErrorCodes()
	}
	return nil
}

// hasCode reports whether err carries one of the server error codes.
func hasCode(err error, want ...int) bool {
	for _, c := range codes(err) {
		if slices.Contains(want, c) {
			return true
		}
	}
	return false
}

// permanent reports whether retrying can never fix err: the server refused
// the login, or it rejected the document's content. Everything else,
// including unreachable servers, timeouts, missing privileges and server
// shutdowns, is retryable.
func permanent(err error) bool {
	return hasCode(err, codeAuthFailed, codeMechanismMissing) || hasCode(err, dataCodes...)
}

// duplicateKey reports whether err is a duplicate-key error: for a
// version-guarded upsert, a newer version is stored (or a concurrent write
// inserted the document first).
func duplicateKey(err error) bool {
	return mongo.IsDuplicateKeyError(err) || hasCode(err, codeDuplicateKey, codeDuplicateKeyUpdate)
}

// unreachable reports whether err means the server could not be reached or
// did not answer in time, as opposed to a server that answered with an
// error.
func unreachable(err error) bool {
	if hasCode(err, codeAuthFailed, codeMechanismMissing) {
		return false // a failed handshake, whatever labels it carries
	}
	if mongo.IsTimeout(err) || mongo.IsNetworkError(err) {
		return true
	}
	if len(codes(err)) > 0 {
		return false
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, mongo.ErrClientDisconnected)
}

// scrub returns err with the destination's password removed from its
// message.
func (m *MongoDB) scrub(err error) error { return scrub(err, m.secrets) }

// scrub returns err with every secret replaced by "xxxxx" in its message.
// The result does not unwrap when something was replaced: the original
// message holds a secret.
func scrub(err error, secrets []string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	changed := false
	for _, s := range secrets {
		if s != "" && strings.Contains(msg, s) {
			msg = strings.ReplaceAll(msg, s, "xxxxx")
			changed = true
		}
	}
	if !changed {
		return err
	}
	return scrubbedError(msg)
}

// scrubbedError is an error message with a secret removed.
type scrubbedError string

func (e scrubbedError) Error() string { return string(e) }
