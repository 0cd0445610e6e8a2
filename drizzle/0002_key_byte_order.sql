-- Edited by hand: IF NOT EXISTS is added. Listing orders keys byte by byte (collate "C"); the
-- primary key is in the database's collation, so without this index every page sorted the whole
-- prefix. On a large table, build it first without blocking writes, under the same name, and this
-- migration then has nothing to do:
--   CREATE INDEX CONCURRENTLY IF NOT EXISTS "workflow_store_prefix_key_bytes"
--     ON "workflow_store" USING btree ("prefix", (key collate "C"));
CREATE INDEX IF NOT EXISTS "workflow_store_prefix_key_bytes" ON "workflow_store" USING btree ("prefix",(key collate "C"));
