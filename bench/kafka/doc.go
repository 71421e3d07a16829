// Package kafkabench measures the kafka destination kind against franz-go
// producing the same records directly: it delivers 100,000 normalised
// records (about 1.4 KB each, every one about a different user) through
// Deliver in batches of 500, produces the same keys, values and headers
// with kgo's ProduceSync, once in batches of 500 and once in a single call,
// and reports the rates and their ratio. Both paths use the kind's producer
// settings: acks=all, idempotent, snappy. It runs only as a benchmark,
// against TEST_KAFKA_BROKERS:
//
//	eval "$(scripts/test-servers up)"
//	go test ./bench/kafka -run '^$' -bench . -benchtime 1x
package kafkabench
