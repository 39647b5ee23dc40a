DROP TABLE tax_rates;
DROP TABLE promotions;
DROP TABLE cart_changes;
DROP TABLE cart_lines;
DROP TABLE carts;
DROP TABLE customers;
