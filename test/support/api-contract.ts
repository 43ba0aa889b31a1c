/**
 * Checks every answer of a reconciler API against its route's response schema (specs/api/routes.ts)
 * before it is serialised: fast-json-stringify would silently drop an unknown field or coerce a wrong
 * type, so the check sees the handler's object (preSerialization) or, for answers sent as JSON text
 * (the status document), the parsed text (onSend). Strict ajv: a closed schema refuses extra fields.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { Ajv, type ValidateFunction } from "ajv";

export interface ContractViolation {
  route: string;
  status: number;
  problems: string[];
}

export interface ContractCheck {
  /** Pass as `apiSetup` to startReconciler (or call on a fastify app before its routes). */
  setup: (app: FastifyInstance) => void;
  violations: ContractViolation[];
  /** `METHOD /route` → statuses answered, for "every route was driven". */
  seen: Map<string, Set<number>>;
  /** Every answer's text (`METHOD /url status` and the body as sent), to look for what must never be in one. */
  answers: { route: string; text: string }[];
}

const checked = new WeakSet<FastifyRequest>();

export function contractCheck(): ContractCheck {
  const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
  ajv.addKeyword({ keyword: "x-hint", schemaType: "string" });
  const compiled = new WeakMap<object, ValidateFunction>();
  const violations: ContractViolation[] = [];
  const seen = new Map<string, Set<number>>();
  const answers: ContractCheck["answers"] = [];

  const check = (req: FastifyRequest, reply: FastifyReply, body: unknown) => {
    checked.add(req);
    const url = req.routeOptions.url;
    const responses = req.routeOptions.schema?.response as Record<string, object> | undefined;
    if (url === undefined || !responses) return; // the dashboard's files, unknown paths: no contract
    const route = `${req.method} ${url}`;
    const status = reply.statusCode;
    if (!seen.has(route)) seen.set(route, new Set());
    seen.get(route)!.add(status);
    const schema = responses[String(status)] ?? responses[`${String(status)[0]}xx`];
    if (!schema) {
      violations.push({ route, status, problems: [`no response schema for status ${status}`] });
      return;
    }
    let fn = compiled.get(schema);
    if (!fn) compiled.set(schema, (fn = ajv.compile(schema)));
    if (!fn(body)) {
      violations.push({ route, status, problems: (fn.errors ?? []).map((e) => `${e.instancePath || "(body)"} ${e.message ?? ""} ${JSON.stringify(e.params)}`) });
    }
  };

  const setup = (app: FastifyInstance) => {
    app.addHook("preSerialization", async (req, reply, payload) => {
      check(req, reply, payload);
      return payload;
    });
    app.addHook("onSend", async (req, reply, payload) => {
      if (typeof payload === "string" || Buffer.isBuffer(payload)) {
        answers.push({ route: `${req.method} ${req.url} ${reply.statusCode}`, text: `${JSON.stringify(reply.getHeaders())}\n${payload.toString()}` });
      }
      if (checked.has(req)) return payload;
      const type = String(reply.getHeader("content-type") ?? "");
      if (typeof payload === "string" && type.startsWith("application/json")) check(req, reply, JSON.parse(payload));
      else if (req.routeOptions.url !== undefined && reply.statusCode !== 204 && type.startsWith("application/json")) {
        check(req, reply, Symbol("unreadable answer"));
      } else if (req.routeOptions.url !== undefined && req.routeOptions.schema?.response) {
        const route = `${req.method} ${req.routeOptions.url}`;
        if (!seen.has(route)) seen.set(route, new Set());
        seen.get(route)!.add(reply.statusCode);
      }
      return payload;
    });
  };
  return { setup, violations, seen, answers };
}
