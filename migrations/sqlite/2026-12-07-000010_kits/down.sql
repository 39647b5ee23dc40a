ALTER TABLE order_lines DROP COLUMN components;
ALTER TABLE stock_movements DROP COLUMN kit_sku_id;
ALTER TABLE skus DROP COLUMN components;
