// Package mongodb delivers events into a developer's MongoDB database, one
// document per record, kept current by idempotent, version-guarded upserts.
//
// # Settings
//
//	{"uri": "mongodb://user:password@host:27017/?authSource=admin", "database": "wearbridge"}
//
// Fields:
//
//   - uri (required): a mongodb:// or mongodb+srv:// connection string, as
//     the official Go driver accepts it (TLS, authSource, replicaSet, ...).
//     The password lives only here; it never appears in logs or error
//     messages. Unless the uri sets them, serverSelectionTimeoutMS and
//     connectTimeoutMS default to 5 seconds, so an unreachable server is
//     reported within seconds instead of the driver's 30.
//   - database (default: the database named in the uri's path, else
//     "wearbridge"): 1 to 63 letters, digits, underscores and dashes.
//
// The user needs the readWrite role on the database (find, update, delete,
// listIndexes, createIndex).
//
// # Layout
//
// One collection per data type: activity, sleep, daily, body, nutrition,
// menstruation, athlete. Each record is one document:
//
//	{
//	  "_id":         "<user_id>:<record_key>",
//	  "user_id":     "…",            // wearbridge user id
//	  "provider":    "OURA",
//	  "record_key":  "…",            // the record's identity within (user, type)
//	  "version":     3,              // the record's version; only a newer or equal one replaces it
//	  "start_time":  ISODate(…),     // the record's span; null when it has none
//	  "end_time":    ISODate(…),
//	  "updated_at":  ISODate(…),     // when wearbridge recorded this version
//	  "delivery_id": "…",            // the delivery that wrote this version
//	  "data":        { … }           // the record itself: data[0] of the event envelope
//	}
//
// Every other event (auth, deauth, healthcheck, ...) is one document in
// user_events:
//
//	{"_id": "<delivery_id>", "type": "auth", "user_id": "…" (or null), "created_at": ISODate(…), "event": { …the whole envelope… }}
//
// Indexes, created on Open if absent: user_id, record_key and start_time on
// every data collection; (user_id, created_at) on user_events.
//
// JSON is stored as BSON with its key order kept: integers become int32 or
// int64 (a double when they exceed int64), other numbers doubles. Field names
// that MongoDB refuses (some servers refuse names starting with "$" or
// containing ".") make that one event fail permanently.
//
// # Delivery
//
// A record is written with
//
//	updateOne({_id, version: {$lte: v}}, {$set: {...}}, {upsert: true})
//
// so a stale retry or replay never overwrites a newer version: its upsert
// collides with the existing _id, and that duplicate-key error counts as
// delivered. A non-data event is upserted by delivery id. A batch becomes
// one unordered bulk write per collection (within the batch the highest
// version of a record wins). When a bulk write reports write errors, the
// destination reads the stored versions, counts events already stored at
// their version or newer as delivered and writes the rest one by one, so
// each gets its own result. This also covers servers that stop an
// "unordered" bulk write at its first error and misreport the failing
// index, as FerretDB v1 does.
//
// Open connects and creates the indexes; a server that cannot be reached
// within the server selection timeout, a refused login or a missing
// privilege make it fail with a message that says which. Afterwards,
// unreachable servers, timeouts and server errors are retryable; a refused
// login and documents the server rejects (invalid field names, more than
// 16 MiB) are permanent.
//
// Tested against FerretDB v1.24 (SQLite backend), which the test suite
// runs. FerretDB v1 crashes on a createIndexes command that lists two or
// more existing indexes, so Open lists the indexes first and creates the
// missing ones one at a time. It also scans the whole collection for every
// update whose filter is more than {_id}, so there each write costs time in
// proportion to the collection's size (500 upserts into one collection take
// about a minute): fine for tests, too slow for a large production
// collection. Use MongoDB (or a compatible service) in production.
package mongodb
