import pino, { type Logger } from 'pino';
import type { LogLevel } from '../config.js';

/**
 * JSON lines on stdout. Redaction is a safety net; the real rule is that secrets are never
 * passed to the logger (requests log the key id, not the Authorization header).
 */
export function createLogger(level: LogLevel, destination: pino.DestinationStream = pino.destination({ sync: false })): Logger {
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
    destination,
  );
}
