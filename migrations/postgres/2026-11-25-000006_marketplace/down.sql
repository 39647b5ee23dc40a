DROP TABLE marketplace_push_log;
DROP TABLE marketplace_deliveries;
DROP TABLE marketplace_outbound;
DROP TABLE marketplace_stock;
DROP TABLE marketplace_listings;
