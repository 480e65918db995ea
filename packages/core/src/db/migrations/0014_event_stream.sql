ALTER TABLE "outbox_events" ADD COLUMN "stream_seq" bigint;--> statement-breakpoint
CREATE INDEX "outbox_user_stream_idx" ON "outbox_events" USING btree ("user_id","stream_seq") WHERE "outbox_events"."stream_seq" is not null;--> statement-breakpoint
CREATE SEQUENCE "outbox_stream_seq";