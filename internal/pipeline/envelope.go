// Package pipeline turns provider data into events and events into
// deliveries: Ingest stores records and appends their events in one
// transaction (the outbox); Deliverer runs one delivery loop per
// destination, with retries, dead letters and replay.
package pipeline

import (
	"encoding/json"

	"github.com/wearbridge/wearbridge/internal/model"
	"github.com/wearbridge/wearbridge/internal/store"
)

// Version is the Terra API version written in every data envelope.
const Version = "2022-03-16"

// TerraUser renders a user as the TerraUser object of the wire format.
func TerraUser(u store.User) model.TerraUser {
	tu := model.TerraUser{UserId: u.ID, Provider: u.Provider}
	created := model.FormatTime(u.CreatedAt)
	tu.CreatedAt = &created
	if !u.LastWebhookUpdate.IsZero() {
		last := model.FormatTime(u.LastWebhookUpdate)
		tu.LastWebhookUpdate = &last
	}
	if u.Scopes != "" {
		scopes := u.Scopes
		tu.Scopes = &scopes
	}
	if u.ReferenceID != "" {
		ref := u.ReferenceID
		tu.ReferenceId = &ref
	}
	active := u.Active
	tu.Active = &active
	return tu
}

// DataEnvelope is the body of a data event.
type DataEnvelope struct {
	Type    string            `json:"type"`
	User    model.TerraUser   `json:"user"`
	Data    []json.RawMessage `json:"data"`
	Version string            `json:"version"`
}
