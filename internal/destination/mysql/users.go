package mysql

import "sync"

// maxKnownUsers bounds the memory of knownUsers; past it, it starts over.
const maxKnownUsers = 100_000

// knownUsers remembers the users a destination has written to its users
// table, so that data events about them skip that table: inserting a user
// that exists is cheap, but for every record of a batch it cost a quarter
// of a delivery. A user row deleted behind the destination's back comes
// back with the user's next auth or deauth event, or when the destination
// is opened again.
type knownUsers struct {
	mu  sync.Mutex
	ids map[string]struct{}
}

// unknown returns the rows whose users are not known to be written.
func (k *knownUsers) unknown(rows []*userRow) []*userRow {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := rows[:0:0]
	for _, u := range rows {
		if _, ok := k.ids[u.id]; !ok {
			out = append(out, u)
		}
	}
	return out
}

// add records that rows were written.
func (k *knownUsers) add(rows []*userRow) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.ids == nil || len(k.ids)+len(rows) > maxKnownUsers {
		k.ids = make(map[string]struct{}, len(rows))
	}
	for _, u := range rows {
		k.ids[u.id] = struct{}{}
	}
}

// reset forgets every user (the users table may have been recreated).
func (k *knownUsers) reset() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.ids = nil
}
