DROP INDEX returns_created;
DROP INDEX carts_created;
DROP TABLE staff_sessions;
