-- Delta sync (GET /api/v1/sync). Every task and project row carries the id of the transaction
-- that last wrote it (change_xid, set by a trigger on every insert and update, whatever the
-- code path: API, jobs, cascades), and every deletion leaves a tombstone with the id of the
-- deleting transaction. A sync cursor is a PostgreSQL snapshot: the next sync returns every row
-- whose change_xid that snapshot did not see. Unlike a timestamp or a sequence, this cannot skip
-- a transaction that commits after a later one: it was in progress in the snapshot, so it is
-- still "not seen" the next time. These columns are not in schema.ts: nothing but sync reads them.
ALTER TABLE "tasks" ADD COLUMN "change_xid" xid8 NOT NULL DEFAULT pg_current_xact_id();--> statement-breakpoint
ALTER TABLE "projects" ADD COLUMN "change_xid" xid8 NOT NULL DEFAULT pg_current_xact_id();--> statement-breakpoint
CREATE INDEX "tasks_user_change_idx" ON "tasks" USING btree ("user_id","change_xid");--> statement-breakpoint
CREATE INDEX "projects_user_change_idx" ON "projects" USING btree ("user_id","change_xid");--> statement-breakpoint
CREATE TABLE "sync_tombstones" (
  "kind" text NOT NULL CHECK ("kind" IN ('task', 'project')),
  "id" uuid NOT NULL,
  "user_id" uuid NOT NULL REFERENCES "users"("id") ON DELETE CASCADE,
  "deleted_at" timestamp with time zone NOT NULL DEFAULT now(),
  "change_xid" xid8 NOT NULL DEFAULT pg_current_xact_id(),
  PRIMARY KEY ("kind", "id")
);--> statement-breakpoint
CREATE INDEX "sync_tombstones_user_change_idx" ON "sync_tombstones" USING btree ("user_id","change_xid");--> statement-breakpoint
CREATE INDEX "sync_tombstones_deleted_idx" ON "sync_tombstones" USING btree ("deleted_at");--> statement-breakpoint
CREATE FUNCTION "sync_touch"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.change_xid := pg_current_xact_id();
  RETURN NEW;
END $$;--> statement-breakpoint
-- A row deleted because its owner's account is being deleted leaves nothing behind.
CREATE FUNCTION "sync_tombstone"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM users WHERE id = OLD.user_id) THEN
    INSERT INTO sync_tombstones (kind, id, user_id) VALUES (TG_ARGV[0], OLD.id, OLD.user_id)
    ON CONFLICT (kind, id) DO UPDATE SET deleted_at = now(), change_xid = pg_current_xact_id();
  END IF;
  RETURN NULL;
END $$;--> statement-breakpoint
CREATE TRIGGER "tasks_sync_touch" BEFORE UPDATE ON "tasks" FOR EACH ROW EXECUTE FUNCTION "sync_touch"();--> statement-breakpoint
CREATE TRIGGER "projects_sync_touch" BEFORE UPDATE ON "projects" FOR EACH ROW EXECUTE FUNCTION "sync_touch"();--> statement-breakpoint
CREATE TRIGGER "tasks_sync_tombstone" AFTER DELETE ON "tasks" FOR EACH ROW EXECUTE FUNCTION "sync_tombstone"('task');--> statement-breakpoint
CREATE TRIGGER "projects_sync_tombstone" AFTER DELETE ON "projects" FOR EACH ROW EXECUTE FUNCTION "sync_tombstone"('project');
