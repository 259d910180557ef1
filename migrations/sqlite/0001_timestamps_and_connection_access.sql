PRAGMA foreign_keys=OFF;--> statement-breakpoint
CREATE TABLE `__new_streams` (
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
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z') NOT NULL
);
--> statement-breakpoint
INSERT INTO `__new_streams`("name", "source", "definition", "cursor", "cursor_updated_at", "last_event_at", "last_received_at", "last_heartbeat_at", "events_total", "duplicates_total", "unknown_total", "dead_letters_total", "state", "state_reason", "state_updated_at", "lease_owner", "lease_expires_at", "created_at") SELECT "name", "source", "definition", "cursor", "cursor_updated_at", "last_event_at", "last_received_at", "last_heartbeat_at", "events_total", "duplicates_total", "unknown_total", "dead_letters_total", "state", "state_reason", "state_updated_at", "lease_owner", "lease_expires_at", "created_at" FROM `streams`;--> statement-breakpoint
DROP TABLE `streams`;--> statement-breakpoint
ALTER TABLE `__new_streams` RENAME TO `streams`;--> statement-breakpoint
PRAGMA foreign_keys=ON;--> statement-breakpoint
ALTER TABLE `organization_connections` ADD `is_enabled` integer;--> statement-breakpoint
ALTER TABLE `organization_connections` ADD `organization_access_level` text;--> statement-breakpoint
-- Times written before this migration with milliseconds (`…30.186Z`) take the canonical microsecond form.
UPDATE `streams` SET `created_at` = substr(`created_at`, 1, 23) || '000Z' WHERE length(`created_at`) = 24;--> statement-breakpoint
UPDATE `streams` SET `lease_expires_at` = substr(`lease_expires_at`, 1, 23) || '000Z' WHERE length(`lease_expires_at`) = 24;--> statement-breakpoint
UPDATE `streams` SET `state_updated_at` = substr(`state_updated_at`, 1, 23) || '000Z' WHERE length(`state_updated_at`) = 24;
