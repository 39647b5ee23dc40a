-- Orders: prices fixed at checkout, one fulfilment per location and method,
-- each with its own state machine, an audit trail, and returns.

CREATE TABLE orders (
    id TEXT PRIMARY KEY NOT NULL,
    number TEXT NOT NULL UNIQUE,
    customer_id TEXT REFERENCES customers (id),
    channel TEXT NOT NULL,
    placed_by TEXT NOT NULL,
    cart_id TEXT REFERENCES carts (id),
    marketplace_id TEXT REFERENCES marketplaces (id),
    external_id TEXT,
    status TEXT NOT NULL,
    status_reason TEXT,
    currency TEXT NOT NULL,
    subtotal_minor BIGINT NOT NULL,
    discount_minor BIGINT NOT NULL,
    tax_minor BIGINT NOT NULL,
    total_minor BIGINT NOT NULL,
    prices_include_tax BOOLEAN NOT NULL,
    promotion_code TEXT,
    payment_reference TEXT,
    payment_minor BIGINT,
    contact TEXT,
    version INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (marketplace_id, external_id)
);
CREATE INDEX orders_customer ON orders (customer_id, id);
CREATE INDEX orders_created ON orders (created_at, id);
CREATE INDEX orders_status ON orders (status, id);

CREATE TABLE fulfilments (
    id TEXT PRIMARY KEY NOT NULL,
    order_id TEXT NOT NULL REFERENCES orders (id),
    method TEXT NOT NULL CHECK (method IN ('ship', 'pickup', 'curbside', 'same_day', 'counter')),
    -- Where the stock comes from; NULL while nothing could be allocated.
    location_id TEXT REFERENCES locations (id),
    -- Where the customer collects (pickup, curbside), when it is a store.
    pickup_location_id TEXT REFERENCES locations (id),
    status TEXT NOT NULL,
    status_reason TEXT,
    reservation_id TEXT REFERENCES reservations (id),
    address TEXT,
    slot_id TEXT,
    ready_by TIMESTAMP,
    pickup_code_hash TEXT,
    pickup_code_plain TEXT,
    pickup_code_attempts INTEGER NOT NULL DEFAULT 0,
    pickup_deadline TIMESTAMP,
    expiry_warned BOOLEAN NOT NULL DEFAULT FALSE,
    arrived_at TIMESTAMP,
    arrival_note TEXT,
    tracking TEXT,
    version INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX fulfilments_order ON fulfilments (order_id);
CREATE INDEX fulfilments_source ON fulfilments (location_id, status);
CREATE INDEX fulfilments_pickup_queue ON fulfilments (pickup_location_id, status);
CREATE INDEX fulfilments_deadline ON fulfilments (status, pickup_deadline);

CREATE TABLE order_lines (
    id TEXT PRIMARY KEY NOT NULL,
    order_id TEXT NOT NULL REFERENCES orders (id),
    fulfilment_id TEXT NOT NULL REFERENCES fulfilments (id),
    sku_id TEXT NOT NULL REFERENCES skus (id),
    sku_code TEXT NOT NULL,
    name TEXT NOT NULL,
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    unit_price_minor BIGINT NOT NULL,
    discount_minor BIGINT NOT NULL,
    tax_minor BIGINT NOT NULL,
    total_minor BIGINT NOT NULL,
    picked_quantity INTEGER,
    short_quantity INTEGER NOT NULL DEFAULT 0,
    cancelled_quantity INTEGER NOT NULL DEFAULT 0,
    returned_quantity INTEGER NOT NULL DEFAULT 0,
    CHECK (short_quantity + cancelled_quantity + returned_quantity <= quantity AND short_quantity >= 0
           AND cancelled_quantity >= 0 AND returned_quantity >= 0)
);
CREATE INDEX order_lines_order ON order_lines (order_id);
CREATE INDEX order_lines_fulfilment ON order_lines (fulfilment_id);

CREATE TABLE order_audit (
    id BIGSERIAL PRIMARY KEY,
    order_id TEXT NOT NULL REFERENCES orders (id),
    fulfilment_id TEXT,
    action TEXT NOT NULL,
    from_status TEXT,
    to_status TEXT,
    reason TEXT,
    actor TEXT NOT NULL,
    channel TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX order_audit_order ON order_audit (order_id, id);

CREATE TABLE returns (
    id TEXT PRIMARY KEY NOT NULL,
    order_id TEXT NOT NULL REFERENCES orders (id),
    location_id TEXT REFERENCES locations (id),
    reason TEXT,
    refund_minor BIGINT NOT NULL,
    channel TEXT NOT NULL,
    actor TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX returns_order ON returns (order_id);

CREATE TABLE return_lines (
    return_id TEXT NOT NULL REFERENCES returns (id),
    order_line_id TEXT NOT NULL REFERENCES order_lines (id),
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    disposition TEXT NOT NULL CHECK (disposition IN ('restock', 'write_off')),
    refund_minor BIGINT NOT NULL,
    PRIMARY KEY (return_id, order_line_id)
);
