/** Ports for the demo: the preferred one when it is free, else one the system picks. */
import { createServer } from "node:net";

export async function pickPort(host: string, preferred: number): Promise<number> {
  if (preferred > 0 && (await tryListen(host, preferred)) !== null) return preferred;
  const any = await tryListen(host, 0);
  if (any === null) throw new Error(`cannot listen on ${host}: no free port`);
  return any;
}

/** Whether nothing listens on host:port any more (after a stop). */
export async function portFree(host: string, port: number): Promise<boolean> {
  return (await tryListen(host, port)) !== null;
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
