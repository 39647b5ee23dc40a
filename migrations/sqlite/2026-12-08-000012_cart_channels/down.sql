ALTER TABLE carts DROP COLUMN channels;
