package whoop

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/wearbridge/wearbridge/internal/model"
	"github.com/wearbridge/wearbridge/internal/source"
)

// FetchItem fetches the item a webhook named and hands its record to sink:
//
//   - sleep, id a sleep UUID: GET /v2/activity/sleep/{id}, with its cycle
//     (for the day) and, for a main sleep, the recovery computed from it
//     (GET /v2/cycle/{cycle_id}/recovery, kept when its sleep_id is id), so
//     that the record is the same as a pull gives.
//   - daily, id a cycle id (an integer) or a sleep UUID (a v2
//     recovery.updated names the recovery's sleep): the cycle
//     (GET /v2/cycle/{id}) with its recovery.
//   - activity, id a workout UUID: GET /v2/activity/workout/{id}.
//
// An item WHOOP no longer has (404: deleted since the notification) or
// cannot be used is reported to sink.Problem and FetchItem returns nil;
// retrying would not help. Transport and API errors are returned.
func (p *Provider) FetchItem(ctx context.Context, hc *http.Client, t model.DataType, id string, sink source.Sink) error {
	id = strings.TrimSpace(id)
	if id == "" {
		return errors.New("whoop fetch: empty item id")
	}
	m := newMapper()
	var err error
	switch t {
	case model.TypeSleep:
		err = p.fetchSleep(ctx, hc, id, m, sink)
	case model.TypeDaily:
		err = p.fetchDaily(ctx, hc, id, m, sink)
	case model.TypeActivity:
		err = p.fetchWorkout(ctx, hc, id, m, sink)
	default:
		return fmt.Errorf("whoop cannot fetch a single %q item", t)
	}
	if ferr := m.flush(ctx, sink); ferr != nil && err == nil {
		err = ferr
	}
	return err
}

// getItem fetches one document. found is false when WHOOP answered 404 or
// the body is not a JSON object; either was reported to sink.
func (p *Provider) getItem(ctx context.Context, hc *http.Client, t model.DataType, path string, sink source.Sink) (body []byte, found bool, err error) {
	body, err = p.get(ctx, hc, p.cfg.APIBase+path)
	var ae *APIError
	if errors.As(err, &ae) && ae.StatusCode == http.StatusNotFound {
		return nil, false, sink.Problem(ctx, model.Problem{Type: t, Err: fmt.Sprintf("whoop %s: not found (deleted since the notification?)", path), Raw: []byte(ae.Body)})
	}
	if err != nil {
		return nil, false, fmt.Errorf("whoop %s: %w", path, err)
	}
	if !isObject(body) {
		return nil, false, sink.Problem(ctx, model.Problem{Type: t, Err: fmt.Sprintf("whoop %s: not a JSON object", path), Raw: body})
	}
	return body, true, nil
}

// cycleRecovery fetches the recovery of a cycle; nil when there is none
// (404) or it cannot be decoded (it is then reported).
func (p *Provider) cycleRecovery(ctx context.Context, hc *http.Client, t model.DataType, cycleID string, sink source.Sink) (*recoveryItem, error) {
	path := pathCycle + "/" + url.PathEscape(cycleID) + "/recovery"
	body, err := p.get(ctx, hc, p.cfg.APIBase+path)
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("whoop %s: %w", path, err)
	}
	r, err := decodeRecovery(body)
	if err != nil {
		return nil, itemProblem(ctx, sink, t, err, body)
	}
	return r, nil
}

// cycleDayOf fetches a cycle and returns its day; "" when it cannot be
// found or read (the sleep then falls back to its own date).
func (p *Provider) cycleDayOf(ctx context.Context, hc *http.Client, cycleID string) (string, error) {
	body, err := p.get(ctx, hc, p.cfg.APIBase+pathCycle+"/"+url.PathEscape(cycleID))
	if isNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("whoop %s/%s: %w", pathCycle, cycleID, err)
	}
	_, day, err := cycleDay(body)
	if err != nil {
		return "", nil
	}
	return day, nil
}

func (p *Provider) fetchSleep(ctx context.Context, hc *http.Client, id string, m *mapper, sink source.Sink) error {
	body, found, err := p.getItem(ctx, hc, model.TypeSleep, pathSleep+"/"+url.PathEscape(id), sink)
	if err != nil || !found {
		return err
	}
	var head sleepHead
	_ = json.Unmarshal(body, &head) // a bad item fails in m.sleep with the reason
	var day string
	var rec *recoveryItem
	if head.CycleID != "" {
		if day, err = p.cycleDayOf(ctx, hc, string(head.CycleID)); err != nil {
			return err
		}
		if head.Nap == nil || !*head.Nap {
			if rec, err = p.cycleRecovery(ctx, hc, model.TypeSleep, string(head.CycleID), sink); err != nil {
				return err
			}
			if rec != nil && rec.doc.SleepID != head.ID {
				rec = nil // the cycle's recovery comes from another sleep
			}
		}
	}
	r, err := m.sleep(body, day, rec)
	if err != nil {
		return itemProblem(ctx, sink, model.TypeSleep, err, body)
	}
	return records(ctx, sink, []model.Record{r})
}

func (p *Provider) fetchDaily(ctx context.Context, hc *http.Client, id string, m *mapper, sink source.Sink) error {
	cycleID := id
	if _, err := strconv.ParseInt(id, 10, 64); err != nil {
		// A sleep UUID: find its cycle.
		body, found, err := p.getItem(ctx, hc, model.TypeDaily, pathSleep+"/"+url.PathEscape(id), sink)
		if err != nil || !found {
			return err
		}
		var head sleepHead
		if err := json.Unmarshal(body, &head); err != nil || head.CycleID == "" {
			return itemProblem(ctx, sink, model.TypeDaily, fmt.Errorf("sleep %s: no cycle_id to find the recovery's cycle", id), body)
		}
		cycleID = string(head.CycleID)
	}
	body, found, err := p.getItem(ctx, hc, model.TypeDaily, pathCycle+"/"+url.PathEscape(cycleID), sink)
	if err != nil || !found {
		return err
	}
	rec, err := p.cycleRecovery(ctx, hc, model.TypeDaily, cycleID, sink)
	if err != nil {
		return err
	}
	r, err := m.daily(body, rec)
	if err != nil {
		return itemProblem(ctx, sink, model.TypeDaily, err, body)
	}
	return records(ctx, sink, []model.Record{r})
}

func (p *Provider) fetchWorkout(ctx context.Context, hc *http.Client, id string, m *mapper, sink source.Sink) error {
	body, found, err := p.getItem(ctx, hc, model.TypeActivity, pathWorkout+"/"+url.PathEscape(id), sink)
	if err != nil || !found {
		return err
	}
	r, err := m.workout(body)
	if err != nil {
		return itemProblem(ctx, sink, model.TypeActivity, err, body)
	}
	return records(ctx, sink, []model.Record{r})
}
