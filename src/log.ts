// Log lines for operators: JSON lines on stderr off a TTY (systemd, cron), readable text on a TTY.
// Fields never carry secrets; callers pass stream names, counts and upstream messages only.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface LoggerOptions {
  level?: LogLevel;
  format?: 'json' | 'pretty';
  write?: (line: string) => void;
}

export function createLogger(options: LoggerOptions = {}, bound: LogFields = {}): Logger {
  const level = options.level ?? 'info';
  const format = options.format ?? (process.stderr.isTTY ? 'pretty' : 'json');
  const write = options.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const emit = (at: LogLevel, message: string, fields: LogFields = {}) => {
    if (RANK[at] < RANK[level]) return;
    const all = { ...bound, ...fields };
    if (format === 'json') {
      write(JSON.stringify({ time: new Date().toISOString(), level: at, msg: message, ...all }));
    } else {
      const extra = Object.entries(all).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
      write(`${new Date().toISOString()} ${at.toUpperCase().padEnd(5)} ${message}${extra.length ? ` ${extra.join(' ')}` : ''}`);
    }
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (fields) => createLogger({ level, format, write }, { ...bound, ...fields }),
  };
}
