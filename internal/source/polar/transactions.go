package polar

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/wearbridge/wearbridge/internal/model"
	"github.com/wearbridge/wearbridge/internal/source"
)

// Activity transactions (AccessLink "Daily activity (deprecated)"; the
// non-transactional daily activity endpoints that replace them are in
// beta). A transaction is Polar's offer of the activity summaries that
// are new since the last commit, at most 50 of them:
//
//	POST /v3/users/{user-id}/activity-transactions        201 {"transaction-id"} or 204: nothing new
//	GET  /v3/users/{user-id}/activity-transactions/{id}   {"activity-log": [summary URLs]}
//	GET  each summary URL
//	PUT  /v3/users/{user-id}/activity-transactions/{id}   commit: Polar forgets the summaries
//
// An uncommitted transaction expires after ten minutes and its summaries
// are offered again, so a transaction is committed only after sink has
// stored every one of its summaries (as a record, or as a problem with its
// raw body when it cannot be mapped), and never after a failure.

// transactionPath is the path of the user's activity transactions.
func transactionPath(uid string) string {
	return "/v3/users/" + url.PathEscape(uid) + "/activity-transactions"
}

// drainActivity takes and commits activity transactions until Polar has
// nothing new, at most Config.MaxTransactions of them.
func (p *Provider) drainActivity(ctx context.Context, hc *http.Client, ud *userData, uid string, m *mapper, sink source.Sink) error {
	for range p.cfg.MaxTransactions {
		more, err := p.activityTransaction(ctx, hc, ud, uid, m, sink)
		if err != nil || !more {
			return err
		}
	}
	return sink.Problem(ctx, model.Problem{Type: model.TypeDaily, Err: fmt.Sprintf("polar activity transactions: stopped after %d; the rest is read on the next pull", p.cfg.MaxTransactions)})
}

// activityTransaction handles one transaction; more is false when Polar
// had nothing new (or a body could not be understood, which was reported).
func (p *Provider) activityTransaction(ctx context.Context, hc *http.Client, ud *userData, uid string, m *mapper, sink source.Sink) (more bool, err error) {
	base := p.cfg.APIBase + transactionPath(uid)
	resp, err := p.do(ctx, hc, http.MethodPost, base, nil)
	if err != nil {
		return false, fmt.Errorf("polar create activity transaction: %w", err)
	}
	if resp.status == http.StatusNoContent || len(bytes.TrimSpace(resp.body)) == 0 {
		return false, nil
	}
	var created struct {
		TransactionID json.RawMessage `json:"transaction-id"`
	}
	if err := json.Unmarshal(resp.body, &created); err != nil || rawIDString(created.TransactionID) == "" {
		return false, sink.Problem(ctx, model.Problem{Type: model.TypeDaily, Err: "polar create activity transaction: no transaction-id in the answer; nothing was read", Raw: resp.body})
	}
	txID := rawIDString(created.TransactionID)
	txURL := base + "/" + txID

	resp, err = p.get(ctx, hc, txURL)
	if err != nil {
		return false, fmt.Errorf("polar activity transaction %s: %w", txID, err)
	}
	var log struct {
		ActivityLog []string `json:"activity-log"`
	}
	if len(bytes.TrimSpace(resp.body)) > 0 {
		if err := json.Unmarshal(resp.body, &log); err != nil {
			return false, sink.Problem(ctx, model.Problem{Type: model.TypeDaily, Err: fmt.Sprintf("polar activity transaction %s: not an activity log: %v; it was not committed", txID, err), Raw: resp.body})
		}
	}

	var recs []model.Record
	var probs []model.Problem
	prefix := transactionPath(uid) + "/" + txID + "/activities/"
	for _, link := range log.ActivityLog {
		u, err := p.transactionItemURL(link, prefix)
		if err != nil {
			return false, sink.Problem(ctx, model.Problem{Type: model.TypeDaily, Err: fmt.Sprintf("polar activity transaction %s: %v; it was not committed", txID, err), Raw: resp.body})
		}
		item, err := p.get(ctx, hc, u)
		if err != nil {
			return false, fmt.Errorf("polar activity transaction %s: %w", txID, err)
		}
		rec, mapErr, err := p.mapActivitySummary(ctx, ud, m, item.body)
		if err != nil {
			return false, fmt.Errorf("polar activity transaction %s: %w", txID, err)
		}
		if mapErr != nil {
			probs = append(probs, model.Problem{Type: model.TypeDaily, Err: mapErr.Error(), Raw: item.body})
			continue
		}
		recs = append(recs, rec)
	}
	// Everything is stored before Polar is told it may forget it.
	for _, pr := range probs {
		if err := sink.Problem(ctx, pr); err != nil {
			return false, fmt.Errorf("polar activity transaction %s not committed: %w", txID, err)
		}
	}
	if err := records(ctx, sink, recs...); err != nil {
		return false, fmt.Errorf("polar activity transaction %s not committed: %w", txID, err)
	}
	if _, err := p.do(ctx, hc, http.MethodPut, txURL, nil); err != nil {
		return false, fmt.Errorf("polar commit activity transaction %s: %w", txID, err)
	}
	return true, nil
}

// mapActivitySummary maps one summary in the offset of its date. mapErr
// says why a summary cannot be mapped (it becomes a problem with its raw
// body, stored before the commit; a summary whose offset cannot be known
// is one); err is a failure to read what the offset comes from, which
// ends the pull without a commit.
func (p *Provider) mapActivitySummary(ctx context.Context, ud *userData, m *mapper, raw []byte) (rec model.Record, mapErr, err error) {
	var h struct {
		Date string `json:"date"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		return rec, fmt.Errorf("polar activity summary: decode: %w", err), nil
	}
	if _, err := parseDay(h.Date); err != nil {
		return rec, fmt.Errorf("polar activity summary: %w", err), nil
	}
	off, ok, err := ud.offsetFor(ctx, h.Date)
	if err != nil {
		return rec, nil, err
	}
	if !ok {
		return rec, fmt.Errorf("polar activity summary %s: no UTC offset known for the user (no sleep or exercise to take it from), so its day cannot be placed", h.Date), nil
	}
	rec, mapErr = m.activityDay(raw, off)
	return rec, mapErr, nil
}

// transactionItemURL turns a summary link of an activity log into a URL
// on Config.APIBase. Polar's links are absolute; only their path is used,
// and it must be a summary of this transaction, so the user's token is
// never sent anywhere else.
func (p *Provider) transactionItemURL(link, prefix string) (string, error) {
	u, err := url.Parse(link)
	if err != nil {
		return "", fmt.Errorf("bad activity link %q", link)
	}
	rest, ok := strings.CutPrefix(u.EscapedPath(), prefix)
	if !ok || rest == "" || strings.Contains(rest, "/") {
		return "", fmt.Errorf("activity link %q is not a summary of this transaction", link)
	}
	if _, err := strconv.ParseInt(rest, 10, 64); err != nil {
		return "", fmt.Errorf("activity link %q is not a summary of this transaction", link)
	}
	return p.cfg.APIBase + prefix + rest, nil
}
