-- Row-level security: a second line behind the ownership checks. Every repository query already
-- filters on the owner's id; these policies make a query that forgets to still unable to see or
-- change another user's rows.
--
-- The application runs its queries as the role taskman_app (NOLOGIN, owns nothing: it cannot
-- ALTER, DROP, TRUNCATE or switch RLS off), with the setting taskman.row_scope set on its
-- connection before each query: a user's id inside a signed-in request, 'system' for everything
-- else (jobs, the relay, the CLI, anonymous requests such as sign-in, admin routes). A policy
-- shows a row when its owner is the scope, or when the scope is 'system'; an unset or empty scope
-- shows nothing (default deny).
--
-- The scope is read through scalar subqueries, `(SELECT current_setting(...))`: PostgreSQL runs
-- them once per statement (an InitPlan), not once per row. 'system' and '' become NULL before the
-- uuid cast, so they never fail it (and NULL equals nothing). The 'system' test is a whole boolean
-- subquery, `(SELECT ... = 'system')`, rather than `(SELECT ...) = 'system'`: the planner guesses
-- that a boolean of unknown value holds for half the rows, but that a comparison holds for 0.5 %;
-- with the latter, every policy made it expect ~1 row of a user's thousands, and it would sort all
-- of them for a page rather than walk the (user_id, created_at) index for the first 20.
--
-- FORCE makes the policies apply to the tables' owner too (unless it is a superuser): a connection
-- as the owner sees nothing without a scope. The application sets 'system' on every connection it
-- opens (migrations included); an operator in psql runs `SET taskman.row_scope = 'system'` first.
-- Referential actions (ON DELETE CASCADE / SET NULL) and foreign-key checks bypass RLS by design.
--
-- Tables without RLS, on purpose:
--   jobs             the database job queue: system-wide work, no owner column (payloads name users,
--                    but only workers, in the 'system' scope, read them);
--   process_samples  per-process metrics of the fleet, no user data;
--   login_throttle   failed sign-ins per keyed hash of an email address, written before anyone is
--                    signed in (in the 'system' scope); it names no user;
--   drizzle.__drizzle_migrations  the migrator's bookkeeping.

-- The role. Roles are cluster-wide and several databases may migrate at once (tests): creating
-- it must tolerate another session doing the same. A DBA may create it beforehand, so that the
-- owner needs no CREATEROLE.
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'taskman_app') THEN
    CREATE ROLE taskman_app NOLOGIN;
  END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;--> statement-breakpoint
-- The connection switches to it with SET ROLE, which needs membership. A superuser has it anyway;
-- on PostgreSQL 16+ a CREATEROLE creator holds only ADMIN OPTION on the role it made, not SET.
-- Without the right to grant it (a role made by a DBA), the DBA grants it, or the application logs
-- in as a member of taskman_app with DATABASE_APP_ROLE=''.
DO $$
BEGIN
  GRANT taskman_app TO CURRENT_USER;
EXCEPTION WHEN insufficient_privilege OR invalid_grant_operation THEN NULL;
END $$;--> statement-breakpoint

-- Privileges: read and write rows, nothing else (no TRUNCATE: it would skip the policies).
GRANT USAGE ON SCHEMA public TO taskman_app;--> statement-breakpoint
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO taskman_app;--> statement-breakpoint
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO taskman_app;--> statement-breakpoint
-- The audit log is append-only: the application may add and read entries, never change them.
REVOKE UPDATE, DELETE ON audit_log FROM taskman_app;--> statement-breakpoint
-- Tables and sequences made by later migrations (run by this same owner) get the same grants.
-- A later append-only table must REVOKE UPDATE, DELETE ON it FROM taskman_app, as above; a later
-- table with a user_id column must ENABLE and FORCE ROW LEVEL SECURITY and get a policy like these.
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO taskman_app;--> statement-breakpoint
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO taskman_app;--> statement-breakpoint
-- A start-up as a restricted login (DATABASE_APP_ROLE='') cannot migrate: it checks that nothing is pending.
GRANT USAGE ON SCHEMA drizzle TO taskman_app;--> statement-breakpoint
GRANT SELECT ON drizzle.__drizzle_migrations TO taskman_app;--> statement-breakpoint

-- Tables owned through user_id.
ALTER TABLE projects ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE projects FORCE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE POLICY projects_owner ON projects
  USING ((SELECT current_setting('taskman.row_scope', true) = 'system')
    OR user_id = (SELECT nullif(nullif(current_setting('taskman.row_scope', true), ''), 'system')::uuid))
  WITH CHECK ((SELECT current_setting('taskman.row_scope', true) = 'system')
    OR user_id = (SELECT nullif(nullif(current_setting('taskman.row_scope', true), ''), 'system')::uuid));--> statement-breakpoint
ALTER TABLE tasks ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE tasks FORCE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE POLICY tasks_owner ON tasks
  USING ((SELECT current_setting('taskman.row_scope', true) = 'system')
    OR user_id = (SELECT nullif(nullif(current_setting('taskman.row_scope', true), ''), 'system')::uuid))
  WITH CHECK ((SELECT current_setting('taskman.row_scope', true) = 'system')
    OR user_id = (SELECT nullif(nullif(current_setting('taskman.row_scope', true), ''), 'system')::uuid));--> statement-breakpoint
ALTER TABLE task_completions ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE task_completions FORCE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE POLICY task_completions_owner ON task_completions
  USING ((SELECT current_setting('taskman.row_scope', true) = 'system')
    OR user_id = (SELECT nullif(nullif(current_setting('taskman.row_scope', true), ''), 'system')::uuid))
  WITH CHECK ((SELECT current_setting('taskman.row_scope', true) = 'system')
    OR user_id = (SELECT nullif(nullif(current_setting('taskman.row_scope', true), ''), 'system')::uuid));--> statement-breakpoint
ALTER TABLE sync_tombstones ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE sync_tombstones FORCE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE POLICY sync_tombstones_owner ON sync_tombstones
  USING ((SELECT current_setting('taskman.row_scope', true) = 'system')
    OR user_id = (SELECT nullif(nullif(current_setting('taskman.row_scope', true), ''), 'system')::uuid))
  WITH CHECK ((SELECT current_setting('taskman.row_scope', true) = 'system')
    OR user_id = (SELECT nullif(nullif(current_setting('taskman.row_scope', true), ''), 'system')::uuid));--> statement-breakpoint
ALTER TABLE revoked_tokens ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE revoked_tokens FORCE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE POLICY revoked_tokens_owner ON revoked_tokens
  USING ((SELECT current_setting('taskman.row_scope', true) = 'system')
    OR user_id = (SELECT nullif(nullif(current_setting('taskman.row_scope', true), ''), 'system')::uuid))
  WITH CHECK ((SELECT current_setting('taskman.row_scope', true) = 'system')
    OR user_id = (SELECT nullif(nullif(current_setting('taskman.row_scope', true), ''), 'system')::uuid));--> statement-breakpoint
ALTER TABLE outbox_events ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE outbox_events FORCE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE POLICY outbox_events_owner ON outbox_events
  USING ((SELECT current_setting('taskman.row_scope', true) = 'system')
    OR user_id = (SELECT nullif(nullif(current_setting('taskman.row_scope', true), ''), 'system')::uuid))
  WITH CHECK ((SELECT current_setting('taskman.row_scope', true) = 'system')
    OR user_id = (SELECT nullif(nullif(current_setting('taskman.row_scope', true), ''), 'system')::uuid));--> statement-breakpoint
ALTER TABLE weekly_reports ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE weekly_reports FORCE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE POLICY weekly_reports_owner ON weekly_reports
  USING ((SELECT current_setting('taskman.row_scope', true) = 'system')
    OR user_id = (SELECT nullif(nullif(current_setting('taskman.row_scope', true), ''), 'system')::uuid))
  WITH CHECK ((SELECT current_setting('taskman.row_scope', true) = 'system')
    OR user_id = (SELECT nullif(nullif(current_setting('taskman.row_scope', true), ''), 'system')::uuid));--> statement-breakpoint
ALTER TABLE webhooks ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE webhooks FORCE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE POLICY webhooks_owner ON webhooks
  USING ((SELECT current_setting('taskman.row_scope', true) = 'system')
    OR user_id = (SELECT nullif(nullif(current_setting('taskman.row_scope', true), ''), 'system')::uuid))
  WITH CHECK ((SELECT current_setting('taskman.row_scope', true) = 'system')
    OR user_id = (SELECT nullif(nullif(current_setting('taskman.row_scope', true), ''), 'system')::uuid));--> statement-breakpoint
-- Deliveries carry their webhook's owner (user_id) themselves: no need to reach it through webhook_id.
ALTER TABLE webhook_deliveries ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE webhook_deliveries FORCE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE POLICY webhook_deliveries_owner ON webhook_deliveries
  USING ((SELECT current_setting('taskman.row_scope', true) = 'system')
    OR user_id = (SELECT nullif(nullif(current_setting('taskman.row_scope', true), ''), 'system')::uuid))
  WITH CHECK ((SELECT current_setting('taskman.row_scope', true) = 'system')
    OR user_id = (SELECT nullif(nullif(current_setting('taskman.row_scope', true), ''), 'system')::uuid));--> statement-breakpoint
ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE api_keys FORCE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE POLICY api_keys_owner ON api_keys
  USING ((SELECT current_setting('taskman.row_scope', true) = 'system')
    OR user_id = (SELECT nullif(nullif(current_setting('taskman.row_scope', true), ''), 'system')::uuid))
  WITH CHECK ((SELECT current_setting('taskman.row_scope', true) = 'system')
    OR user_id = (SELECT nullif(nullif(current_setting('taskman.row_scope', true), ''), 'system')::uuid));--> statement-breakpoint
ALTER TABLE calendar_feeds ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE calendar_feeds FORCE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE POLICY calendar_feeds_owner ON calendar_feeds
  USING ((SELECT current_setting('taskman.row_scope', true) = 'system')
    OR user_id = (SELECT nullif(nullif(current_setting('taskman.row_scope', true), ''), 'system')::uuid))
  WITH CHECK ((SELECT current_setting('taskman.row_scope', true) = 'system')
    OR user_id = (SELECT nullif(nullif(current_setting('taskman.row_scope', true), ''), 'system')::uuid));--> statement-breakpoint
ALTER TABLE calendar_connections ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE calendar_connections FORCE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE POLICY calendar_connections_owner ON calendar_connections
  USING ((SELECT current_setting('taskman.row_scope', true) = 'system')
    OR user_id = (SELECT nullif(nullif(current_setting('taskman.row_scope', true), ''), 'system')::uuid))
  WITH CHECK ((SELECT current_setting('taskman.row_scope', true) = 'system')
    OR user_id = (SELECT nullif(nullif(current_setting('taskman.row_scope', true), ''), 'system')::uuid));--> statement-breakpoint
ALTER TABLE idempotency_keys ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE idempotency_keys FORCE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE POLICY idempotency_keys_owner ON idempotency_keys
  USING ((SELECT current_setting('taskman.row_scope', true) = 'system')
    OR user_id = (SELECT nullif(nullif(current_setting('taskman.row_scope', true), ''), 'system')::uuid))
  WITH CHECK ((SELECT current_setting('taskman.row_scope', true) = 'system')
    OR user_id = (SELECT nullif(nullif(current_setting('taskman.row_scope', true), ''), 'system')::uuid));--> statement-breakpoint

-- Tables owned through a parent row (no user_id of their own): a row is visible when its parent
-- is. The subquery is itself filtered by the parent's policy; 'system' is tested first, so jobs
-- (the only users of these tables) never run it.
ALTER TABLE reminder_deliveries ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE reminder_deliveries FORCE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE POLICY reminder_deliveries_owner ON reminder_deliveries
  USING ((SELECT current_setting('taskman.row_scope', true) = 'system')
    OR EXISTS (SELECT 1 FROM tasks t WHERE t.id = reminder_deliveries.task_id))
  WITH CHECK ((SELECT current_setting('taskman.row_scope', true) = 'system')
    OR EXISTS (SELECT 1 FROM tasks t WHERE t.id = reminder_deliveries.task_id));--> statement-breakpoint
ALTER TABLE calendar_items ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE calendar_items FORCE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE POLICY calendar_items_owner ON calendar_items
  USING ((SELECT current_setting('taskman.row_scope', true) = 'system')
    OR EXISTS (SELECT 1 FROM calendar_connections c WHERE c.id = calendar_items.connection_id))
  WITH CHECK ((SELECT current_setting('taskman.row_scope', true) = 'system')
    OR EXISTS (SELECT 1 FROM calendar_connections c WHERE c.id = calendar_items.connection_id));--> statement-breakpoint

-- Accounts: a user sees and changes their own row. Sign-up and sign-in run in the 'system' scope.
ALTER TABLE users ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE users FORCE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE POLICY users_self ON users
  USING ((SELECT current_setting('taskman.row_scope', true) = 'system')
    OR id = (SELECT nullif(nullif(current_setting('taskman.row_scope', true), ''), 'system')::uuid))
  WITH CHECK ((SELECT current_setting('taskman.row_scope', true) = 'system')
    OR id = (SELECT nullif(nullif(current_setting('taskman.row_scope', true), ''), 'system')::uuid));--> statement-breakpoint

-- The audit log: a user reads what they did and what was done to their account (the entries of
-- their own activity); anyone may append (a failed sign-in has no actor, and is written in the
-- 'system' scope anyway). No UPDATE or DELETE policy: with FORCE, not even the owner changes it.
ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE audit_log FORCE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE POLICY audit_log_read ON audit_log FOR SELECT
  USING ((SELECT current_setting('taskman.row_scope', true) = 'system')
    OR actor_id = (SELECT nullif(nullif(current_setting('taskman.row_scope', true), ''), 'system')::uuid)
    OR (target_type = 'user'
      AND target_id = (SELECT nullif(nullif(current_setting('taskman.row_scope', true), ''), 'system'))));--> statement-breakpoint
CREATE POLICY audit_log_append ON audit_log FOR INSERT WITH CHECK (true);
