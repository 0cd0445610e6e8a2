-- Edited by hand. drizzle-kit names the sequence in "public"; here it is unqualified, so that it
-- lands in the table's schema as the rest of the file does, and every statement may run again
-- (IF NOT EXISTS, OR REPLACE), as in 0004. No statement rewrites the table: the index is built
-- beside it (blocking writes while it builds; on a large table in use, build it first with
-- CREATE INDEX CONCURRENTLY and the same name). Its prefix is in the C collation so that only the
-- watch's reads, which compare it so, use it (see src/schema.ts).
--
-- Below the generated statements, the triggers that replace those of 0004, so that a write pays
-- for nothing it does not use:
-- * No writer waits for a writer of another row. A write takes its revision under a SHARED
--   advisory lock of its prefix, held until it ends: writers never wait for each other on it. A
--   watch waits them out instead (workflow_store_horizon): it delivers a prefix's changes only up
--   to a revision below which every writer of the prefix has ended, so that resuming after a
--   revision misses nothing although revisions commit out of order.
-- * No NOTIFY unless the prefix is watched (workflow_store_watches, which watching stores renew
--   while they wait on it), and the notification carries nothing: watchers read the changes with
--   their own privileges.
-- * Removes are logged once per statement and prefix: one key as before, several as one range
--   (key .. last_key), so that a bulk removal costs about what a delete costs.
-- * The log's retention is a column of workflow_store_compaction, not a setting any session may
--   change.
-- The row trigger runs for every write of every client, so its function has no SET clause (one
-- makes every call save and restore the session's settings): it names everything with its
-- schema instead, so that a caller's search_path cannot change what it calls. The schema is the
-- table's, written into the functions when they are created.
CREATE SEQUENCE IF NOT EXISTS "workflow_store_watched_until" INCREMENT BY 1 MINVALUE 0 MAXVALUE 9223372036854775807 START WITH 0 CACHE 1;--> statement-breakpoint
CREATE TABLE IF NOT EXISTS "workflow_store_watches" (
	"prefix" varchar(255) NOT NULL,
	"watcher" varchar(64) NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	CONSTRAINT "workflow_store_watches_pkey" PRIMARY KEY("prefix","watcher")
);
--> statement-breakpoint
ALTER TABLE "workflow_store_changes" ADD COLUMN IF NOT EXISTS "last_key" varchar(255);--> statement-breakpoint
ALTER TABLE "workflow_store_compaction" ADD COLUMN IF NOT EXISTS "retention" interval DEFAULT '1 day' NOT NULL;--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "workflow_store_prefix_revision" ON "workflow_store" USING btree ((prefix collate "C"),"revision");--> statement-breakpoint
DROP TRIGGER IF EXISTS "workflow_store_notify_set" ON "workflow_store";--> statement-breakpoint
DROP TRIGGER IF EXISTS "workflow_store_log_remove" ON "workflow_store";--> statement-breakpoint
DROP TRIGGER IF EXISTS "workflow_store_compact" ON "workflow_store";--> statement-breakpoint
DROP FUNCTION IF EXISTS "workflow_store_notify_set"();--> statement-breakpoint
DROP FUNCTION IF EXISTS "workflow_store_log_remove"();--> statement-breakpoint
DROP FUNCTION IF EXISTS "workflow_store_compact"();--> statement-breakpoint
DO $migration$
DECLARE
  -- The table's schema, quoted as an identifier, and the sequences as literals of their names.
  s text := pg_catalog.quote_ident(pg_catalog.current_schema());
  revisions text := pg_catalog.quote_literal(s || '.workflow_store_revision');
  watched_until text := pg_catalog.quote_literal(s || '.workflow_store_watched_until');
BEGIN
  -- Every insert and update of any client: the prefix's writer lock (shared), a revision, and a
  -- wake-up for the prefix's watchers if it has any. The lock comes before the revision, so that a
  -- watch that reads the sequence and then the lock's holders finds every writer whose revision
  -- it read. The hint sequence spares the lookup while nothing in the schema is watched.
  -- PL/pgSQL evaluates an expression without a subquery directly, and one with a subquery (or any
  -- PERFORM) through the executor, at several times the cost: so the lock is an assignment, and
  -- the lookup is an IF of its own inside the hint's.
  EXECUTE pg_catalog.format($f$
    CREATE OR REPLACE FUNCTION %1$s.workflow_store_revise() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $body$
    DECLARE
      registered text;
    BEGIN
      registered := pg_catalog.pg_advisory_xact_lock_shared(2078994484, pg_catalog.hashtext(NEW.prefix));
      NEW.revision := pg_catalog.nextval(%2$s::pg_catalog.regclass);
      IF pg_catalog.pg_sequence_last_value(%3$s::pg_catalog.regclass)::pg_catalog.float8
           OPERATOR(pg_catalog.>) pg_catalog.date_part('epoch', pg_catalog.now()) THEN
        IF EXISTS (SELECT FROM %1$s.workflow_store_watches w
                   WHERE w.prefix OPERATOR(pg_catalog.=) NEW.prefix AND w.expires_at OPERATOR(pg_catalog.>) pg_catalog.now()) THEN
          PERFORM pg_catalog.pg_notify('workflow_store', '');
        END IF;
      END IF;
      RETURN NEW;
    END
    $body$$f$, s, revisions, watched_until);

  -- Once per deleting statement: for each prefix it removed from, the writer lock, a revision and
  -- one row of the log (the key, or the first and last keys in byte order when it removed several),
  -- and a wake-up if watched; then the log drops removes older than its retention. Once per
  -- statement, so the SET clause costs little here (enable_seqscan off: the log's index on
  -- removed_at is used even if the plan was made when the log was empty).
  EXECUTE pg_catalog.format($f$
    CREATE OR REPLACE FUNCTION %1$s.workflow_store_log_removes() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET enable_seqscan = off AS $body$
    DECLARE
      removal record;
      retention interval;
      dropped bigint;
    BEGIN
      FOR removal IN
        SELECT o.prefix, min(o.key COLLATE "C") AS first_key, max(o.key COLLATE "C") AS last_key, count(*) AS keys
        FROM removed o GROUP BY o.prefix ORDER BY o.prefix
      LOOP
        PERFORM pg_advisory_xact_lock_shared(2078994484, hashtext(removal.prefix));
        INSERT INTO %1$s.workflow_store_changes (revision, prefix, key, last_key)
        VALUES (nextval(%2$s::regclass), removal.prefix, removal.first_key,
                CASE WHEN removal.keys > 1 THEN removal.last_key END);
        IF pg_sequence_last_value(%3$s::regclass)::float8 > date_part('epoch', now()) THEN
          IF EXISTS (SELECT FROM %1$s.workflow_store_watches w WHERE w.prefix = removal.prefix AND w.expires_at > now()) THEN
            PERFORM pg_notify('workflow_store', '');
          END IF;
        END IF;
      END LOOP;
      -- Only when a remove is due, and only the one transaction that gets the compaction row: the
      -- others skip it rather than wait, so that no deleting statement waits for another.
      SELECT c.retention INTO retention FROM %1$s.workflow_store_compaction c WHERE c.id = 1;
      IF EXISTS (SELECT FROM %1$s.workflow_store_changes WHERE removed_at < now() - retention) THEN
        PERFORM FROM %1$s.workflow_store_compaction c WHERE c.id = 1 FOR UPDATE SKIP LOCKED;
        IF FOUND THEN
          WITH gone AS (
            DELETE FROM %1$s.workflow_store_changes WHERE removed_at < now() - retention RETURNING revision
          )
          SELECT max(revision) INTO dropped FROM gone;
          IF dropped IS NOT NULL THEN
            UPDATE %1$s.workflow_store_compaction SET revision = greatest(revision, dropped) WHERE id = 1;
          END IF;
        END IF;
      END IF;
      RETURN NULL;
    END
    $body$$f$, s, revisions, watched_until);

  -- What a watch of a prefix waits out: the last revision given out, then the transactions that
  -- hold the prefix's writer lock (in this database, other than the caller's). Once they have
  -- ended, every change of the prefix up to that revision is committed or never will be. Only a
  -- role that may read the table may ask.
  EXECUTE pg_catalog.format($f$
    CREATE OR REPLACE FUNCTION %1$s.workflow_store_horizon(watched varchar) RETURNS TABLE (revision bigint, writers text[])
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $body$
    BEGIN
      IF NOT has_table_privilege(session_user, %4$s, 'SELECT') THEN
        RAISE EXCEPTION 'permission denied for table workflow_store' USING ERRCODE = '42501';
      END IF;
      revision := coalesce(pg_sequence_last_value(%2$s::regclass), 0);
      SELECT coalesce(array_agg(l.virtualtransaction), '{}') INTO writers FROM pg_locks l
      WHERE l.locktype = 'advisory' AND l.granted AND l.pid <> pg_backend_pid()
        AND l.database = (SELECT d.oid FROM pg_database d WHERE d.datname = current_database())
        AND l.classid = 2078994484::oid AND l.objid = hashtext(watched)::oid AND l.objsubid = 2;
      RETURN NEXT;
    END
    $body$$f$, s, revisions, watched_until, pg_catalog.quote_literal(s || '.workflow_store'));

  -- Marks prefixes as watched by `watcher` (a store) for `seconds` more, so that their writes
  -- notify; a watching store renews its marks while it waits on them. With `seconds` 0 it takes
  -- them back: a store reading a busy prefix anyway needs no wake-ups, which cost the writers (the
  -- commits of notifying transactions are serialized). Drops marks that expired long ago, and tells
  -- writers (through the hint sequence) until when something in the schema is watched.
  EXECUTE pg_catalog.format($f$
    CREATE OR REPLACE FUNCTION %1$s.workflow_store_watch(prefixes varchar[], watcher varchar, seconds integer) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $body$
    DECLARE
      until timestamptz := now() + seconds * interval '1 second';
    BEGIN
      IF NOT has_table_privilege(session_user, %4$s, 'SELECT') THEN
        RAISE EXCEPTION 'permission denied for table workflow_store' USING ERRCODE = '42501';
      END IF;
      IF seconds <= 0 THEN
        DELETE FROM %1$s.workflow_store_watches w WHERE w.prefix = ANY (prefixes) AND w.watcher = workflow_store_watch.watcher;
        RETURN;
      END IF;
      INSERT INTO %1$s.workflow_store_watches AS w (prefix, watcher, expires_at)
      SELECT DISTINCT p, workflow_store_watch.watcher, until FROM unnest(prefixes) AS p ORDER BY 1
      ON CONFLICT ON CONSTRAINT workflow_store_watches_pkey DO UPDATE SET expires_at = excluded.expires_at;
      DELETE FROM %1$s.workflow_store_watches WHERE expires_at < now() - interval '1 hour';
      PERFORM setval(%3$s::regclass, greatest(coalesce(pg_sequence_last_value(%3$s::regclass), 0),
        ceil(date_part('epoch', until))::bigint));
    END
    $body$$f$, s, revisions, watched_until, pg_catalog.quote_literal(s || '.workflow_store'));
END
$migration$;--> statement-breakpoint
DROP TRIGGER IF EXISTS "workflow_store_log_removes" ON "workflow_store";--> statement-breakpoint
CREATE TRIGGER "workflow_store_log_removes" AFTER DELETE ON "workflow_store" REFERENCING OLD TABLE AS removed
FOR EACH STATEMENT EXECUTE FUNCTION "workflow_store_log_removes"();
