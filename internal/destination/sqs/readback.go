package sqs

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/wearbridge/wearbridge/internal/destination"
)

// Limits of a peek at the queue.
const (
	// peekRounds bounds the ReceiveMessage calls of one peek (10 messages
	// each), so ReadBack looks at the first 1,000 visible messages at most.
	peekRounds = 100
	// peekVisibility hides received messages from other receivers while a
	// peek looks at them; they are made visible again when it ends.
	peekVisibility = 60
	// peekWait is the long-poll wait of a receive; peekEmpty empty
	// receives in a row end the peek.
	peekWait  = 1
	peekEmpty = 3
)

// ReadBack returns the body of the queue's message carrying ev's delivery
// id (the envelope, or the s3_payload event that stood in for it), or
// destination.ErrNotFound. It receives the queue's visible messages (at
// most 1,000) and makes them visible again, so it is meant for tests and
// demos, not for queues that consumers are reading. On a FIFO queue it sees
// only the first message of each message group (SQS returns no more of a
// group while one is being looked at).
func (q *Queue) ReadBack(ctx context.Context, ev destination.Event) (json.RawMessage, error) {
	var found json.RawMessage
	err := q.peek(ctx, func(m types.Message) (del, stop bool) {
		if attr(m, attrDeliveryID) != ev.DeliveryID {
			return false, false
		}
		found = json.RawMessage(aws.ToString(m.Body))
		return false, true
	})
	if err != nil {
		return nil, err
	}
	if found == nil {
		return nil, destination.ErrNotFound
	}
	return found, nil
}

// ReadBackAll is ReadBack for many events in one pass over the queue.
func (q *Queue) ReadBackAll(ctx context.Context, evs []destination.Event) (map[string]json.RawMessage, error) {
	want := make(map[string]bool, len(evs))
	for _, ev := range evs {
		want[ev.DeliveryID] = true
	}
	found := make(map[string]json.RawMessage, len(evs))
	err := q.peek(ctx, func(m types.Message) (del, stop bool) {
		if id := attr(m, attrDeliveryID); want[id] {
			found[id] = json.RawMessage(aws.ToString(m.Body))
		}
		return false, len(found) == len(want)
	})
	return found, err
}

// RemoveHealthcheck deletes the message carrying ev's delivery id, or
// returns destination.ErrNotFound. Like ReadBack it looks at most at the
// first 1,000 visible messages.
func (q *Queue) RemoveHealthcheck(ctx context.Context, ev destination.Event) error {
	found := false
	err := q.peek(ctx, func(m types.Message) (del, stop bool) {
		if attr(m, attrDeliveryID) != ev.DeliveryID {
			return false, false
		}
		found = true
		return true, true
	})
	if err != nil {
		return err
	}
	if !found {
		return destination.ErrNotFound
	}
	return nil
}

// attr returns a message attribute's string value.
func attr(m types.Message, name string) string {
	v, ok := m.MessageAttributes[name]
	if !ok {
		return ""
	}
	return aws.ToString(v.StringValue)
}

// peek receives the queue's visible messages and calls visit on each until
// it asks to stop, the queue has no more or peekRounds calls were made. A
// message visit asks to delete is deleted; the others are made visible
// again before peek returns.
func (q *Queue) peek(ctx context.Context, visit func(m types.Message) (del, stop bool)) error {
	ctx, cancel := context.WithTimeout(ctx, q.timeout)
	defer cancel()
	var held []string // receipt handles to make visible again
	empty := 0
	defer func() { q.release(context.WithoutCancel(ctx), held) }()
	for range peekRounds {
		out, err := q.client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl:                    aws.String(q.url),
			MaxNumberOfMessages:         maxBatchEntries,
			VisibilityTimeout:           peekVisibility,
			WaitTimeSeconds:             peekWait,
			MessageAttributeNames:       []string{"All"},
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
		})
		if err != nil {
			return q.explain("receive", err)
		}
		if len(out.Messages) == 0 {
			// A receive can come back empty while messages remain (SQS
			// samples its hosts): only a few empty ones in a row end it.
			if empty++; empty >= peekEmpty {
				return nil
			}
			continue
		}
		empty = 0
		for i, m := range out.Messages {
			del, stop := visit(m)
			if del {
				if _, err := q.client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(q.url), ReceiptHandle: m.ReceiptHandle}); err != nil {
					held = append(held, aws.ToString(m.ReceiptHandle))
					return q.explain("delete", err)
				}
			} else {
				held = append(held, aws.ToString(m.ReceiptHandle))
			}
			if stop {
				for _, rest := range out.Messages[i+1:] {
					held = append(held, aws.ToString(rest.ReceiptHandle))
				}
				return nil
			}
		}
	}
	return nil
}

// release makes received messages visible again, 10 per call; failures are
// logged (the messages reappear when their visibility timeout ends anyway).
func (q *Queue) release(ctx context.Context, handles []string) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for len(handles) > 0 {
		n := min(len(handles), maxBatchEntries)
		entries := make([]types.ChangeMessageVisibilityBatchRequestEntry, n)
		for i, h := range handles[:n] {
			entries[i] = types.ChangeMessageVisibilityBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(h), VisibilityTimeout: 0}
		}
		handles = handles[n:]
		out, err := q.client.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: aws.String(q.url), Entries: entries})
		if err != nil {
			q.log.WarnContext(ctx, "sqs: make peeked messages visible again", "error", q.explain("change visibility", err))
			return
		}
		if len(out.Failed) > 0 {
			q.log.WarnContext(ctx, "sqs: make peeked messages visible again", "failed", len(out.Failed),
				"error", fmt.Sprintf("%s: %s", aws.ToString(out.Failed[0].Code), aws.ToString(out.Failed[0].Message)))
		}
	}
}
