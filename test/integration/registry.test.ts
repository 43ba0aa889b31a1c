/**
 * RegistryClient against the real local registry (the test bed's docker-registry on 127.0.0.1:5000 with
 * the demo images), and against a small fake registry on 127.0.0.1:0 only for what the real one cannot
 * show here: honoured pagination, the token flow, basic auth, refused credentials, 5xx, garbage, slow
 * answers, multi-arch indexes and redirects to another origin.
 */
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { RegistryClient, registryPath, type RegistryClientOptions } from "../../reconciler/tags/registry.js";
import { ReconError } from "../../reconciler/errors.js";
import { makeLogger } from "../../common/log.js";

const REPO = process.env.SWITCHYARD_TEST_REPO ?? "127.0.0.1:5000/switchyard-demo/app";
const REGISTRY_URL = `http://${REPO.split("/")[0]}`;
const PASSWORD = "s3cret-Passw0rd";

const logLines: string[] = [];
const logger = makeLogger("registry-test", { level: "debug" }, { write: (s: string) => void logLines.push(s) });
const servers: Server[] = [];
/** Every token the fakes handed out, to prove none reaches a log line. */
const issuedTokens: string[] = [];

afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
});

afterAll(() => {
  const all = logLines.join("");
  expect(all).not.toContain(PASSWORD);
  for (const t of issuedTokens) expect(all).not.toContain(t);
});

function client(o: Partial<RegistryClientOptions> & { url: string }): RegistryClient {
  return new RegistryClient({ repository: "127.0.0.1:5000/shop/app", logger, ...o });
}

async function failure(p: Promise<unknown>): Promise<ReconError> {
  const err = await p.then(
    (r) => new Error(`expected a registry error, got ${JSON.stringify(r)}`),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ReconError);
  expect((err as ReconError).code).toBe("RECON_ERR_REGISTRY");
  expect((err as ReconError).statusCode).toBe(502);
  expect((err as ReconError).message).not.toContain(PASSWORD);
  return err as ReconError;
}

interface Req {
  path: string;
  query: URLSearchParams;
  authorization: string | undefined;
}

async function listen(handler: (req: IncomingMessage, res: ServerResponse, u: URL) => unknown): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const u = new URL(req.url ?? "/", "http://x");
    void Promise.resolve(handler(req, res, u)).catch((err: Error) => res.writeHead(500).end(err.message));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

interface FakeOptions {
  tags: string[];
  /** Creation time of a tag's image; default: one minute apart in list order. */
  created?: (tag: string) => string;
  auth?: "none" | "basic" | "bearer";
  /** Tags served as a multi-arch index; "unknown" ones have only attestation manifests. */
  index?: Record<string, "amd64" | "unknown">;
  /** Answer instead of the normal handler (return true when handled). */
  override?: (r: Req, res: ServerResponse) => boolean | Promise<boolean>;
  tokenTtlSeconds?: number;
}

/** A registry that honours `n` and `last`, serves schema2 manifests, OCI indexes and configs, and auth. */
async function fakeRegistry(o: FakeOptions) {
  const requests: Req[] = [];
  let inFlightManifests = 0;
  let maxInFlightManifests = 0;
  let tokenRequests = 0;
  const configOf = (tag: string) => JSON.stringify({ architecture: "amd64", created: o.created?.(tag) ?? new Date(Date.UTC(2026, 0, 1) + o.tags.indexOf(tag) * 60_000).toISOString() });
  const digest = (s: string) => `sha256:${createHash("sha256").update(s).digest("hex")}`;
  const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) =>
    res.writeHead(status, { "content-type": "application/json", ...headers }).end(JSON.stringify(body));
  const manifest = (tag: string) => ({ schemaVersion: 2, mediaType: "application/vnd.docker.distribution.manifest.v2+json", config: { mediaType: "application/vnd.docker.container.image.v1+json", size: 10, digest: digest(configOf(tag)) }, layers: [] });
  const blobs = new Map(o.tags.map((t) => [digest(configOf(t)), configOf(t)]));
  const children = new Map<string, string>();
  const { url, server } = await listen(async (req, res, u) => {
    const r: Req = { path: u.pathname, query: u.searchParams, authorization: req.headers.authorization };
    if (u.pathname === "/token") {
      tokenRequests++;
      if (r.authorization !== `Basic ${Buffer.from(`alice:${PASSWORD}`).toString("base64")}`) return json(res, 401, { errors: [{ code: "UNAUTHORIZED", message: "bad credentials" }] });
      if (u.searchParams.get("service") !== "fake-registry" || u.searchParams.get("scope") !== "repository:shop/app:pull") return json(res, 400, { errors: [{ code: "DENIED" }] });
      const token = `tok-${tokenRequests}-${Math.random().toString(36).slice(2)}`;
      issuedTokens.push(token);
      return json(res, 200, { token, expires_in: o.tokenTtlSeconds ?? 300 });
    }
    requests.push(r);
    if (o.override && (await o.override(r, res))) return;
    const auth = o.auth ?? "none";
    if (auth === "basic" && r.authorization !== `Basic ${Buffer.from(`alice:${PASSWORD}`).toString("base64")}`) {
      return json(res, 401, { errors: [{ code: "UNAUTHORIZED", message: "authentication required" }] }, { "www-authenticate": 'Basic realm="fake"' });
    }
    if (auth === "bearer" && !issuedTokens.some((t) => r.authorization === `Bearer ${t}`)) {
      return json(res, 401, { errors: [{ code: "UNAUTHORIZED" }] }, { "www-authenticate": `Bearer realm="${url}/token",service="fake-registry",scope="repository:shop/app:pull"` });
    }
    const m = /^\/v2\/shop\/app\/(tags\/list|manifests\/([^/]+)|blobs\/([^/]+))$/.exec(u.pathname);
    if (!m) return json(res, 404, { errors: [{ code: "NAME_UNKNOWN", message: "repository name not known to registry" }] });
    if (m[1] === "tags/list") {
      const sorted = [...o.tags].sort();
      const n = Number(u.searchParams.get("n") ?? sorted.length);
      const last = u.searchParams.get("last");
      const from = last ? sorted.findIndex((t) => t > last) : 0;
      const page = from < 0 ? [] : sorted.slice(from, from + n);
      const more = from >= 0 && from + n < sorted.length;
      return json(res, 200, { name: "shop/app", tags: page }, more ? { link: `</v2/shop/app/tags/list?last=${page.at(-1)}&n=${n}>; rel="next"` } : {});
    }
    if (m[2] !== undefined) {
      inFlightManifests++;
      maxInFlightManifests = Math.max(maxInFlightManifests, inFlightManifests);
      await new Promise((resolve) => setTimeout(resolve, 15));
      inFlightManifests--;
      const ref = decodeURIComponent(m[2]);
      if (children.has(ref)) return json(res, 200, manifest(children.get(ref)!), { "content-type": "application/vnd.docker.distribution.manifest.v2+json" });
      if (!o.tags.includes(ref)) return json(res, 404, { errors: [{ code: "MANIFEST_UNKNOWN" }] });
      const kind = o.index?.[ref];
      if (kind) {
        const amd = digest(`child-${ref}`);
        children.set(amd, ref);
        const manifests = kind === "amd64"
          ? [{ digest: digest("arm"), platform: { os: "linux", architecture: "arm64" } }, { digest: amd, platform: { os: "linux", architecture: "amd64" } }]
          : [{ digest: digest("att"), platform: { os: "unknown", architecture: "unknown" } }];
        return json(res, 200, { schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests }, { "content-type": "application/vnd.oci.image.index.v1+json" });
      }
      return json(res, 200, manifest(ref), { "content-type": "application/vnd.docker.distribution.manifest.v2+json" });
    }
    const blob = blobs.get(m[3]!);
    return blob ? res.writeHead(200, { "content-type": "application/octet-stream" }).end(blob) : json(res, 404, { errors: [{ code: "BLOB_UNKNOWN" }] });
  });
  return {
    url,
    server,
    requests,
    get tokenRequests() {
      return tokenRequests;
    },
    get maxInFlightManifests() {
      return maxInFlightManifests;
    },
  };
}

describe("RegistryClient against the real registry", () => {
  it("lists the demo tags with their creation times, newest first", async () => {
    const tags = await new RegistryClient({ url: REGISTRY_URL, repository: REPO, logger }).tags();
    for (const t of ["v1", "v2", "v3"]) expect(tags.map((x) => x.tag)).toContain(t);
    for (const t of tags.slice(0, 20)) expect(t.created).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const times = tags.filter((t) => t.created).map((t) => Date.parse(t.created!));
    expect(times).toEqual([...times].sort((a, b) => b - a));
  });

  it("asks for pages of one tag and still gets every tag exactly once (distribution 2.x ignores n for tags)", async () => {
    const all = await new RegistryClient({ url: REGISTRY_URL, repository: REPO }).tags();
    const paged = await new RegistryClient({ url: REGISTRY_URL, repository: REPO, pageSize: 1 }).tags();
    expect(paged.map((t) => t.tag).sort()).toEqual(all.map((t) => t.tag).sort());
    expect(new Set(paged.map((t) => t.tag)).size).toBe(paged.length);
  });

  it("reuses a tag list for cacheMs and loads again after invalidate", async () => {
    const c = new RegistryClient({ url: REGISTRY_URL, repository: REPO, cacheMs: 60_000 });
    const [a, b] = await Promise.all([c.tags(), c.tags()]);
    expect(b).toBe(a);
    expect(await c.tags()).toBe(a);
    c.invalidate();
    const again = await c.tags();
    expect(again).not.toBe(a);
    expect(again).toEqual(a);
  });

  it("says clearly that a repository does not exist", async () => {
    const err = await failure(new RegistryClient({ url: REGISTRY_URL, repository: `${REPO.split("/")[0]}/switchyard-demo/no-such-app` }).tags());
    expect(err.message).toMatch(/does not know the tag list of switchyard-demo\/no-such-app \(404 NAME_UNKNOWN/);
  });

  it("says clearly that nothing answers on a port", async () => {
    const { url, server } = await listen(() => undefined);
    servers.splice(servers.indexOf(server), 1);
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const err = await failure(client({ url }).tags());
    expect(err.message).toMatch(/^the registry at http:\/\/127\.0\.0\.1:\d+ does not answer \(ECONNREFUSED; asking for the tag list\)$/);
  });
});

describe("RegistryClient against a fake registry", () => {
  it("follows Link pagination, sorts naturally and dates only the newest 20 tags, 4 at a time", async () => {
    const tags = Array.from({ length: 250 }, (_, i) => `v${i + 1}`);
    const fake = await fakeRegistry({ tags });
    const result = await client({ url: fake.url, pageSize: 100 }).tags();
    const pages = fake.requests.filter((r) => r.path.endsWith("/tags/list"));
    const lexical = [...tags].sort();
    expect(pages.map((r) => [r.query.get("n"), r.query.get("last")])).toEqual([["100", null], ["100", lexical[99]], ["100", lexical[199]]]);
    expect(pages).toHaveLength(3);
    expect(result).toHaveLength(250);
    expect(result.slice(0, 3)).toEqual([
      { tag: "v250", created: new Date(Date.UTC(2026, 0, 1) + 249 * 60_000).toISOString() },
      { tag: "v249", created: new Date(Date.UTC(2026, 0, 1) + 248 * 60_000).toISOString() },
      { tag: "v248", created: new Date(Date.UTC(2026, 0, 1) + 247 * 60_000).toISOString() },
    ]);
    expect(result.filter((t) => t.created !== null).map((t) => t.tag)).toEqual(tags.slice(230).reverse());
    expect(result.slice(20, 23).map((t) => t.tag)).toEqual(["v230", "v229", "v228"]);
    expect(result.at(-1)).toEqual({ tag: "v1", created: null });
    expect(result.findIndex((t) => t.tag === "v10")).toBe(result.findIndex((t) => t.tag === "v9") - 1);
    expect(fake.requests.filter((r) => r.path.includes("/manifests/"))).toHaveLength(20);
    expect(fake.maxInFlightManifests).toBeGreaterThan(1);
    expect(fake.maxInFlightManifests).toBeLessThanOrEqual(4);
  });

  it("sorts by creation time when it disagrees with the names", async () => {
    const created: Record<string, string> = { "release-b": "2026-03-01T00:00:00Z", "release-a": "2026-05-01T00:00:00Z", "release-c": "2026-01-01T00:00:00Z" };
    const fake = await fakeRegistry({ tags: Object.keys(created), created: (t) => created[t]! });
    expect((await client({ url: fake.url }).tags()).map((t) => t.tag)).toEqual(["release-a", "release-b", "release-c"]);
  });

  it("does the token flow: 401 with a Bearer challenge, a token from the realm with basic auth, reused until it expires", async () => {
    const fake = await fakeRegistry({ tags: ["v1", "v2"], auth: "bearer", tokenTtlSeconds: 1 });
    const c = client({ url: fake.url, username: "alice", password: PASSWORD, cacheMs: 0 });
    expect((await c.tags()).map((t) => t.tag)).toEqual(["v2", "v1"]);
    expect(fake.tokenRequests).toBe(1);
    const [first, ...rest] = fake.requests;
    expect(first!.authorization).toBeUndefined();
    expect(rest.every((r) => r.authorization?.startsWith("Bearer tok-1-"))).toBe(true);
    await c.tags();
    expect(fake.tokenRequests).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await c.tags();
    expect(fake.tokenRequests).toBe(2);
    expect(fake.requests.some((r) => r.authorization?.startsWith("Basic"))).toBe(false);
  });

  it("refuses with a clear error when the token service rejects the credentials", async () => {
    const fake = await fakeRegistry({ tags: ["v1"], auth: "bearer" });
    const err = await failure(client({ url: fake.url, username: "alice", password: "wrong-password" }).tags());
    expect(err.message).toMatch(/^the token service at http:\/\/127\.0\.0\.1:\d+ refused the credentials of user alice for shop\/app \(401 UNAUTHORIZED: bad credentials\)$/);
  });

  it("does basic auth, and says so when credentials are missing or wrong", async () => {
    const fake = await fakeRegistry({ tags: ["v1", "v2"], auth: "basic" });
    expect((await client({ url: fake.url, username: "alice", password: PASSWORD }).tags()).map((t) => t.tag)).toEqual(["v2", "v1"]);
    expect((await failure(client({ url: fake.url }).tags())).message).toMatch(/needs a username and password/);
    const wrong = await failure(client({ url: fake.url, username: "alice", password: "not-it" }).tags());
    expect(wrong.message).toMatch(/refused the credentials of user alice for shop\/app \(401 UNAUTHORIZED: authentication required\)/);
  });

  it("turns 5xx, garbage and wrong shapes into errors, never into an empty list", async () => {
    const answers: [number, string, string, RegExp][] = [
      [503, "application/json", '{"errors":[{"code":"UNAVAILABLE","message":"maintenance"}]}', /answered 503 Service Unavailable UNAVAILABLE: maintenance for the tag list; it may be down/],
      [500, "text/plain", "oops", /answered 500 Internal Server Error for the tag list/],
      [200, "text/html", "<html>login page</html>", /with something that is not JSON \(text\/html: "<html>login page<\/html>"\)/],
      [200, "application/json", '{"name":"shop/app","tags":"v1"}', /without a tags array/],
      [200, "application/json", '["v1"]', /JSON of the wrong shape/],
      [200, "application/json", '{"name":"shop/app","tags":["v1","../../etc"]}', /listed "..\/..\/etc", which is not a tag/],
      [200, "application/json", '{"name":"shop/app","tags":[1]}', /listed 1, which is not a tag/],
    ];
    for (const [status, type, body, message] of answers) {
      const fake = await fakeRegistry({ tags: [], override: (_r, res) => (res.writeHead(status, { "content-type": type }).end(body), true) });
      expect((await failure(client({ url: fake.url }).tags())).message).toMatch(message);
    }
    const empty = await fakeRegistry({ tags: [], override: (_r, res) => (res.writeHead(200, { "content-type": "application/json" }).end('{"name":"shop/app","tags":null}'), true) });
    expect(await client({ url: empty.url }).tags()).toEqual([]);
  });

  it("gives up on a slow registry after timeoutMs", async () => {
    const fake = await fakeRegistry({ tags: ["v1"], override: async () => (await new Promise((resolve) => setTimeout(resolve, 3000)), false) });
    const started = performance.now();
    const err = await failure(client({ url: fake.url, timeoutMs: 200 }).tags());
    expect(err.message).toMatch(/did not answer within 200 ms \(asking for the tag list\)/);
    expect(performance.now() - started).toBeLessThan(1500);
  });

  it("does not follow the next page to another origin", async () => {
    const fake = await fakeRegistry({
      tags: [],
      override: (_r, res) => (res.writeHead(200, { "content-type": "application/json", link: '<http://127.0.0.2:9/v2/shop/app/tags/list?last=a>; rel="next"' }).end('{"tags":["a"]}'), true),
    });
    expect((await failure(client({ url: fake.url }).tags())).message).toMatch(/another origin \(http:\/\/127\.0\.0\.2:9\); not followed/);
  });

  it("dates a multi-arch image by its linux/amd64 manifest; an index without one, or a failing manifest, gives null", async () => {
    const fake = await fakeRegistry({
      tags: ["v1", "v2", "v3", "v4"],
      index: { v2: "amd64", v3: "unknown" },
      override: (r, res) => r.path.endsWith("/manifests/v4") && (res.writeHead(500).end("boom"), true),
    });
    const tags = await client({ url: fake.url }).tags();
    expect(tags.map((t) => [t.tag, t.created !== null])).toEqual([["v2", true], ["v1", true], ["v4", false], ["v3", false]]);
    expect(logLines.some((l) => l.includes("cannot read a tag's creation time") && l.includes('"tag":"v4"'))).toBe(true);
  });

  it("sends no registry credentials along a redirect to another origin (blob storage)", async () => {
    const seen: (string | undefined)[] = [];
    const storage = await listen((req, res) => {
      seen.push(req.headers.authorization);
      res.writeHead(200, { "content-type": "application/octet-stream" }).end(JSON.stringify({ created: "2026-02-03T04:05:06.123456789Z" }));
    });
    const fake = await fakeRegistry({
      tags: ["v1"],
      auth: "basic",
      override: (r, res) => r.path.includes("/blobs/") && r.authorization !== undefined && (res.writeHead(307, { location: `${storage.url.replace("127.0.0.1", "localhost")}/blob` }).end(), true),
    });
    const tags = await client({ url: fake.url, username: "alice", password: PASSWORD }).tags();
    expect(tags).toEqual([{ tag: "v1", created: "2026-02-03T04:05:06.123Z" }]);
    expect(seen).toEqual([undefined]);
  });
});

describe("registryPath", () => {
  it("drops the registry host and keeps the repository path", () => {
    expect(registryPath("127.0.0.1:5000/switchyard-demo/app")).toBe("switchyard-demo/app");
    expect(registryPath("ghcr.io/acme/shop")).toBe("acme/shop");
    expect(registryPath("localhost/app")).toBe("app");
    expect(registryPath("acme/shop")).toBe("acme/shop");
    expect(registryPath("nginx", new URL("https://registry-1.docker.io"))).toBe("library/nginx");
    for (const bad of ["127.0.0.1:5000/../etc", "host/App", "a//b", "app?x=1", ""]) expect(() => registryPath(bad)).toThrow(/is not an image repository/);
  });
});
