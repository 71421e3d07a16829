package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/wearbridge/wearbridge/internal/destination"
)

// result turns the error of doing what into a delivery result.
func (p *Postgres) result(what string, err error) destination.Result {
	if err == nil {
		return destination.Result{}
	}
	return destination.Result{Err: p.describe(what, err), Permanent: permanent(err)}
}

// describe returns the error of doing what for the developer.
func (p *Postgres) describe(what string, err error) error {
	return fmt.Errorf("postgres: %s: %w", what, p.explain(err))
}

// explain returns err with the password scrubbed, saying so when the
// server could not be reached.
func (p *Postgres) explain(err error) error {
	if unreachable(err) {
		return fmt.Errorf("cannot reach the server at %s: %w", p.addr, p.scrub(err))
	}
	return p.scrub(err)
}

// sqlState returns the SQLSTATE of a server error in err's chain, or "".
func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// permanent reports whether retrying can never fix err: Options.DialControl
// refused the address, the server refused the login (SQLSTATE class 28:
// wrong password, unknown role), or it rejected the event's data (22 data
// exception, 23 integrity violation, 54 program limit such as a row or
// value too large). Everything else, including connection failures,
// timeouts, missing privileges, a missing database and server shutdowns, is
// retryable.
func permanent(err error) bool {
	var re *refusedError
	if errors.As(err, &re) {
		return true
	}
	switch class(sqlState(err)) {
	case "28", "22", "23", "54":
		return true
	}
	return false
}

// eventSpecific reports whether err may come from one event's data, so
// that writing the events one by one can tell the bad one from the others.
func eventSpecific(err error) bool {
	switch class(sqlState(err)) {
	case "22", "23", "54":
		return true
	}
	return false
}

// class returns a SQLSTATE's two-character class.
func class(code string) string {
	if len(code) < 2 {
		return ""
	}
	return code[:2]
}

// unreachable reports whether err means the server could not be reached
// (or did not answer in time), as opposed to a server that answered with an
// error.
func unreachable(err error) bool {
	var re *refusedError
	if sqlState(err) != "" || errors.As(err, &re) {
		return false
	}
	var ne net.Error
	return errors.As(err, &ne) || pgconn.Timeout(err) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// checkMissing forgets that the layout exists when err says a table or the
// schema is gone (dropped behind our back), so the next delivery creates
// it again.
func (p *Postgres) checkMissing(err error) {
	switch sqlState(err) {
	case "42P01", "3F000": // undefined_table, invalid_schema_name
		p.layoutOK.Store(false)
		p.known.reset()
	}
}

// scrub returns err with the destination's password removed from its
// message.
func (p *Postgres) scrub(err error) error { return scrub(err, p.password) }

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
