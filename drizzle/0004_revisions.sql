-- Edited by hand. drizzle-kit names the sequence in "public"; here it is unqualified, so that it
-- lands in the table's schema as the rest of the file does. Every statement may run again on a
-- database that has its objects (IF NOT EXISTS, OR REPLACE): migrate runs every migration again
-- when the table was dropped behind the journal's back. Below the generated statements, the
-- triggers that drizzle-kit cannot express: every insert and update of any client (the original
-- store's upsert too, which knows nothing of the column) takes a new revision, every delete is
-- logged for watchers, and each change is notified on the channel "workflow_store".
-- Adding the column rewrites the table once (each existing row takes a revision of its own),
-- holding an exclusive lock on it meanwhile.
CREATE SEQUENCE IF NOT EXISTS "workflow_store_revision" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1;--> statement-breakpoint
CREATE TABLE IF NOT EXISTS "workflow_store_changes" (
	"revision" bigint NOT NULL,
	"prefix" varchar(255) NOT NULL,
	"key" varchar(255) NOT NULL,
	"removed_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "workflow_store_changes_pkey" PRIMARY KEY("prefix","revision")
);
--> statement-breakpoint
CREATE TABLE IF NOT EXISTS "workflow_store_compaction" (
	"id" smallint PRIMARY KEY NOT NULL,
	"revision" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE IF NOT EXISTS "workflow_store_leases" (
	"name" varchar(255) PRIMARY KEY NOT NULL,
	"token" bigint NOT NULL,
	"expires_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "workflow_store" ADD COLUMN IF NOT EXISTS "revision" bigint DEFAULT nextval('workflow_store_revision') NOT NULL;--> statement-breakpoint
-- The default only fills the rows there are; from now on the trigger below sets the revision.
ALTER TABLE "workflow_store" ALTER COLUMN "revision" DROP DEFAULT;--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "workflow_store_changes_removed_at" ON "workflow_store_changes" USING btree ("removed_at");--> statement-breakpoint
INSERT INTO "workflow_store_compaction" ("id", "revision") VALUES (1, 0) ON CONFLICT DO NOTHING;--> statement-breakpoint
-- The trigger functions run as their owner (SECURITY DEFINER), so that a role that may only read
-- and write the table needs no grant on the sequence or the change log to write, and with the
-- search_path of the migration, which is the table's schema.
-- Writers of one prefix hold its advisory lock from their first write until they end, so the
-- changes of a prefix commit in revision order and a watcher resuming after a revision misses none.
-- The store's own statements take the lock before they lock any row (an insert's trigger fires
-- before the insert looks for a conflicting row); an UPDATE or DELETE of another client takes it
-- after its row, which can deadlock with a writer of the same key, and PostgreSQL then fails one.
CREATE OR REPLACE FUNCTION "workflow_store_revise"() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path FROM CURRENT AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(2078994483, hashtext(NEW.prefix));
  NEW.revision := nextval('workflow_store_revision');
  RETURN NEW;
END
$$;--> statement-breakpoint
-- Each inserted or updated row is notified after it, in the order of the statement's rows, which
-- is the order of their revisions.
CREATE OR REPLACE FUNCTION "workflow_store_notify_set"() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path FROM CURRENT AS $$
BEGIN
  PERFORM pg_notify('workflow_store', json_build_array(TG_TABLE_SCHEMA, NEW.prefix, NEW.key, NEW.revision, 's')::text);
  RETURN NULL;
END
$$;--> statement-breakpoint
-- Each removed row takes a revision under its prefix's lock, goes to the log and is notified.
CREATE OR REPLACE FUNCTION "workflow_store_log_remove"() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path FROM CURRENT AS $$
DECLARE
  removed bigint;
BEGIN
  PERFORM pg_advisory_xact_lock(2078994483, hashtext(OLD.prefix));
  removed := nextval('workflow_store_revision');
  INSERT INTO workflow_store_changes (revision, prefix, key) VALUES (removed, OLD.prefix, OLD.key);
  PERFORM pg_notify('workflow_store', json_build_array(TG_TABLE_SCHEMA, OLD.prefix, OLD.key, removed, 'r')::text);
  RETURN NULL;
END
$$;--> statement-breakpoint
-- Once per deleting statement: drops removes older than the retention, one day unless the setting
-- workflow_store.change_retention (an interval, e.g. ALTER DATABASE … SET) says otherwise. The
-- log's index on removed_at is used even if the plan was made when the log was empty.
CREATE OR REPLACE FUNCTION "workflow_store_compact"() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path FROM CURRENT SET enable_seqscan = off AS $$
DECLARE
  dropped bigint;
BEGIN
  WITH gone AS (
    DELETE FROM workflow_store_changes
    WHERE removed_at < now() - coalesce(nullif(current_setting('workflow_store.change_retention', true), ''), '1 day')::interval
    RETURNING revision
  )
  SELECT max(revision) INTO dropped FROM gone;
  IF dropped IS NOT NULL THEN
    UPDATE workflow_store_compaction SET revision = greatest(revision, dropped) WHERE id = 1;
  END IF;
  RETURN NULL;
END
$$;--> statement-breakpoint
DROP TRIGGER IF EXISTS "workflow_store_revise" ON "workflow_store";--> statement-breakpoint
CREATE TRIGGER "workflow_store_revise" BEFORE INSERT OR UPDATE ON "workflow_store"
FOR EACH ROW EXECUTE FUNCTION "workflow_store_revise"();--> statement-breakpoint
DROP TRIGGER IF EXISTS "workflow_store_notify_set" ON "workflow_store";--> statement-breakpoint
CREATE TRIGGER "workflow_store_notify_set" AFTER INSERT OR UPDATE ON "workflow_store"
FOR EACH ROW EXECUTE FUNCTION "workflow_store_notify_set"();--> statement-breakpoint
DROP TRIGGER IF EXISTS "workflow_store_log_remove" ON "workflow_store";--> statement-breakpoint
CREATE TRIGGER "workflow_store_log_remove" AFTER DELETE ON "workflow_store"
FOR EACH ROW EXECUTE FUNCTION "workflow_store_log_remove"();--> statement-breakpoint
DROP TRIGGER IF EXISTS "workflow_store_compact" ON "workflow_store";--> statement-breakpoint
CREATE TRIGGER "workflow_store_compact" AFTER DELETE ON "workflow_store"
FOR EACH STATEMENT EXECUTE FUNCTION "workflow_store_compact"();
