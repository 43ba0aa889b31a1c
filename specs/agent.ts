import type { FromSchema } from "json-schema-to-ts";
import * as d from "./defaults.js";
import { capabilitiesSchema, filePathSchema, memoryMiBSchema, pidsSchema, listenSchema, nameSchema, repositorySchema } from "./common.js";

/**
 * agent.yaml: local to each VM, never sent over the wire. It bounds what the agent does whatever it is
 * asked, like an SSH forced command: a stolen reconciler token can only deploy allowed images of this app.
 */
export const agentConfigSchema = {
  $id: "https://switchyard.dev/schemas/agent.schema.json",
  title: "Switchyard node agent",
  type: "object",
  additionalProperties: false,
  required: ["apiVersion", "kind", "name", "tokenFile", "dataDir"],
  properties: {
    apiVersion: { const: d.API_VERSION },
    kind: { const: "Agent" },
    name: nameSchema,
    listen: { ...listenSchema, default: d.DEFAULT_AGENT_LISTEN },
    /** File holding the bearer token the reconciler must present. */
    tokenFile: filePathSchema,
    /**
     * File holding the read-only token a metrics scraper presents: it reads GET /metrics and nothing else.
     * Same rules as tokenFile (one token, or two during a rotation; at least 16 characters; re-read on change).
     * Without it, only the agent token reads /metrics.
     */
    metricsTokenFile: filePathSchema,
    role: { type: "string", enum: ["node", "router"], default: "node" },
    runtime: { type: "string", enum: ["docker", "process"], default: "docker" },
    docker: {
      type: "object",
      additionalProperties: false,
      default: {},
      properties: {
        socketPath: { type: "string", minLength: 1, default: d.DEFAULT_DOCKER_SOCKET },
        /** A pull that makes no progress for this long is aborted (AGENT_ERR_PULL_STALLED); running containers stay. */
        pullIdleTimeoutSeconds: { type: "integer", minimum: 1, maximum: 3600, default: d.DEFAULT_PULL_IDLE_TIMEOUT_SECONDS },
      },
    },
    process: {
      type: "object",
      additionalProperties: false,
      properties: {
        /** One folder per release: `<releasesDir>/<tag>/`. */
        releasesDir: filePathSchema,
        /**
         * The existing unprivileged user (not uid 0, not gid 0) releases run as; the agent runs as root
         * and switches to it for each release. Without it, releases run as the agent's own user.
         */
        user: { type: "string", pattern: "^[a-z_][a-z0-9_-]{0,31}$", "x-hint": "a user name like shop-app" },
      },
    },
    /** Image repositories this agent may run. Anything else is refused. */
    allowedRepositories: { type: "array", items: repositorySchema, default: [], maxItems: 50 },
    /**
     * Credentials this agent uses to pull, one entry per registry host. A pull from a host listed here carries
     * that host's credentials; a pull from any other host carries none. The password never leaves this machine.
     */
    registries: {
      type: "array",
      maxItems: 20,
      default: [],
      items: {
        type: "object",
        additionalProperties: false,
        required: ["host", "username", "passwordFile"],
        properties: {
          /** The registry host exactly as it begins the image repository, with its port if any (registry.example.com, 10.0.0.5:5000). */
          host: { type: "string", pattern: "^[A-Za-z0-9.-]+(:[0-9]{1,5})?$", maxLength: 255, "x-hint": "a registry host such as registry.example.com or 10.0.0.5:5000" },
          username: { type: "string", minLength: 1, maxLength: 256 },
          passwordFile: filePathSchema,
        },
      },
    },
    /** Bounds on what a spec may ask of a container; a spec beyond them is refused (403) and nothing changes. */
    containers: {
      type: "object",
      additionalProperties: false,
      default: {},
      properties: {
        maxMemoryMiB: { ...memoryMiBSchema, default: d.DEFAULT_MAX_MEMORY_MIB },
        maxPids: { ...pidsSchema, default: d.DEFAULT_MAX_PIDS_LIMIT },
        /** Capabilities a service may add back (beyond NET_BIND_SERVICE, which every container keeps). */
        allowedCapabilities: { ...capabilitiesSchema, default: [...d.DEFAULT_ALLOWED_CAPABILITIES] },
      },
    },
    /** Address container ports are published on. */
    publishAddress: { type: "string", pattern: "^[0-9a-fA-F.:]+$", default: d.DEFAULT_PUBLISH_ADDRESS, "x-hint": "an IP address" },
    dataDir: filePathSchema,
    /**
     * Folder of this node's secrets: `<name>.env` files (dotenv, mode 0600, owned by the agent's user) that
     * services listing `secrets: [name]` in cluster.yaml get as environment variables. Relative to this file.
     */
    secretsDir: filePathSchema,
    /** Router role only: where the data plane listens. A router spec asking for another address is refused. */
    router: {
      type: "object",
      additionalProperties: false,
      default: {},
      properties: {
        listen: { ...listenSchema, default: d.DEFAULT_ROUTER_LISTEN },
        /**
         * CIDRs every upstream address of a router spec must lie in; a spec pointing elsewhere is refused
         * (403) and nothing changes. Host names are resolved when a table is applied.
         */
        allowedUpstreams: {
          type: "array",
          minItems: 1,
          maxItems: 100,
          items: { type: "string", pattern: "^[0-9a-fA-F.:]+/[0-9]{1,3}$", "x-hint": "a CIDR such as 10.0.0.0/8" },
          default: [...d.DEFAULT_ALLOWED_UPSTREAMS],
        },
        /**
         * HTTPS on the data plane: a second listen address next to `listen`. Without it the router speaks
         * plain HTTP only and never redirects to HTTPS.
         */
        tls: {
          type: "object",
          additionalProperties: false,
          properties: {
            listen: { ...listenSchema, default: d.DEFAULT_ROUTER_TLS_LISTEN },
            /**
             * Certificates from files on this machine (bought, or from your own ACME tooling). The host names
             * each one serves are read from the certificate (subjectAltName); SNI picks by host. The files are
             * re-read when they change; a pair that does not load keeps the previous one served.
             */
            certificates: {
              type: "array",
              maxItems: 100,
              default: [],
              items: {
                type: "object",
                additionalProperties: false,
                required: ["certFile", "keyFile"],
                properties: {
                  /** PEM: the certificate, then its chain. */
                  certFile: filePathSchema,
                  /** PEM private key; should be mode 0600. */
                  keyFile: filePathSchema,
                },
              },
            },
            /**
             * The port written into the Location of an HTTP to HTTPS redirect (left out when 443). Default:
             * the port of `listen`; set it when a NAT or a floating IP maps 443 to another port here.
             */
            redirectPort: { type: "integer", minimum: 1, maximum: 65535 },
          },
        },
      },
    },
    tls: {
      type: "object",
      additionalProperties: false,
      required: ["certFile", "keyFile"],
      properties: { certFile: filePathSchema, keyFile: filePathSchema },
    },
  },
} as const;

export type AgentConfig = FromSchema<typeof agentConfigSchema>;
