-- Reports: the two ranges a productivity report reads (tasks created in a period, tasks completed
-- in it) become index-only scans: both indexes carry the columns the report counts by. Drizzle
-- cannot express INCLUDE, so schema.ts declares the key columns and this migration the rest.
-- (Building them takes a write lock on tasks for a few seconds per million rows.)
DROP INDEX IF EXISTS "tasks_user_created_idx";--> statement-breakpoint
CREATE INDEX "tasks_user_created_idx" ON "tasks" USING btree ("user_id","created_at","id") INCLUDE ("completed_at","priority","project_id");--> statement-breakpoint
DROP INDEX IF EXISTS "tasks_user_completed_idx";--> statement-breakpoint
CREATE INDEX "tasks_user_completed_idx" ON "tasks" USING btree ("user_id","completed_at") INCLUDE ("created_at","priority","project_id") WHERE "tasks"."completed_at" is not null;
