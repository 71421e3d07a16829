package mongodb

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// wantedIndexes returns the index keys a collection needs.
func wantedIndexes(coll string) []bson.D {
	if coll == eventsCollection {
		return []bson.D{{{Key: "user_id", Value: 1}, {Key: "created_at", Value: 1}}}
	}
	return []bson.D{
		{{Key: "user_id", Value: 1}},
		{{Key: "record_key", Value: 1}},
		{{Key: "start_time", Value: 1}},
	}
}

// ensureIndexes creates the indexes that are absent on every collection.
// It lists the existing ones first and creates each missing one with its
// own command: FerretDB v1 crashes on a createIndexes command that names
// two or more indexes that already exist.
func (m *MongoDB) ensureIndexes(ctx context.Context) error {
	for _, name := range collectionNames() {
		coll := m.colls[name]
		have, err := indexKeys(ctx, coll)
		if err != nil {
			return fmt.Errorf("list indexes of %s: %w", name, err)
		}
		for _, keys := range wantedIndexes(name) {
			if have[keyString(keys)] {
				continue
			}
			if _, err := coll.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: keys}); err != nil {
				// An index with these keys but another name (created by
				// someone else meanwhile) serves as well.
				if hasCode(err, codeIndexOptions) {
					continue
				}
				return fmt.Errorf("create index %s on %s: %w", keyString(keys), name, err)
			}
		}
	}
	return nil
}

// indexKeys returns the key patterns of a collection's indexes, as
// keyString renders them. A collection that does not exist has none.
func indexKeys(ctx context.Context, coll *mongo.Collection) (map[string]bool, error) {
	specs, err := coll.Indexes().ListSpecifications(ctx)
	if err != nil {
		if hasCode(err, codeNamespaceNotFound) {
			return map[string]bool{}, nil
		}
		return nil, err
	}
	have := make(map[string]bool, len(specs))
	for _, s := range specs {
		var keys bson.D
		if err := bson.Unmarshal(s.KeysDocument, &keys); err != nil {
			return nil, fmt.Errorf("index %s: %w", s.Name, err)
		}
		have[keyString(keys)] = true
	}
	return have, nil
}

// keyString renders an index key pattern as "user_id:1,created_at:1",
// whatever numeric type the server used for the directions.
func keyString(keys bson.D) string {
	var sb strings.Builder
	for i, e := range keys {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(e.Key)
		sb.WriteByte(':')
		switch v := e.Value.(type) {
		case int32:
			sb.WriteString(strconv.FormatInt(int64(v), 10))
		case int64:
			sb.WriteString(strconv.FormatInt(v, 10))
		case int:
			sb.WriteString(strconv.Itoa(v))
		case float64:
			sb.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
		default:
			fmt.Fprint(&sb, v)
		}
	}
	return sb.String()
}
