DROP TABLE idempotency_keys;
DROP TABLE api_keys;
DROP TABLE marketplaces;
DROP TABLE skus;
DROP TABLE locations;
