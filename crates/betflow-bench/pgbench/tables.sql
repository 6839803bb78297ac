-- Run once in a database the bets benchmark has filled (betflow_bench): numbered customers
-- and selections, so the scripts beside this file can pick them at random.
CREATE TABLE bench_customers AS
    SELECT row_number() OVER () AS n, id FROM users WHERE role = 'customer';
CREATE UNIQUE INDEX ON bench_customers (n);
CREATE TABLE bench_selections AS
    SELECT row_number() OVER () AS n, s.id, s.market_id, m.event_id
    FROM selections s JOIN markets m ON m.id = s.market_id;
CREATE UNIQUE INDEX ON bench_selections (n);
