-- Every channel that has changed the cart (its merged carts' included), as
-- ",app,web,": kept by each change's version bump, so checkout reads it with
-- the cart instead of scanning the trail.
ALTER TABLE carts ADD COLUMN channels TEXT NOT NULL DEFAULT ',';
UPDATE carts SET channels = COALESCE(',' || (
    SELECT group_concat(DISTINCT ch.channel) FROM cart_changes ch
    WHERE ch.cart_id = carts.id OR ch.cart_id IN (SELECT m.id FROM carts m WHERE m.merged_into = carts.id)
) || ',', ',');
