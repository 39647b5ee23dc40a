DROP TABLE delivery_slots;
