-- Customers, the one open cart per customer (or anonymous token), its
-- change history, promotions and tax rates.

CREATE TABLE customers (
    id TEXT PRIMARY KEY NOT NULL,
    external_ref TEXT NOT NULL UNIQUE,
    name TEXT,
    email TEXT,
    phone TEXT,
    marketing_consent BOOLEAN NOT NULL,
    version INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX customers_email ON customers (email);
CREATE INDEX customers_phone ON customers (phone);

CREATE TABLE carts (
    id TEXT PRIMARY KEY NOT NULL,
    customer_id TEXT REFERENCES customers (id),
    token TEXT UNIQUE,
    status TEXT NOT NULL CHECK (status IN ('open', 'checked_out', 'merged')),
    -- Invariant: one open cart per customer, whatever channel asks. The
    -- customer's id while the cart is open, else NULL; a plain unique column
    -- rather than a partial index on status = 'open', because a query binding
    -- the status as a parameter cannot use such an index in a generic plan
    -- (PostgreSQL), and makes SQLite recompile it on every execution.
    open_for TEXT UNIQUE,
    currency TEXT,
    fulfilment TEXT,
    promotion_code TEXT,
    version INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    CHECK ((customer_id IS NULL) <> (token IS NULL)),
    CHECK (open_for IS NOT DISTINCT FROM (CASE WHEN status = 'open' THEN customer_id END))
);

CREATE TABLE cart_lines (
    cart_id TEXT NOT NULL REFERENCES carts (id),
    sku_id TEXT NOT NULL REFERENCES skus (id),
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    hold_id TEXT,
    added_channel TEXT NOT NULL,
    added_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (cart_id, sku_id)
);

CREATE TABLE cart_changes (
    id BIGSERIAL PRIMARY KEY,
    cart_id TEXT NOT NULL REFERENCES carts (id),
    version INTEGER NOT NULL,
    action TEXT NOT NULL,
    sku_id TEXT,
    quantity INTEGER,
    detail TEXT,
    channel TEXT NOT NULL,
    actor TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX cart_changes_cart ON cart_changes (cart_id, id);

CREATE TABLE promotions (
    id TEXT PRIMARY KEY NOT NULL,
    code TEXT UNIQUE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('percent', 'fixed')),
    percent TEXT,
    amount_minor BIGINT,
    currency TEXT,
    sku_id TEXT REFERENCES skus (id),
    min_subtotal_minor BIGINT,
    starts_at TIMESTAMP NOT NULL,
    ends_at TIMESTAMP,
    channels TEXT,
    active BOOLEAN NOT NULL,
    version INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    CHECK ((kind = 'percent') = (percent IS NOT NULL)),
    CHECK ((kind = 'fixed') = (amount_minor IS NOT NULL))
);

CREATE TABLE tax_rates (
    region TEXT PRIMARY KEY NOT NULL,
    rate_percent TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
