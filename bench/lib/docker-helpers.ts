/** Docker and network chores of the benchmarks: free ports, HTTP readiness, label cleanup, images. */
import Docker from "dockerode";
import { createServer } from "node:net";
import { request } from "node:http";

/** A port nothing listens on right now (127.0.0.1). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const addr = s.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Status code of one GET, or 0 when nothing answered. */
export function httpStatus(url: string, timeoutMs = 1_000): Promise<number> {
  return new Promise((resolve) => {
    const req = request(url, { agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(0));
    req.end();
  });
}

/** Polls url every everyMs until it answers 200. */
export async function waitFor200(url: string, timeoutMs: number, everyMs = 10): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await httpStatus(url)) !== 200) {
    if (Date.now() > deadline) throw new Error(`${url} did not answer 200 within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Removes every container carrying label=value (labels, never names). Returns how many. */
export async function removeLabelled(docker: Docker, label: string): Promise<number> {
  const list = await docker.listContainers({ all: true, filters: { label: [label] } });
  await Promise.all(list.map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
  return list.length;
}

export async function imagePresent(docker: Docker, ref: string): Promise<boolean> {
  return docker.getImage(ref).inspect().then(
    () => true,
    () => false,
  );
}

export async function pullImage(docker: Docker, ref: string): Promise<void> {
  const stream = (await docker.pull(ref)) as NodeJS.ReadableStream;
  await new Promise<void>((resolve, reject) => docker.modem.followProgress(stream, (err: Error | null) => (err ? reject(err) : resolve())));
  if (!(await imagePresent(docker, ref))) throw new Error(`pulled ${ref} but it is not there`);
}

/** Untags and deletes an image; returns the layers Docker deleted with it (shared layers stay). */
export async function removeImage(docker: Docker, ref: string): Promise<{ deletedLayers: number }> {
  const out = (await docker.getImage(ref).remove()) as { Untagged?: string; Deleted?: string }[];
  const deleted = out.filter((o) => o.Deleted).length;
  // The first "Deleted" entry is the image (config) itself; the rest are layers.
  return { deletedLayers: Math.max(0, deleted - 1) };
}
