package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wearbridge/wearbridge/internal/destination"
	"github.com/wearbridge/wearbridge/internal/model"
	"github.com/wearbridge/wearbridge/internal/secretbox"
	"github.com/wearbridge/wearbridge/internal/store"
)

// Destinations creates, tests and changes developers' destinations.
type Destinations struct {
	Store   *store.Store
	Kinds   *destination.Registry
	Offload destination.Offloader
	Now     func() time.Time
}

// BadDestinationError is a destination that its kind refused: bad
// settings, or a test delivery that failed. Its message is for the
// developer.
type BadDestinationError struct{ Msg string }

func (e *BadDestinationError) Error() string { return e.Msg }

// NewDestination is what a developer asks for.
type NewDestination struct {
	Kind       string
	Settings   json.RawMessage
	EventTypes []string
	Enabled    bool
	// Secret signs deliveries; empty means a new random one.
	Secret string
	// SkipTest skips the test delivery.
	SkipTest bool
}

// Create validates a destination, tests it by delivering a healthcheck
// event (removed again where the kind can), and stores it. New
// destinations start at the developer's newest event.
func (m *Destinations) Create(ctx context.Context, dev store.Developer, n NewDestination) (store.Destination, error) {
	if len(n.Settings) == 0 {
		n.Settings = json.RawMessage(`{}`)
	}
	if !json.Valid(n.Settings) {
		return store.Destination{}, &BadDestinationError{"settings must be a JSON object"}
	}
	if err := checkEventTypes(n.EventTypes); err != nil {
		return store.Destination{}, err
	}
	if n.Secret == "" {
		n.Secret = "whsec_" + secretbox.RandomToken(24)
	}
	d := store.Destination{DeveloperID: dev.ID, Kind: n.Kind, Settings: n.Settings, Secret: n.Secret, Enabled: n.Enabled, EventTypes: n.EventTypes}
	if err := m.check(ctx, d, !n.SkipTest); err != nil {
		return store.Destination{}, err
	}
	return m.Store.CreateDestination(ctx, d, true)
}

// Update changes a destination; new settings are validated and tested
// first.
func (m *Destinations) Update(ctx context.Context, devID, id string, settings json.RawMessage, enabled *bool, types *[]string, skipTest bool) (store.Destination, error) {
	d, err := m.Store.Destination(ctx, devID, id)
	if err != nil {
		return d, err
	}
	if types != nil {
		if err := checkEventTypes(*types); err != nil {
			return d, err
		}
	}
	if settings != nil {
		if !json.Valid(settings) {
			return d, &BadDestinationError{"settings must be a JSON object"}
		}
		settings = keepMasked(d.Settings, settings)
		d.Settings = settings
		if err := m.check(ctx, d, !skipTest); err != nil {
			return d, err
		}
	}
	return m.Store.UpdateDestination(ctx, devID, id, settings, enabled, types)
}

// Test delivers a healthcheck event to a stored destination.
func (m *Destinations) Test(ctx context.Context, devID, id string) error {
	d, err := m.Store.Destination(ctx, devID, id)
	if err != nil {
		return err
	}
	return m.check(ctx, d, true)
}

func (m *Destinations) check(ctx context.Context, d store.Destination, test bool) error {
	k, ok := m.Kinds.Get(d.Kind)
	if !ok {
		return &BadDestinationError{fmt.Sprintf("unknown destination kind %q (valid: %s)", d.Kind, strings.Join(m.Kinds.Names(), ", "))}
	}
	cfg := destination.Config{ID: d.ID, Kind: d.Kind, Settings: d.Settings, Secret: d.Secret, Offload: m.Offload}
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	dst, err := k.Open(tctx, cfg)
	if err != nil {
		return &BadDestinationError{fmt.Sprintf("invalid %s destination: %v", d.Kind, err)}
	}
	defer dst.Close()
	if !test {
		return nil
	}
	now := time.Now
	if m.Now != nil {
		now = m.Now
	}
	t := now().UTC()
	body, _ := json.Marshal(map[string]any{"type": "healthcheck", "status": "success", "message": "wearbridge destination test",
		"creation_timestamp": model.FormatTime(t), "version": Version})
	ev := destination.Event{DeliveryID: "healthcheck-" + secretbox.RandomToken(9), Type: "healthcheck", CreatedAt: t, Body: body}
	res := dst.Deliver(tctx, []destination.Event{ev})
	if len(res) != 1 {
		return &BadDestinationError{"test delivery failed: the destination gave no result"}
	}
	if res[0].Err != nil {
		return &BadDestinationError{fmt.Sprintf("test delivery to the %s destination failed: %v", d.Kind, res[0].Err)}
	}
	if r, ok := dst.(destination.HealthcheckRemover); ok {
		if err := r.RemoveHealthcheck(tctx, ev); err != nil && !errors.Is(err, destination.ErrNotFound) {
			return &BadDestinationError{fmt.Sprintf("test delivery worked, but removing it failed: %v", err)}
		}
	}
	return nil
}

func checkEventTypes(types []string) error {
	for _, t := range types {
		if !KnownEventType(t) {
			return &BadDestinationError{fmt.Sprintf("unknown event type %q", t)}
		}
	}
	return nil
}

// KnownEventType reports whether t is an event type wearbridge sends.
func KnownEventType(t string) bool {
	if model.DataType(t).Valid() {
		return true
	}
	switch t {
	case "auth", "auth_cancelled", "deauth", "user_reauth", "access_revoked", "connection_error", "rate_limit_hit",
		"large_request_processing", "large_request_sending", "healthcheck":
		return true
	}
	return false
}

// Masked is what the API shows instead of a credential.
const Masked = "***"

// keepMasked returns next with every value that is exactly Masked replaced
// by the value at the same place in old, so that settings read from the API
// (credentials masked) can be sent back with one field changed.
func keepMasked(old, next json.RawMessage) json.RawMessage {
	var o, n map[string]any
	if json.Unmarshal(old, &o) != nil || json.Unmarshal(next, &n) != nil {
		return next
	}
	var merge func(o, n map[string]any)
	merge = func(o, n map[string]any) {
		for k, v := range n {
			switch t := v.(type) {
			case string:
				if t == Masked {
					if ov, ok := o[k]; ok {
						n[k] = ov
					}
				}
			case map[string]any:
				if om, ok := o[k].(map[string]any); ok {
					merge(om, t)
				}
			}
		}
	}
	merge(o, n)
	out, err := json.Marshal(n)
	if err != nil {
		return next
	}
	return out
}
