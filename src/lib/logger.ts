import { isatty } from 'node:tty';
import pino, { type Logger } from 'pino';
import type { Config, LogFormat, LogLevel } from '../config.js';

/**
 * JSON lines, or readable lines (`format: 'pretty'`). Redaction is a safety net; the real rule is
 * that secrets are never passed to the logger (requests log the key id, not the Authorization header).
 */
export function createLogger(
  level: LogLevel,
  destination: pino.DestinationStream = pino.destination({ sync: false }),
  prettify?: (line: string) => string,
): Logger {
  return pino(
    {
      level,
      base: { app: 'linkqr' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: ['*.authorization', '*.headers.authorization', '*.password', '*.secret', '*.key', 'req.headers.cookie'],
        censor: '[redacted]',
      },
    },
    prettify ? prettyDestination(destination, prettify) : destination,
  );
}

/**
 * The log of a command run from the console: on stdout for serve, on stderr for the other commands
 * (their stdout is their result). Readable lines for a person at a terminal, JSON lines for a
 * program (a pipe, a file, journald), unless LINKQR_LOG_FORMAT says which.
 */
export async function consoleLogger(config: Pick<Config, 'logLevel' | 'logFormat'>, to: 'stdout' | 'stderr'): Promise<Logger> {
  const fd = to === 'stdout' ? 1 : 2;
  // serve's lines are written as they come (a busy server must not wait on its terminal); a
  // command's are written at once, so that none is lost when it exits.
  const destination = pino.destination({ fd, sync: to === 'stderr' });
  const format: LogFormat = config.logFormat ?? (isatty(fd) ? 'pretty' : 'json');
  return createLogger(config.logLevel, destination, format === 'pretty' ? await prettyLines(isatty(fd)) : undefined);
}

/** Fields shown in the message itself (`request GET /api/v1/links 200 3.1 ms`) rather than after it. */
const IN_MESSAGE = ['method', 'path', 'status', 'ms'] as const;

/**
 * One line per event: local time, level, message with the request fields, then the other fields
 * as compact JSON (an error's stack follows on its own lines). pino-pretty's formatter is called
 * synchronously on each line: no transport, no worker thread, nothing loaded at run time, so it
 * works the same inside the single executable. Loaded only when pretty lines are asked for.
 */
export async function prettyLines(colorize: boolean): Promise<(line: string) => string> {
  const { prettyFactory, isColorSupported } = await import('pino-pretty');
  return prettyFactory({
    colorize: colorize && isColorSupported,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: ['app', ...IN_MESSAGE].join(','),
    singleLine: true,
    messageFormat: (log, messageKey) => {
      const [method, path, status, ms] = IN_MESSAGE.map((k) => log[k]);
      return [log[messageKey], method, path, status, ms === undefined ? undefined : `${ms} ms`].filter((p) => p !== undefined).join(' ');
    },
  });
}

function prettyDestination(destination: pino.DestinationStream, prettify: (line: string) => string): pino.DestinationStream {
  const flushable = destination as pino.DestinationStream & { flush?(cb?: (err?: Error) => void): void };
  return Object.assign(
    { write: (line: string) => destination.write(prettify(line)) },
    // logger.flush() (serve, when it stops) reaches the underlying stream.
    flushable.flush ? { flush: (cb?: (err?: Error) => void) => flushable.flush!(cb) } : {},
  );
}
