DROP TABLE service_settings;
DROP INDEX marketplace_deliveries_effect;
ALTER TABLE marketplace_deliveries DROP COLUMN effect;
DROP INDEX orders_store;
ALTER TABLE orders DROP COLUMN store_id;
ALTER TABLE reservations DROP COLUMN marketplace_id;
ALTER TABLE reservations DROP COLUMN order_id;
