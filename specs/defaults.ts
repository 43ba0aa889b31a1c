/**
 * Every default in one place. The JSON Schemas use these as their `default` values and the CLI and
 * runtime code import them, so a default is never written twice.
 */
export const API_VERSION = "switchyard.dev/v1";

/** Agent HTTP API listen address when agent.yaml does not say. */
export const DEFAULT_AGENT_LISTEN = "127.0.0.1:7100";
/** Reconciler HTTP API (and dashboard) listen address. Loopback unless told otherwise. */
export const DEFAULT_RECONCILER_LISTEN = "127.0.0.1:7000";
/** Router data-plane listen address. */
export const DEFAULT_ROUTER_LISTEN = "127.0.0.1:8000";
/**
 * Where a router may send traffic when agent.yaml sets no router.allowedUpstreams: loopback and the private
 * ranges, never a public address (so a stolen router token cannot point the live route at the internet).
 */
export const DEFAULT_ALLOWED_UPSTREAMS = ["127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"] as const;
export const DEFAULT_DOCKER_SOCKET = "/var/run/docker.sock";
export const DEFAULT_PUBLISH_ADDRESS = "127.0.0.1";
/**
 * An image pull that makes no progress (no answer, no progress event from the engine) for this long is
 * aborted with AGENT_ERR_PULL_STALLED. Progress events come several times a second while layers download,
 * so a minute of silence means a stalled registry, not a slow one.
 */
export const DEFAULT_PULL_IDLE_TIMEOUT_SECONDS = 60;

/**
 * How often the reconciler asks the registry whether a tag a colour runs still points at the content the
 * colour was deployed with (a tag pushed again raises TagMoved). Cheap: one manifest request per colour.
 */
export const DEFAULT_TAG_RECHECK_SECONDS = 60;

export const DEFAULT_HEALTH_PATH = "/healthz";
export const DEFAULT_HEALTH_PERIOD_SECONDS = 1;
export const DEFAULT_HEALTH_TIMEOUT_SECONDS = 2;
export const DEFAULT_HEALTHY_THRESHOLD = 1;
export const DEFAULT_UNHEALTHY_THRESHOLD = 3;
export const DEFAULT_STOP_TIMEOUT_SECONDS = 30;
export const DEFAULT_PATH_PREFIX = "/";

/**
 * Containers drop every capability and get back only these. A web app listening on a port needs none of
 * Docker's defaults; NET_BIND_SERVICE lets an image that runs as root bind a port below 1024 (Docker
 * 20.10+ also lets any user do that inside the container's own network namespace). NET_RAW (packet forging,
 * ARP spoofing on the bridge), MKNOD, SYS_CHROOT, SETFCAP, SETPCAP, AUDIT_WRITE, FSETID are gone; CHOWN,
 * SETUID, SETGID, DAC_OVERRIDE, FOWNER and KILL are only needed by images whose entrypoint starts as root
 * and drops to a user (nginx, postgres, gosu/su-exec entrypoints): such a service adds them back in
 * cluster.yaml (`capabilities`), within the agent's `containers.allowedCapabilities`.
 */
export const DEFAULT_CAPABILITIES = ["NET_BIND_SERVICE"] as const;
/** The capabilities a service may ask for at all: Docker's default set, nothing beyond it (no SYS_ADMIN, NET_ADMIN...). */
export const ADDABLE_CAPABILITIES = [
  "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE", "NET_RAW", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
] as const;
/** What an agent lets a service add back when agent.yaml does not say: what root-then-drop entrypoints need. */
export const DEFAULT_ALLOWED_CAPABILITIES = ["CHOWN", "DAC_OVERRIDE", "FOWNER", "KILL", "NET_BIND_SERVICE", "SETGID", "SETUID"] as const;
/** Memory limit per container when cluster.yaml does not say (no swap beyond it): a Node or Python web app fits. */
export const DEFAULT_MEMORY_MIB = 512;
/** Process/thread limit per container when cluster.yaml does not say: stops a fork bomb, ample for worker pools. */
export const DEFAULT_PIDS_LIMIT = 512;
/** The most memory (MiB) an agent gives one container when agent.yaml does not say. */
export const DEFAULT_MAX_MEMORY_MIB = 8192;
/** The highest pids limit an agent gives one container when agent.yaml does not say. */
export const DEFAULT_MAX_PIDS_LIMIT = 4096;
/** json-file log rotation for every container: at most CONTAINER_LOG_MAX_FILES files of this size (30 MB). */
export const CONTAINER_LOG_MAX_SIZE = "10m";
export const CONTAINER_LOG_MAX_FILES = 3;

export const DEFAULT_DRAIN_TIMEOUT_SECONDS = 30;
export const DEFAULT_DEPLOY_TIMEOUT_SECONDS = 120;
export const DEFAULT_LEASE_TTL_SECONDS = 10;
/** Extra wait beyond a lease's TTL before an unreachable holder is assumed to have stopped its jobs. */
export const LEASE_SAFETY_MARGIN_MS = 2_000;
/** Leases are renewed every third of their TTL. */
export const LEASE_RENEW_FRACTION = 1 / 3;

/**
 * Crash-loop backoff (the kubelet's CrashLoopBackOff), one mechanism for web services and jobs on both
 * runtimes: the agent starts a workload that keeps dying (it exits, or cannot be started) again after
 * RESTART_BACKOFF_INITIAL_MS, then RESTART_BACKOFF_FACTOR times longer each time it dies again ...
 */
export const RESTART_BACKOFF_INITIAL_MS = 1_000;
export const RESTART_BACKOFF_FACTOR = 2;
/** ... up to this long (the kubelet's cap, 5 minutes) ... */
export const RESTART_BACKOFF_MAX_MS = 5 * 60_000;
/** ... and forgets the count once the workload has run this long in one go (KEP-4603: 10 minutes). */
export const RESTART_BACKOFF_RESET_MS = 10 * 60_000;
/**
 * A stopped container Docker cannot remove (its filesystem is busy: a mount leaked into another namespace)
 * is left aside and its removal tried again this often until it goes.
 */
export const LEFTOVER_REMOVAL_RETRY_MS = 5_000;
/**
 * A web service's first death waits for the reconciler, except one the engine's own stop caused: when the
 * engine answers again, the agent starts the services that died this long before it went away or since
 * (dockerd stops its containers before its event stream ends: 15 s shutdown timeout by default, plus slack).
 */
export const ENGINE_STOP_WINDOW_MS = 60_000;
/**
 * A web service that died again and again is CrashLooping until it has run this long in one go: the
 * CrashLooping alert resolves then (not at the first start that happens to work for a second or two).
 */
export const CRASH_LOOP_SETTLE_MS = 30_000;
/** The last log lines of a dead workload kept in its status (the rest stays in the runtime's logs) ... */
export const RESTART_LOG_LINES = 10;
/** ... each cut to this many characters (an app's log is not Switchyard's to broadcast in full). */
export const RESTART_LOG_LINE_CHARS = 200;

export const DEFAULT_DRIFT_POLICY = "heal";
/**
 * A problem must be observed this long before its alert fires (and before it counts in Degraded and
 * Drifted): a flip, a job handoff or a deploy passes through states that look wrong for a moment.
 */
export const DEFAULT_ALERT_GRACE_SECONDS = 10;
export const DEFAULT_JOBS_OWNER = "active";
export const DEFAULT_ROUTE = "live";

/** Largest YAML file we will parse. Real files are a few KiB; anything near this is a mistake or an attack. */
export const MAX_YAML_BYTES = 256 * 1024;
/** Largest number of alias expansions allowed when resolving a YAML document (billion-laughs guard). */
export const MAX_YAML_ALIAS_COUNT = 50;
/** Issues reported per file; the rest are counted ("… and N more"), so a hostile file cannot flood status, alerts or logs. */
export const MAX_SPEC_ISSUES = 50;
/** Longest issue message kept; longer ones (a key of a thousand characters) are cut. */
export const MAX_ISSUE_MESSAGE_CHARS = 300;
/** Issues spelt out in a one-line summary (an alert, an event, a condition message). */
export const SUMMARY_SPEC_ISSUES = 3;
/** Longest alert summary kept (one human line; details live in status and the event log). */
export const MAX_ALERT_SUMMARY_CHARS = 1000;
/** Longest event-log message kept. */
export const MAX_EVENT_MESSAGE_CHARS = 2000;
/** Event streams (SSE) one reconciler API serves at once (dashboards, CLIs); more get 503. */
export const MAX_API_STREAMS = 64;
/** Watch streams one agent serves at once (the reconciler needs one); more get 503. */
export const MAX_AGENT_STREAMS = 16;
/** A stream whose client lets more than this pile up unsent is closed (it reconnects and resumes). */
export const MAX_STREAM_BUFFERED_BYTES = 1024 * 1024;

/**
 * Password hashes (scrypt) computed at once by the reconciler, each in a worker thread of its own (never on
 * libuv's thread pool, which serves the job-lease and spec writes) ...
 */
export const SCRYPT_MAX_CONCURRENT = 2;
/** ...at this CPU niceness, so that lease renewals, spec writes and agents on the same machine come first. */
export const SCRYPT_NICE = 10;
/** Login checks that may wait for a turn; beyond that a login answers 503 at once (a burst costs no memory). */
export const LOGIN_MAX_WAITING = 64;

/** Router TLS (HTTPS) listen address when agent.yaml router.tls does not say. */
export const DEFAULT_ROUTER_TLS_LISTEN = "127.0.0.1:8443";
/**
 * A stopping router (SIGTERM) stops accepting and lets requests in flight finish for at most this long; the
 * router's systemd unit gives it more (TimeoutStopSec). A keep-alive connection is closed after its next
 * answer, or once it has been idle for ROUTER_STOP_IDLE_MS.
 */
export const ROUTER_STOP_DRAIN_MS = 10_000;
export const ROUTER_STOP_IDLE_MS = 1_000;
/** The oldest TLS version the router speaks; 1.0 and 1.1 are refused (RFC 8996). */
export const ROUTER_TLS_MIN_VERSION = "TLSv1.2";
/**
 * TLS 1.2 cipher suites the router offers: Mozilla's "intermediate" list (forward secrecy, AEAD only).
 * TLS 1.3 suites are OpenSSL's defaults, all of them modern.
 */
export const ROUTER_TLS12_CIPHERS = [
  "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
  "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
] as const;
/** A TLS handshake not finished within this long is cut (a client that opens and stalls holds nothing for long). */
export const ROUTER_TLS_HANDSHAKE_TIMEOUT_MS = 10_000;
/** Resumed TLS sessions (tickets) are accepted for this long. */
export const ROUTER_TLS_SESSION_TIMEOUT_SECONDS = 3600;
/** Certificate files are re-read this long after the last change seen (an editor or certbot writes in steps). */
export const CERT_RELOAD_DEBOUNCE_MS = 200;
/** Certificate files are also checked this often, for file systems whose change events do not arrive. */
export const CERT_RELOAD_POLL_MS = 30_000;
/** Route classes redirected from HTTP to HTTPS when cluster.yaml router.https does not list them. */
export const DEFAULT_HTTPS_REDIRECT = ["live", "preview", "blue", "green"] as const;
/** Strict-Transport-Security max-age when router.https.hsts does not say (one year). */
export const DEFAULT_HSTS_MAX_AGE_SECONDS = 31_536_000;
/** ACME certificates are renewed once this fraction of their lifetime has passed (cert-manager's default). */
export const ACME_RENEW_FRACTION = 2 / 3;
/** A failed ACME order is retried after this long, doubling each time ... */
export const ACME_RETRY_INITIAL_MS = 30_000;
/** ... up to this long. */
export const ACME_RETRY_MAX_MS = 60 * 60_000;
/** How often the reconciler checks that every router serves the current ACME certificate. */
export const ACME_CHECK_INTERVAL_MS = 30_000;
/** An alert fires when a served certificate expires within this long. */
export const CERT_EXPIRY_ALERT_DAYS = 14;

/** Logs (agent GET /v1/logs, reconciler GET /api/v1/logs): lines of history per node when `tail` is not given. */
export const LOG_TAIL_DEFAULT = 100;
/** The most lines of history one node sends for one request. */
export const LOG_TAIL_MAX = 5000;
/** A longer line is cut to this many bytes (and marked `truncated`). */
export const LOG_LINE_MAX_BYTES = 16 * 1024;
/** One log answer's history (tail/since) sends at most this many bytes of records, then ends with `byte-limit`. */
export const LOG_ANSWER_MAX_BYTES = 4 * 1024 * 1024;
/** Log follows one agent serves at once; more get 429 AGENT_ERR_TOO_MANY_FOLLOWS. */
export const MAX_LOG_FOLLOWS = 8;
/**
 * Log answers one reconciler serves at once, follows and histories alike (each holds one request per node
 * and up to LOG_ANSWER_MAX_BYTES of history per node while it merges); more get 503.
 */
export const MAX_API_LOG_STREAMS = 16;

/** A pre-promotion task (cluster.yaml tasks) that runs longer than this is stopped and counts as failed. */
export const DEFAULT_TASK_TIMEOUT_SECONDS = 300;
/** The last lines of a task's output kept in its result (status, events, dashboard); secrets redacted. */
export const TASK_OUTPUT_LINES = 20;
/** Each kept output line is cut to this many characters. */
export const TASK_OUTPUT_LINE_CHARS = 300;
/** How often the agent looks at a running task, and the reconciler asks the agent about it. */
export const TASK_POLL_MS = 500;
/** Task records an agent keeps in its data dir (the oldest finished ones go first). */
export const TASK_RECORDS_KEPT = 200;
/** Automatic rollback (cluster.yaml `rollback`): how long after a switch the new live colour is watched, ... */
export const DEFAULT_ROLLBACK_WINDOW_SECONDS = 60;
/** ... the largest share of 5xx answers it may give in that window, ... */
export const DEFAULT_ROLLBACK_MAX_ERROR_RATIO = 0.05;
/** ... and how many answers it must have given before the ratio counts (a few early 500s are no verdict). */
export const DEFAULT_ROLLBACK_MIN_REQUESTS = 20;
/** While an analysis window runs, the routers' counts are read this often. */
export const ANALYSIS_POLL_MS = 250;
/** Outside a window, the routers' counts are read this often (requests per second and error rate in status). */
export const TRAFFIC_POLL_MS = 2_000;
/** Requests per second and error rate in status are taken over this span of readings. */
export const TRAFFIC_RATE_SPAN_MS = 10_000;
