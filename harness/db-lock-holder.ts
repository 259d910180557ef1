// Another process holding the database's write lock for a while, as a backup tool or a second
// writer would: the fault harness runs it next to the ingester. Usage: db-lock-holder <db> <ms>.
import Database from 'better-sqlite3';

const [path, holdMs] = process.argv.slice(2);
const sqlite = new Database(path, { fileMustExist: true });
sqlite.pragma('busy_timeout = 10000');
// IMMEDIATE takes the write lock now: the ingester's commits wait on it (busy_timeout) or fail.
sqlite.prepare('BEGIN IMMEDIATE').run();
process.stdout.write('locked\n');
Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Number(holdMs));
sqlite.prepare('ROLLBACK').run();
sqlite.close();
process.stdout.write('released\n');
