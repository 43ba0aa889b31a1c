/**
 * Automatic rollback (issue 17, item 3): green runs v4, whose health check passes but whose every page
 * answers 500. Promoted under real HTTP load through the router, the reconciler sees green's 5xx ratio
 * pass the limit within the window and switches back by committing state.yaml itself: the router is back
 * on blue within window + 1 s, the commit (author Switchyard) and the AutomaticRollback alert exist, the
 * figures are in the event log, and apart from green's own 500s no request failed. Promoting v4 again
 * needs confirmation. Prints the time from the first 500 a client saw to the first answer from blue again.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile, execFileSync } from "node:child_process";
import { request } from "undici";
import { ClusterBed } from "../support/cluster-bed.js";
import { waitFor } from "../support/agent-bed.js";
import { createServer, type Server } from "node:http";

const WINDOW_SECONDS = 20;

interface Answer {
  at: number;
  status: number;
  color: string | null;
  body: string;
  error?: string;
}

/** Real HTTP load on the live host through the router: every answer with its time, colour and status. */
class RecordingLoad {
  readonly answers: Answer[] = [];
  private stopped = false;
  private readonly done: Promise<void>[] = [];

  constructor(private readonly port: number, workers = 4) {
    for (let i = 0; i < workers; i++) this.done.push(this.worker());
  }

  private async worker(): Promise<void> {
    while (!this.stopped) {
      try {
        const res = await request(`http://127.0.0.1:${this.port}/`, { headers: { host: "live.test" }, headersTimeout: 5000, bodyTimeout: 5000 });
        const body = await res.body.text();
        this.answers.push({ at: Date.now(), status: res.statusCode, color: (res.headers["x-switchyard-color"] as string | undefined) ?? null, body: body.slice(0, 80) });
      } catch (err) {
        this.answers.push({ at: Date.now(), status: 0, color: null, body: "", error: (err as Error).message });
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.done);
  }
}

describe("automatic rollback", () => {
  let bed: ClusterBed;
  let slack: Server;
  const slackTexts: string[] = [];

  beforeAll(async () => {
    // A Slack-format receiver for rolled-back events.
    slack = createServer((req, res) => {
      let body = "";
      req.on("data", (d: Buffer) => (body += d));
      req.on("end", () => {
        slackTexts.push((JSON.parse(body) as { text: string }).text);
        res.end("ok");
      });
    });
    await new Promise<void>((r) => slack.listen(0, "127.0.0.1", r));
    const hook = { url: `http://127.0.0.1:${(slack.address() as { port: number }).port}/hook`, format: "slack" as const, events: ["rolled-back"] };
    bed = new ClusterBed({ prefix: "arb", git: true, state: { blue: "v1", green: "v4" }, webhooks: [hook], rollback: `{ window: ${WINDOW_SECONDS}, maxErrorRatio: 0.05, minRequests: 20 }` });
    await bed.startAgents();
    await bed.startReconciler();
  }, 120_000);

  afterAll(async () => {
    await bed?.close();
    slack?.close();
  }, 60_000);

  it("switches back to blue within the window when green answers 500s, with a commit, an alert and the figures", async () => {
    await waitFor("blue live and green (v4) ready", async () => {
      const s = await bed.status();
      return s.router?.live === "blue" && s.colors?.green.phase === "Ready" && s.colors.blue.phase === "Ready" && s;
    }, 90_000);
    const load = new RecordingLoad(bed.routerPort);
    await waitFor("blue answering the load", async () => load.answers.filter((a) => a.status === 200).length > 50, 10_000);
    const { revision } = await bed.api<{ revision: string }>("/api/v1/state");
    const promotedAt = Date.now();
    const promoted = await bed.api<{ commit: string }>("/api/v1/actions/promote", { method: "POST", body: "{}", headers: { "if-match": revision } });
    expect(promoted.commit).toMatch(/^[0-9a-f]{40}$/);
    const rolled = await waitFor("the analysis rolled green back", async () => {
      const s = await bed.status();
      return s.analysis?.state === "rolled-back" && s.router?.live === "blue" && s;
    }, (WINDOW_SECONDS + 10) * 1000);
    await waitFor("blue answering again", async () => load.answers.some((a) => a.at > Date.now() - 500 && a.color === "blue" && a.status === 200) , 10_000);
    await new Promise((r) => setTimeout(r, 300));
    await load.stop();

    const first500 = load.answers.find((a) => a.status === 500);
    expect(first500).toBeDefined();
    const lastGreen = load.answers.filter((a) => a.color === "green").at(-1)!;
    const backOnBlue = load.answers.find((a) => a.at > lastGreen.at && a.color === "blue")!;
    const firstGreen = load.answers.find((a) => a.color === "green")!;
    console.log(`auto-rollback: first 500 → first answer from blue again: ${backOnBlue.at - first500!.at} ms; green served ${backOnBlue.at - firstGreen.at} ms; promote → back on blue ${backOnBlue.at - promotedAt} ms; ${rolled.analysis!.requests} green answers judged, ${rolled.analysis!.errors} 5xx`);
    // Back on the previous colour within window + 1 s of the switch.
    expect(backOnBlue.at - firstGreen.at).toBeLessThan((WINDOW_SECONDS + 1) * 1000);
    // Apart from green's own 500s, nothing failed.
    const failed = load.answers.filter((a) => a.status !== 200);
    expect(failed.length).toBeGreaterThan(0);
    expect(failed.filter((a) => !(a.status === 500 && a.color === "green" && a.body.startsWith("v4 fails on purpose")))).toEqual([]);

    // The commit: authored by Switchyard, saying why.
    const log = execFileSync("git", ["-C", bed.deployDir, "log", "-1", "--format=%an%n%s"], { encoding: "utf8" }).split("\n");
    expect(log[0]).toBe("Switchyard");
    expect(log[1]).toMatch(/^automatic rollback to blue \(v1\): 5xx \d+(\.\d)?% over \d+ s > 5%$/);
    expect((await bed.api<{ state: { spec: { active: string } } }>("/api/v1/state")).state.spec.active).toBe("blue");
    // The alert, and the figures in the event log.
    const alerts = await bed.api<{ alerts: { name: string; state: string; labels: Record<string, string>; summary: string }[] }>("/api/v1/alerts");
    const alert = alerts.alerts.find((a) => a.name === "AutomaticRollback" && a.state === "firing");
    expect(alert?.labels).toEqual({ color: "green", tag: "v4" });
    const events = await bed.api<{ events: Record<string, unknown>[] }>("/api/v1/events?limit=1000");
    if (process.env.SY_DEBUG) for (const e of events.events.filter((x) => Date.parse(x.ts as string) >= promotedAt - 100)) console.log(`${(e.ts as string).slice(11)} ${e.message}${e.commitMs !== undefined ? ` (decided after ${e.seconds} s, commit ${e.commitMs} ms)` : ""}`);
    const record = events.events.find((e) => e.analysis === "rolled-back");
    expect(record).toMatchObject({ color: "green", tag: "v4", to: "blue", toTag: "v1", maxErrorRatio: 0.05, minRequests: 20 });
    expect(record!.requests as number).toBeGreaterThanOrEqual(20);
    expect((record!.errors as number) / (record!.requests as number)).toBeGreaterThan(0.05);
    expect(events.events.filter((e) => e.analysis === "aborted" || e.analysis === "rollback-failed")).toEqual([]);
    expect(rolled.rolledBack).toEqual([expect.objectContaining({ tag: "v4", color: "green" })]);
    // Webhooks subscribed to rolled-back hear that Switchyard did it, and why.
    await waitFor("the rolled-back message", async () => slackTexts.length > 0, 10_000);
    expect(slackTexts).toEqual([expect.stringMatching(/^:rewind: automatic rollback to blue \(v1\): 5xx \d+(\.\d)?% over \d+ s &gt; 5% \(Switchyard\) \(arb\)$/)]); // Slack's mrkdwn escapes >
  }, 180_000);

  it("asks for confirmation before promoting the rolled-back tag again", async () => {
    const { revision } = await bed.api<{ revision: string }>("/api/v1/state");
    const res = await fetch(`${bed.reconcilerUrl}/api/v1/actions/promote`, {
      method: "POST", body: "{}", headers: { authorization: `Bearer ${bed.token}`, "content-type": "application/json", "if-match": revision },
    });
    expect(res.status).toBe(409);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("RECON_ERR_CONFIRM_REQUIRED");
    expect(body.error.message).toContain("v4 was rolled back automatically");
    // A dry run shows the diff without asking.
    const dry = await bed.api<{ diff: string }>("/api/v1/actions/promote", { method: "POST", body: JSON.stringify({ dryRun: true }), headers: { "if-match": revision } });
    expect(dry.diff).toContain("+  active: green");
    expect((await bed.api<{ state: { spec: { active: string } } }>("/api/v1/state")).state.spec.active).toBe("blue");
  }, 30_000);

  it("the CLI asks for --yes, promotes with it (the mark goes), and a person aborts the next window", async () => {
    // Asynchronously: the reconciler answers from this process.
    const cli = (...args: string[]) => new Promise<{ status: number; stdout: string; stderr: string }>((resolve) => {
      const child = execFile(process.execPath, ["bin/switchyard.js", ...args, "--server", bed.reconcilerUrl], { encoding: "utf8", env: { ...process.env, SWITCHYARD_TOKEN: bed.token } }, (err, stdout, stderr) => {
        resolve({ status: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      });
      child.stdin?.end();
    });
    const refused = await cli("promote");
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/^switchyard promote: v4 was rolled back automatically at .*; not switched \(pass --yes to switch anyway\)\n$/);
    // No load now: the window opens and waits for answers, so a person can abort it.
    const yes = await cli("promote", "--yes");
    expect(yes.status, yes.stderr).toBe(0);
    const running = await waitFor("a new window on green", async () => {
      const s = await bed.status();
      return s.analysis?.state === "running" && s.router?.live === "green" && s;
    }, 30_000);
    expect(running.rolledBack).toEqual([]);
    expect(running.analysis!.secondsLeft).toBeGreaterThan(0);
    expect((await bed.api<{ alerts: { name: string; state: string }[] }>("/api/v1/alerts")).alerts.filter((a) => a.name === "AutomaticRollback" && a.state === "firing")).toEqual([]);
    const aborted = await cli("abort-analysis");
    expect(aborted.status, aborted.stderr).toBe(0);
    expect(aborted.stdout).toBe("analysis of green (v4) aborted: it stays live, and Switchyard will not roll it back automatically\n");
    expect((await bed.status()).analysis).toMatchObject({ state: "aborted", message: expect.stringContaining("aborted by tester") });
    expect((await cli("abort-analysis")).stderr).toContain("no analysis is running");
  }, 60_000);
});
