package objectstore

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/wearbridge/wearbridge/internal/destination"
)

// APIVersion is the Terra API version, the first folder of every name.
const APIVersion = "2022-03-16"

// Layout limits.
const (
	// timeLayout renders start and created times: ISO 8601 basic, UTC.
	timeLayout = "20060102T150405Z"
	// timeLen is len(timeLayout) rendered, for years 0000-9999.
	timeLen = 16
	// maxPrefix is the longest prefix CleanPrefix accepts, in bytes.
	maxPrefix = 512
	// maxName is the longest object name the three stores all accept.
	maxName = 1024
	// suffix ends every object name.
	suffix = ".json"
)

// Metadata words; the store's separator joins them ("wearbridge-version").
var (
	metaVersion    = []string{"wearbridge", "version"}
	metaDeliveryID = []string{"wearbridge", "delivery", "id"}
	metaRecordKey  = []string{"wearbridge", "record", "key"}
	metaUserID     = []string{"wearbridge", "user", "id"}
	metaProvider   = []string{"wearbridge", "provider"}
	metaType       = []string{"wearbridge", "type"}
)

// CleanPrefix validates a prefix setting and returns it without leading
// and trailing slashes. A prefix is one or more segments of printable
// ASCII other than \ separated by single slashes, no segment . or .., at
// most 512 bytes.
func CleanPrefix(p string) (string, error) {
	p = strings.Trim(p, "/")
	if p == "" {
		return "", nil
	}
	if len(p) > maxPrefix {
		return "", fmt.Errorf("longer than %d bytes", maxPrefix)
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c < 0x21 || c > 0x7e || c == '\\' {
			return "", fmt.Errorf("%q: only printable ASCII other than spaces and \\ is allowed", p)
		}
	}
	for seg := range strings.SplitSeq(p, "/") {
		switch seg {
		case "":
			return "", fmt.Errorf("%q: empty segment (//)", p)
		case ".", "..":
			return "", fmt.Errorf("%q: segment %q is not allowed", p, seg)
		}
	}
	return p, nil
}

// escape keeps A-Z a-z 0-9 . _ - and writes every other byte as ~XX.
func escape(s string) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if !plain(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	const hex = "0123456789ABCDEF"
	var sb strings.Builder
	sb.Grow(len(s) + 2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if plain(c) {
			sb.WriteByte(c)
			continue
		}
		sb.WriteByte('~')
		sb.WriteByte(hex[c>>4])
		sb.WriteByte(hex[c&0xf])
	}
	return sb.String()
}

// plain reports whether c stays as it is in a name.
func plain(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-'
}

// stamp renders t for a name.
func stamp(t time.Time) (string, error) {
	s := t.UTC().Format(timeLayout)
	if len(s) != timeLen {
		return "", fmt.Errorf("time %s is out of range", t)
	}
	return s, nil
}

// validType reports whether t may be a folder name: lowercase letters,
// digits and underscores.
func validType(t string) bool {
	if t == "" || len(t) > 64 {
		return false
	}
	for i := 0; i < len(t); i++ {
		if c := t[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// item is one event, checked and named.
type item struct {
	ev     *destination.Event
	data   bool
	userID string
	name   string
	// folder is prefix/2022-03-16/{type}/{user}- for data events: the
	// listing that finds the record's objects under other start times.
	folder string
	escKey string
	meta   map[string]string
}

// prepare checks ev and works out its object name and metadata.
func (d *Dest) prepare(ev *destination.Event) (item, error) {
	if !validType(ev.Type) {
		return item{}, fmt.Errorf("event %s: type %q cannot name a folder", ev.DeliveryID, ev.Type)
	}
	if !json.Valid(ev.Body) {
		return item{}, fmt.Errorf("event %s: body is not JSON", ev.DeliveryID)
	}
	it := item{ev: ev, data: ev.RecordKey != "", userID: ev.UserID}
	if it.userID == "" {
		it.userID = envelopeUser(ev.Body)
	}
	base := d.prefix + APIVersion + "/" + ev.Type + "/"
	if it.data {
		if it.userID == "" {
			return item{}, fmt.Errorf("event %s: a %s record needs a user id", ev.DeliveryID, ev.Type)
		}
		start, err := stamp(ev.Start)
		if err != nil {
			return item{}, fmt.Errorf("event %s: start: %w", ev.DeliveryID, err)
		}
		it.folder = base + escape(it.userID) + "-"
		it.escKey = escape(ev.RecordKey)
		it.name = it.folder + start + "-" + it.escKey + suffix
	} else {
		if ev.DeliveryID == "" {
			return item{}, fmt.Errorf("%s event (seq %d) has no delivery id", ev.Type, ev.Seq)
		}
		created, err := stamp(ev.CreatedAt)
		if err != nil {
			return item{}, fmt.Errorf("event %s: created at: %w", ev.DeliveryID, err)
		}
		it.name = base
		if it.userID != "" {
			it.name += escape(it.userID) + "-"
		}
		it.name += created + "-" + escape(ev.DeliveryID) + suffix
	}
	if len(it.name) > maxName {
		return item{}, fmt.Errorf("event %s: object name is %d bytes long, more than %d", ev.DeliveryID, len(it.name), maxName)
	}
	it.meta = d.metadata(&it)
	return it, nil
}

// ObjectName returns the name ev is written under, or why it cannot be
// written.
func (d *Dest) ObjectName(ev destination.Event) (string, error) {
	it, err := d.prepare(&ev)
	return it.name, err
}

// envelopeUser returns user.user_id of an envelope, or "".
func envelopeUser(body []byte) string {
	var env struct {
		User *struct {
			UserID string `json:"user_id"`
		} `json:"user"`
	}
	if json.Unmarshal(body, &env) != nil || env.User == nil {
		return ""
	}
	return env.User.UserID
}

// metaName joins words with the store's separator.
func (d *Dest) metaName(words []string) string { return strings.Join(words, d.sep) }

// metadata returns the metadata an item's object carries.
func (d *Dest) metadata(it *item) map[string]string {
	m := map[string]string{
		d.metaName(metaDeliveryID): metaValue(it.ev.DeliveryID),
		d.metaName(metaType):       metaValue(it.ev.Type),
	}
	if it.data {
		m[d.metaName(metaVersion)] = strconv.Itoa(it.ev.Version)
		m[d.metaName(metaRecordKey)] = metaValue(it.ev.RecordKey)
	}
	if it.userID != "" {
		m[d.metaName(metaUserID)] = metaValue(it.userID)
	}
	if it.ev.Provider != "" {
		m[d.metaName(metaProvider)] = metaValue(it.ev.Provider)
	}
	return m
}

// metaValue percent-encodes v unless it is printable ASCII (HTTP headers
// carry metadata).
func metaValue(v string) string {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c > 0x7e {
			return url.PathEscape(v)
		}
	}
	return v
}

// storedVersion returns the version in an object's metadata; 0 when it
// has none (an object wearbridge did not write).
func (d *Dest) storedVersion(a Attrs) int {
	want := d.metaName(metaVersion)
	for k, v := range a.Meta {
		if strings.EqualFold(k, want) {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || n < 0 {
				return 0
			}
			return n
		}
	}
	return 0
}

// sameRecord reports whether name, listed under it.folder, is an object of
// it's record (under any start time).
func sameRecord(it *item, name string) bool {
	rest, ok := strings.CutPrefix(name, it.folder)
	if !ok || len(rest) < timeLen+1+len(suffix) || rest[timeLen] != '-' {
		return false
	}
	key, ok := strings.CutSuffix(rest[timeLen+1:], suffix)
	return ok && key == it.escKey
}
