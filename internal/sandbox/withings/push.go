package withings

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Notification categories (appli) the recorded data is notified under.
const (
	appliWeight      = 1
	appliTemperature = 2
	appliPressure    = 4
	appliActivity    = 16
	appliSleep       = 44
)

// Notifications returns the data update notifications Withings would send
// for the recorded data of providerUserID, as the form parameters of each
// POST, in time order:
//
//   - measure groups, by category (4 for groups with blood pressure, pulse
//     or SpO2; 2 for temperature; 1 for the rest) and UTC day: userid,
//     appli, startdate, enddate spanning that day's groups;
//   - each activity day: appli 16 with date;
//   - each workout: appli 16 with its startdate and enddate;
//   - each sleep: appli 44 with its startdate and enddate.
func Notifications(providerUserID string) ([]url.Values, error) {
	d, err := loadRecorded()
	if err != nil {
		return nil, err
	}
	type span struct{ from, to int64 }
	measures := map[[2]int64]*span{} // (appli, UTC day) → span
	for _, g := range d.measures {
		a := int64(measureAppli(g.meastypes))
		k := [2]int64{a, g.unix / 86400}
		if sp, ok := measures[k]; ok {
			sp.from, sp.to = min(sp.from, g.unix), max(sp.to, g.unix)
		} else {
			measures[k] = &span{g.unix, g.unix}
		}
	}
	type note struct {
		at int64
		v  url.Values
	}
	var notes []note
	add := func(appli int, from, to int64) {
		notes = append(notes, note{at: from, v: url.Values{
			"userid": {providerUserID}, "appli": {strconv.Itoa(appli)},
			"startdate": {strconv.FormatInt(from, 10)}, "enddate": {strconv.FormatInt(to, 10)},
		}})
	}
	for k, sp := range measures {
		add(int(k[0]), sp.from, sp.to)
	}
	for _, a := range d.activities {
		day, _ := time.Parse(dateLayout, a.date) // checked at load
		notes = append(notes, note{at: day.Unix(), v: url.Values{
			"userid": {providerUserID}, "appli": {strconv.Itoa(appliActivity)}, "date": {a.date},
		}})
	}
	for appli, list := range map[int][]item{appliActivity: d.workouts, appliSleep: d.sleeps} {
		seen := map[string]bool{}
		for _, it := range list {
			var h struct {
				StartDate int64 `json:"startdate"`
				EndDate   int64 `json:"enddate"`
			}
			if err := json.Unmarshal(it.raw, &h); err != nil {
				return nil, fmt.Errorf("decode recorded item: %w", err)
			}
			k := fmt.Sprint(h.StartDate, "/", h.EndDate)
			if seen[k] {
				continue // the recording lists one workout twice; Withings notifies once
			}
			seen[k] = true
			add(appli, h.StartDate, h.EndDate)
		}
	}
	slices.SortFunc(notes, func(a, b note) int {
		return cmp.Or(cmp.Compare(a.at, b.at), strings.Compare(a.v.Encode(), b.v.Encode()))
	})
	out := make([]url.Values, len(notes))
	for i, n := range notes {
		out[i] = n.v
	}
	return out, nil
}

// measureAppli is the notification category of a measure group with the
// given measure types.
func measureAppli(types []int) int {
	appli := appliWeight
	for _, t := range types {
		switch t {
		case 9, 10, 11, 54:
			return appliPressure
		case 12:
			appli = appliTemperature
		}
	}
	return appli
}

// PushAll POSTs every notification of Notifications(providerUserID) to
// pushURL as Withings does: form parameters in an
// application/x-www-form-urlencoded body, no signature (Withings signs
// nothing; put the provider's NotifyToken in pushURL if it has one). It
// stops at the first answer that is not 2xx and returns an error with its
// status and body. It returns how many notifications were accepted.
func PushAll(ctx context.Context, hc *http.Client, pushURL, providerUserID string) (int, error) {
	notes, err := Notifications(providerUserID)
	if err != nil {
		return 0, err
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	for i, v := range notes {
		if err := postForm(ctx, hc, pushURL, v); err != nil {
			return i, fmt.Errorf("notification %d (appli %s): %w", i+1, v.Get("appli"), err)
		}
	}
	return len(notes), nil
}

func postForm(ctx context.Context, hc *http.Client, u string, v url.Values) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(v.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	reply, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<12)) // best effort, for the error message
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("status %d: %s", resp.StatusCode, strings.TrimSpace(string(reply)))
	}
	return nil
}
