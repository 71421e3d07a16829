-- Times are unix milliseconds (BIGINT) in both dialects.
CREATE TABLE developers (
	id            TEXT PRIMARY KEY,
	api_key_hash  TEXT NOT NULL UNIQUE,
	signing_secret TEXT NOT NULL,
	created_at    BIGINT NOT NULL
);

CREATE TABLE users (
	id               TEXT PRIMARY KEY,
	developer_id     TEXT NOT NULL REFERENCES developers(id),
	provider         TEXT NOT NULL,
	provider_user_id TEXT NOT NULL,
	reference_id     TEXT,
	scopes           TEXT,
	active           BOOLEAN NOT NULL DEFAULT TRUE,
	token            TEXT,
	created_at       BIGINT NOT NULL,
	last_webhook_update BIGINT
);
CREATE UNIQUE INDEX users_identity ON users (developer_id, provider, provider_user_id);
CREATE INDEX users_provider_user ON users (provider, provider_user_id);

CREATE TABLE auth_sessions (
	state            TEXT PRIMARY KEY,
	developer_id     TEXT NOT NULL REFERENCES developers(id),
	user_id          TEXT NOT NULL,
	provider         TEXT NOT NULL,
	verifier         TEXT NOT NULL DEFAULT '',
	reference_id     TEXT,
	success_redirect TEXT NOT NULL DEFAULT '',
	failure_redirect TEXT NOT NULL DEFAULT '',
	created_at       BIGINT NOT NULL
);

CREATE TABLE records (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	user_id     TEXT NOT NULL REFERENCES users(id),
	data_type   TEXT NOT NULL,
	record_key  TEXT NOT NULL,
	start_time  BIGINT NOT NULL,
	end_time    BIGINT NOT NULL,
	day         TEXT NOT NULL DEFAULT '',
	version     INTEGER NOT NULL,
	hash        TEXT NOT NULL,
	payload     TEXT NOT NULL,
	raw         TEXT,
	updated_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX records_identity ON records (user_id, data_type, record_key);
CREATE INDEX records_time ON records (user_id, data_type, start_time);

CREATE TABLE events (
	seq          INTEGER PRIMARY KEY AUTOINCREMENT,
	developer_id TEXT NOT NULL,
	user_id      TEXT NOT NULL DEFAULT '',
	type         TEXT NOT NULL,
	record_key   TEXT NOT NULL DEFAULT '',
	version      INTEGER NOT NULL DEFAULT 0,
	body         TEXT NOT NULL,
	created_at   BIGINT NOT NULL
);
CREATE INDEX events_developer ON events (developer_id, seq);

CREATE TABLE destinations (
	id           TEXT PRIMARY KEY,
	developer_id TEXT NOT NULL REFERENCES developers(id),
	kind         TEXT NOT NULL,
	settings     TEXT NOT NULL,
	secret       TEXT NOT NULL,
	enabled      BOOLEAN NOT NULL DEFAULT TRUE,
	event_types  TEXT NOT NULL DEFAULT '',
	cursor       BIGINT NOT NULL DEFAULT 0,
	lease_owner  TEXT NOT NULL DEFAULT '',
	lease_until  BIGINT NOT NULL DEFAULT 0,
	created_at   BIGINT NOT NULL
);

CREATE TABLE delivery_retries (
	destination_id  TEXT NOT NULL REFERENCES destinations(id) ON DELETE CASCADE,
	seq             BIGINT NOT NULL,
	attempts        INTEGER NOT NULL,
	next_attempt_at BIGINT NOT NULL,
	last_error      TEXT NOT NULL,
	dead            BOOLEAN NOT NULL DEFAULT FALSE,
	updated_at      BIGINT NOT NULL,
	PRIMARY KEY (destination_id, seq)
);
CREATE INDEX delivery_retries_due ON delivery_retries (destination_id, dead, next_attempt_at);

CREATE TABLE problems (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	developer_id TEXT NOT NULL,
	user_id      TEXT NOT NULL,
	provider     TEXT NOT NULL,
	data_type    TEXT NOT NULL DEFAULT '',
	error        TEXT NOT NULL,
	raw          TEXT,
	created_at   BIGINT NOT NULL
);
CREATE INDEX problems_user ON problems (user_id, id);
