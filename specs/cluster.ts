import type { FromSchema } from "json-schema-to-ts";
import * as d from "./defaults.js";
import { webhookEvents } from "./lifecycle.js";
import {
  capabilitiesSchema, colorSchema, envSchema, filePathSchema, hostnameSchema, httpUrlSchema, listenSchema, memoryMiBSchema, metadataSchema, secretNamesSchema,
  nameSchema, pidsSchema, portSchema, repositorySchema,
} from "./common.js";
import { clusterTasksSchema } from "./tasks.js";

/** How the reconciler and router probe a service. */
export const healthSchema = {
  type: "object",
  additionalProperties: false,
  default: {},
  properties: {
    /** Sent as it is in the probe's request line: visible ASCII only (percent-encode anything else). */
    path: { type: "string", pattern: "^/[\\x21-\\x7e]*$", maxLength: 2048, default: d.DEFAULT_HEALTH_PATH, "x-hint": "a URL path starting with / in visible ASCII (percent-encode other characters)" },
    periodSeconds: { type: "number", minimum: 0.1, maximum: 3600, default: d.DEFAULT_HEALTH_PERIOD_SECONDS },
    timeoutSeconds: { type: "number", minimum: 0.1, maximum: 3600, default: d.DEFAULT_HEALTH_TIMEOUT_SECONDS },
    healthyThreshold: { type: "integer", minimum: 1, maximum: 100, default: d.DEFAULT_HEALTHY_THRESHOLD },
    unhealthyThreshold: { type: "integer", minimum: 1, maximum: 100, default: d.DEFAULT_UNHEALTHY_THRESHOLD },
  },
} as const;

/** One service of the app: a web service (with `port`) or a background job (`job: true`). */
export const serviceSchema = {
  type: "object",
  additionalProperties: false,
  properties: {
    /** Port the container listens on. Required for exposed services. */
    port: portSchema,
    /** Routed by the router under this path prefix. Omit for internal services. */
    expose: {
      type: "object",
      additionalProperties: false,
      properties: { pathPrefix: { type: "string", pattern: "^/[^\\s]*$", default: d.DEFAULT_PATH_PREFIX, "x-hint": "a URL path starting with /" } },
    },
    health: healthSchema,
    env: envSchema,
    /**
     * Secrets by name: on each node the agent adds the variables of `<agent.yaml secretsDir>/<name>.env`
     * (dotenv) to this service's environment when it starts it. Values never enter git, the wire or status.
     */
    secrets: secretNamesSchema,
    /**
     * This service's own image repository (default: spec.image.repository). The colour's tag applies to every
     * service, so the tag must exist in each repository the app uses; every node's allowedRepositories covers them.
     */
    image: repositorySchema,
    /** Overrides the image's command. */
    command: { type: "array", items: { type: "string", maxLength: 4096 }, minItems: 1, maxItems: 100 },
    /** A background job: runs only on the colour that holds the jobs lease. */
    job: { type: "boolean", default: false },
    stopTimeoutSeconds: { type: "integer", minimum: 0, maximum: 3600, default: d.DEFAULT_STOP_TIMEOUT_SECONDS },
    /** Per container; each node's agent.yaml bounds them (containers.maxMemoryMiB, containers.maxPids). */
    limits: {
      type: "object",
      additionalProperties: false,
      default: {},
      properties: {
        memoryMiB: { ...memoryMiBSchema, default: d.DEFAULT_MEMORY_MIB },
        pids: { ...pidsSchema, default: d.DEFAULT_PIDS_LIMIT },
      },
    },
    /**
     * Capabilities added back to the default set (NET_BIND_SERVICE); e.g. [CHOWN, SETUID, SETGID] for an image
     * whose entrypoint starts as root and drops to a user. Each node's containers.allowedCapabilities bounds them.
     */
    capabilities: { ...capabilitiesSchema, default: [] },
  },
} as const;

export const clusterNodeSchema = {
  type: "object",
  additionalProperties: false,
  required: ["name", "agent", "tokenFile"],
  properties: {
    name: nameSchema,
    /** `node` runs the app's containers for one colour; `router` runs the data plane. */
    role: { type: "string", enum: ["node", "router"], default: "node" },
    /** Required for role `node`; a router has no colour. */
    color: colorSchema,
    /** The agent's base URL. */
    agent: httpUrlSchema,
    tokenFile: filePathSchema,
    /** CA bundle that signed the agent's TLS certificate, for https agents with a private CA. */
    caFile: filePathSchema,
    /** Address on which the router reaches this node's published ports. */
    address: { type: "string", minLength: 1, maxLength: 253, pattern: "^[A-Za-z0-9.:-]+$", "x-hint": "an IP address or host name" },
    /** Host port per service name. */
    ports: { type: "object", propertyNames: nameSchema, additionalProperties: portSchema },
  },
} as const;

/** Route classes: how a request picked its colour (live, preview or a colour's own host names). */
export const routeClassSchema = { type: "string", enum: ["live", "preview", "blue", "green"] } as const;

/**
 * HTTP to HTTPS, per route class. Acts only on routers whose agent.yaml has router.tls: plain HTTP requests
 * for a host of a listed class get 308 to https:// (ACME HTTP-01 challenges under /.well-known/acme-challenge/
 * are always answered over HTTP); with `hsts`, HTTPS answers carry Strict-Transport-Security.
 */
export const routerHttpsSchema = {
  type: "object",
  additionalProperties: false,
  properties: {
    redirect: { type: "array", items: routeClassSchema, uniqueItems: true, default: [...d.DEFAULT_HTTPS_REDIRECT] },
    hsts: {
      type: "object",
      additionalProperties: false,
      properties: {
        maxAgeSeconds: { type: "integer", minimum: 0, maximum: 63_072_000, default: d.DEFAULT_HSTS_MAX_AGE_SECONDS },
        includeSubDomains: { type: "boolean", default: false },
      },
    },
  },
} as const;

/**
 * Certificates from ACME (Let's Encrypt or any RFC 8555 CA), ordered and renewed by the reconciler with
 * HTTP-01 challenges answered by every router, and handed to each router (over TLS or loopback only).
 */
export const acmeSchema = {
  type: "object",
  additionalProperties: false,
  required: ["directoryUrl", "email"],
  properties: {
    /** The CA's ACME directory, e.g. https://acme-v02.api.letsencrypt.org/directory. */
    directoryUrl: { type: "string", pattern: "^https://[^\\s]+$", maxLength: 2048, "x-hint": "an https:// URL" },
    /** The account's contact e-mail (expiry notices from the CA). */
    email: { type: "string", pattern: "^[^\\s@]+@[^\\s@]+$", maxLength: 254, "x-hint": "an e-mail address" },
    /** Host names on the certificate; default: every live, preview and colour host name (wildcards left out: HTTP-01 cannot prove them). */
    hosts: { type: "array", items: hostnameSchema, minItems: 1, maxItems: 100 },
    /** PEM CA bundle to trust for the directory (a private or test CA such as pebble). */
    caFile: filePathSchema,
  },
} as const;

export const routerConfigSchema = {
  type: "object",
  additionalProperties: false,
  default: {},
  properties: {
    listen: { ...listenSchema, default: d.DEFAULT_ROUTER_LISTEN },
    hosts: {
      type: "object",
      additionalProperties: false,
      default: {},
      properties: {
        live: { type: "array", items: hostnameSchema, default: [] },
        preview: { type: "array", items: hostnameSchema, default: [] },
        blue: { type: "array", items: hostnameSchema, default: [] },
        green: { type: "array", items: hostnameSchema, default: [] },
      },
    },
    /** Route class for a request whose Host matches none of the lists. */
    defaultRoute: { type: "string", enum: ["live", "preview", "blue", "green", "none"], default: d.DEFAULT_ROUTE },
    drainTimeoutSeconds: { type: "integer", minimum: 0, maximum: 3600, default: d.DEFAULT_DRAIN_TIMEOUT_SECONDS },
    https: routerHttpsSchema,
  },
} as const;

export const webhookSchema = {
  type: "object",
  additionalProperties: false,
  required: ["url"],
  properties: {
    url: httpUrlSchema,
    format: { type: "string", enum: ["json", "slack"], default: "json" },
    /** HMAC-SHA256 key for signing JSON bodies. */
    secretFile: filePathSchema,
    /** What this webhook hears: `alerts` (alert transitions) and lifecycle events; default alerts only. */
    events: { type: "array", items: { type: "string", enum: webhookEvents }, uniqueItems: true, minItems: 1, default: ["alerts"] },
  },
} as const;

/**
 * Automatic rollback: after a switch, the new live colour is watched for `window` seconds; when its 5xx
 * answers exceed `maxErrorRatio` of all its answers (at least `minRequests` of them) the reconciler
 * switches back by committing state.yaml itself. Absent: no automatic rollback.
 */
export const rollbackSchema = {
  type: "object",
  additionalProperties: false,
  properties: {
    /** Seconds after the switch during which the new live colour is watched. */
    window: { type: "integer", minimum: 1, maximum: 3600, default: d.DEFAULT_ROLLBACK_WINDOW_SECONDS },
    /** Largest share of 5xx answers (0 to 1) tolerated in the window. */
    maxErrorRatio: { type: "number", minimum: 0, exclusiveMaximum: 1, default: d.DEFAULT_ROLLBACK_MAX_ERROR_RATIO },
    /** Answers needed before the ratio is judged. */
    minRequests: { type: "integer", minimum: 1, maximum: 1_000_000, default: d.DEFAULT_ROLLBACK_MIN_REQUESTS },
  },
} as const;

export const clusterSchema = {
  $id: "https://switchyard.dev/schemas/cluster.schema.json",
  title: "Switchyard cluster",
  description: "Topology and app shape: services, nodes per colour, router, jobs, drift and alerts.",
  type: "object",
  additionalProperties: false,
  required: ["apiVersion", "kind", "metadata", "spec"],
  properties: {
    apiVersion: { const: d.API_VERSION },
    kind: { const: "Cluster" },
    metadata: { ...metadataSchema, required: ["name"] },
    spec: {
      type: "object",
      additionalProperties: false,
      required: ["image", "services", "nodes"],
      properties: {
        image: {
          type: "object",
          additionalProperties: false,
          required: ["repository"],
          properties: {
            repository: repositorySchema,
            registry: {
              type: "object",
              additionalProperties: false,
              required: ["url"],
              properties: {
                url: httpUrlSchema,
                username: { type: "string", minLength: 1, maxLength: 256 },
                passwordFile: filePathSchema,
                /** How often to check that the tags the colours run still point at what they were deployed with. */
                recheckSeconds: { type: "integer", minimum: 1, maximum: 86400, default: d.DEFAULT_TAG_RECHECK_SECONDS },
              },
            },
          },
        },
        services: {
          type: "object",
          propertyNames: nameSchema,
          additionalProperties: serviceSchema,
          minProperties: 1,
          maxProperties: 50,
        },
        nodes: { type: "array", items: clusterNodeSchema, minItems: 1, maxItems: 1000 },
        router: routerConfigSchema,
        /** Run once per (colour, tag) on one node of the colour once it is healthy; it goes live only after all succeeded. */
        tasks: clusterTasksSchema,
        acme: acmeSchema,
        jobs: {
          type: "object",
          additionalProperties: false,
          default: {},
          properties: { leaseTtlSeconds: { type: "integer", minimum: 2, maximum: 600, default: d.DEFAULT_LEASE_TTL_SECONDS } },
        },
        deploy: {
          type: "object",
          additionalProperties: false,
          default: {},
          properties: { timeoutSeconds: { type: "integer", minimum: 5, maximum: 3600, default: d.DEFAULT_DEPLOY_TIMEOUT_SECONDS } },
        },
        drift: {
          type: "object",
          additionalProperties: false,
          default: {},
          properties: { policy: { type: "string", enum: ["heal", "alert"], default: d.DEFAULT_DRIFT_POLICY } },
        },
        alerts: {
          type: "object",
          additionalProperties: false,
          default: {},
          properties: {
            webhooks: { type: "array", items: webhookSchema, default: [], maxItems: 20 },
            /** Seconds a problem must persist before its alert fires and it counts in Degraded/Drifted. */
            graceSeconds: { type: "integer", minimum: 0, maximum: 300, default: d.DEFAULT_ALERT_GRACE_SECONDS },
          },
        },
        rollback: rollbackSchema,
        /** state.yaml's git history. Switchyard's own commits run no hooks and are not signed unless signCommits. */
        history: {
          type: "object",
          additionalProperties: false,
          default: {},
          properties: {
            /** Sign Switchyard's commits with the repository's configured key (git -S); the key must sign without a prompt. */
            signCommits: { type: "boolean", default: false },
          },
        },
      },
    },
  },
} as const;

export type Cluster = FromSchema<typeof clusterSchema>;
export type ClusterService = FromSchema<typeof serviceSchema>;
export type ClusterNode = FromSchema<typeof clusterNodeSchema>;
