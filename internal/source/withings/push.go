package withings

import (
	"bytes"
	"context"
	"crypto/subtle"
	"fmt"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/wearbridge/wearbridge/internal/model"
	"github.com/wearbridge/wearbridge/internal/source"
)

// NotifyTokenParam is the callback URL query parameter that carries
// Config.NotifyToken.
const NotifyTokenParam = "token"

// Notification categories (appli), API reference "Notifications":
// developer.withings.com/developer-guide/v3/data-api/notifications.
const (
	AppliWeight      = 1  // weight and body composition measures
	AppliTemperature = 2  // temperature measures
	AppliPressure    = 4  // blood pressure, heart pulse, SpO2 measures
	AppliActivity    = 16 // activity, intraday activity, workouts
	AppliSleep       = 44 // sleep
	AppliUser        = 46 // user actions (action=unlink|delete|update)
	AppliBedIn       = 50 // bed in event
	AppliBedOut      = 51 // bed out event
	AppliInflateDone = 52 // sleep sensor set up
	AppliNoAccount   = 53 // device with no account (partners)
	AppliECG         = 54 // ECG (its AFib result is a measure, type 130)
	AppliECGFailed   = 55 // ECG failed
	AppliGlucose     = 58 // glucose measures
)

// maxNotificationLen bounds a notification body: a few form parameters.
const maxNotificationLen = 1 << 16

// DefaultSubscriptions are the categories Subscribe asks for by default:
// everything the pulls read.
var DefaultSubscriptions = []int{AppliWeight, AppliTemperature, AppliPressure, AppliActivity, AppliSleep}

// appliTypes are the Terra types to pull for a data notification.
var appliTypes = map[int][]model.DataType{
	AppliWeight:      {model.TypeBody},
	AppliTemperature: {model.TypeBody},
	AppliPressure:    {model.TypeBody},
	AppliGlucose:     {model.TypeBody},
	AppliECG:         {model.TypeBody},
	AppliActivity:    {model.TypeActivity, model.TypeDaily},
	AppliSleep:       {model.TypeSleep},
}

// eventApplis are categories that carry events, not data: nothing to
// fetch.
var eventApplis = map[int]bool{AppliBedIn: true, AppliBedOut: true, AppliInflateDone: true, AppliNoAccount: true, AppliECGFailed: true}

// notification is a decoded Withings notification.
type notification struct {
	userID             string
	appli              int
	startdate, enddate *int64
	date, action       string
}

// ParsePush parses a Withings data update notification: a POST whose body
// is form parameters (application/x-www-form-urlencoded, or
// multipart/form-data) userid, appli and, depending on appli, startdate /
// enddate (epoch seconds), date (YYYY-MM-DD) or action. It returns one
// batch for the userid, carrying the pulls that fetch the notified data:
//
//   - appli 1, 2, 4, 54, 58 (measures): body over [startdate, enddate];
//   - appli 16: activity and daily; appli 44: sleep;
//   - appli 46 with action unlink or delete: Revoked;
//   - appli 50-53, 55 (bed and device events): nothing.
//
// An unknown appli, or a data notification with no time range, becomes a
// Problem with the body; nothing crashes.
//
// What is verified: Withings signs nothing. When Config.NotifyToken is set
// the request URL must carry it (NotifyTokenParam), else ErrBadPush. A body
// without a numeric userid and appli, or with a malformed date, is
// ErrBadPush too.
func (p *Provider) ParsePush(ctx context.Context, r *http.Request, body []byte) ([]source.PushBatch, error) {
	if err := p.checkNotifyToken(r); err != nil {
		return nil, err
	}
	if len(body) > maxNotificationLen {
		return nil, fmt.Errorf("%w: notification body is %d bytes", source.ErrBadPush, len(body))
	}
	form, err := parseNotificationForm(r, body)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", source.ErrBadPush, err)
	}
	n, err := parseNotification(form)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", source.ErrBadPush, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("withings notification: %w", err)
	}
	b := source.PushBatch{ProviderUserID: n.userID}
	problem := func(t model.DataType, format string, args ...any) {
		b.Problems = append(b.Problems, model.Problem{Type: t, Err: fmt.Sprintf(format, args...), Raw: body})
	}
	switch types, isData := appliTypes[n.appli]; {
	case isData:
		start, end, ok := n.window()
		if !ok {
			problem(types[0], "withings notification appli %d has neither startdate/enddate nor date; nothing was fetched", n.appli)
			break
		}
		for _, t := range types {
			b.Pulls = append(b.Pulls, source.PullRequest{Type: t, Start: start, End: end})
		}
	case n.appli == AppliUser:
		switch n.action {
		case "unlink", "delete":
			b.Revoked = true
		case "update", "":
		default:
			problem("", "withings notification appli 46: unknown action %q", n.action)
		}
	case eventApplis[n.appli]:
	default:
		problem("", "withings notification: unknown appli %d; nothing was fetched", n.appli)
	}
	return []source.PushBatch{b}, nil
}

// checkNotifyToken checks the callback URL's token when one is configured.
func (p *Provider) checkNotifyToken(r *http.Request) error {
	if p.cfg.NotifyToken == "" {
		return nil
	}
	got := ""
	if r != nil && r.URL != nil {
		got = r.URL.Query().Get(NotifyTokenParam)
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(p.cfg.NotifyToken)) != 1 {
		return fmt.Errorf("%w: notification without the callback token", source.ErrBadPush)
	}
	return nil
}

// parseNotificationForm reads the body's form parameters.
func parseNotificationForm(r *http.Request, body []byte) (url.Values, error) {
	if r != nil {
		if mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err == nil && mt == "multipart/form-data" {
			mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
			f, err := mr.ReadForm(maxNotificationLen)
			if err != nil {
				return nil, fmt.Errorf("multipart body: %w", err)
			}
			defer func() { _ = f.RemoveAll() }()
			return url.Values(f.Value), nil
		}
	}
	v, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, fmt.Errorf("form body: %w", err)
	}
	return v, nil
}

// single returns the one value of key; two values are an error.
func single(form url.Values, key string) (string, bool, error) {
	vs, ok := form[key]
	switch {
	case !ok || len(vs) == 0:
		return "", false, nil
	case len(vs) > 1:
		return "", false, fmt.Errorf("%s given %d times", key, len(vs))
	}
	return strings.TrimSpace(vs[0]), true, nil
}

// parseNotification checks and decodes the parameters.
func parseNotification(form url.Values) (notification, error) {
	var n notification
	uid, ok, err := single(form, "userid")
	if err != nil {
		return n, err
	}
	if !ok || uid == "" {
		return n, fmt.Errorf("no userid")
	}
	if id, err := strconv.ParseInt(uid, 10, 64); err != nil || id <= 0 {
		return n, fmt.Errorf("userid %q is not a Withings user id", uid)
	}
	n.userID = uid
	appli, ok, err := single(form, "appli")
	if err != nil {
		return n, err
	}
	if !ok {
		return n, fmt.Errorf("no appli")
	}
	if n.appli, err = strconv.Atoi(appli); err != nil {
		return n, fmt.Errorf("appli %q is not a number", appli)
	}
	for _, f := range []struct {
		key string
		dst **int64
	}{{"startdate", &n.startdate}, {"enddate", &n.enddate}} {
		v, ok, err := single(form, f.key)
		if err != nil {
			return n, err
		}
		if !ok || v == "" {
			continue
		}
		sec, err := strconv.ParseInt(v, 10, 64)
		if err != nil || sec <= 0 || sec > maxUnix {
			return n, fmt.Errorf("%s %q is not epoch seconds", f.key, v)
		}
		*f.dst = &sec
	}
	if n.startdate != nil && n.enddate != nil && *n.enddate < *n.startdate {
		return n, fmt.Errorf("enddate %d is before startdate %d", *n.enddate, *n.startdate)
	}
	if n.date, _, err = single(form, "date"); err != nil {
		return n, err
	}
	if n.date != "" {
		if err := checkDay(n.date); err != nil {
			return n, err
		}
	}
	if n.action, _, err = single(form, "action"); err != nil {
		return n, err
	}
	return n, nil
}

// window is the pull window a data notification asks for: [startdate,
// enddate] (epoch seconds, both included), or, for a notification naming
// only a local day, that day as seen from every zone (UTC-12 to UTC+14).
func (n notification) window() (start, end time.Time, ok bool) {
	switch {
	case n.startdate != nil:
		start = time.Unix(*n.startdate, 0).UTC()
		end = start
		if n.enddate != nil {
			end = time.Unix(*n.enddate, 0).UTC()
		}
		return start, end.Add(time.Second), true
	case n.enddate != nil:
		end = time.Unix(*n.enddate, 0).UTC()
		return end, end.Add(time.Second), true
	case n.date != "":
		d, _ := time.Parse(dayLayout, n.date) // checked in parseNotification
		return d.Add(-zoneReach), d.Add(day + 12*time.Hour), true
	}
	return start, end, false
}

// VerifySubscription answers Withings' check of the callback URL at
// subscription time (a HEAD, or a GET, that must get 200 quickly). With
// Config.NotifyToken set, a request without the token gets 403, so that a
// subscription to a URL missing the token fails at once.
func (p *Provider) VerifySubscription(w http.ResponseWriter, r *http.Request) {
	if err := p.checkNotifyToken(r); err != nil {
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// Subscribe subscribes the user whose token hc sends to notifications for
// each appli (DefaultSubscriptions when none is given) at callbackURL
// (Notify - Subscribe). Withings checks the URL with a HEAD request before
// it answers. Withings sends notifications only for subscribed users, so
// the wiring code should call this once a user is connected.
func (p *Provider) Subscribe(ctx context.Context, hc *http.Client, callbackURL string, applis ...int) error {
	if len(applis) == 0 {
		applis = DefaultSubscriptions
	}
	for _, a := range applis {
		q := url.Values{"callbackurl": {callbackURL}, "appli": {strconv.Itoa(a)}, "comment": {"wearbridge"}}
		if _, err := p.call(ctx, hc, serviceNotify, "subscribe", q); err != nil {
			return fmt.Errorf("withings subscribe appli %d: %w", a, err)
		}
	}
	return nil
}
