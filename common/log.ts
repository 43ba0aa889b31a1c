/**
 * pino loggers with secrets redacted at the source: tokens, passwords and authorization headers never
 * reach a log line, whatever a caller passes in.
 *
 * Two formats: `json` (one JSON object a line: systemd's journal, log shippers) and `pretty` (pino-pretty:
 * time, level, message and the fields, for a person at a terminal). `switchyard agent|reconciler|demo` pick
 * pretty when stdout is a terminal and JSON otherwise; `--log-format` or SWITCHYARD_LOG_FORMAT overrides.
 */
import { pino, type DestinationStream, type Logger, type LoggerOptions } from "pino";
import PinoPretty from "pino-pretty";

export const REDACT_PATHS = [
  "token", "*.token", "password", "*.password", "secret", "*.secret",
  "authorization", "*.authorization", "headers.authorization", "req.headers.authorization", "req.headers.cookie",
  "auth", "*.auth", "registryAuth", "*.registryAuth",
];

export const LOG_FORMATS = ["json", "pretty"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/**
 * The format to log in: the flag if given, else SWITCHYARD_LOG_FORMAT, else pretty on a terminal and JSON
 * otherwise. Throws on a value that is neither json nor pretty.
 */
export function chooseLogFormat(flag: string | undefined, isTTY: boolean, env: string | undefined = process.env.SWITCHYARD_LOG_FORMAT): LogFormat {
  const asked = flag ?? (env === "" ? undefined : env);
  if (asked === undefined) return isTTY ? "pretty" : "json";
  if (!(LOG_FORMATS as readonly string[]).includes(asked)) throw new Error(`--log-format must be json or pretty, not ${JSON.stringify(asked)}`);
  return asked as LogFormat;
}

/** A pino-pretty stream (synchronous, so nothing is lost on exit); `colorize` for terminals only. */
export function prettyStream(o: { colorize: boolean; destination?: DestinationStream | number | string }): DestinationStream {
  return PinoPretty({ colorize: o.colorize, sync: true, translateTime: "SYS:HH:MM:ss.l", ignore: "pid,hostname", singleLine: true, destination: o.destination ?? 1, mkdir: true });
}

export function makeLogger(name: string, opts: LoggerOptions = {}, destination?: DestinationStream): Logger {
  const level = process.env.SWITCHYARD_LOG_LEVEL ?? (process.env.VITEST ? "silent" : "info");
  const options = { name, level, redact: { paths: REDACT_PATHS, censor: "[redacted]" }, ...opts };
  return destination ? pino(options, destination) : pino(options);
}

/** The logger of a CLI process (agent, reconciler) in the format chosen by chooseLogFormat, on stdout. */
export function makeCliLogger(name: string, format: LogFormat): Logger {
  return format === "pretty" ? makeLogger(name, {}, prettyStream({ colorize: process.stdout.isTTY === true })) : makeLogger(name);
}

export type { Logger };
