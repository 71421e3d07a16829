package webhook

import (
	"errors"
	"fmt"
	"net/netip"
	"syscall"
)

// ErrBlockedAddress is wrapped by the error returned when a delivery would
// connect to a private, loopback or otherwise non-public address and the
// destination is not allowed to.
var ErrBlockedAddress = errors.New("address not allowed")

// blockedError names the refused address and why it was refused.
type blockedError struct {
	addr   string
	reason string
}

func (e *blockedError) Error() string {
	return fmt.Sprintf("refusing to connect to %s (%s); the server must be started with --allow-private-webhooks to allow it", e.addr, e.reason)
}

func (e *blockedError) Unwrap() error { return ErrBlockedAddress }

// addrRange is one refused range and the reason given for it.
type addrRange struct {
	prefix netip.Prefix
	reason string
}

// blockedRanges are the ranges a webhook may not reach unless private
// targets are allowed: everything that is not a public unicast address.
// IPv4-mapped IPv6 addresses are unmapped before they are checked.
var blockedRanges = []addrRange{
	{netip.MustParsePrefix("0.0.0.0/8"), "unspecified or \"this network\""},
	{netip.MustParsePrefix("10.0.0.0/8"), "private network"},
	{netip.MustParsePrefix("100.64.0.0/10"), "carrier-grade NAT"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local"},
	{netip.MustParsePrefix("172.16.0.0/12"), "private network"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol assignments"},
	{netip.MustParsePrefix("192.0.2.0/24"), "documentation"},
	{netip.MustParsePrefix("192.168.0.0/16"), "private network"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("198.51.100.0/24"), "documentation"},
	{netip.MustParsePrefix("203.0.113.0/24"), "documentation"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved or broadcast"},

	{netip.MustParsePrefix("::/128"), "unspecified"},
	{netip.MustParsePrefix("::1/128"), "loopback"},
	{netip.MustParsePrefix("::/96"), "IPv4-compatible (deprecated)"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "local-use NAT64"},
	{netip.MustParsePrefix("100::/64"), "discard-only"},
	{netip.MustParsePrefix("2001:db8::/32"), "documentation"},
	{netip.MustParsePrefix("fc00::/7"), "unique local"},
	{netip.MustParsePrefix("fe80::/10"), "link-local"},
	{netip.MustParsePrefix("fec0::/10"), "site-local (deprecated)"},
	{netip.MustParsePrefix("ff00::/8"), "multicast"},
}

// Ranges whose addresses embed an IPv4 address, which is checked too: a
// NAT64 or 6to4 gateway would forward to it.
var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
)

// checkAddr returns an error wrapping ErrBlockedAddress if ip is not a public
// unicast address, and nil if a webhook may connect to it.
func checkAddr(ip netip.Addr) error {
	shown := ip.String()
	if !ip.IsValid() {
		return &blockedError{addr: shown, reason: "invalid address"}
	}
	ip = ip.WithZone("").Unmap()
	if ip.Is6() {
		b := ip.As16()
		var v4 netip.Addr
		switch {
		case nat64.Contains(ip):
			v4 = netip.AddrFrom4([4]byte(b[12:16]))
		case sixToFour.Contains(ip):
			v4 = netip.AddrFrom4([4]byte(b[2:6]))
		}
		if v4.IsValid() {
			if err := checkAddr(v4); err != nil {
				return &blockedError{addr: shown, reason: "embeds " + v4.String()}
			}
		}
	}
	for _, r := range blockedRanges {
		if r.prefix.Contains(ip) {
			return &blockedError{addr: shown, reason: r.reason}
		}
	}
	return nil
}

// guardDial is a net.Dialer Control function. It runs after name
// resolution, on the address actually being connected to, so a hostname
// that resolves (or re-resolves) to a refused address is caught too.
func guardDial(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &blockedError{addr: address, reason: "unparsable dial address"}
	}
	return checkAddr(ap.Addr())
}
