CREATE TABLE "ingesters" (
	"member" text PRIMARY KEY NOT NULL,
	"joined_at" timestamp(6) with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp(6) with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "streams" ADD COLUMN "lease_token" bigint DEFAULT 0 NOT NULL;