package mongodb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/wearbridge/wearbridge/internal/destination"
)

// maxDocBytes is the largest document the destination sends: MongoDB's
// 16 MiB limit, less room for _id and the update command around it.
const maxDocBytes = 16<<20 - 4<<10

// op is one event, checked and ready to write.
type op struct {
	i       int                // position in the batch
	ev      *destination.Event // the event
	coll    string             // collection name
	id      string             // the document's _id
	version int64              // the record's version; 0 for other events
	filter  bson.D             // matches the document when it may be replaced
	update  bson.D             // {$set: the document's fields}
}

// envelope is the part of an event body the destination reads. Its
// members are decoded one by one, so that a non-data event whose data or
// user has another shape is still stored.
type envelope struct {
	User json.RawMessage `json:"user"`
	Data json.RawMessage `json:"data"`
}

// userID returns the envelope's user.user_id, or "".
func (e envelope) userID() string {
	var u struct {
		UserID string `json:"user_id"`
	}
	if len(e.User) == 0 || json.Unmarshal(e.User, &u) != nil {
		return ""
	}
	return u.UserID
}

// userIDOf returns the event's user id: ev.UserID, else the envelope's.
func userIDOf(ev *destination.Event, env envelope) string {
	if ev.UserID != "" {
		return ev.UserID
	}
	return env.userID()
}

// Deliver writes the events, one unordered bulk write per collection, and
// returns one result per event, in order. Events whose body or identity is
// unusable fail permanently, as do events whose document the server
// rejects; unreachable servers, timeouts and other server errors are
// retryable, a refused login is permanent.
func (m *MongoDB) Deliver(ctx context.Context, events []destination.Event) []destination.Result {
	results := make([]destination.Result, len(events))
	if len(events) == 0 {
		return results
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()

	groups := map[string][]*op{}
	for i := range events {
		o, err := m.prepare(&events[i])
		if err != nil {
			results[i] = destination.Result{Err: err, Permanent: true}
			continue
		}
		o.i = i
		groups[o.coll] = append(groups[o.coll], o)
	}
	var down error // the server could not be reached: do not wait for it again
	for _, name := range collectionNames() {
		ops := groups[name]
		if len(ops) == 0 {
			continue
		}
		if down != nil {
			res := m.result("write "+count(len(ops))+" to "+name, down)
			for _, o := range ops {
				results[o.i] = res
			}
			continue
		}
		down = m.writeCollection(ctx, name, ops, results)
	}
	failed := 0
	for _, r := range results {
		if r.Err != nil {
			failed++
		}
	}
	m.log.DebugContext(ctx, "mongodb delivered", "events", len(events), "failed", failed, "duration", time.Since(start))
	return results
}

// count renders n events.
func count(n int) string {
	if n == 1 {
		return "1 event"
	}
	return strconv.Itoa(n) + " events"
}

// prepare checks an event and builds its write.
func (m *MongoDB) prepare(ev *destination.Event) (*op, error) {
	var env envelope
	if err := json.Unmarshal(ev.Body, &env); err != nil {
		return nil, fmt.Errorf("mongodb: event %s: body is not a JSON envelope: %w", ev.DeliveryID, err)
	}
	userID := userIDOf(ev, env)
	if ev.RecordKey == "" {
		if ev.DeliveryID == "" {
			return nil, fmt.Errorf("mongodb: %s event (seq %d) has no delivery id", ev.Type, ev.Seq)
		}
		doc, err := jsonToBSON(ev.Body)
		if err != nil {
			return nil, fmt.Errorf("mongodb: event %s: body: %w", ev.DeliveryID, err)
		}
		set := bson.D{
			{Key: "type", Value: ev.Type},
			{Key: "user_id", Value: nullString(userID)},
			{Key: "created_at", Value: eventTime(ev)},
			{Key: "event", Value: doc},
		}
		return newOp(ev, eventsCollection, ev.DeliveryID, 0, bson.D{{Key: "_id", Value: ev.DeliveryID}}, set)
	}
	coll, ok := m.colls[ev.Type]
	if !ok || ev.Type == eventsCollection {
		return nil, fmt.Errorf("mongodb: event %s: %q is not a data type, but the event has a record key", ev.DeliveryID, ev.Type)
	}
	if userID == "" {
		return nil, fmt.Errorf("mongodb: event %s: a %s record needs a user id", ev.DeliveryID, ev.Type)
	}
	var records []json.RawMessage
	if err := json.Unmarshal(env.Data, &records); err != nil || len(records) != 1 {
		return nil, fmt.Errorf("mongodb: event %s: the envelope's data must hold exactly 1 record, it holds %d", ev.DeliveryID, len(records))
	}
	doc, err := jsonToBSON(records[0])
	if err != nil {
		return nil, fmt.Errorf("mongodb: event %s: data[0]: %w", ev.DeliveryID, err)
	}
	id := docID(userID, ev.RecordKey)
	version := int64(ev.Version)
	set := bson.D{
		{Key: "user_id", Value: userID},
		{Key: "provider", Value: ev.Provider},
		{Key: "record_key", Value: ev.RecordKey},
		{Key: "version", Value: version},
		{Key: "start_time", Value: nullTime(ev.Start)},
		{Key: "end_time", Value: nullTime(ev.End)},
		{Key: "updated_at", Value: eventTime(ev)},
		{Key: "delivery_id", Value: ev.DeliveryID},
		{Key: "data", Value: doc},
	}
	filter := bson.D{{Key: "_id", Value: id}, {Key: "version", Value: bson.D{{Key: "$lte", Value: version}}}}
	return newOp(ev, coll.Name(), id, version, filter, set)
}

// newOp encodes set once, checking its size, and returns the op.
func newOp(ev *destination.Event, coll, id string, version int64, filter, set bson.D) (*op, error) {
	raw, err := bson.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("mongodb: event %s: encode document: %w", ev.DeliveryID, err)
	}
	if len(raw) > maxDocBytes {
		return nil, fmt.Errorf("mongodb: event %s: the document is %d bytes, more than MongoDB's 16 MiB limit", ev.DeliveryID, len(raw))
	}
	return &op{ev: ev, coll: coll, id: id, version: version, filter: filter,
		update: bson.D{{Key: "$set", Value: bson.Raw(raw)}}}, nil
}

// docID is the _id of a record's document.
func docID(userID, recordKey string) string { return userID + ":" + recordKey }

// eventTime is when the event was recorded.
func eventTime(ev *destination.Event) time.Time {
	if ev.CreatedAt.IsZero() {
		return time.Now().UTC()
	}
	return ev.CreatedAt
}

// nullTime maps the zero time (no span) to null.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// nullString maps "" to null.
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// writeCollection writes one collection's ops and records their results.
// Within the batch the highest version of a document wins (the later event
// on a tie); the others share its result, as a stale retry would. It
// returns the error when the server could not be reached.
func (m *MongoDB) writeCollection(ctx context.Context, name string, ops []*op, results []destination.Result) error {
	best := make(map[string]*op, len(ops))
	writes := make([]*op, 0, len(ops))
	for _, o := range ops {
		cur, seen := best[o.id]
		if !seen || o.version >= cur.version {
			best[o.id] = o
		}
		if !seen {
			writes = append(writes, o)
		}
	}
	for k, o := range writes {
		writes[k] = best[o.id]
	}
	down := m.bulkWrite(ctx, name, writes, results)
	for _, o := range ops {
		if w := best[o.id]; w != o {
			results[o.i] = results[w.i]
		}
	}
	return down
}

// bulkWrite writes ops (one per document) with one unordered bulk write.
// If the server reports write errors, it reads the stored versions and
// writes what is not stored yet one by one, so that each op gets its own
// result.
func (m *MongoDB) bulkWrite(ctx context.Context, name string, ops []*op, results []destination.Result) error {
	coll := m.colls[name]
	models := make([]mongo.WriteModel, len(ops))
	for k, o := range ops {
		models[k] = mongo.NewUpdateOneModel().SetFilter(o.filter).SetUpdate(o.update).SetUpsert(true)
	}
	_, err := coll.BulkWrite(ctx, models, options.BulkWrite().SetOrdered(false))
	if err == nil {
		return nil
	}
	var bwe mongo.BulkWriteException
	if !errors.As(err, &bwe) || bwe.WriteConcernError != nil || len(bwe.WriteErrors) == 0 {
		return m.failAll(ops, results, "write "+count(len(ops))+" to "+name, err)
	}
	m.log.DebugContext(ctx, "mongodb bulk write had write errors; writing one by one",
		"collection", name, "events", len(ops), "write_errors", len(bwe.WriteErrors))

	stored, err := storedVersions(ctx, coll, ops)
	if err != nil {
		return m.failAll(ops, results, "read stored versions in "+name, err)
	}
	for k, o := range ops {
		if v, ok := stored[o.id]; ok && v >= o.version {
			continue // written by the bulk write, or a newer version is stored
		}
		if err := writeOne(ctx, coll, o); err != nil {
			results[o.i] = m.result("write event "+o.ev.DeliveryID+" to "+name, err)
			if unreachable(err) {
				var rest []*op
				for _, r := range ops[k+1:] {
					if v, ok := stored[r.id]; !ok || v < r.version {
						rest = append(rest, r)
					}
				}
				return m.failAll(rest, results, "write "+count(len(rest))+" to "+name, err)
			}
		}
	}
	return nil
}

// failAll records err as the result of every op. It returns err when the
// server could not be reached, else nil.
func (m *MongoDB) failAll(ops []*op, results []destination.Result, what string, err error) error {
	res := m.result(what, err)
	for _, o := range ops {
		results[o.i] = res
	}
	if unreachable(err) {
		return err
	}
	return nil
}

// writeOne writes one op. A duplicate-key error means the document exists
// with a version the filter did not match: if it is newer, the event is
// stale and there is nothing to do; if it is older, a concurrent write
// inserted it first, and a retry will replace it.
func writeOne(ctx context.Context, coll *mongo.Collection, o *op) error {
	_, err := coll.UpdateOne(ctx, o.filter, o.update, options.UpdateOne().SetUpsert(true))
	if err == nil || !duplicateKey(err) {
		return err
	}
	stored, serr := storedVersions(ctx, coll, []*op{o})
	if serr != nil {
		return serr
	}
	if v, ok := stored[o.id]; ok && v >= o.version {
		return nil
	}
	return fmt.Errorf("a concurrent write to document %s came first: %w", o.id, err)
}

// storedVersions returns the stored version of each op's document that
// exists (0 for documents without one, such as user_events).
func storedVersions(ctx context.Context, coll *mongo.Collection, ops []*op) (map[string]int64, error) {
	ids := make(bson.A, len(ops))
	for k, o := range ops {
		ids[k] = o.id
	}
	cur, err := coll.Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}},
		options.Find().SetProjection(bson.D{{Key: "version", Value: 1}}))
	if err != nil {
		return nil, err
	}
	defer cur.Close(ctx)
	out := make(map[string]int64, len(ops))
	for cur.Next(ctx) {
		id, ok := cur.Current.Lookup("_id").StringValueOK()
		if !ok {
			continue
		}
		var v int64
		if rv, err := cur.Current.LookupErr("version"); err == nil {
			v, _ = rv.AsInt64OK()
		}
		out[id] = v
	}
	if err := cur.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// ReadBack returns what the destination holds for ev: the data of its
// record (data events) or its stored envelope (other events), rendered as
// JSON; destination.ErrNotFound if there is none.
func (m *MongoDB) ReadBack(ctx context.Context, ev destination.Event) (json.RawMessage, error) {
	ctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	coll, id, field := eventsCollection, ev.DeliveryID, "event"
	if ev.RecordKey != "" {
		if _, ok := m.colls[ev.Type]; !ok || ev.Type == eventsCollection {
			return nil, fmt.Errorf("mongodb: read back: %q is not a data type", ev.Type)
		}
		var env envelope
		_ = json.Unmarshal(ev.Body, &env) // a body that does not decode has no user id
		coll, id, field = ev.Type, docID(userIDOf(&ev, env), ev.RecordKey), "data"
	}
	raw, err := m.colls[coll].FindOne(ctx, bson.D{{Key: "_id", Value: id}},
		options.FindOne().SetProjection(bson.D{{Key: field, Value: 1}})).Raw()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, destination.ErrNotFound
	}
	if err != nil {
		return nil, m.describe("read back event "+ev.DeliveryID, err)
	}
	v, err := raw.LookupErr(field)
	if err != nil {
		return nil, fmt.Errorf("mongodb: read back event %s: document %s in %s has no %s field", ev.DeliveryID, id, coll, field)
	}
	out, err := bsonToJSON(v)
	if err != nil {
		return nil, fmt.Errorf("mongodb: read back event %s: %w", ev.DeliveryID, err)
	}
	return out, nil
}

// RemoveHealthcheck deletes the healthcheck event ev from user_events;
// destination.ErrNotFound if it is not there.
func (m *MongoDB) RemoveHealthcheck(ctx context.Context, ev destination.Event) error {
	ctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	res, err := m.colls[eventsCollection].DeleteOne(ctx,
		bson.D{{Key: "_id", Value: ev.DeliveryID}, {Key: "type", Value: "healthcheck"}})
	if err != nil {
		return m.describe("remove healthcheck "+ev.DeliveryID, err)
	}
	if res.DeletedCount == 0 {
		return destination.ErrNotFound
	}
	return nil
}
