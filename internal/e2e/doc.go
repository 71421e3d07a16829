// Package e2e holds wearbridge's end-to-end tests: each test starts the
// wired process (app.New in sandbox mode) on a loopback listener, drives it
// through its HTTP API as a developer's backend and an end user's browser
// would, and checks what real webhook receivers (httptest servers) get.
//
// The package has no code of its own; everything is in its _test.go files.
package e2e
