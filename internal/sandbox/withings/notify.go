package withings

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// notify serves /notify: subscribe, list, get, revoke. Like Withings,
// subscribe checks the callback URL with a HEAD request and refuses it
// unless it answers 2xx.
func (s *Server) notify(w http.ResponseWriter, r *http.Request, user string) {
	f := r.Form
	action := f.Get("action")
	var appli int
	if v := f.Get("appli"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			reply(w, statusInvalidParams, nil, "Invalid Params: appli")
			return
		}
		appli = n
	}
	cb := f.Get("callbackurl")
	switch action {
	case "subscribe":
		if appli == 0 || cb == "" {
			reply(w, statusInvalidParams, nil, "Invalid Params: callbackurl and appli are required")
			return
		}
		if err := s.checkCallback(r.Context(), cb); err != nil {
			s.log.Info("withings sandbox: callback refused", "err", err)
			reply(w, statusBadCallback, nil, "Invalid Params: the callback URL did not answer 200: "+err.Error())
			return
		}
		s.mu.Lock()
		subs := s.subscriptions[user]
		if !slices.ContainsFunc(subs, func(x Subscription) bool { return x.Appli == appli && x.CallbackURL == cb }) {
			s.subscriptions[user] = append(subs, Subscription{Appli: appli, CallbackURL: cb, Comment: f.Get("comment")})
		}
		s.mu.Unlock()
		reply(w, statusOK, nil, "")
	case "list", "get":
		s.mu.Lock()
		var profiles []map[string]any
		for _, x := range s.subscriptions[user] {
			if (appli == 0 || x.Appli == appli) && (action == "list" || x.CallbackURL == cb) {
				profiles = append(profiles, map[string]any{"appli": x.Appli, "callbackurl": x.CallbackURL, "comment": x.Comment})
			}
		}
		s.mu.Unlock()
		if action == "get" {
			if len(profiles) == 0 {
				reply(w, 343, nil, "No notification matching the criteria was found")
				return
			}
			replyJSON(w, profiles[0])
			return
		}
		replyJSON(w, map[string]any{"profiles": append([]map[string]any{}, profiles...)})
	case "revoke":
		s.mu.Lock()
		s.subscriptions[user] = slices.DeleteFunc(s.subscriptions[user], func(x Subscription) bool {
			return x.CallbackURL == cb && (appli == 0 || x.Appli == appli)
		})
		s.mu.Unlock()
		reply(w, statusOK, nil, "")
	default:
		reply(w, statusNotImpl, nil, "Not implemented")
	}
}

// checkCallback sends the HEAD request Withings sends to a callback URL
// before it accepts a subscription.
func (s *Server) checkCallback(ctx context.Context, cb string) error {
	u, err := url.Parse(cb)
	if err != nil || !u.IsAbs() || (u.Scheme != "http" && u.Scheme != "https") {
		return &url.Error{Op: "parse", URL: cb, Err: errNotAbsolute}
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, cb, nil)
	if err != nil {
		return err
	}
	resp, err := s.cfg.HTTPClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &statusError{code: resp.StatusCode}
	}
	return nil
}

type statusError struct{ code int }

func (e *statusError) Error() string { return "status " + strconv.Itoa(e.code) }

type constError string

func (e constError) Error() string { return string(e) }

const errNotAbsolute = constError("not an absolute http(s) URL")
