package api

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
	"github.com/wearbridge/wearbridge/internal/pipeline"
	"github.com/wearbridge/wearbridge/internal/source"
	"github.com/wearbridge/wearbridge/internal/store"
)

// data serves GET /{type}?user_id&start_date&end_date&to_webhook. With
// to_webhook=true (Terra's default) the stored records are sent again as
// events to the developer's destinations; with false they are returned.
func (s *Server) data(typ string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		id := q.Get("user_id")
		if id == "" {
			writeError(w, http.StatusBadRequest, "missing query parameter user_id")
			return
		}
		start, err := parseDate(q.Get("start_date"), false)
		if err != nil || q.Get("start_date") == "" {
			writeError(w, http.StatusBadRequest, "start_date must be a date (YYYY-MM-DD), an ISO 8601 time or unix seconds")
			return
		}
		end := s.d.Now().UTC()
		if v := q.Get("end_date"); v != "" {
			if end, err = parseDate(v, true); err != nil {
				writeError(w, http.StatusBadRequest, "end_date must be a date (YYYY-MM-DD), an ISO 8601 time or unix seconds")
				return
			}
		}
		if !end.After(start) {
			writeError(w, http.StatusBadRequest, "end_date must be after start_date")
			return
		}
		toWebhook := true
		if v := q.Get("to_webhook"); v != "" {
			if toWebhook, err = strconv.ParseBool(v); err != nil {
				writeError(w, http.StatusBadRequest, "to_webhook must be true or false")
				return
			}
		}
		u, err := s.d.Store.User(r.Context(), developer(r).ID, id)
		if errors.Is(err, store.ErrNotFound) {
			writeError(w, http.StatusNotFound, "user not found")
			return
		}
		if err != nil {
			s.internal(w, r, err)
			return
		}
		recs, err := s.d.Store.Records(r.Context(), u.ID, model.DataType(typ), start, end)
		if err != nil {
			s.internal(w, r, err)
			return
		}
		if !toWebhook {
			data := make([]json.RawMessage, len(recs))
			for i, rec := range recs {
				data[i] = rec.Payload
			}
			writeJSON(w, http.StatusOK, map[string]any{"status": "success", "type": typ, "user": pipeline.TerraUser(u), "data": data, "version": pipeline.Version})
			return
		}
		err = s.d.Store.InTx(r.Context(), func(tx *store.Tx) error {
			tu := pipeline.TerraUser(u)
			for _, rec := range recs {
				if err := pipeline.AppendDataEvent(r.Context(), tx, u, tu, rec.Type, rec.Key, rec.Version, rec.Start, rec.End, rec.Payload); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			s.internal(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"status": "success", "type": typ, "user": pipeline.TerraUser(u),
			"message": fmt.Sprintf("%d %s records will be sent to your destinations", len(recs), typ)})
	}
}

// parseDate reads YYYY-MM-DD, RFC 3339 or unix seconds. A plain date as an
// end is inclusive: it means the end of that day.
func parseDate(v string, isEnd bool) (time.Time, error) {
	t, err := parseDateAny(v, isEnd)
	if err != nil {
		return t, err
	}
	if t.Year() < 1970 || t.Year() > 2200 {
		return t, errors.New("date out of range (1970 to 2200)")
	}
	return t, nil
}

func parseDateAny(v string, isEnd bool) (time.Time, error) {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 || n > 7258118400 { // 2200-01-01
			return time.Time{}, errors.New("unix seconds out of range")
		}
		return time.Unix(n, 0).UTC(), nil
	}
	if t, err := time.Parse("2006-01-02", v); err == nil {
		if isEnd {
			t = t.AddDate(0, 0, 1)
		}
		return t, nil
	}
	return time.Parse(time.RFC3339Nano, v)
}

// PushTokenParam is the query parameter of a push URL that carries the
// server's push token for the provider. Every push must carry it: several
// providers sign nothing, and those that do sign still gain a second check.
const PushTokenParam = "push_token"

// push receives a provider's push: POST /push/{provider}. The body is
// stored durably before the answer; a body that is not valid as a whole is
// refused with 400 and nothing is written.
func (s *Server) push(w http.ResponseWriter, r *http.Request) {
	name := strings.ToUpper(r.PathValue("provider"))
	p, ok := s.d.Providers.Get(name)
	pusher, isPusher := p.(source.Pusher)
	if !ok || !isPusher {
		writeError(w, http.StatusNotFound, "no push receiver for provider "+name)
		return
	}
	if s.d.PushToken == nil || subtle.ConstantTimeCompare([]byte(r.URL.Query().Get(PushTokenParam)), []byte(s.d.PushToken(name))) != 1 {
		writeError(w, http.StatusUnauthorized, "push_token missing or wrong: register the push URL that `wearbridge serve` prints for "+name)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.d.MaxPushBytes))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "push body too large or unreadable")
		return
	}
	batches, err := pusher.ParsePush(r.Context(), r, body)
	if errors.Is(err, source.ErrBadPush) {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	// Everything the push carried lands in one transaction, or nothing.
	var applied []pipeline.Batch
	var pulls []pendingPull
	var revoked []store.User
	unknown := 0
	var orphans []store.Problem
	for _, b := range batches {
		var users []store.User
		if b.ProviderUserID != "" && !strings.ContainsRune(b.ProviderUserID, 0) {
			if users, err = s.d.Store.UsersByProviderID(r.Context(), name, b.ProviderUserID); err != nil {
				s.internal(w, r, err)
				return
			}
		}
		if len(users) == 0 {
			// Nobody to deliver to; a few of its problems are kept for
			// the operator (with no developer).
			unknown++
			s.d.Logger.WarnContext(r.Context(), "push for an unknown provider user", "provider", name, "records", len(b.Records), "problems", len(b.Problems))
			for _, p := range b.Problems {
				if len(orphans) < 10 {
					orphans = append(orphans, store.Problem{Provider: name, Type: p.Type, Err: p.Err, Raw: p.Raw})
				}
			}
			continue
		}
		for _, u := range users {
			applied = append(applied, pipeline.Batch{User: u, Records: b.Records, Problems: b.Problems})
			for _, pr := range b.Pulls {
				pulls = append(pulls, pendingPull{u, pr})
			}
			if b.Revoked {
				revoked = append(revoked, u)
			}
		}
	}
	counts, err := s.d.Ingest.ApplyAll(r.Context(), applied)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	stored := 0
	for _, c := range counts {
		stored += c.Stored
	}
	err = s.d.Store.InTx(r.Context(), func(tx *store.Tx) error {
		for _, p := range orphans {
			if err := tx.AddProblem(r.Context(), p); err != nil {
				return err
			}
		}
		for _, u := range revoked {
			if !u.Active {
				continue
			}
			if err := tx.Deauthenticate(r.Context(), u.ID); err != nil {
				return err
			}
			u.Active = false
			if err := pipeline.AppendUserEvent(r.Context(), tx, u, "access_revoked", pipeline.AccessRevoked(u, "the user revoked access at "+name)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		s.internal(w, r, err)
		return
	}
	for _, p := range pulls {
		if err := s.d.Backfiller.Enqueue(r.Context(), p.user, p.req); err != nil {
			s.internal(w, r, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "success", "stored": stored, "unknown_users": unknown})
}

type pendingPull struct {
	user store.User
	req  source.PullRequest
}

// verifyPush answers a provider's subscription verification:
// GET /push/{provider}.
func (s *Server) verifyPush(w http.ResponseWriter, r *http.Request) {
	name := strings.ToUpper(r.PathValue("provider"))
	p, _ := s.d.Providers.Get(name)
	v, ok := p.(source.PushVerifier)
	if !ok {
		writeError(w, http.StatusNotFound, "no push subscription to verify for provider "+name)
		return
	}
	v.VerifySubscription(w, r)
}

// problems: GET /problems?user_id=... lists provider data that could not be
// used, with the raw body kept.
func (s *Server) problems(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("user_id")
	if id == "" {
		writeError(w, http.StatusBadRequest, "missing query parameter user_id")
		return
	}
	ps, err := s.d.Store.Problems(r.Context(), developer(r).ID, id, 100)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	out := make([]map[string]any, 0, len(ps))
	for _, p := range ps {
		out = append(out, map[string]any{"id": p.ID, "user_id": p.UserID, "provider": p.Provider, "data_type": p.Type,
			"error": p.Err, "raw": string(p.Raw), "created_at": model.FormatTime(p.CreatedAt)})
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "success", "problems": out})
}
