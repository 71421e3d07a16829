-- A value sealed with the secret key, to tell at start that the key is the one the data was sealed with.
CREATE TABLE key_check (id INTEGER PRIMARY KEY, sealed TEXT NOT NULL);
