import pinoDefault, { type DestinationStream, type Logger } from 'pino';
import pinoPretty from 'pino-pretty';

const pino = pinoDefault;

export type { Logger } from 'pino';

/**
 * Keys that must never reach a log line, wherever they appear in a logged object. Secrets are also never passed
 * to the logger on purpose; this is the second fence.
 */
export const REDACT_PATHS = [
  'token',
  '*.token',
  'agent.token',
  'serverToken',
  'apiToken',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'root_pass',
  '*.root_pass',
  'vnc_pass',
  '*.vnc_pass',
  'cloud_init',
  '*.cloud_init',
  'userData',
  '*.userData',
  'user_data',
  '*.user_data',
];

export interface LoggerOptions {
  level?: string;
  /** Human-readable output (pino-pretty) instead of JSON; default: stderr is a TTY. */
  pretty?: boolean;
  /** Write here instead of stderr (tests, the demo's terminal view). */
  destination?: DestinationStream;
}

/** Structured JSON logs to stderr; human-readable when stderr is a terminal. */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const level = opts.level ?? 'info';
  const base = {
    level,
    base: undefined,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (opts.destination) return pino(base, opts.destination);
  const pretty = opts.pretty ?? Boolean(process.stderr.isTTY);
  if (pretty) {
    // A synchronous stream, not a worker-thread transport: it also works from the single-file bundle.
    const stream = pinoPretty({
      destination: 2,
      sync: true,
      colorize: Boolean(process.stderr.isTTY),
      translateTime: 'HH:MM:ss',
      ignore: 'pid,hostname',
      singleLine: true,
    });
    return pino(base, stream);
  }
  return pino(base, pino.destination({ dest: 2, sync: true }));
}

/** A logger that drops everything (tests, simulator). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
