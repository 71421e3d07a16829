-- What destinations need to write a data event idempotently without parsing it.
ALTER TABLE events ADD COLUMN provider TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN start_time BIGINT NOT NULL DEFAULT 0;
ALTER TABLE events ADD COLUMN end_time BIGINT NOT NULL DEFAULT 0;
