-- Retail correctness: tax classes and subdivision rates, refunds of
-- cancellations, the channel trail of cart lines, case-insensitive
-- location codes, the locations a marketplace is offered stock from.

-- A SKU's tax class (standard, reduced, ...): which rate of a region applies.
ALTER TABLE skus ADD COLUMN tax_class TEXT NOT NULL DEFAULT 'standard';

-- Rates per region (country `DE`, or subdivision `DE-BY`, which wins) and class.
ALTER TABLE tax_rates ADD COLUMN tax_class TEXT NOT NULL DEFAULT 'standard';
ALTER TABLE tax_rates DROP CONSTRAINT tax_rates_pkey;
ALTER TABLE tax_rates ADD PRIMARY KEY (region, tax_class);

-- Codes are unique whatever their case: BER-MITTE and ber-mitte are one store.
CREATE UNIQUE INDEX locations_code_folded ON locations (lower(code));

-- The locations whose stock a marketplace is offered (JSON array of codes);
-- NULL: those in its country.
ALTER TABLE marketplaces ADD COLUMN locations TEXT;

-- The channel of the latest change to a cart line.
ALTER TABLE cart_lines ADD COLUMN updated_channel TEXT;

-- The cart an anonymous cart was merged into: its trail belongs to that
-- cart's order too.
ALTER TABLE carts ADD COLUMN merged_into TEXT;
CREATE INDEX carts_merged_into ON carts (merged_into) WHERE merged_into IS NOT NULL;

-- Every channel that touched the order's cart, and the one that placed it
-- (JSON array).
ALTER TABLE orders ADD COLUMN channels TEXT;

-- Money owed back for units that were cancelled, could not be picked or
-- were never collected (returns keep theirs in `returns`).
CREATE TABLE order_refunds (
    id TEXT PRIMARY KEY NOT NULL,
    order_id TEXT NOT NULL REFERENCES orders (id),
    kind TEXT NOT NULL CHECK (kind IN ('cancellation', 'short_pick', 'expiry')),
    amount_minor BIGINT NOT NULL CHECK (amount_minor >= 0),
    reason TEXT NOT NULL,
    lines TEXT NOT NULL,
    channel TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX order_refunds_order ON order_refunds (order_id, id);
