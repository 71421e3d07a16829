-- Backfill progress per user: pulls enqueued on connect, pulls finished, records stored.
ALTER TABLE users ADD COLUMN backfill_total INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN backfill_done INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN backfill_records INTEGER NOT NULL DEFAULT 0;
