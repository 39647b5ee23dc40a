-- The staff web app and the manager's numbers.

-- A signed-in browser: the cookie carries a random token, this table its
-- SHA-256, so a leaked table signs no one in. Forms carry the CSRF token.
CREATE TABLE staff_sessions (
    id TEXT PRIMARY KEY NOT NULL,
    key_id TEXT NOT NULL REFERENCES api_keys (id),
    csrf_token TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX staff_sessions_expires ON staff_sessions (expires_at);

-- Reports read carts and returns by when they happened.
CREATE INDEX carts_created ON carts (created_at);
CREATE INDEX returns_created ON returns (created_at);
