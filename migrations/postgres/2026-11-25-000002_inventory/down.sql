DROP TABLE event_offsets;
DROP TABLE events;
DROP TABLE reservation_lines;
DROP TABLE reservations;
DROP TABLE stock_movements;
DROP TABLE stock_levels;
