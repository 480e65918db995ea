CREATE TABLE "weekly_reports" (
	"user_id" uuid NOT NULL,
	"week_start" date NOT NULL,
	"claimed_until" timestamp with time zone NOT NULL,
	"attempts" integer DEFAULT 1 NOT NULL,
	"sent_at" timestamp with time zone,
	CONSTRAINT "weekly_reports_user_id_week_start_pk" PRIMARY KEY("user_id","week_start")
);
--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "weekly_report_day" smallint;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "weekly_report_hour" smallint DEFAULT 8 NOT NULL;--> statement-breakpoint
ALTER TABLE "weekly_reports" ADD CONSTRAINT "weekly_reports_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "users_weekly_report_idx" ON "users" USING btree ("weekly_report_day") WHERE "users"."weekly_report_day" is not null;--> statement-breakpoint
ALTER TABLE "users" ADD CONSTRAINT "users_weekly_report_day_range" CHECK ("users"."weekly_report_day" between 1 and 7);--> statement-breakpoint
ALTER TABLE "users" ADD CONSTRAINT "users_weekly_report_hour_range" CHECK ("users"."weekly_report_hour" between 0 and 23);