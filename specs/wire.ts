/**
 * Wire messages between the reconciler and the agents (contract). Every body is validated against these
 * schemas on arrival; the TypeScript types are derived from them.
 */
import type { FromSchema } from "json-schema-to-ts";
import * as d from "./defaults.js";
import {
  capabilitiesSchema, colorSchema, digestSchema, envSchema, memoryMiBSchema, pidsSchema, hostnameSchema, listenSchema, nameSchema, portSchema, repositorySchema, secretNamesSchema, secretNameSchema, tagSchema,
} from "./common.js";
import { healthSchema, routerHttpsSchema } from "./cluster.js";

const generationSchema = { type: "integer", minimum: 1, maximum: Number.MAX_SAFE_INTEGER } as const;

/**
 * One service as a node runs it. Deliberately narrow: there is no way to ask for privileged mode, host
 * mounts, host network, capabilities or devices.
 */
export const nodeServiceSpecSchema = {
  type: "object",
  additionalProperties: false,
  required: ["job", "health", "stopTimeoutSeconds"],
  properties: {
    /** Container port. */
    port: portSchema,
    /** Host port published on the agent's publishAddress. */
    hostPort: portSchema,
    /** Probe the service over HTTP on its published port. Only services with a port are probed. */
    health: healthSchema,
    env: envSchema,
    /** Secrets by name: the agent adds the variables of `<secretsDir>/<name>.env` when it starts the service. */
    secrets: secretNamesSchema,
    command: { type: "array", items: { type: "string", maxLength: 4096 }, minItems: 1, maxItems: 100 },
    /** This service's own image repository (the spec's `repository` otherwise); run with the spec's tag. */
    image: repositorySchema,
    /** With `image`: the content the tag had in that repository when the colour was deployed (as the spec's `digest`). */
    digest: digestSchema,
    job: { type: "boolean" },
    stopTimeoutSeconds: { type: "integer", minimum: 0, maximum: 3600, default: d.DEFAULT_STOP_TIMEOUT_SECONDS },
    /** Memory (MiB, no swap beyond it) and pids limits; absent ones take the defaults. Bounded by agent.yaml. */
    limits: {
      type: "object",
      additionalProperties: false,
      properties: {
        memoryMiB: memoryMiBSchema,
        pids: pidsSchema,
      },
    },
    /** Capabilities added back to the default set; each must be in the agent's containers.allowedCapabilities. */
    capabilities: capabilitiesSchema,
  },
} as const;

/** PUT /v1/spec on a node agent: what this node should run. Idempotent; `generation` only grows. */
export const nodeSpecSchema = {
  $id: "https://switchyard.dev/schemas/node-spec.schema.json",
  type: "object",
  additionalProperties: false,
  required: ["kind", "generation", "app", "node", "color", "repository", "stopped", "services"],
  properties: {
    kind: { const: "NodeSpec" },
    generation: generationSchema,
    app: nameSchema,
    node: nameSchema,
    color: colorSchema,
    repository: repositorySchema,
    /** Absent only when the colour has never been given a tag (nothing to run). */
    tag: tagSchema,
    /**
     * The content the tag had when the colour was deployed (its manifest digest). The node runs exactly
     * this: it pulls repository@digest when its local tag holds other content, so a tag pushed again
     * reaches a colour only through an explicit redeploy. Absent until the reconciler knows it.
     */
    digest: digestSchema,
    /** A stopped node runs nothing (maintenance). */
    stopped: { type: "boolean" },
    /**
     * The key of the secrets' fingerprints (HMAC-SHA256), the same for every node of the app; sent by the
     * reconciler, never echoed: the agent's status shows `secretsKeyId` in its place.
     */
    secretsKey: { type: "string", pattern: "^[0-9a-f]{64}$" },
    /** In the spec an agent echoes in its status only: the first 12 hex of SHA-256 of `secretsKey`. */
    secretsKeyId: { type: "string", pattern: "^[0-9a-f]{12}$" },
    /**
     * A restart request (`switchyard restart <colour>`): a workload started under a lower value (or none) is
     * re-created, so it reads its secret files again. Grows with every request; absent: no request known.
     */
    restartToken: { type: "integer", minimum: 1, maximum: Number.MAX_SAFE_INTEGER },
    services: {
      type: "object",
      propertyNames: nameSchema,
      additionalProperties: nodeServiceSpecSchema,
      maxProperties: 50,
    },
  },
} as const;

export const upstreamServiceSchema = {
  type: "object",
  additionalProperties: false,
  required: ["service", "pathPrefix", "nodes"],
  properties: {
    service: nameSchema,
    pathPrefix: { type: "string", pattern: "^/[^\\s]*$" },
    health: healthSchema,
    nodes: {
      type: "array",
      maxItems: 1000,
      items: {
        type: "object",
        additionalProperties: false,
        required: ["node", "address", "port"],
        properties: { node: nameSchema, address: { type: "string", minLength: 1, maxLength: 253 }, port: portSchema },
      },
    },
  },
} as const;

/** PUT /v1/spec on a router agent: the routing table. Swapped atomically on arrival. */
export const routerSpecSchema = {
  $id: "https://switchyard.dev/schemas/router-spec.schema.json",
  type: "object",
  additionalProperties: false,
  required: ["kind", "generation", "app", "listen", "live", "preview", "hosts", "defaultRoute", "drainTimeoutSeconds", "upstreams"],
  properties: {
    kind: { const: "RouterSpec" },
    generation: generationSchema,
    app: nameSchema,
    listen: listenSchema,
    /** Colour that gets live traffic; null serves 503 until told. */
    live: { anyOf: [colorSchema, { type: "null" }] },
    /** Colour reachable on the preview host names. */
    preview: { anyOf: [colorSchema, { type: "null" }] },
    hosts: {
      type: "object",
      additionalProperties: false,
      required: ["live", "preview", "blue", "green"],
      properties: {
        live: { type: "array", items: hostnameSchema },
        preview: { type: "array", items: hostnameSchema },
        blue: { type: "array", items: hostnameSchema },
        green: { type: "array", items: hostnameSchema },
      },
    },
    defaultRoute: { type: "string", enum: ["live", "preview", "blue", "green", "none"] },
    drainTimeoutSeconds: { type: "integer", minimum: 0, maximum: 3600 },
    /** HTTP to HTTPS redirect and HSTS (cluster.yaml router.https); absent: neither. */
    https: routerHttpsSchema,
    upstreams: {
      type: "object",
      additionalProperties: false,
      required: ["blue", "green"],
      properties: {
        blue: { type: "array", items: upstreamServiceSchema, maxItems: 50 },
        green: { type: "array", items: upstreamServiceSchema, maxItems: 50 },
      },
    },
  },
} as const;

/**
 * PUT /v1/acme/challenges on a router agent: the HTTP-01 answers it serves under
 * /.well-known/acme-challenge/<token> (over HTTP and HTTPS, for any host). Replaces the set; [] clears it.
 */
export const acmeChallengesSchema = {
  $id: "https://switchyard.dev/schemas/acme-challenges.schema.json",
  type: "object",
  additionalProperties: false,
  required: ["kind", "challenges"],
  properties: {
    kind: { const: "AcmeChallenges" },
    challenges: {
      type: "array",
      maxItems: 200,
      items: {
        type: "object",
        additionalProperties: false,
        required: ["token", "keyAuthorization"],
        properties: {
          token: { type: "string", pattern: "^[A-Za-z0-9_-]{1,256}$" },
          keyAuthorization: { type: "string", pattern: "^[A-Za-z0-9_.-]{1,512}$" },
        },
      },
    },
  },
} as const;

/**
 * PUT /v1/acme/certificate on a router agent: a certificate the reconciler obtained, with its private key.
 * Refused (AGENT_ERR_INSECURE_CHANNEL) unless the call came over TLS or over loopback. The router stores it
 * with mode 0600 in its data dir, serves it by SNI at once and after restarts.
 */
export const acmeCertificateSchema = {
  $id: "https://switchyard.dev/schemas/acme-certificate.schema.json",
  type: "object",
  additionalProperties: false,
  required: ["kind", "name", "certificate", "key"],
  properties: {
    kind: { const: "AcmeCertificate" },
    /** The certificate's name (one file pair per name; a new one replaces the old). */
    name: nameSchema,
    /** PEM: the certificate, then its chain. */
    certificate: { type: "string", minLength: 1, maxLength: 65_536 },
    /** PEM private key. */
    key: { type: "string", minLength: 1, maxLength: 16_384 },
  },
} as const;

/** PUT /v1/lease: grant or renew the job lease. */
export const leaseRequestSchema = {
  $id: "https://switchyard.dev/schemas/lease.schema.json",
  type: "object",
  additionalProperties: false,
  required: ["epoch", "ttlMs"],
  properties: {
    epoch: generationSchema,
    ttlMs: { type: "integer", minimum: 1000, maximum: 600_000 },
  },
} as const;

/** A health view (a node's probe of its container, a router's of an upstream node); "unknown" before any verdict. */
export const healthStates = ["healthy", "unhealthy", "unknown"] as const;

/** crashLooping: it died again and again and the agent waits out its restart backoff (see `restarts`). */
export const serviceStates = ["pulling", "starting", "running", "unhealthy", "stopping", "exited", "missing", "crashLooping"] as const;

export const serviceStatusSchema = {
  type: "object",
  additionalProperties: false,
  required: ["tag", "state", "health"],
  properties: {
    /** Tag of the running container (null when none runs). */
    tag: { anyOf: [tagSchema, { type: "null" }] },
    /** Manifest digest of the image the container runs, when the engine knows it (not for processes). */
    digest: digestSchema,
    containerId: { anyOf: [{ type: "string" }, { type: "null" }] },
    state: { type: "string", enum: serviceStates },
    health: { type: "string", enum: healthStates },
    /** ISO time of the last state change. */
    since: { type: "string" },
    /** What went wrong, in words a person can act on. */
    error: { anyOf: [{ type: "string" }, { type: "null" }] },
    /**
     * Crash-loop backoff (web services and jobs): the service stopped by itself or could not be started, and
     * the agent starts it again after a backoff while it keeps dying (a job at once the first time; a web
     * service once it died again after the reconciler had it started). Absent when it never died, once it has
     * run RESTART_BACKOFF_RESET_MS in one go, and when what should run changes (a new spec, lease or epoch).
     */
    restarts: {
      type: "object",
      additionalProperties: false,
      required: ["count", "lastExit", "lastExitAt", "nextRestartAt"],
      properties: {
        /** Deaths since it last ran RESTART_BACKOFF_RESET_MS in one go. */
        count: { type: "integer", minimum: 1 },
        /** How it last stopped, e.g. "exited (137)", "missing", "cannot start: host port … is already in use". */
        lastExit: { type: "string", maxLength: 1000 },
        /** The exit code of its last death (null when it did not exit with one: missing, never started). */
        exitCode: { anyOf: [{ type: "integer" }, { type: "null" }] },
        /** ISO time the agent saw it stopped. */
        lastExitAt: { type: "string" },
        /** ISO time of the next start while it waits out its backoff; null while it runs, is being started, or waits for a spec. */
        nextRestartAt: { anyOf: [{ type: "string" }, { type: "null" }] },
        /**
         * The last lines it wrote before its last death (at most RESTART_LOG_LINES, each at most
         * RESTART_LOG_LINE_CHARS, secret-looking env values replaced by "[redacted]").
         */
        logTail: { type: "array", items: { type: "string", maxLength: d.RESTART_LOG_LINE_CHARS }, maxItems: d.RESTART_LOG_LINES },
      },
    },
    /**
     * How the service's container differs from what the spec asks for, judged by what it is (image, ports,
     * capabilities, security options, mounts, limits), never by its labels. Absent when it matches.
     */
    drift: { type: "array", items: { type: "string", maxLength: 1000 }, maxItems: 20 },
    /** The secrets the running workload was started with, and a keyed fingerprint of each (never a value). */
    secrets: {
      type: "array",
      maxItems: 50,
      items: {
        type: "object",
        additionalProperties: false,
        required: ["name"],
        properties: {
          name: secretNameSchema,
          /**
           * The first 12 hex of HMAC-SHA256(secretsKey, the file's variables): equal on two nodes when the values
           * are. Absent when the spec carried no secretsKey.
           */
          fingerprint: { type: "string", pattern: "^[0-9a-f]{12}$" },
        },
      },
    },
    pull: {
      type: "object",
      additionalProperties: false,
      required: ["currentBytes", "totalBytes"],
      properties: { currentBytes: { type: "integer", minimum: 0 }, totalBytes: { type: "integer", minimum: 0 } },
    },
  },
} as const;

export const leaseStatusSchema = {
  type: "object",
  additionalProperties: false,
  required: ["state", "epoch", "remainingMs"],
  properties: {
    state: { type: "string", enum: ["none", "held", "expired", "revoked"] },
    /** Highest epoch this agent has seen since it started (0 if none). */
    epoch: { type: "integer", minimum: 0 },
    remainingMs: { type: "integer", minimum: 0 },
    /** Epochs up to and including this one were revoked here and are refused from now on (0 if none). */
    revokedThrough: { type: "integer", minimum: 0 },
  },
} as const;

/** One certificate a router serves over HTTPS (never its key). */
export const certificateInfoSchema = {
  type: "object",
  additionalProperties: false,
  required: ["source", "hosts", "issuer", "notBefore", "notAfter", "error"],
  properties: {
    /** `file`: listed in agent.yaml router.tls.certificates; `acme`: handed over by the reconciler. */
    source: { type: "string", enum: ["file", "acme"] },
    /** The certificate file (file certificates only). */
    certFile: { type: "string" },
    /** Host names from the certificate's subjectAltName (wildcards as `*.example.com`). */
    hosts: { type: "array", items: { type: "string" }, maxItems: 1000 },
    /** The issuer's common name (or its whole distinguished name). */
    issuer: { type: "string" },
    /** ISO 8601 times. */
    notBefore: { type: "string" },
    notAfter: { type: "string" },
    /** Why the files could not be (re)loaded; the certificate loaded before, if any, is still served. */
    error: { anyOf: [{ type: "string" }, { type: "null" }] },
  },
} as const;

/** The router's HTTPS side: where it listens and what it serves. */
export const routerTlsStatusSchema = {
  type: "object",
  additionalProperties: false,
  required: ["listen", "certificates"],
  properties: {
    listen: { type: "string" },
    certificates: { type: "array", items: certificateInfoSchema, maxItems: 1000 },
  },
} as const;

/** Responses by status class (1xx … 5xx). */
const statusClassCountsSchema = {
  type: "object", additionalProperties: false, required: ["1xx", "2xx", "3xx", "4xx", "5xx"],
  properties: {
    "1xx": { type: "integer", minimum: 0 }, "2xx": { type: "integer", minimum: 0 }, "3xx": { type: "integer", minimum: 0 },
    "4xx": { type: "integer", minimum: 0 }, "5xx": { type: "integer", minimum: 0 },
  },
} as const;

export const routerStatusSchema = {
  type: "object",
  additionalProperties: false,
  required: ["spec", "inFlight", "websockets"],
  properties: {
    spec: { anyOf: [routerSpecSchema, { type: "null" }] },
    inFlight: {
      type: "object", additionalProperties: false, required: ["blue", "green"],
      properties: { blue: { type: "integer", minimum: 0 }, green: { type: "integer", minimum: 0 } },
    },
    websockets: {
      type: "object", additionalProperties: false, required: ["blue", "green"],
      properties: { blue: { type: "integer", minimum: 0 }, green: { type: "integer", minimum: 0 } },
    },
    /** Set when the stored table could not be restored (kept aside for inspection). */
    tableError: { anyOf: [{ type: "string" }, { type: "null" }] },
    /**
     * Responses this router answered per colour by status class since it started (counters: rates come from
     * two readings). The router's own answers for a colour (503 when no node of it serves the path) count too.
     */
    responses: {
      type: "object", additionalProperties: false, required: ["blue", "green"],
      properties: { blue: statusClassCountsSchema, green: statusClassCountsSchema },
    },
    /** Present when agent.yaml has router.tls. */
    tls: routerTlsStatusSchema,
    /** The router's own health view of every upstream node; a switch waits until it sees the target healthy. */
    upstreams: {
      type: "array",
      maxItems: 5000,
      items: {
        type: "object",
        additionalProperties: false,
        required: ["color", "service", "node", "health"],
        properties: {
          color: colorSchema,
          service: nameSchema,
          node: nameSchema,
          health: { type: "string", enum: healthStates },
        },
      },
    },
  },
} as const;

/** GET /v1/status and every /v1/watch event: what the node really runs. */
export const nodeStatusSchema = {
  $id: "https://switchyard.dev/schemas/node-status.schema.json",
  type: "object",
  additionalProperties: false,
  required: ["kind", "node", "role", "observedGeneration", "converging", "services", "lease"],
  properties: {
    kind: { const: "NodeStatus" },
    node: nameSchema,
    role: { type: "string", enum: ["node", "router"] },
    /** Identifies one run of the agent process; changes on restart. */
    bootId: { type: "string" },
    /** The agent's Switchyard version, e.g. 0.1.0+3f2c1ab (the commit it was built from). */
    version: { type: "string", maxLength: 100 },
    /**
     * Optional parts of the node spec this agent understands ("digest"), so a reconciler newer than its
     * agents sends them only what they accept (agents and reconciler upgrade in any order).
     */
    features: { type: "array", items: { type: "string", maxLength: 64 }, maxItems: 64 },
    /** Generation of the last spec the agent accepted (0 before any). */
    observedGeneration: { type: "integer", minimum: 0 },
    /** The last spec the agent accepted, as persisted in its data dir. */
    spec: { anyOf: [nodeSpecSchema, { type: "null" }] },
    /** True while the agent works towards its spec. */
    converging: { type: "boolean" },
    services: { type: "object", additionalProperties: serviceStatusSchema },
    lease: leaseStatusSchema,
    router: routerStatusSchema,
    error: { anyOf: [{ type: "string" }, { type: "null" }] },
  },
} as const;

export type NodeSpec = FromSchema<typeof nodeSpecSchema>;
export type NodeServiceSpec = FromSchema<typeof nodeServiceSpecSchema>;
export type RouterSpec = FromSchema<typeof routerSpecSchema>;
export type UpstreamService = FromSchema<typeof upstreamServiceSchema>;
export type LeaseRequest = FromSchema<typeof leaseRequestSchema>;
export type AcmeChallenges = FromSchema<typeof acmeChallengesSchema>;
export type AcmeCertificate = FromSchema<typeof acmeCertificateSchema>;
export type NodeStatus = FromSchema<typeof nodeStatusSchema>;
/** Spec fields a node agent understands beyond the first version's (NodeStatus.features). */
export const NODE_FEATURES = ["digest", "secrets", "images"] as const;
export type ServiceStatus = FromSchema<typeof serviceStatusSchema>;
export type ServiceState = (typeof serviceStates)[number];
export type Health = (typeof healthStates)[number];
export type LeaseStatus = FromSchema<typeof leaseStatusSchema>;
export type RouterStatus = FromSchema<typeof routerStatusSchema>;
export type CertificateInfo = FromSchema<typeof certificateInfoSchema>;
export type RouterTlsStatus = FromSchema<typeof routerTlsStatusSchema>;
export type RouterHttps = NonNullable<RouterSpec["https"]>;
