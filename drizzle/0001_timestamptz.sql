-- Edited by hand: the first statement is added. The original Go store writes CURRENT_TIMESTAMP,
-- the session's local time, into these columns, while this store wrote UTC; as timestamptz both
-- hold the true instant, whatever the TimeZone of the server, role or session, and the Go store's
-- statements keep working unchanged. Existing values are read as UTC: with TimeZone UTC for this
-- transaction (SET LOCAL ends with it) PostgreSQL converts without rewriting the table and without
-- shifting the rows this store wrote. Rows the Go store wrote under another TimeZone stay off by
-- that zone's offset (see the README). Running it again, or on a table created later, is a no-op.
SET LOCAL TIME ZONE 'UTC';--> statement-breakpoint
ALTER TABLE "workflow_store" ALTER COLUMN "created_at" SET DATA TYPE timestamp with time zone;--> statement-breakpoint
ALTER TABLE "workflow_store" ALTER COLUMN "created_at" SET DEFAULT now();--> statement-breakpoint
ALTER TABLE "workflow_store" ALTER COLUMN "updated_at" SET DATA TYPE timestamp with time zone;--> statement-breakpoint
ALTER TABLE "workflow_store" ALTER COLUMN "updated_at" SET DEFAULT now();
