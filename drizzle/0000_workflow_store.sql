-- IF NOT EXISTS: a database where the original Go store already created this table (same columns,
-- same constraint and index names) is adopted as it is, rows included.
CREATE TABLE IF NOT EXISTS "workflow_store" (
	"prefix" varchar(255) NOT NULL,
	"key" varchar(255) NOT NULL,
	"value" "bytea",
	"created_at" timestamp DEFAULT now(),
	"updated_at" timestamp DEFAULT now(),
	CONSTRAINT "workflow_store_pkey" PRIMARY KEY("prefix","key")
);
--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "idx_workflow_store_prefix" ON "workflow_store" USING btree ("prefix");
