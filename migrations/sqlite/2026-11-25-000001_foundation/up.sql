-- Foundation: locations, catalog, marketplaces (as a channel), API keys, idempotency.
-- Ids are UUIDv7 text made in Rust; money is BIGINT minor units; times are UTC.

CREATE TABLE locations (
    id TEXT PRIMARY KEY NOT NULL,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('store', 'warehouse', 'dark_store')),
    address TEXT NOT NULL,
    latitude DOUBLE PRECISION NOT NULL CHECK (latitude BETWEEN -90 AND 90),
    longitude DOUBLE PRECISION NOT NULL CHECK (longitude BETWEEN -180 AND 180),
    time_zone TEXT NOT NULL,
    opening_hours TEXT NOT NULL,
    ships BOOLEAN NOT NULL,
    pickup BOOLEAN NOT NULL,
    curbside BOOLEAN NOT NULL,
    same_day TEXT,
    pickup_prep_minutes INTEGER NOT NULL CHECK (pickup_prep_minutes >= 0),
    pickup_hold_days INTEGER NOT NULL CHECK (pickup_hold_days > 0),
    tax_region TEXT NOT NULL,
    active BOOLEAN NOT NULL,
    version INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE skus (
    id TEXT PRIMARY KEY NOT NULL,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    search_name TEXT NOT NULL,
    gtin TEXT UNIQUE,
    price_minor BIGINT NOT NULL CHECK (price_minor >= 0),
    currency TEXT NOT NULL,
    spoken_names TEXT NOT NULL,
    active BOOLEAN NOT NULL,
    version INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE marketplaces (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    base_url TEXT NOT NULL,
    credentials TEXT NOT NULL,
    webhook_secret TEXT NOT NULL,
    share_percent INTEGER NOT NULL CHECK (share_percent BETWEEN 0 AND 100),
    buffer_units INTEGER NOT NULL CHECK (buffer_units >= 0),
    rate_limit_per_sec INTEGER NOT NULL CHECK (rate_limit_per_sec > 0),
    settings TEXT NOT NULL,
    active BOOLEAN NOT NULL,
    version INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'staff', 'pos', 'storefront', 'marketplace')),
    location_id TEXT REFERENCES locations (id),
    channel TEXT NOT NULL,
    marketplace_id TEXT REFERENCES marketplaces (id),
    secret_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP,
    CHECK ((role IN ('pos', 'staff')) = (location_id IS NOT NULL)),
    CHECK ((role = 'marketplace') = (marketplace_id IS NOT NULL))
);

CREATE TABLE idempotency_keys (
    caller_id TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    response_status INTEGER NOT NULL,
    response_body TEXT NOT NULL,
    response_etag TEXT,
    response_location TEXT,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (caller_id, idempotency_key)
);
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);
