/**
 * systemd socket activation (sd_listen_fds(3)): when LISTEN_PID names this process, LISTEN_FDS sockets
 * start at fd 3, named by LISTEN_FDNAMES (FileDescriptorName= in the .socket unit). The router takes its
 * data-plane sockets from there — `http` for router.listen, `https` for router.tls.listen (unnamed: in that
 * order) — so the listening sockets outlive a restart of the router: connections that arrive while no
 * router process runs wait in the kernel's queue for the next one. The variables are removed from the
 * environment once read, as sd_listen_fds(1) does, so that nothing started later inherits them.
 */
import type { Server } from "node:net";

/** The first passed file descriptor (SD_LISTEN_FDS_START). */
const LISTEN_FDS_START = 3;

export interface ListenFds {
  http?: number;
  https?: number;
}

/** The sockets systemd passed to this process, by purpose; empty when none were passed (bind yourself). */
export function takeListenFds(env: NodeJS.ProcessEnv = process.env, pid = process.pid): ListenFds {
  const forUs = env.LISTEN_PID !== undefined && Number(env.LISTEN_PID) === pid;
  const count = Number(env.LISTEN_FDS ?? 0);
  const names = (env.LISTEN_FDNAMES ?? "").split(":");
  delete env.LISTEN_PID;
  delete env.LISTEN_FDS;
  delete env.LISTEN_FDNAMES;
  if (!forUs || !Number.isSafeInteger(count) || count <= 0) return {};
  const out: ListenFds = {};
  for (let i = 0; i < count; i++) {
    const name = names[i] && names[i] !== "unknown" ? names[i] : i === 0 ? "http" : i === 1 ? "https" : "";
    if (name !== "http" && name !== "https") throw new Error(`systemd passed a socket named "${name}" (fd ${LISTEN_FDS_START + i}); the router takes only "http" and "https" (FileDescriptorName= in the .socket unit)`);
    if (out[name] !== undefined) throw new Error(`systemd passed two sockets named "${name}"`);
    out[name] = LISTEN_FDS_START + i;
  }
  return out;
}

/**
 * Listens on `fd` when given (a socket passed by systemd, checked to be bound to `port` on `host`),
 * else binds host:port. Rejects with `what` in the message.
 */
export function listenOn(server: Server, host: string, port: number, fd: number | undefined, what: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => reject(new Error(`the router cannot listen ${what}: ${err.message}`));
    server.once("error", onError);
    const done = (): void => {
      server.removeListener("error", onError);
      const a = server.address();
      if (fd !== undefined && port !== 0 && (a === null || typeof a !== "object" || a.port !== port)) {
        server.close();
        reject(new Error(`the socket systemd passed (fd ${fd}) listens on ${a !== null && typeof a === "object" ? `${a.address}:${a.port}` : "?"}, not ${what} as agent.yaml says; make the .socket unit's ListenStream= match`));
        return;
      }
      resolve();
    };
    if (fd !== undefined) server.listen({ fd }, done);
    else server.listen({ host, port }, done);
  });
}

