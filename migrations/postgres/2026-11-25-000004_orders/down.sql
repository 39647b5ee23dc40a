DROP TABLE return_lines;
DROP TABLE returns;
DROP TABLE order_audit;
DROP TABLE order_lines;
DROP TABLE fulfilments;
DROP TABLE orders;
