package objectstoretest

import "github.com/wearbridge/wearbridge/internal/destination/destinationtest"

// Proxy is destinationtest.Proxy: a TCP proxy a test cuts and restores.
type Proxy = destinationtest.Proxy

// StartProxy starts a proxy to target, stopped when the test ends.
var StartProxy = destinationtest.StartProxy
