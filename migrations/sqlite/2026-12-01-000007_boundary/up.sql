-- Who owns what, for authorization by ownership. (SQLite cannot drop a
-- column that declares a foreign key, so here, unlike on PostgreSQL, the new
-- columns declare none: the down migration must be able to drop them.)
-- A hold placed for an order is the order's: only the order's own moves
-- (cancel, ship, collect) may release or commit it.
ALTER TABLE reservations ADD COLUMN order_id TEXT;
-- The marketplace whose key (or webhook) placed the hold.
ALTER TABLE reservations ADD COLUMN marketplace_id TEXT;
-- The store whose till placed the order (POS sales, endless aisle).
ALTER TABLE orders ADD COLUMN store_id TEXT;
CREATE INDEX orders_store ON orders (store_id, id);
-- What a delivery did, in the marketplace's own ids (an order, a refund, a
-- cancellation): one effect each, whatever delivery ids it comes under.
ALTER TABLE marketplace_deliveries ADD COLUMN effect TEXT;
CREATE UNIQUE INDEX marketplace_deliveries_effect ON marketplace_deliveries (marketplace_id, effect);
-- Service-wide settings kept with the data, e.g. which key seals its secrets
-- (a check value, never the key).
CREATE TABLE service_settings (
    name TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);
