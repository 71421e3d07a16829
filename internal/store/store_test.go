package store_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/wearbridge/wearbridge/internal/model"
	"github.com/wearbridge/wearbridge/internal/secretbox"
	"github.com/wearbridge/wearbridge/internal/store"
	"github.com/wearbridge/wearbridge/internal/store/storetest"
)

func forEach(t *testing.T, f func(t *testing.T, s *store.Store)) {
	for _, d := range storetest.Dialects(t) {
		t.Run(storetest.Name(d), func(t *testing.T) { f(t, storetest.Open(t, d)) })
	}
}

func TestDevelopers(t *testing.T) {
	forEach(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		d, err := s.CreateDeveloper(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.Authenticate(ctx, d.ID, d.APIKey)
		if err != nil || got.SigningSecret != d.SigningSecret {
			t.Fatalf("Authenticate = %+v, %v", got, err)
		}
		for _, c := range []struct{ id, key string }{{d.ID, "wrong"}, {"nobody", d.APIKey}, {d.ID, ""}, {"", ""}} {
			if _, err := s.Authenticate(ctx, c.id, c.key); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("Authenticate(%q, %q) = %v, want ErrNotFound", c.id, c.key, err)
			}
		}
		var stored string
		if err := s.DB().QueryRowContext(ctx, `SELECT api_key_hash || signing_secret FROM developers`).Scan(&stored); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(stored, d.APIKey) || strings.Contains(stored, d.SigningSecret) {
			t.Fatal("API key or signing secret stored in plain text")
		}
	})
}

func TestConnectReauthAndTokens(t *testing.T) {
	forEach(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		d, _ := s.CreateDeveloper(ctx)
		other, _ := s.CreateDeveloper(ctx)
		tok := &oauth2.Token{AccessToken: "at-1", RefreshToken: "rt-1", Expiry: time.Unix(1700000000, 0).UTC()}
		var u store.User
		var reauth bool
		err := s.InTx(ctx, func(tx *store.Tx) (err error) {
			u, reauth, err = tx.Connect(ctx, store.User{ID: "u1", DeveloperID: d.ID, Provider: "OURA", ProviderUserID: "p1", ReferenceID: "ref"}, tok)
			return err
		})
		if err != nil || reauth || u.ID != "u1" {
			t.Fatalf("first connect = %+v, %v, %v", u, reauth, err)
		}
		err = s.InTx(ctx, func(tx *store.Tx) (err error) {
			u, reauth, err = tx.Connect(ctx, store.User{ID: "u2", DeveloperID: d.ID, Provider: "OURA", ProviderUserID: "p1"}, tok)
			return err
		})
		if err != nil || !reauth || u.ID != "u1" || u.ReferenceID != "ref" {
			t.Fatalf("second connect = %+v, %v, %v; want reauth of u1", u, reauth, err)
		}
		if _, err := s.User(ctx, other.ID, "u1"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("another developer sees the user: %v", err)
		}
		var got *oauth2.Token
		err = s.InTx(ctx, func(tx *store.Tx) (err error) {
			if err := tx.SaveToken(ctx, "u1", &oauth2.Token{AccessToken: "at-2", RefreshToken: "rt-2"}); err != nil {
				return err
			}
			got, err = tx.Token(ctx, "u1", true)
			return err
		})
		if err != nil || got.AccessToken != "at-2" || got.RefreshToken != "rt-2" {
			t.Fatalf("Token = %+v, %v", got, err)
		}
		var raw string
		if err := s.DB().QueryRowContext(ctx, `SELECT token FROM users WHERE id = 'u1'`).Scan(&raw); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(raw, "rt-2") {
			t.Fatal("token stored in plain text")
		}
		us, err := s.UsersByProviderID(ctx, "OURA", "p1")
		if err != nil || len(us) != 1 {
			t.Fatalf("UsersByProviderID = %v, %v", us, err)
		}
	})
}

func TestRecordsIdentityAndVersions(t *testing.T) {
	forEach(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		d, _ := s.CreateDeveloper(ctx)
		_ = s.InTx(ctx, func(tx *store.Tx) error {
			_, _, err := tx.Connect(ctx, store.User{ID: "u1", DeveloperID: d.ID, Provider: "OURA", ProviderUserID: "p1"}, nil)
			return err
		})
		start := time.Date(2024, 10, 10, 1, 0, 0, 0, time.UTC)
		rec := model.Record{Type: model.TypeSleep, Key: "abc", Start: start, End: start.Add(8 * time.Hour), Day: "2024-10-10",
			Data: map[string]any{"a": 1}, Raw: json.RawMessage(`{"id":"abc"}`)}
		upsert := func(r model.Record) store.RecordChange {
			var ch store.RecordChange
			if err := s.InTx(ctx, func(tx *store.Tx) (err error) { ch, err = tx.UpsertRecord(ctx, "u1", r); return err }); err != nil {
				t.Fatal(err)
			}
			return ch
		}
		if ch := upsert(rec); !ch.Changed || ch.Version != 1 {
			t.Fatalf("first upsert = %+v", ch)
		}
		if ch := upsert(rec); ch.Changed || ch.Version != 1 {
			t.Fatalf("same content again = %+v, want unchanged", ch)
		}
		rec.Data = map[string]any{"a": 2}
		if ch := upsert(rec); !ch.Changed || ch.Version != 2 {
			t.Fatalf("new content = %+v, want version 2", ch)
		}
		rs, err := s.Records(ctx, "u1", model.TypeSleep, start.Add(-time.Hour), start.Add(time.Hour))
		if err != nil || len(rs) != 1 || rs[0].Version != 2 || string(rs[0].Raw) != `{"id":"abc"}` || !rs[0].Start.Equal(start) {
			t.Fatalf("Records = %+v, %v", rs, err)
		}
	})
}

func TestEventsCursorRetriesDeadLetters(t *testing.T) {
	forEach(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		notified := 0
		s.OnEvents(func() { notified++ })
		d, _ := s.CreateDeveloper(ctx)
		err := s.InTx(ctx, func(tx *store.Tx) error {
			for i := 0; i < 3; i++ {
				if _, err := tx.AppendEvent(ctx, store.Event{DeveloperID: d.ID, UserID: "u1", Type: "sleep", Body: json.RawMessage(`{"type":"sleep"}`)}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil || notified != 1 {
			t.Fatalf("append: %v, notified %d", err, notified)
		}
		dst, err := s.CreateDestination(ctx, store.Destination{DeveloperID: d.ID, Kind: "webhook", Settings: json.RawMessage(`{"url":"http://x"}`), Secret: "sek", Enabled: true}, false)
		if err != nil {
			t.Fatal(err)
		}
		evs, err := s.EventsAfter(ctx, d.ID, dst.Cursor, 10)
		if err != nil || len(evs) != 3 || string(evs[0].Body) != `{"type":"sleep"}` {
			t.Fatalf("EventsAfter = %+v, %v", evs, err)
		}
		if ok, err := s.AcquireLease(ctx, dst.ID, "a", time.Minute); !ok || err != nil {
			t.Fatalf("lease a = %v, %v", ok, err)
		}
		if ok, _ := s.AcquireLease(ctx, dst.ID, "b", time.Minute); ok {
			t.Fatal("b took a held lease")
		}
		if err := s.Advance(ctx, dst.ID, "b", evs[2].Seq, nil); !errors.Is(err, store.ErrLeaseLost) {
			t.Fatalf("advance without lease = %v", err)
		}
		now := time.Now()
		if err := s.Advance(ctx, dst.ID, "a", evs[2].Seq, []store.Failure{{Seq: evs[1].Seq, Attempts: 1, NextTry: now.Add(-time.Second), Err: "500"}}); err != nil {
			t.Fatal(err)
		}
		if rest, _ := s.EventsAfter(ctx, d.ID, evs[2].Seq, 10); len(rest) != 0 {
			t.Fatalf("events after cursor: %v", rest)
		}
		due, err := s.DueRetries(ctx, dst.ID, now, 10)
		if err != nil || len(due) != 1 || due[0].Seq != evs[1].Seq {
			t.Fatalf("DueRetries = %+v, %v", due, err)
		}
		if err := s.SettleRetries(ctx, dst.ID, nil, []store.Failure{{Seq: evs[1].Seq, Attempts: 10, NextTry: now, Err: "gave up", Dead: true}}); err != nil {
			t.Fatal(err)
		}
		dead, err := s.DeadLetters(ctx, d.ID, "", 10)
		if err != nil || len(dead) != 1 || dead[0].LastError != "gave up" {
			t.Fatalf("DeadLetters = %+v, %v", dead, err)
		}
		other, _ := s.CreateDeveloper(ctx)
		if dl, _ := s.DeadLetters(ctx, other.ID, "", 10); len(dl) != 0 {
			t.Fatal("another developer sees dead letters")
		}
		if n, err := s.Redrive(ctx, d.ID, dst.ID); n != 1 || err != nil {
			t.Fatalf("Redrive = %d, %v", n, err)
		}
		if due, _ := s.DueRetries(ctx, dst.ID, time.Now().Add(time.Second), 10); len(due) != 1 {
			t.Fatalf("after redrive due = %v", due)
		}
		if err := s.SettleRetries(ctx, dst.ID, []int64{evs[1].Seq}, nil); err != nil {
			t.Fatal(err)
		}
		if n, _ := s.PendingRetries(ctx, dst.ID); n != 0 {
			t.Fatalf("pending after success = %d", n)
		}
		got, err := s.Destination(ctx, d.ID, dst.ID)
		if err != nil || got.Secret != "sek" || string(got.Settings) != `{"url":"http://x"}` || got.Cursor != evs[2].Seq {
			t.Fatalf("Destination = %+v, %v", got, err)
		}
	})
}

func TestAuthSessionsAreSingleUse(t *testing.T) {
	forEach(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		d, _ := s.CreateDeveloper(ctx)
		if err := s.CreateAuthSession(ctx, store.AuthSession{State: "st", DeveloperID: d.ID, UserID: "u", Provider: "OURA", Verifier: "v"}); err != nil {
			t.Fatal(err)
		}
		a, err := s.TakeAuthSession(ctx, "st", time.Hour)
		if err != nil || a.Verifier != "v" || a.UserID != "u" {
			t.Fatalf("Take = %+v, %v", a, err)
		}
		if _, err := s.TakeAuthSession(ctx, "st", time.Hour); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("second Take = %v", err)
		}
	})
}

func TestReplayQueuesLatestEventPerRecord(t *testing.T) {
	forEach(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		d, _ := s.CreateDeveloper(ctx)
		u := store.User{ID: "u1", DeveloperID: d.ID, Provider: "OURA", ProviderUserID: "p1"}
		_ = s.InTx(ctx, func(tx *store.Tx) error { _, _, err := tx.Connect(ctx, u, nil); return err })
		day := time.Date(2024, 10, 10, 0, 0, 0, 0, time.UTC)
		write := func(key string, start time.Time, data any) {
			err := s.InTx(ctx, func(tx *store.Tx) error {
				r := model.Record{Type: model.TypeSleep, Key: key, Start: start, End: start.Add(time.Hour), Data: data}
				ch, err := tx.UpsertRecord(ctx, "u1", r)
				if err != nil || !ch.Changed {
					return err
				}
				_, err = tx.AppendEvent(ctx, store.Event{DeveloperID: d.ID, UserID: "u1", Type: "sleep", RecordKey: key, Version: ch.Version, Body: json.RawMessage(`{}`)})
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		write("a", day, 1)
		write("a", day, 2) // version 2: only its event is replayed
		write("b", day.Add(2*time.Hour), 1)
		write("c", day.AddDate(0, 0, 5), 1) // outside the range
		dst, err := s.CreateDestination(ctx, store.Destination{DeveloperID: d.ID, Kind: "webhook", Settings: json.RawMessage(`{}`), Enabled: true}, true)
		if err != nil {
			t.Fatal(err)
		}
		n, err := s.Replay(ctx, d.ID, dst.ID, store.ReplayFilter{Start: day, End: day.AddDate(0, 0, 1)})
		if err != nil || n != 2 {
			t.Fatalf("Replay = %d, %v; want 2", n, err)
		}
		due, _ := s.DueRetries(ctx, dst.ID, time.Now().Add(time.Second), 10)
		if len(due) != 2 || due[0].Seq != 2 || due[1].Seq != 3 {
			t.Fatalf("due = %+v; want seqs 2 and 3", due)
		}
		other, _ := s.CreateDeveloper(ctx)
		if n, _ := s.Replay(ctx, other.ID, dst.ID, store.ReplayFilter{Start: day, End: day.AddDate(0, 0, 1)}); n != 0 {
			t.Fatalf("another developer replayed %d events into this destination", n)
		}
		if n, _ := s.Replay(ctx, d.ID, dst.ID, store.ReplayFilter{Start: day, End: day.AddDate(0, 0, 1), Types: []string{"daily"}}); n != 0 {
			t.Fatalf("type filter ignored: %d", n)
		}
	})
}

func TestWrongSecretKeyIsRefused(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(storetest.Name(d), func(t *testing.T) {
			ctx := context.Background()
			url, dir := storetest.URL(t, d), t.TempDir()
			s, err := store.Open(ctx, store.Config{URL: url, DataDir: dir, Box: storetest.Box()})
			if err != nil {
				t.Fatal(err)
			}
			s.Close()
			other, _ := secretbox.New(bytes.Repeat([]byte{1}, 32))
			if s, err := store.Open(ctx, store.Config{URL: url, DataDir: dir, Box: other}); err == nil {
				s.Close()
				t.Fatal("opened with another secret key")
			} else if !strings.Contains(err.Error(), "secret key") {
				t.Fatalf("error %q does not name the secret key", err)
			}
			s, err = store.Open(ctx, store.Config{URL: url, DataDir: dir, Box: storetest.Box()})
			if err != nil {
				t.Fatalf("reopen with the right key: %v", err)
			}
			s.Close()
		})
	}
}
