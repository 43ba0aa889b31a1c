/**
 * pino loggers with secrets redacted at the source: tokens, passwords and authorization headers never
 * reach a log line, whatever a caller passes in.
 */
import { pino, type DestinationStream, type Logger, type LoggerOptions } from "pino";

export const REDACT_PATHS = [
  "token", "*.token", "password", "*.password", "secret", "*.secret",
  "authorization", "*.authorization", "headers.authorization", "req.headers.authorization", "req.headers.cookie",
  "auth", "*.auth", "registryAuth", "*.registryAuth",
];

export function makeLogger(name: string, opts: LoggerOptions = {}, destination?: DestinationStream): Logger {
  const level = process.env.SWITCHYARD_LOG_LEVEL ?? (process.env.VITEST ? "silent" : "info");
  const options = { name, level, redact: { paths: REDACT_PATHS, censor: "[redacted]" }, ...opts };
  return destination ? pino(options, destination) : pino(options);
}

export type { Logger };
