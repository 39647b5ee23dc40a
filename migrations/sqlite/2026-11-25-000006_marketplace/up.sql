-- Marketplace connectors: listings, what each listing should offer and how
-- far its push got, confirmations to send, and webhook deliveries seen.

CREATE TABLE marketplace_listings (
    marketplace_id TEXT NOT NULL REFERENCES marketplaces (id),
    sku_id TEXT NOT NULL REFERENCES skus (id),
    -- Their id for pushes (Shopify inventory item, Amazon seller SKU).
    listing_id TEXT NOT NULL,
    -- The SKU their orders name.
    seller_sku TEXT NOT NULL,
    PRIMARY KEY (marketplace_id, sku_id),
    UNIQUE (marketplace_id, listing_id),
    UNIQUE (marketplace_id, seller_sku)
);

-- The latest quantity a listing should show: only it is ever sent, so quick
-- changes coalesce; the row survives restarts.
CREATE TABLE marketplace_stock (
    marketplace_id TEXT NOT NULL REFERENCES marketplaces (id),
    sku_id TEXT NOT NULL REFERENCES skus (id),
    quantity INTEGER NOT NULL CHECK (quantity >= 0),
    pushed_quantity INTEGER,
    status TEXT NOT NULL CHECK (status IN ('pending', 'synced', 'dead')),
    attempts INTEGER NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    last_error TEXT,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (marketplace_id, sku_id)
);
CREATE INDEX marketplace_stock_due ON marketplace_stock (status, next_attempt_at);

CREATE TABLE marketplace_outbound (
    id TEXT PRIMARY KEY NOT NULL,
    marketplace_id TEXT NOT NULL REFERENCES marketplaces (id),
    order_id TEXT NOT NULL REFERENCES orders (id),
    kind TEXT NOT NULL CHECK (kind IN ('shipped', 'cancelled')),
    payload TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'done', 'dead')),
    attempts INTEGER NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX marketplace_outbound_due ON marketplace_outbound (status, next_attempt_at);

CREATE TABLE marketplace_deliveries (
    marketplace_id TEXT NOT NULL REFERENCES marketplaces (id),
    delivery_id TEXT NOT NULL,
    external_order_id TEXT,
    topic TEXT NOT NULL,
    order_id TEXT REFERENCES orders (id),
    received_at TIMESTAMP NOT NULL,
    PRIMARY KEY (marketplace_id, delivery_id)
);

CREATE TABLE marketplace_push_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    marketplace_id TEXT NOT NULL REFERENCES marketplaces (id),
    listing_id TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    status_code INTEGER,
    error TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX marketplace_push_log_marketplace ON marketplace_push_log (marketplace_id, id);
