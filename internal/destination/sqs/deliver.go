package sqs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/wearbridge/wearbridge/internal/destination"
	"github.com/wearbridge/wearbridge/internal/destination/offload"
	"github.com/wearbridge/wearbridge/internal/signature"
)

// Message attribute names.
const (
	attrType       = "type"
	attrUserID     = "user_id"
	attrDeliveryID = "delivery_id"
	attrSignature  = "signature"
	attrRecordKey  = "record_key"
	attrVersion    = "version"
)

// maxFIFOID is the longest MessageGroupId or MessageDeduplicationId.
const maxFIFOID = 128

// message is one event ready to send.
type message struct {
	index int // into the Deliver call's events
	entry types.SendMessageBatchRequestEntry
	size  int // body plus attributes, as SQS counts it
}

// Deliver sends events with SendMessageBatch and returns one result per
// event, in order.
func (q *Queue) Deliver(ctx context.Context, events []destination.Event) []destination.Result {
	results := make([]destination.Result, len(events))
	ctx, cancel := context.WithTimeout(ctx, q.timeout)
	defer cancel()
	start := time.Now()
	msgs := make([]message, 0, len(events))
	for i := range events {
		m, err := q.message(ctx, &events[i])
		if err != nil {
			results[i] = *err
			continue
		}
		m.index = i
		msgs = append(msgs, m)
	}
	batches := pack(msgs, q.limit)
	inFlight := maxInFlight
	if q.fifo {
		inFlight = 1 // keep each group's messages in order
	}
	sem := make(chan struct{}, inFlight)
	var wg sync.WaitGroup
	for _, b := range batches {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			res := destination.Result{Err: fmt.Errorf("sqs: not sent: %w", context.Cause(ctx))}
			for _, m := range b {
				results[m.index] = res
			}
			continue
		}
		wg.Go(func() {
			defer func() { <-sem }()
			q.send(ctx, b, results)
		})
	}
	wg.Wait()
	failed := 0
	for _, r := range results {
		if r.Err != nil {
			failed++
		}
	}
	q.log.DebugContext(ctx, "sqs delivered", "events", len(events), "failed", failed, "calls", len(batches), "duration", time.Since(start))
	return results
}

// message builds the batch entry for ev, offloading its body if it is too
// large. A non-nil result is ev's failure.
func (q *Queue) message(ctx context.Context, ev *destination.Event) (message, *destination.Result) {
	fail := func(permanent bool, format string, args ...any) (message, *destination.Result) {
		err := fmt.Errorf("sqs: event %s: "+format, append([]any{ev.DeliveryID}, args...)...)
		return message{}, &destination.Result{Err: err, Permanent: permanent}
	}
	if ev.DeliveryID == "" {
		return fail(true, "no delivery id")
	}
	// The core marshals every body; a full validation would cost more
	// than the rest of the delivery.
	if len(ev.Body) == 0 || ev.Body[0] != '{' {
		return fail(true, "body is not a JSON object")
	}
	body := sqsSafe(ev.Body)
	typ := ev.Type
	attrs := q.attributes(ev, typ, body)
	if size := attrSize(body, attrs); size > q.limit {
		if q.offload == nil {
			return fail(true, "%d bytes is over the queue's %d-byte message limit, and no offloader is configured", size, q.limit)
		}
		link, err := q.offload.Offload(ctx, *ev)
		if err != nil {
			return fail(false, "offload %d-byte body: %w", size, err)
		}
		body, err = offload.PayloadBody(ev.Body, link, q.now())
		if err != nil {
			return fail(true, "offload: %w", err)
		}
		typ = "s3_payload"
		attrs = q.attributes(ev, typ, body)
		if size := attrSize(body, attrs); size > q.limit {
			return fail(true, "the s3_payload event standing in for it is %d bytes, over the %d-byte limit", size, q.limit)
		}
	}
	m := message{
		entry: types.SendMessageBatchRequestEntry{
			MessageBody:       aws.String(string(body)),
			MessageAttributes: attrs,
		},
		size: attrSize(body, attrs),
	}
	if q.fifo {
		group := ev.UserID
		if group == "" {
			group = ev.Type
		}
		if group == "" {
			group = "wearbridge"
		}
		m.entry.MessageGroupId = aws.String(fifoID(group))
		m.entry.MessageDeduplicationId = aws.String(fifoID(ev.DeliveryID))
	}
	return m, nil
}

// attributes returns the message attributes of ev sent with body, whose
// type is typ.
func (q *Queue) attributes(ev *destination.Event, typ string, body []byte) map[string]types.MessageAttributeValue {
	str := func(v string) types.MessageAttributeValue {
		return types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
	}
	a := map[string]types.MessageAttributeValue{
		attrDeliveryID: str(ev.DeliveryID),
		attrSignature:  str(signature.Sign(q.secret, q.now(), body)),
	}
	if typ != "" {
		a[attrType] = str(typ)
	}
	if ev.UserID != "" {
		a[attrUserID] = str(ev.UserID)
	}
	if ev.RecordKey != "" {
		a[attrRecordKey] = str(ev.RecordKey)
		a[attrVersion] = types.MessageAttributeValue{DataType: aws.String("Number"), StringValue: aws.String(strconv.Itoa(ev.Version))}
	}
	return a
}

// attrSize is a message's size as SQS counts it against its limit: the
// body plus each attribute's name, data type and value.
func attrSize(body []byte, attrs map[string]types.MessageAttributeValue) int {
	n := len(body)
	for name, v := range attrs {
		n += len(name) + len(aws.ToString(v.DataType)) + len(aws.ToString(v.StringValue)) + len(v.BinaryValue)
	}
	return n
}

// fifoID returns s as a MessageGroupId or MessageDeduplicationId: itself
// when it is at most 128 printable ASCII characters, else "sha256-" and its
// hash.
func fifoID(s string) string {
	ok := len(s) <= maxFIFOID && utf8.ValidString(s)
	for i := 0; ok && i < len(s); i++ {
		ok = s[i] >= 0x21 && s[i] <= 0x7e
	}
	if ok && s != "" {
		return s
	}
	h := sha256.Sum256([]byte(s))
	return "sha256-" + hex.EncodeToString(h[:])
}

// pack splits msgs into SendMessageBatch calls of at most 10 entries and
// limit bytes, in order.
func pack(msgs []message, limit int) [][]message {
	var out [][]message
	var cur []message
	size := 0
	for _, m := range msgs {
		if len(cur) == maxBatchEntries || (len(cur) > 0 && size+m.size > limit) {
			out = append(out, cur)
			cur, size = nil, 0
		}
		cur = append(cur, m)
		size += m.size
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// send makes one SendMessageBatch call and records each entry's result.
func (q *Queue) send(ctx context.Context, batch []message, results []destination.Result) {
	entries := make([]types.SendMessageBatchRequestEntry, len(batch))
	byID := make(map[string]int, len(batch))
	for i, m := range batch {
		id := strconv.Itoa(m.index)
		m.entry.Id = aws.String(id)
		entries[i] = m.entry
		byID[id] = m.index
	}
	out, err := q.client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(q.url), Entries: entries})
	if err != nil {
		res := q.callResult(ctx, err)
		for _, m := range batch {
			results[m.index] = res
		}
		return
	}
	done := make(map[int]bool, len(batch))
	for _, s := range out.Successful {
		if i, ok := byID[aws.ToString(s.Id)]; ok {
			done[i] = true
		}
	}
	for _, f := range out.Failed {
		i, ok := byID[aws.ToString(f.Id)]
		if !ok {
			continue
		}
		done[i] = true
		code := aws.ToString(f.Code)
		results[i] = destination.Result{
			Err:       q.scrub(fmt.Errorf("sqs: queue %q rejected the message: %s: %s", q.name, code, aws.ToString(f.Message))),
			Permanent: f.SenderFault && !throttled(code),
		}
	}
	for _, m := range batch {
		if !done[m.index] {
			results[m.index] = destination.Result{Err: fmt.Errorf("sqs: queue %q: SendMessageBatch gave no result for the message", q.name)}
		}
	}
}

// callResult classifies the error of a whole call.
func (q *Queue) callResult(ctx context.Context, err error) destination.Result {
	if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return destination.Result{Err: fmt.Errorf("sqs: not sent: %w", context.Cause(ctx))}
	}
	return destination.Result{Err: q.explain("send", err), Permanent: permanent(err)}
}

// sqsSafe writes every character outside the Basic Multilingual Plane
// (emoji in activity names, say) as a JSON \\u escape pair: the same JSON
// value, in characters every SQS implementation accepts (some emulators
// refuse #x10000 and up, which SQS documents as allowed). The signature is
// computed over the body as sent.
func sqsSafe(body []byte) []byte {
	if utf8.Valid(body) && !hasAstral(body) {
		return body
	}
	var b bytes.Buffer
	b.Grow(len(body) + 16)
	for _, r := range string(body) {
		if r > 0xFFFF {
			r1, r2 := utf16.EncodeRune(r)
			fmt.Fprintf(&b, "\\u%04x\\u%04x", r1, r2)
			continue
		}
		b.WriteRune(r)
	}
	return b.Bytes()
}

func hasAstral(body []byte) bool {
	for i := 0; i < len(body); i++ {
		if body[i] >= 0xF0 {
			return true
		}
	}
	return false
}
