package mysql

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/wearbridge/wearbridge/internal/destination"
)

// Server error numbers the destination tells apart.
const (
	errAccessDenied         = 1045 // ER_ACCESS_DENIED_ERROR (wrong password, unknown user)
	errAccessDeniedNoPass   = 1698 // ER_ACCESS_DENIED_NO_PASSWORD_ERROR
	errMustChangePassword   = 1820 // ER_MUST_CHANGE_PASSWORD
	errMustChangePassLogin  = 1862 // ER_MUST_CHANGE_PASSWORD_LOGIN
	errAccountLocked        = 3118 // ER_ACCOUNT_HAS_BEEN_LOCKED (MySQL)
	errAccountLockedMariaDB = 4151 // ER_ACCOUNT_HAS_BEEN_LOCKED (MariaDB)

	errBadNull          = 1048 // ER_BAD_NULL_ERROR
	errTooBigRow        = 1118 // ER_TOO_BIG_ROWSIZE
	errPacketTooLarge   = 1153 // ER_NET_PACKET_TOO_LARGE
	errOutOfRange       = 1264 // ER_WARN_DATA_OUT_OF_RANGE
	errWrongValue       = 1292 // ER_TRUNCATED_WRONG_VALUE (e.g. a date out of range)
	errIncorrectString  = 1366 // ER_TRUNCATED_WRONG_VALUE_FOR_FIELD
	errDataTooLong      = 1406 // ER_DATA_TOO_LONG
	errInvalidJSON      = 3140 // ER_INVALID_JSON_TEXT (MySQL)
	errInvalidJSONChars = 3144 // ER_INVALID_JSON_CHARSET (MySQL)
	errCheckFailed      = 3819 // ER_CHECK_CONSTRAINT_VIOLATED (MySQL)
	errConstraintFailed = 4025 // ER_CONSTRAINT_FAILED (MariaDB; json_valid)

	errNoSuchTable = 1146 // ER_NO_SUCH_TABLE
)

// result turns the error of doing what into a delivery result.
func (m *MySQL) result(what string, err error) destination.Result {
	if err == nil {
		return destination.Result{}
	}
	return destination.Result{Err: m.describe(what, err), Permanent: permanent(err)}
}

// describe returns the error of doing what for the developer.
func (m *MySQL) describe(what string, err error) error {
	return fmt.Errorf("mysql: %s: %w", what, m.explain(err))
}

// explain returns err with the password scrubbed, saying so when the
// server could not be reached.
func (m *MySQL) explain(err error) error {
	if unreachable(err) {
		return fmt.Errorf("cannot reach the server at %s: %w", m.addr, m.scrub(err))
	}
	return m.scrub(err)
}

// serverError returns the number of a server error in err's chain, or 0.
func serverError(err error) uint16 {
	var me *gomysql.MySQLError
	if errors.As(err, &me) {
		return me.Number
	}
	return 0
}

// permanent reports whether retrying can never fix err: Options.DialControl
// refused the address, the server refused the login (wrong password,
// unknown or locked user, expired password), or it rejected the event's
// data. Everything else, including connection failures, timeouts, missing
// privileges, a missing database and server shutdowns, is retryable.
func permanent(err error) bool {
	var re *refusedError
	if errors.As(err, &re) || eventSpecific(err) {
		return true
	}
	switch serverError(err) {
	case errAccessDenied, errAccessDeniedNoPass, errMustChangePassword, errMustChangePassLogin,
		errAccountLocked, errAccountLockedMariaDB:
		return true
	}
	return false
}

// eventSpecific reports whether err may come from one event's data, so
// that writing the events one by one can tell the bad one from the others.
func eventSpecific(err error) bool {
	if errors.Is(err, gomysql.ErrPktTooLarge) {
		return true
	}
	switch serverError(err) {
	case errBadNull, errTooBigRow, errPacketTooLarge, errOutOfRange, errWrongValue, errIncorrectString,
		errDataTooLong, errInvalidJSON, errInvalidJSONChars, errCheckFailed, errConstraintFailed:
		return true
	}
	return false
}

// unreachable reports whether err means the server could not be reached
// (or did not answer in time), as opposed to a server that answered with an
// error.
func unreachable(err error) bool {
	var re *refusedError
	if serverError(err) != 0 || errors.As(err, &re) {
		return false
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, driver.ErrBadConn) || errors.Is(err, gomysql.ErrInvalidConn) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// checkMissing forgets that the layout exists when err says a table is
// gone (dropped behind our back), so the next delivery creates it again.
func (m *MySQL) checkMissing(err error) {
	if serverError(err) == errNoSuchTable {
		m.layoutOK.Store(false)
		m.known.reset()
	}
}

// scrub returns err with the destination's password removed from its
// message.
func (m *MySQL) scrub(err error) error { return scrub(err, m.password) }

// scrub returns err with secret replaced by "xxxxx" in its message. The
// result does not unwrap: the original message holds the secret.
func scrub(err error, secret string) error {
	if err == nil || secret == "" || !strings.Contains(err.Error(), secret) {
		return err
	}
	return scrubbedError(strings.ReplaceAll(err.Error(), secret, "xxxxx"))
}

// scrubbedError is an error message with a secret removed.
type scrubbedError string

func (e scrubbedError) Error() string { return string(e) }

// refusedError is an address that Options.DialControl refused.
type refusedError struct{ err error }

func (e *refusedError) Error() string { return e.err.Error() }
func (e *refusedError) Unwrap() error { return e.err }

// refusing wraps a dial Control function so that its refusals are told
// apart from network failures: they are permanent, not retryable.
func refusing(control func(network, address string, c syscall.RawConn) error) func(string, string, syscall.RawConn) error {
	return func(network, address string, c syscall.RawConn) error {
		if err := control(network, address, c); err != nil {
			return &refusedError{err}
		}
		return nil
	}
}
