// Package postgresbench measures the postgres destination kind against
// PostgreSQL's fastest bulk path: it delivers 100,000 normalised records
// through Deliver in batches of 500, copies the same rows into a table of
// the same shape with COPY (pgx CopyFrom), and reports both rates and their
// ratio. It runs only as a benchmark, against TEST_DATABASE_URL:
//
//	eval "$(scripts/test-servers up)"
//	go test ./bench/postgres -run '^$' -bench . -benchtime 1x
package postgresbench
