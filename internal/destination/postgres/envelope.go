package postgres

import (
	"encoding/json"
	"errors"
	"fmt"
)

// split finds the top-level "user" value and the elements of the
// top-level "data" array of an event envelope, without decoding them.
//
// Decoding whole envelopes with encoding/json was the client's largest cost
// in a delivery, and the destination needs only these two parts: the
// database checks every JSON text it stores (jsonb), and the user object is
// decoded on its own. split therefore scans the envelope once and checks
// only its structure (strings, nesting, separators). Keys match exactly
// (encoding/json would also take "User"); of duplicate keys the last wins,
// as with encoding/json. user is nil when there is no "user" key; data is
// nil when there is no "data" key.
func split(body []byte) (user []byte, data [][]byte, err error) {
	s := scanner{b: body}
	s.space()
	if !s.take('{') {
		return nil, nil, errors.New("not a JSON object")
	}
	s.space()
	if s.take('}') {
		return nil, nil, s.end()
	}
	for {
		s.space()
		key, err := s.key()
		if err != nil {
			return nil, nil, err
		}
		s.space()
		if !s.take(':') {
			return nil, nil, s.errorf("missing ':' after key %q", key)
		}
		s.space()
		switch key {
		case "user":
			from := s.i
			if err := s.skip(0); err != nil {
				return nil, nil, err
			}
			user = body[from:s.i]
		case "data":
			if data, err = s.array(); err != nil {
				return nil, nil, err
			}
		default:
			if err := s.skip(0); err != nil {
				return nil, nil, err
			}
		}
		s.space()
		if s.take('}') {
			return user, data, s.end()
		}
		if !s.take(',') {
			return nil, nil, s.errorf("missing ',' or '}' in object")
		}
	}
}

// maxDepth bounds nesting, as encoding/json does.
const maxDepth = 10000

// scanner walks a JSON text.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) errorf(format string, args ...any) error {
	return fmt.Errorf("invalid JSON at offset %d: %s", s.i, fmt.Sprintf(format, args...))
}

// space skips whitespace.
func (s *scanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// take consumes c if it is next.
func (s *scanner) take(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// end checks that only whitespace follows.
func (s *scanner) end() error {
	s.space()
	if s.i != len(s.b) {
		return s.errorf("data after the top-level value")
	}
	return nil
}

// key reads an object key. Keys with escapes are decoded by encoding/json.
func (s *scanner) key() (string, error) {
	from := s.i
	escaped, err := s.str()
	if err != nil {
		return "", err
	}
	if !escaped {
		return string(s.b[from+1 : s.i-1]), nil
	}
	var k string
	if err := json.Unmarshal(s.b[from:s.i], &k); err != nil {
		return "", s.errorf("bad key: %v", err)
	}
	return k, nil
}

// str skips a string and reports whether it holds escapes.
func (s *scanner) str() (escaped bool, err error) {
	if !s.take('"') {
		return false, s.errorf("want a string")
	}
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return escaped, nil
		case c == '\\':
			escaped = true
			s.i += 2
		case c < 0x20:
			return false, s.errorf("control character in string")
		default:
			s.i++
		}
	}
	return false, s.errorf("unterminated string")
}

// array reads an array and returns its elements.
func (s *scanner) array() ([][]byte, error) {
	if !s.take('[') {
		return nil, s.errorf("data is not an array")
	}
	out := [][]byte{}
	s.space()
	if s.take(']') {
		return out, nil
	}
	for {
		s.space()
		from := s.i
		if err := s.skip(1); err != nil {
			return nil, err
		}
		out = append(out, s.b[from:s.i])
		s.space()
		if s.take(']') {
			return out, nil
		}
		if !s.take(',') {
			return nil, s.errorf("missing ',' or ']' in array")
		}
	}
}

// skip skips one value at nesting depth.
func (s *scanner) skip(depth int) error {
	if depth > maxDepth {
		return s.errorf("nested too deeply")
	}
	if s.i >= len(s.b) {
		return s.errorf("unexpected end")
	}
	switch c := s.b[s.i]; {
	case c == '"':
		_, err := s.str()
		return err
	case c == '{':
		s.i++
		s.space()
		if s.take('}') {
			return nil
		}
		for {
			s.space()
			if _, err := s.str(); err != nil {
				return err
			}
			s.space()
			if !s.take(':') {
				return s.errorf("missing ':' in object")
			}
			s.space()
			if err := s.skip(depth + 1); err != nil {
				return err
			}
			s.space()
			if s.take('}') {
				return nil
			}
			if !s.take(',') {
				return s.errorf("missing ',' or '}' in object")
			}
		}
	case c == '[':
		s.i++
		s.space()
		if s.take(']') {
			return nil
		}
		for {
			s.space()
			if err := s.skip(depth + 1); err != nil {
				return err
			}
			s.space()
			if s.take(']') {
				return nil
			}
			if !s.take(',') {
				return s.errorf("missing ',' or ']' in array")
			}
		}
	case c == '-' || c >= '0' && c <= '9' || c == 't' || c == 'f' || c == 'n':
		// A number or literal: everything up to the next delimiter. Its
		// exact form is left to the database (or encoding/json, for the
		// user object).
		from := s.i
		for s.i < len(s.b) {
			switch s.b[s.i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return nil
			case '"', '{', '[', ':':
				return s.errorf("unexpected %q after %q", s.b[s.i], s.b[from:s.i])
			}
			s.i++
		}
		return nil
	default:
		return s.errorf("unexpected %q", c)
	}
}
