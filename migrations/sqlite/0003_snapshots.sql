CREATE TABLE `snapshots` (
	`stream` text NOT NULL,
	`snapshot_id` integer NOT NULL,
	`started_at` text NOT NULL,
	`finished_at` text,
	`status` text NOT NULL,
	`position` text,
	`rows_read` integer NOT NULL,
	`pages` integer NOT NULL,
	`rows_deleted` integer NOT NULL,
	`updated_at` text NOT NULL,
	PRIMARY KEY(`stream`, `snapshot_id`),
	FOREIGN KEY (`stream`) REFERENCES `streams`(`name`) ON UPDATE no action ON DELETE no action
);
