/** Ports for the demo (and the test beds): the preferred one when it is free, else a free one. */
import { readFileSync } from "node:fs";
import { createServer } from "node:net";

/**
 * The preferred port when free; otherwise a random free port below the kernel's ephemeral range, where
 * port 0 and outgoing connections get theirs — so no client socket can take it between now and the bind.
 */
export async function pickPort(host: string, preferred: number): Promise<number> {
  if (preferred > 0 && (await tryListen(host, preferred)) !== null) return preferred;
  const [low] = ephemeralRange();
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * Math.max(1000, low - 20_000));
    if ((await tryListen(host, port)) !== null) return port;
  }
  throw new Error(`cannot listen on ${host}: no free port`);
}

/** Whether nothing listens on host:port any more (after a stop). */
export async function portFree(host: string, port: number): Promise<boolean> {
  return (await tryListen(host, port)) !== null;
}

function ephemeralRange(): [number, number] {
  try {
    const [a, b] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/).map(Number);
    if (a && b) return [a, b];
  } catch {
    /* not Linux */
  }
  return [32_768, 60_999];
}

function tryListen(host: string, port: number): Promise<number | null> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(null));
    s.listen({ host, port, exclusive: true }, () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}
