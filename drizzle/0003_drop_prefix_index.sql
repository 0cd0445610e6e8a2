-- Edited by hand: IF EXISTS is added. The original store's index on the prefix alone is redundant
-- beside the primary key and workflow_store_prefix_key_bytes, which both lead with the prefix, and
-- it was a trap: for a prefix the planner had no statistics for (a new run's), it chose this index
-- for a point read or write and scanned the whole prefix for one key. The original store creates
-- it again when it starts (IF NOT EXISTS); nothing breaks then, it only costs its upkeep.
DROP INDEX IF EXISTS "idx_workflow_store_prefix";
