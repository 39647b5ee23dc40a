-- Every channel that has changed the cart (its merged carts' included), as
-- ",app,web,": kept by each change's version bump, so checkout reads it with
-- the cart instead of scanning the trail.
ALTER TABLE carts ADD COLUMN channels TEXT NOT NULL DEFAULT ',';
UPDATE carts c SET channels = COALESCE(',' || (
    SELECT string_agg(DISTINCT ch.channel, ',' ORDER BY ch.channel) FROM cart_changes ch
    WHERE ch.cart_id = c.id OR ch.cart_id IN (SELECT m.id FROM carts m WHERE m.merged_into = c.id)
) || ',', ',');
