ALTER TABLE order_lines DROP COLUMN components;
ALTER TABLE stock_movements DROP COLUMN kit_sku_id;
DROP INDEX skus_kits;
ALTER TABLE skus DROP COLUMN components;
