/**
 * The agent's task routes (contract), authenticated like every route but healthz:
 * POST /v1/tasks/run (a TaskRunRequest; 202 with the run's record when it started, 200 with it when the id
 * was known: idempotent) and GET /v1/tasks/:id (the record). Node agents only.
 */
import type { FastifyInstance } from "fastify";
import { validateAgainst } from "../specs/validate.js";
import type { TaskRunRequest } from "../specs/tasks.js";
import { agentError } from "./errors.js";
import { requireJsonObject, type AgentCore, type NodeCore } from "./server.js";

export function registerTaskRoutes(app: FastifyInstance, core: AgentCore): void {
  const node = (): Required<Pick<NodeCore, "runTask" | "task">> => {
    if (core.role !== "node" || !core.runTask || !core.task) throw agentError("AGENT_ERR_WRONG_ROLE", "only a node agent runs tasks");
    return { runTask: core.runTask.bind(core), task: core.task.bind(core) };
  };

  app.post("/v1/tasks/run", async (req, reply) => {
    const n = node();
    const v = validateAgainst<TaskRunRequest>("task-run", requireJsonObject(req));
    if (!v.ok) throw agentError("AGENT_ERR_BAD_REQUEST", v.issues.map((i) => i.message).join("; ").slice(0, 2000));
    const known = (() => {
      try {
        return n.task(v.value.id);
      } catch {
        return undefined;
      }
    })();
    const rec = known ?? (await n.runTask(v.value));
    void reply.code(known ? 200 : 202);
    return rec;
  });

  app.get<{ Params: { id: string } }>("/v1/tasks/:id", async (req) => {
    const n = node();
    if (!/^[a-f0-9]{32}$/.test(req.params.id)) throw agentError("AGENT_ERR_BAD_REQUEST", "a task run id is 32 hex digits");
    return n.task(req.params.id);
  });
}
