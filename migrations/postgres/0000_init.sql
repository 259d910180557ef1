CREATE TABLE "dead_letters" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "dead_letters_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"stream" text NOT NULL,
	"received_at" timestamp(6) with time zone NOT NULL,
	"event_type" text,
	"reason" text NOT NULL,
	"cursor" text,
	"raw" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "document_mutations" (
	"stream" text NOT NULL,
	"event_id" text NOT NULL,
	"seq" bigint NOT NULL,
	"transaction_id" text NOT NULL,
	"document_id" text NOT NULL,
	"doc_type" text,
	"transition" text NOT NULL,
	"previous_rev" text,
	"result_rev" text,
	"identity" text,
	"visibility" text,
	"timestamp" timestamp(6) with time zone NOT NULL,
	"mutations" jsonb,
	"result" jsonb,
	"previous" jsonb,
	"origin" text DEFAULT 'listen' NOT NULL,
	CONSTRAINT "document_mutations_stream_event_id_pk" PRIMARY KEY("stream","event_id")
);
--> statement-breakpoint
CREATE TABLE "documents" (
	"stream" text NOT NULL,
	"document_id" text NOT NULL,
	"id_kind" text NOT NULL,
	"published_id" text NOT NULL,
	"release_id" text,
	"doc_type" text,
	"rev" text,
	"result" jsonb,
	"updated_at" timestamp(6) with time zone,
	"deleted_at" timestamp(6) with time zone,
	"event_time" timestamp(6) with time zone NOT NULL,
	"event_seq" bigint NOT NULL,
	CONSTRAINT "documents_stream_document_id_pk" PRIMARY KEY("stream","document_id")
);
--> statement-breakpoint
CREATE TABLE "events" (
	"seq" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "events_seq_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"stream" text NOT NULL,
	"event_id" text NOT NULL,
	"type" text NOT NULL,
	"subject_kind" text,
	"subject_id" text,
	"occurred_at" timestamp(6) with time zone,
	"received_at" timestamp(6) with time zone NOT NULL,
	"cursor" text,
	"projected" boolean NOT NULL,
	"payload" jsonb NOT NULL
);
--> statement-breakpoint
CREATE TABLE "gaps" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "gaps_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"stream" text NOT NULL,
	"detected_at" timestamp(6) with time zone NOT NULL,
	"reason" text NOT NULL,
	"document_id" text,
	"from_time" timestamp(6) with time zone,
	"to_time" timestamp(6) with time zone,
	"status" text NOT NULL,
	"changes_found" integer,
	"detail" text
);
--> statement-breakpoint
CREATE TABLE "group_members" (
	"stream" text NOT NULL,
	"group_id" text NOT NULL,
	"member_type" text NOT NULL,
	"member_id" text NOT NULL,
	"connection_id" text,
	"added_at" timestamp(6) with time zone,
	"event_time" timestamp(6) with time zone NOT NULL,
	"event_seq" bigint NOT NULL,
	CONSTRAINT "group_members_stream_group_id_member_type_member_id_pk" PRIMARY KEY("stream","group_id","member_type","member_id")
);
--> statement-breakpoint
CREATE TABLE "group_roles" (
	"stream" text NOT NULL,
	"group_id" text NOT NULL,
	"role_id" text NOT NULL,
	"role_name" text,
	"assigned_at" timestamp(6) with time zone,
	"event_time" timestamp(6) with time zone NOT NULL,
	"event_seq" bigint NOT NULL,
	CONSTRAINT "group_roles_stream_group_id_role_id_pk" PRIMARY KEY("stream","group_id","role_id")
);
--> statement-breakpoint
CREATE TABLE "groups" (
	"stream" text NOT NULL,
	"group_id" text NOT NULL,
	"name" text,
	"external_id" text,
	"group_type" text,
	"connection_id" text,
	"org_id" text,
	"created_at" timestamp(6) with time zone,
	"updated_at" timestamp(6) with time zone,
	"deleted_at" timestamp(6) with time zone,
	"object" jsonb NOT NULL,
	"event_time" timestamp(6) with time zone NOT NULL,
	"event_seq" bigint NOT NULL,
	CONSTRAINT "groups_stream_group_id_pk" PRIMARY KEY("stream","group_id")
);
--> statement-breakpoint
CREATE TABLE "organization_connections" (
	"stream" text NOT NULL,
	"org_id" text NOT NULL,
	"connection_id" text NOT NULL,
	"assign_membership_on_login" boolean,
	"show_as_button" boolean,
	"is_signup_enabled" boolean,
	"is_enabled" boolean,
	"organization_access_level" text,
	"object" jsonb NOT NULL,
	"event_time" timestamp(6) with time zone NOT NULL,
	"event_seq" bigint NOT NULL,
	CONSTRAINT "organization_connections_stream_org_id_connection_id_pk" PRIMARY KEY("stream","org_id","connection_id")
);
--> statement-breakpoint
CREATE TABLE "organization_group_roles" (
	"stream" text NOT NULL,
	"org_id" text NOT NULL,
	"group_id" text NOT NULL,
	"role_id" text NOT NULL,
	"role_name" text,
	"assigned_at" timestamp(6) with time zone,
	"event_time" timestamp(6) with time zone NOT NULL,
	"event_seq" bigint NOT NULL,
	CONSTRAINT "organization_group_roles_stream_org_id_group_id_role_id_pk" PRIMARY KEY("stream","org_id","group_id","role_id")
);
--> statement-breakpoint
CREATE TABLE "organization_member_roles" (
	"stream" text NOT NULL,
	"org_id" text NOT NULL,
	"user_id" text NOT NULL,
	"role_id" text NOT NULL,
	"role_name" text,
	"assigned_at" timestamp(6) with time zone,
	"event_time" timestamp(6) with time zone NOT NULL,
	"event_seq" bigint NOT NULL,
	CONSTRAINT "organization_member_roles_stream_org_id_user_id_role_id_pk" PRIMARY KEY("stream","org_id","user_id","role_id")
);
--> statement-breakpoint
CREATE TABLE "organization_members" (
	"stream" text NOT NULL,
	"org_id" text NOT NULL,
	"user_id" text NOT NULL,
	"added_at" timestamp(6) with time zone,
	"event_time" timestamp(6) with time zone NOT NULL,
	"event_seq" bigint NOT NULL,
	CONSTRAINT "organization_members_stream_org_id_user_id_pk" PRIMARY KEY("stream","org_id","user_id")
);
--> statement-breakpoint
CREATE TABLE "organizations" (
	"stream" text NOT NULL,
	"org_id" text NOT NULL,
	"name" text,
	"display_name" text,
	"created_at" timestamp(6) with time zone,
	"updated_at" timestamp(6) with time zone,
	"deleted_at" timestamp(6) with time zone,
	"object" jsonb NOT NULL,
	"event_time" timestamp(6) with time zone NOT NULL,
	"event_seq" bigint NOT NULL,
	CONSTRAINT "organizations_stream_org_id_pk" PRIMARY KEY("stream","org_id")
);
--> statement-breakpoint
CREATE TABLE "projection_tombstones" (
	"table_name" text NOT NULL,
	"row_key" text NOT NULL,
	"event_time" timestamp(6) with time zone NOT NULL,
	"event_seq" bigint NOT NULL,
	CONSTRAINT "projection_tombstones_table_name_row_key_pk" PRIMARY KEY("table_name","row_key")
);
--> statement-breakpoint
CREATE TABLE "streams" (
	"name" text PRIMARY KEY NOT NULL,
	"source" text NOT NULL,
	"definition" text,
	"cursor" text,
	"cursor_updated_at" timestamp(6) with time zone,
	"last_event_at" timestamp(6) with time zone,
	"last_received_at" timestamp(6) with time zone,
	"last_heartbeat_at" timestamp(6) with time zone,
	"events_total" bigint DEFAULT 0 NOT NULL,
	"duplicates_total" bigint DEFAULT 0 NOT NULL,
	"unknown_total" bigint DEFAULT 0 NOT NULL,
	"dead_letters_total" bigint DEFAULT 0 NOT NULL,
	"state" text DEFAULT 'idle' NOT NULL,
	"state_reason" text,
	"state_updated_at" timestamp(6) with time zone,
	"lease_owner" text,
	"lease_expires_at" timestamp(6) with time zone,
	"created_at" timestamp(6) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "users" (
	"stream" text NOT NULL,
	"user_id" text NOT NULL,
	"email" text,
	"email_verified" boolean,
	"username" text,
	"phone_number" text,
	"name" text,
	"nickname" text,
	"given_name" text,
	"family_name" text,
	"picture" text,
	"blocked" boolean,
	"logins_count" integer,
	"last_login" timestamp(6) with time zone,
	"created_at" timestamp(6) with time zone,
	"updated_at" timestamp(6) with time zone,
	"deleted_at" timestamp(6) with time zone,
	"object" jsonb NOT NULL,
	"event_time" timestamp(6) with time zone NOT NULL,
	"event_seq" bigint NOT NULL,
	CONSTRAINT "users_stream_user_id_pk" PRIMARY KEY("stream","user_id")
);
--> statement-breakpoint
ALTER TABLE "dead_letters" ADD CONSTRAINT "dead_letters_stream_streams_name_fk" FOREIGN KEY ("stream") REFERENCES "streams"("name") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "events" ADD CONSTRAINT "events_stream_streams_name_fk" FOREIGN KEY ("stream") REFERENCES "streams"("name") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "gaps" ADD CONSTRAINT "gaps_stream_streams_name_fk" FOREIGN KEY ("stream") REFERENCES "streams"("name") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "dead_letters_stream" ON "dead_letters" USING btree ("stream","id");--> statement-breakpoint
CREATE INDEX "document_mutations_document" ON "document_mutations" USING btree ("stream","document_id","timestamp");--> statement-breakpoint
CREATE INDEX "document_mutations_timestamp" ON "document_mutations" USING btree ("timestamp");--> statement-breakpoint
CREATE INDEX "documents_type" ON "documents" USING btree ("stream","doc_type");--> statement-breakpoint
CREATE INDEX "documents_published_id" ON "documents" USING btree ("stream","published_id");--> statement-breakpoint
CREATE UNIQUE INDEX "events_stream_event_id" ON "events" USING btree ("stream","event_id");--> statement-breakpoint
CREATE INDEX "events_stream_seq" ON "events" USING btree ("stream","seq");--> statement-breakpoint
CREATE INDEX "events_type" ON "events" USING btree ("type");--> statement-breakpoint
CREATE INDEX "events_subject_id" ON "events" USING btree ("subject_id");--> statement-breakpoint
CREATE INDEX "events_occurred_at" ON "events" USING btree ("occurred_at");--> statement-breakpoint
CREATE INDEX "gaps_stream" ON "gaps" USING btree ("stream","id");--> statement-breakpoint
CREATE INDEX "group_members_member" ON "group_members" USING btree ("stream","member_id");--> statement-breakpoint
CREATE INDEX "organization_member_roles_user" ON "organization_member_roles" USING btree ("stream","user_id");--> statement-breakpoint
CREATE INDEX "organization_members_user" ON "organization_members" USING btree ("stream","user_id");--> statement-breakpoint
CREATE INDEX "organizations_name" ON "organizations" USING btree ("name");--> statement-breakpoint
CREATE INDEX "users_email" ON "users" USING btree ("email");