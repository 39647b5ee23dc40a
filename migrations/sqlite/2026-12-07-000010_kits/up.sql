-- Kits: a SKU sold as a set of other SKUs, with no stock of its own.

-- NULL: an ordinary SKU. A kit's components as JSON:
-- [{"sku_id": …, "sku_code": …, "quantity": n}], 2 to 20 ordinary SKUs.
ALTER TABLE skus ADD COLUMN components TEXT;
-- Finding the kits (to recompute their listings) reads only them.
CREATE INDEX skus_kits ON skus (id) WHERE components IS NOT NULL;

-- The kit whose line moved this component (NULL: the SKU itself was sold).
ALTER TABLE stock_movements ADD COLUMN kit_sku_id TEXT REFERENCES skus (id);

-- What one kit of the line took from stock when it was ordered: the kit's
-- components may change later, its orders keep what they hold.
ALTER TABLE order_lines ADD COLUMN components TEXT;
