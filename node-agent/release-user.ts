/**
 * agent.yaml `process.user`: the dedicated unprivileged user the process runtime runs releases as. The
 * agent runs as root and switches to this user's uid and gid for each release (spawn's uid/gid: root's
 * switch drops every capability and the supplementary groups), so a release cannot read the agent's
 * token or data dir, nor signal the agent. Linux: the user is looked up with `getent passwd`.
 */
import { execFile } from "node:child_process";
import type { ReleaseUser } from "./process-env.js";

export async function resolveReleaseUser(name: string, agentUid = process.getuid?.() ?? -1): Promise<ReleaseUser> {
  const line = await new Promise<string>((resolve) => {
    execFile("getent", ["passwd", name], { timeout: 10_000 }, (err, stdout) => resolve(err ? "" : stdout.split("\n")[0] ?? ""));
  });
  const [user, , uidText, gidText, , home] = line.split(":");
  const uid = Number(uidText);
  const gid = Number(gidText);
  if (user !== name || !Number.isInteger(uid) || !Number.isInteger(gid)) {
    throw new Error(`process.user ${name} does not exist on this machine; create it (useradd --system --user-group --no-create-home ${name}) or remove process.user`);
  }
  if (uid === 0 || gid === 0) {
    throw new Error(`process.user ${name} has uid ${uid} and gid ${gid}; releases must run as an unprivileged user (neither uid 0 nor gid 0)`);
  }
  if (agentUid !== 0 && agentUid !== uid) {
    throw new Error(`process.user ${name} needs the agent to run as root (it runs as uid ${agentUid}): only root can start releases as another user and drop every privilege doing so`);
  }
  return { name, uid, gid, home: home || "/" };
}
