-- Inventory: levels, the append-only movement ledger, reservations, and the
-- event outbox.

CREATE TABLE stock_levels (
    sku_id TEXT NOT NULL REFERENCES skus (id),
    location_id TEXT NOT NULL REFERENCES locations (id),
    on_hand INTEGER NOT NULL CHECK (on_hand >= 0),
    reserved INTEGER NOT NULL CHECK (reserved >= 0),
    safety_stock INTEGER NOT NULL CHECK (safety_stock >= 0),
    aisle TEXT,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (sku_id, location_id)
-- Availability reads a SKU's levels at every location: clustered on the key,
-- they are one range of one b-tree instead of an index probe plus a table
-- seek per location.
) WITHOUT ROWID;
CREATE INDEX stock_levels_location ON stock_levels (location_id, sku_id);

-- Every change of on_hand or reserved, never updated or deleted. Each row
-- moves one of the two columns; the level equals the sums of the deltas.
CREATE TABLE stock_movements (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sku_id TEXT NOT NULL REFERENCES skus (id),
    location_id TEXT NOT NULL REFERENCES locations (id),
    kind TEXT NOT NULL CHECK (kind IN ('receipt', 'sale', 'return', 'adjustment', 'count', 'transfer_out',
                                       'transfer_in', 'reserve', 'release', 'commit')),
    on_hand_delta INTEGER NOT NULL,
    reserved_delta INTEGER NOT NULL,
    reason TEXT,
    reference TEXT,
    actor TEXT NOT NULL,
    channel TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX stock_movements_level ON stock_movements (sku_id, location_id, id);

CREATE TABLE reservations (
    id TEXT PRIMARY KEY NOT NULL,
    location_id TEXT NOT NULL REFERENCES locations (id),
    purpose TEXT NOT NULL CHECK (purpose IN ('pos_hold', 'cart_hold', 'order', 'marketplace_order')),
    status TEXT NOT NULL CHECK (status IN ('active', 'committed', 'released', 'expired')),
    customer_ref TEXT,
    reference TEXT,
    channel TEXT NOT NULL,
    created_by TEXT NOT NULL,
    expires_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    version INTEGER NOT NULL
);
CREATE INDEX reservations_expiry ON reservations (status, expires_at);

CREATE TABLE reservation_lines (
    reservation_id TEXT NOT NULL REFERENCES reservations (id),
    sku_id TEXT NOT NULL REFERENCES skus (id),
    quantity INTEGER NOT NULL CHECK (quantity >= 0),
    PRIMARY KEY (reservation_id, sku_id)
);
CREATE INDEX reservation_lines_sku ON reservation_lines (sku_id, reservation_id);

-- The outbox. `id` is assigned at insert, before commit, so ids can commit out
-- of order; `seq` is assigned afterwards by one sequencer at a time, in commit
-- order, and is what consumers resume from.
CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    seq BIGINT UNIQUE,
    topic TEXT NOT NULL,
    sku_id TEXT,
    location_id TEXT,
    order_id TEXT,
    payload TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX events_unsequenced ON events (id) WHERE seq IS NULL;

-- How far each in-process consumer of the outbox has read.
CREATE TABLE event_offsets (
    consumer TEXT PRIMARY KEY NOT NULL,
    seq BIGINT NOT NULL
);
