// Log lines for operators, written by pino: JSON lines on stderr off a TTY (systemd, cron),
// pino-pretty text on a TTY. Fields never carry secrets; keys that name one are redacted anyway.
import { pino, stdSerializers, type DestinationStream } from 'pino';
import PinoPretty from 'pino-pretty';
import type { Logger } from '../core/logger.js';


export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFormat = 'json' | 'pretty';
export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];
export const LOG_FORMATS: readonly LogFormat[] = ['json', 'pretty'];

export interface LoggerOptions {
  /** Default `info`. */
  level?: LogLevel;
  /** Default: `pretty` when stderr is a TTY, else `json`. */
  format?: LogFormat;
  /** Where each line goes, without its newline (tests, the progress display). Default: stderr. */
  write?: (line: string) => void;
  /** Colours in `pretty`; default only when writing to stderr and it is a TTY. */
  color?: boolean;
}

/** Values under these keys, at the top of the fields or one level down, are written as `[redacted]`. */
const SECRET_KEYS = ['token', 'authorization', 'password', 'secret'];

export function createLogger(options: LoggerOptions = {}): Logger {
  const format = options.format ?? (process.stderr.isTTY ? 'pretty' : 'json');
  const toStderr = options.write === undefined;
  const write = options.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  // Synchronous on purpose: no worker thread, and nothing is lost when the process exits.
  const destination =
    toStderr && format === 'json'
      ? pino.destination({ fd: 2, sync: true })
      : lineDestination(format, write, options.color ?? (toStderr && !!process.stderr.isTTY));
  const logger = pino(
    {
      level: options.level ?? 'info',
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      // pino-pretty reads numeric levels; JSON readers (jq, journald, Loki) want the name.
      formatters: format === 'json' ? { level: (label) => ({ level: label }) } : {},
      serializers: { err: stdSerializers.err, error: stdSerializers.err },
      redact: { paths: SECRET_KEYS.flatMap((key) => [key, `*.${key}`]), censor: '[redacted]' },
    },
    destination,
  );
  return wrap(logger);
}

function lineDestination(format: LogFormat, write: (line: string) => void, color: boolean): DestinationStream {
  const prettify =
    format === 'pretty'
      ? PinoPretty.prettyFactory({ colorize: color, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', singleLine: true })
      : undefined;
  return {
    write(line: string) {
      write((prettify ? prettify(line) : line).replace(/\n$/, ''));
    },
  };
}

function wrap(logger: pino.Logger): Logger {
  return {
    debug: (message, fields = {}) => logger.debug(fields, message),
    info: (message, fields = {}) => logger.info(fields, message),
    warn: (message, fields = {}) => logger.warn(fields, message),
    error: (message, fields = {}) => logger.error(fields, message),
    child: (fields) => wrap(logger.child(fields)),
  };
}
