/**
 * Every error code the two services answer with (contract): `{ error: { code, message, details? } }`. Each
 * service keeps its code → HTTP status table next to its server (node-agent/errors.ts, reconciler/errors.ts);
 * this list is what a client may meet and what each code means. A test keeps the two in step.
 */
export const errorCodes = {
  // The node or router agent (its API is called by the reconciler).
  AGENT_ERR_UNAUTHORIZED: { service: "agent", meaning: "missing or wrong bearer token" },
  AGENT_ERR_RATE_LIMITED: { service: "agent", meaning: "too many failed authentications from this address; wait a minute" },
  AGENT_ERR_BAD_REQUEST: { service: "agent", meaning: "the body is not a JSON object, is empty or is malformed" },
  AGENT_ERR_INVALID_SPEC: { service: "agent", meaning: "the spec does not match its schema or has the wrong kind" },
  AGENT_ERR_IMAGE_NOT_ALLOWED: { service: "agent", meaning: "the image's repository is not in agent.yaml allowedRepositories" },
  AGENT_ERR_ENV_NOT_ALLOWED: { service: "agent", meaning: "the spec sets an environment variable the agent reserves" },
  AGENT_ERR_WRONG_NODE: { service: "agent", meaning: "the spec names another node than this agent" },
  AGENT_ERR_STALE_GENERATION: { service: "agent", meaning: "the spec's generation is older, or equal with other content" },
  AGENT_ERR_WRONG_ROLE: { service: "agent", meaning: "a node spec sent to a router or the reverse, or a lease sent to a router" },
  AGENT_ERR_PULL_STALLED: { service: "agent", statusOnly: true, meaning: "an image pull sent nothing for docker.pullIdleTimeoutSeconds and was given up (in a service's status error, never an HTTP answer)" },
  AGENT_ERR_TAG_MISSING: { service: "agent", statusOnly: true, meaning: "the spec's tag does not exist for this node: not in the registry, or no such release in the releases dir (in a service's status error; the reconciler fails the deploy as TagMissing)" },
  AGENT_ERR_LIMIT_NOT_ALLOWED: { service: "agent", meaning: "a service asks for more memory, processes or capabilities than agent.yaml containers allows" },
  AGENT_ERR_LISTEN_NOT_ALLOWED: { service: "agent", meaning: "the router spec listens on an address other than agent.yaml router.listen" },
  AGENT_ERR_UPSTREAM_NOT_ALLOWED: { service: "agent", meaning: "the router spec sends traffic outside agent.yaml router.allowedUpstreams" },
  AGENT_ERR_STALE_EPOCH: { service: "agent", meaning: "the lease epoch is older than one granted or revoked here" },
  AGENT_ERR_NOT_FOUND: { service: "agent", meaning: "no such route" },
  AGENT_ERR_PAYLOAD_TOO_LARGE: { service: "agent", meaning: "the body is larger than the agent accepts" },
  AGENT_ERR_UNSUPPORTED_MEDIA: { service: "agent", meaning: "the body is not sent as application/json" },
  AGENT_ERR_INTERNAL: { service: "agent", meaning: "an unexpected failure; the agent's log has the details" },
  AGENT_ERR_RUNTIME: { service: "agent", meaning: "the container or process runtime, or the router, could not do it now" },
  AGENT_ERR_TOO_MANY_STREAMS: { service: "agent", meaning: "the agent already serves as many watch streams as it allows" },
  AGENT_ERR_INSECURE_CHANNEL: { service: "agent", meaning: "a private key was sent over plain HTTP from another machine; keys travel only over TLS or loopback" },
  AGENT_ERR_SECRET_MISSING: { service: "agent", statusOnly: true, meaning: "a secret file a service needs is missing or unreadable, or agent.yaml has no secretsDir (in a service's status error)" },
  AGENT_ERR_SECRET_INSECURE: { service: "agent", statusOnly: true, meaning: "a secret file is readable by its group or others, or owned by another user (in a service's status error)" },
  AGENT_ERR_SECRET_INVALID: { service: "agent", statusOnly: true, meaning: "a secret file is not valid dotenv or sets a reserved name (in a service's status error)" },
  AGENT_ERR_NO_TLS: { service: "agent", meaning: "a certificate was sent to a router without agent.yaml router.tls" },
  AGENT_ERR_FORBIDDEN: { service: "agent", meaning: "the read-only metrics token was used for something other than GET /metrics" },
  AGENT_ERR_TOO_MANY_FOLLOWS: { service: "agent", meaning: "the agent already serves as many log follows as it allows (MAX_LOG_FOLLOWS); close one" },
  AGENT_ERR_NO_WORKLOAD: { service: "agent", meaning: "this node runs no workload of the service whose logs were asked for" },
  AGENT_ERR_TASK_REFUSED: { service: "agent", meaning: "a task run was asked for another colour or tag than the node's spec holds, or a service it does not have" },
  AGENT_ERR_NO_TASK: { service: "agent", meaning: "this node has no record of the task run asked for" },
  // The reconciler's HTTP API (called by the dashboard, the CLI and users' scripts).
  RECON_ERR_UNAUTHORIZED: { service: "reconciler", meaning: "not signed in, or the session, token or CSRF token is wrong" },
  RECON_ERR_FORBIDDEN: { service: "reconciler", meaning: "the user's role does not allow this" },
  RECON_ERR_NOT_FOUND: { service: "reconciler", meaning: "no such route, user, revision or release" },
  RECON_ERR_BAD_REQUEST: { service: "reconciler", meaning: "the request is malformed or a field is missing or wrong" },
  RECON_ERR_CONFLICT: { service: "reconciler", meaning: "the change conflicts with the current state (a newer revision, an existing user, the last admin)" },
  RECON_ERR_CONFIRM_REQUIRED: { service: "reconciler", meaning: "the switch goes to a tag Switchyard rolled back automatically; send confirm: true to go ahead" },
  RECON_ERR_INVALID_STATE: { service: "reconciler", meaning: "the resulting state.yaml would be invalid or the action is not possible now" },
  RECON_ERR_RATE_LIMITED: { service: "reconciler", meaning: "too many attempts from this address; wait" },
  RECON_ERR_PAYLOAD_TOO_LARGE: { service: "reconciler", meaning: "the body is larger than the API accepts" },
  RECON_ERR_UNSUPPORTED_MEDIA: { service: "reconciler", meaning: "the body is not sent as application/json" },
  RECON_ERR_UNAVAILABLE: { service: "reconciler", meaning: "the reconciler cannot do it now (state not loaded, git or storage failing, too busy)" },
  RECON_ERR_TOO_MANY_STREAMS: { service: "reconciler", meaning: "the API already serves as many event streams as it allows" },
  RECON_ERR_REGISTRY: { service: "reconciler", meaning: "the image registry failed or refused the request" },
  RECON_ERR_INTERNAL: { service: "reconciler", meaning: "an unexpected failure; the reconciler's log has the details" },
} as const satisfies Record<string, { service: "agent" | "reconciler"; meaning: string; statusOnly?: true }>;

export type ErrorCode = keyof typeof errorCodes;

/** The prefix of a service's status error when its tag does not exist on that node (AGENT_ERR_TAG_MISSING). */
export const TAG_MISSING_CODE = "AGENT_ERR_TAG_MISSING";
