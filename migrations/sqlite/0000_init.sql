CREATE TABLE `dead_letters` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`stream` text NOT NULL,
	`received_at` text NOT NULL,
	`event_type` text,
	`reason` text NOT NULL,
	`cursor` text,
	`raw` text NOT NULL,
	FOREIGN KEY (`stream`) REFERENCES `streams`(`name`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `dead_letters_stream` ON `dead_letters` (`stream`,`id`);--> statement-breakpoint
CREATE TABLE `document_mutations` (
	`stream` text NOT NULL,
	`event_id` text NOT NULL,
	`seq` integer NOT NULL,
	`transaction_id` text NOT NULL,
	`document_id` text NOT NULL,
	`doc_type` text,
	`transition` text NOT NULL,
	`previous_rev` text,
	`result_rev` text,
	`identity` text,
	`visibility` text,
	`timestamp` text NOT NULL,
	`mutations` text,
	`result` text,
	`previous` text,
	`origin` text DEFAULT 'listen' NOT NULL,
	PRIMARY KEY(`stream`, `event_id`)
);
--> statement-breakpoint
CREATE INDEX `document_mutations_document` ON `document_mutations` (`stream`,`document_id`,`timestamp`);--> statement-breakpoint
CREATE INDEX `document_mutations_timestamp` ON `document_mutations` (`timestamp`);--> statement-breakpoint
CREATE TABLE `documents` (
	`stream` text NOT NULL,
	`document_id` text NOT NULL,
	`id_kind` text NOT NULL,
	`published_id` text NOT NULL,
	`release_id` text,
	`doc_type` text,
	`rev` text,
	`result` text,
	`updated_at` text,
	`deleted_at` text,
	`event_time` text NOT NULL,
	`event_seq` integer NOT NULL,
	PRIMARY KEY(`stream`, `document_id`)
);
--> statement-breakpoint
CREATE INDEX `documents_type` ON `documents` (`stream`,`doc_type`);--> statement-breakpoint
CREATE INDEX `documents_published_id` ON `documents` (`stream`,`published_id`);--> statement-breakpoint
CREATE TABLE `events` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`stream` text NOT NULL,
	`event_id` text NOT NULL,
	`type` text NOT NULL,
	`subject_kind` text,
	`subject_id` text,
	`occurred_at` text,
	`received_at` text NOT NULL,
	`cursor` text,
	`projected` integer NOT NULL,
	`payload` text NOT NULL,
	FOREIGN KEY (`stream`) REFERENCES `streams`(`name`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `events_stream_event_id` ON `events` (`stream`,`event_id`);--> statement-breakpoint
CREATE INDEX `events_stream_seq` ON `events` (`stream`,`seq`);--> statement-breakpoint
CREATE INDEX `events_type` ON `events` (`type`);--> statement-breakpoint
CREATE INDEX `events_subject_id` ON `events` (`subject_id`);--> statement-breakpoint
CREATE INDEX `events_occurred_at` ON `events` (`occurred_at`);--> statement-breakpoint
CREATE TABLE `gaps` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`stream` text NOT NULL,
	`detected_at` text NOT NULL,
	`reason` text NOT NULL,
	`document_id` text,
	`from_time` text,
	`to_time` text,
	`status` text NOT NULL,
	`changes_found` integer,
	`detail` text,
	FOREIGN KEY (`stream`) REFERENCES `streams`(`name`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `gaps_stream` ON `gaps` (`stream`,`id`);--> statement-breakpoint
CREATE TABLE `group_members` (
	`stream` text NOT NULL,
	`group_id` text NOT NULL,
	`member_type` text NOT NULL,
	`member_id` text NOT NULL,
	`connection_id` text,
	`added_at` text,
	`event_time` text NOT NULL,
	`event_seq` integer NOT NULL,
	PRIMARY KEY(`stream`, `group_id`, `member_type`, `member_id`)
);
--> statement-breakpoint
CREATE INDEX `group_members_member` ON `group_members` (`stream`,`member_id`);--> statement-breakpoint
CREATE TABLE `group_roles` (
	`stream` text NOT NULL,
	`group_id` text NOT NULL,
	`role_id` text NOT NULL,
	`role_name` text,
	`assigned_at` text,
	`event_time` text NOT NULL,
	`event_seq` integer NOT NULL,
	PRIMARY KEY(`stream`, `group_id`, `role_id`)
);
--> statement-breakpoint
CREATE TABLE `groups` (
	`stream` text NOT NULL,
	`group_id` text NOT NULL,
	`name` text,
	`external_id` text,
	`group_type` text,
	`connection_id` text,
	`org_id` text,
	`created_at` text,
	`updated_at` text,
	`deleted_at` text,
	`object` text NOT NULL,
	`event_time` text NOT NULL,
	`event_seq` integer NOT NULL,
	PRIMARY KEY(`stream`, `group_id`)
);
--> statement-breakpoint
CREATE TABLE `organization_connections` (
	`stream` text NOT NULL,
	`org_id` text NOT NULL,
	`connection_id` text NOT NULL,
	`assign_membership_on_login` integer,
	`show_as_button` integer,
	`is_signup_enabled` integer,
	`object` text NOT NULL,
	`event_time` text NOT NULL,
	`event_seq` integer NOT NULL,
	PRIMARY KEY(`stream`, `org_id`, `connection_id`)
);
--> statement-breakpoint
CREATE TABLE `organization_group_roles` (
	`stream` text NOT NULL,
	`org_id` text NOT NULL,
	`group_id` text NOT NULL,
	`role_id` text NOT NULL,
	`role_name` text,
	`assigned_at` text,
	`event_time` text NOT NULL,
	`event_seq` integer NOT NULL,
	PRIMARY KEY(`stream`, `org_id`, `group_id`, `role_id`)
);
--> statement-breakpoint
CREATE TABLE `organization_member_roles` (
	`stream` text NOT NULL,
	`org_id` text NOT NULL,
	`user_id` text NOT NULL,
	`role_id` text NOT NULL,
	`role_name` text,
	`assigned_at` text,
	`event_time` text NOT NULL,
	`event_seq` integer NOT NULL,
	PRIMARY KEY(`stream`, `org_id`, `user_id`, `role_id`)
);
--> statement-breakpoint
CREATE INDEX `organization_member_roles_user` ON `organization_member_roles` (`stream`,`user_id`);--> statement-breakpoint
CREATE TABLE `organization_members` (
	`stream` text NOT NULL,
	`org_id` text NOT NULL,
	`user_id` text NOT NULL,
	`added_at` text,
	`event_time` text NOT NULL,
	`event_seq` integer NOT NULL,
	PRIMARY KEY(`stream`, `org_id`, `user_id`)
);
--> statement-breakpoint
CREATE INDEX `organization_members_user` ON `organization_members` (`stream`,`user_id`);--> statement-breakpoint
CREATE TABLE `organizations` (
	`stream` text NOT NULL,
	`org_id` text NOT NULL,
	`name` text,
	`display_name` text,
	`created_at` text,
	`updated_at` text,
	`deleted_at` text,
	`object` text NOT NULL,
	`event_time` text NOT NULL,
	`event_seq` integer NOT NULL,
	PRIMARY KEY(`stream`, `org_id`)
);
--> statement-breakpoint
CREATE INDEX `organizations_name` ON `organizations` (`name`);--> statement-breakpoint
CREATE TABLE `projection_tombstones` (
	`table_name` text NOT NULL,
	`row_key` text NOT NULL,
	`event_time` text NOT NULL,
	`event_seq` integer NOT NULL,
	PRIMARY KEY(`table_name`, `row_key`)
);
--> statement-breakpoint
CREATE TABLE `streams` (
	`name` text PRIMARY KEY NOT NULL,
	`source` text NOT NULL,
	`definition` text,
	`cursor` text,
	`cursor_updated_at` text,
	`last_event_at` text,
	`last_received_at` text,
	`last_heartbeat_at` text,
	`events_total` integer DEFAULT 0 NOT NULL,
	`duplicates_total` integer DEFAULT 0 NOT NULL,
	`unknown_total` integer DEFAULT 0 NOT NULL,
	`dead_letters_total` integer DEFAULT 0 NOT NULL,
	`state` text DEFAULT 'idle' NOT NULL,
	`state_reason` text,
	`state_updated_at` text,
	`lease_owner` text,
	`lease_expires_at` text,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL
);
--> statement-breakpoint
CREATE TABLE `users` (
	`stream` text NOT NULL,
	`user_id` text NOT NULL,
	`email` text,
	`email_verified` integer,
	`username` text,
	`phone_number` text,
	`name` text,
	`nickname` text,
	`given_name` text,
	`family_name` text,
	`picture` text,
	`blocked` integer,
	`logins_count` integer,
	`last_login` text,
	`created_at` text,
	`updated_at` text,
	`deleted_at` text,
	`object` text NOT NULL,
	`event_time` text NOT NULL,
	`event_seq` integer NOT NULL,
	PRIMARY KEY(`stream`, `user_id`)
);
--> statement-breakpoint
CREATE INDEX `users_email` ON `users` (`email`);