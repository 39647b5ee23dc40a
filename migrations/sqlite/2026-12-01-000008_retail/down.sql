DROP TABLE order_refunds;
ALTER TABLE orders DROP COLUMN channels;
DROP INDEX carts_merged_into;
ALTER TABLE carts DROP COLUMN merged_into;
ALTER TABLE cart_lines DROP COLUMN updated_channel;
ALTER TABLE marketplaces DROP COLUMN locations;
DROP INDEX locations_code_folded;
CREATE TABLE tax_rates_old (
    region TEXT PRIMARY KEY NOT NULL,
    rate_percent TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
INSERT INTO tax_rates_old (region, rate_percent, updated_at)
    SELECT region, rate_percent, updated_at FROM tax_rates WHERE tax_class = 'standard';
DROP TABLE tax_rates;
ALTER TABLE tax_rates_old RENAME TO tax_rates;
ALTER TABLE skus DROP COLUMN tax_class;
