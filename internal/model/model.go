// Package model holds wearbridge's unified data types: the Terra v2 wire
// format (generated from the Terra JSON Schemas in terra_gen.go) and the
// Record that every provider mapper produces.
package model

import (
	"encoding/json"
	"time"
)

// DataType is a Terra data type name as it appears in event envelopes
// ("activity", "sleep", "daily", "body", ...).
type DataType string

// The Terra data types.
const (
	TypeActivity     DataType = "activity"
	TypeSleep        DataType = "sleep"
	TypeDaily        DataType = "daily"
	TypeBody         DataType = "body"
	TypeNutrition    DataType = "nutrition"
	TypeMenstruation DataType = "menstruation"
	TypeAthlete      DataType = "athlete"
)

// DataTypes lists every Terra data type, in a stable order.
var DataTypes = []DataType{TypeActivity, TypeSleep, TypeDaily, TypeBody, TypeNutrition, TypeMenstruation, TypeAthlete}

// Valid reports whether t is one of DataTypes.
func (t DataType) Valid() bool {
	for _, dt := range DataTypes {
		if dt == t {
			return true
		}
	}
	return false
}

// Record is one normalised item produced by a provider mapper.
//
// Its identity is (user, Type, Key): re-mapping the same provider item must
// give the same Key, so that a re-sync updates the record instead of adding
// a second one. Key is the provider's own id where it has one, otherwise a
// natural key such as the calendar day ("2024-11-11").
type Record struct {
	// Type is the Terra data type of Data.
	Type DataType
	// Key is the stable identity of the record within (user, Type).
	Key string
	// Start and End are the instants the record covers.
	Start, End time.Time
	// Day is the local calendar day the record belongs to (YYYY-MM-DD), the
	// provider's own day field where it has one; empty when not applicable.
	Day string
	// Data is the Terra object (*Sleep, *Daily, *Activity, *Body, ...). It is
	// marshalled with encoding/json.
	Data any
	// Raw is the provider's own payload for this item, kept as received.
	Raw json.RawMessage
}

// Problem is a provider item or page that could not be fetched or mapped.
// It is recorded against the user with the raw body kept, and the rest of
// the batch still lands.
type Problem struct {
	// Type is the data type being fetched or mapped, when known.
	Type DataType
	// Err says what went wrong.
	Err string
	// Raw is the body that could not be used, kept as received.
	Raw []byte
}
