-- Same-day delivery slots, created when first listed or booked. The CHECK is
-- the last line of defence; bookings use a guarded UPDATE.
CREATE TABLE delivery_slots (
    id TEXT PRIMARY KEY NOT NULL,
    location_id TEXT NOT NULL REFERENCES locations (id),
    starts_at TIMESTAMP NOT NULL,
    ends_at TIMESTAMP NOT NULL,
    capacity INTEGER NOT NULL CHECK (capacity > 0),
    booked INTEGER NOT NULL CHECK (booked >= 0 AND booked <= capacity)
);
CREATE INDEX delivery_slots_location ON delivery_slots (location_id, starts_at);
