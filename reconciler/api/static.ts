/**
 * Serves the built dashboard (dist/dashboard) without a dependency: exact files under the root only,
 * index.html for everything else that is not an API path, long caching for hashed assets.
 */
import { readFile, stat } from "node:fs/promises";
import { existsSync } from "node:fs";
import { extname, join, normalize, posix, sep, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyInstance, FastifyRequest } from "fastify";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml", ".png": "image/png", ".ico": "image/x-icon", ".json": "application/json", ".woff2": "font/woff2",
};

/** dist/dashboard of this package, from source or from dist/. */
export function dashboardRoot(): string | null {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    for (const candidate of [join(dir, "dist", "dashboard"), join(dir, "dashboard")]) {
      if (existsSync(join(candidate, "index.html"))) return candidate;
    }
    dir = dirname(dir);
  }
  return null;
}

/** The catch-all route of the dashboard's files. */
export const STATIC_ROUTE = "/*";

/** The path the catch-all matched, as the router decoded it (the same bytes the auth check reads). */
export function staticPath(req: FastifyRequest): string {
  return "/" + ((req.params as { "*"?: string })["*"] ?? "");
}

/** An API path however it is spelt: any case, repeated slashes, dot segments. */
export function isApiPath(path: string): boolean {
  const p = posix.normalize(path.replace(/\\/g, "/")).toLowerCase();
  return p === "/api" || p.startsWith("/api/") || p === "/metrics" || p.startsWith("/metrics/");
}

export function registerStatic(app: FastifyInstance, root: string | null): void {
  app.addHook("onSend", async (_req, reply, payload) => {
    reply.header("x-content-type-options", "nosniff");
    reply.header("referrer-policy", "no-referrer");
    reply.header("x-frame-options", "DENY");
    return payload;
  });
  app.get(STATIC_ROUTE, async (req, reply) => {
    const path = staticPath(req);
    if (isApiPath(path)) return reply.callNotFound();
    if (!root) {
      if (path !== "/") return reply.callNotFound();
      return reply.code(503).type("text/plain").send("the dashboard is not built; run npm run build:dashboard\n");
    }
    const rel = normalize(path).replace(/^(\.\.[/\\])+/, "");
    let file = join(root, rel);
    if (!file.startsWith(root + sep) && file !== root) return reply.callNotFound();
    const st = await stat(file).catch(() => undefined);
    if (!st?.isFile()) file = join(root, "index.html");
    const body = await readFile(file);
    const hashed = /[.-][A-Za-z0-9_-]{8,}\.(js|css)$/.test(file);
    reply.header("cache-control", hashed ? "public, max-age=31536000, immutable" : "no-cache");
    if (file.endsWith(".html")) {
      reply.header("content-security-policy", "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
    }
    return reply.type(TYPES[extname(file)] ?? "application/octet-stream").send(body);
  });
}
