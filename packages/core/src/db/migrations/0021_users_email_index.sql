-- Emails have always been stored lower-case by the API; make it a rule (older rows written another
-- way are lowered first: the unique index on lower(email) guarantees no collision), and index the
-- column itself: under row-level security only `email = $1` can use an index (lower() is not
-- leakproof, so a lower(email) condition would be checked row by row after the policy).
SET LOCAL taskman.row_scope = 'system';--> statement-breakpoint
UPDATE "users" SET "email" = lower("email") WHERE "email" <> lower("email");--> statement-breakpoint
CREATE INDEX "users_email_idx" ON "users" USING btree ("email");--> statement-breakpoint
ALTER TABLE "users" ADD CONSTRAINT "users_email_lowercase" CHECK ("users"."email" = lower("users"."email"));