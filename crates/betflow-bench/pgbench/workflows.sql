-- Run once in a database the workflows benchmark has filled: its workflows copied until
-- there are eight times as many (so 16 clients rarely pick the same one), then numbered
-- for approve.sql.
INSERT INTO workflow_instances SELECT (jsonb_populate_record(NULL::workflow_instances,
    to_jsonb(w) || jsonb_build_object('id', gen_random_uuid()))).* FROM workflow_instances w;
INSERT INTO workflow_instances SELECT (jsonb_populate_record(NULL::workflow_instances,
    to_jsonb(w) || jsonb_build_object('id', gen_random_uuid()))).* FROM workflow_instances w;
INSERT INTO workflow_instances SELECT (jsonb_populate_record(NULL::workflow_instances,
    to_jsonb(w) || jsonb_build_object('id', gen_random_uuid()))).* FROM workflow_instances w;
CREATE TABLE bench_workflows AS
    SELECT row_number() OVER () AS n, id FROM workflow_instances;
CREATE UNIQUE INDEX ON bench_workflows (n);
