CREATE TABLE "snapshots" (
	"stream" text NOT NULL,
	"snapshot_id" integer NOT NULL,
	"started_at" timestamp(6) with time zone NOT NULL,
	"finished_at" timestamp(6) with time zone,
	"status" text NOT NULL,
	"position" text,
	"rows_read" bigint NOT NULL,
	"pages" bigint NOT NULL,
	"rows_deleted" bigint NOT NULL,
	"updated_at" timestamp(6) with time zone NOT NULL,
	CONSTRAINT "snapshots_stream_snapshot_id_pk" PRIMARY KEY("stream","snapshot_id")
);
--> statement-breakpoint
ALTER TABLE "snapshots" ADD CONSTRAINT "snapshots_stream_streams_name_fk" FOREIGN KEY ("stream") REFERENCES "streams"("name") ON DELETE no action ON UPDATE no action;