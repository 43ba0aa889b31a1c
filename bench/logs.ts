/**
 * bench:logs — the log endpoint, on the real stack (Docker agents and the reconciler as child processes, so
 * each one's memory can be read from /proc). The blue node's worker writes lines as fast as Docker takes them.
 *   1. Throughput: lines per second a fast client receives from GET /api/v1/logs?follow=true through the
 *      reconciler (and straight from the agent's GET /v1/logs, for comparison); a 5000-line history.
 *   2. Memory bound: RSS of the agent and the reconciler while the fast client follows, and while a client
 *      that reads nothing follows (backpressure must hold the stream back: RSS must not grow with time).
 * The last line is one JSON object.
 */
import { request as httpRequest, type IncomingMessage } from "node:http";
import { loadavg } from "node:os";
import { ClusterBed } from "../test/support/cluster-bed.js";
import { waitFor } from "../test/support/agent-bed.js";
import { clockTicksPerSecond, readCpuTicks, readMemoryMb } from "./lib/proc.js";
import { round } from "./lib/stats.js";

process.env.SWITCHYARD_LOG_LEVEL ??= "error";
const FOLLOW_SECONDS = Number(process.env.BENCH_LOGS_SECONDS ?? 10);
/** A line of about 120 bytes, written in batches as fast as the pipe takes them. */
const FAST_LOGGER = ["node", "-e", JSON.stringify("let n=0;const w=()=>{let s='';for(let i=0;i<200;i++)s+='line '+(n++)+' '+'x'.repeat(100)+'\\n';process.stdout.write(s,w)};w()")];

async function main(): Promise<void> {
  const childAgents = ["blue-1", "green-1", "router-1"].map((n) => `blogs-${n}`);
  const bed = new ClusterBed({ prefix: "blogs", withWorker: true, workerCommand: FAST_LOGGER, childAgents, state: { active: "blue", blue: "v1", green: "v1" } });
  try {
    await bed.startAgents();
    const rec = await bed.spawnReconciler();
    await waitFor("blue ready with its worker", async () => {
      const s = await bed.status();
      return s.colors?.blue.phase === "Ready" && s.colors.blue.nodes[0]?.services.worker?.state === "running";
    }, 90_000);
    const agentPid = bed.agentProcess(bed.names.blue)!.pid!;
    const recPid = rec.pid!;
    const agent = bed.agentApi(bed.names.blue);
    const mem = () => ({ agent: readMemoryMb(agentPid).rssMb, reconciler: readMemoryMb(recPid).rssMb });
    await new Promise((r) => setTimeout(r, 2000));
    const idle = mem();

    const cpu = () => ({ agent: readCpuTicks(agentPid), reconciler: readCpuTicks(recPid) });
    const cpu0 = cpu();
    const viaReconciler = await follow(`${bed.reconcilerUrl}/api/v1/logs?service=worker&node=${bed.names.blue}&tail=0&follow=true`, bed.token, FOLLOW_SECONDS, mem);
    const cpu1 = cpu();
    // CPU time per 1000 lines: what a line costs each process, whatever else loads the machine.
    const msPer1000 = (ticks: number) => round(((ticks / clockTicksPerSecond()) * 1000 * 1000) / Math.max(1, viaReconciler.lines), 1);
    const cpuPer1000 = { agent: msPer1000(cpu1.agent - cpu0.agent), reconciler: msPer1000(cpu1.reconciler - cpu0.reconciler) };
    const direct = await follow(`${agent.url}/v1/logs?service=worker&tail=0&follow=true`, agent.token, FOLLOW_SECONDS, mem);
    const t0 = performance.now();
    const history = await count(`${bed.reconcilerUrl}/api/v1/logs?service=worker&node=${bed.names.blue}&tail=5000`, bed.token);
    const historyMs = performance.now() - t0;
    const slow = await stalled(`${bed.reconcilerUrl}/api/v1/logs?service=worker&node=${bed.names.blue}&tail=0&follow=true`, bed.token, FOLLOW_SECONDS * 2, mem);

    const out = {
      reconcilerLinesPerSec: round(viaReconciler.lines / FOLLOW_SECONDS),
      reconcilerMBPerSec: round(viaReconciler.bytes / FOLLOW_SECONDS / 1e6, 2),
      agentDirectLinesPerSec: round(direct.lines / FOLLOW_SECONDS),
      cpuMsPer1000Lines: cpuPer1000,
      history5000Ms: round(historyMs), history5000Lines: history.lines,
      idleRssMb: { agent: round(idle.agent, 1), reconciler: round(idle.reconciler, 1) },
      fastFollowPeakRssMb: { agent: round(Math.max(viaReconciler.peak.agent, direct.peak.agent), 1), reconciler: round(viaReconciler.peak.reconciler, 1) },
      stalledClient: {
        seconds: FOLLOW_SECONDS * 2, bytesRead: slow.bytesRead,
        rssMbFirstHalf: { agent: round(slow.firstHalf.agent, 1), reconciler: round(slow.firstHalf.reconciler, 1) },
        rssMbSecondHalf: { agent: round(slow.secondHalf.agent, 1), reconciler: round(slow.secondHalf.reconciler, 1) },
      },
    };
    console.log(`follow through the reconciler: ${out.reconcilerLinesPerSec} lines/s (${out.reconcilerMBPerSec} MB/s of NDJSON); straight from the agent: ${out.agentDirectLinesPerSec} lines/s`);
    console.log(`CPU per 1000 lines followed through the reconciler: agent ${cpuPer1000.agent} ms, reconciler ${cpuPer1000.reconciler} ms (machine load average ${loadavg()[0]!.toFixed(1)})`);
    console.log(`history of 5000 lines through the reconciler: ${out.history5000Ms} ms (${history.lines} lines)`);
    console.log(`RSS idle: agent ${out.idleRssMb.agent} MB, reconciler ${out.idleRssMb.reconciler} MB; peak while a fast client follows: agent ${out.fastFollowPeakRssMb.agent} MB, reconciler ${out.fastFollowPeakRssMb.reconciler} MB`);
    console.log(`a client that reads nothing for ${out.stalledClient.seconds} s (read ${slow.bytesRead} bytes): peak RSS first half agent ${out.stalledClient.rssMbFirstHalf.agent} MB / reconciler ${out.stalledClient.rssMbFirstHalf.reconciler} MB, second half agent ${out.stalledClient.rssMbSecondHalf.agent} MB / reconciler ${out.stalledClient.rssMbSecondHalf.reconciler} MB`);
    console.log(JSON.stringify(out));
  } finally {
    await bed.close();
  }
}

type Mem = { agent: number; reconciler: number };
const maxMem = (a: Mem, b: Mem): Mem => ({ agent: Math.max(a.agent, b.agent), reconciler: Math.max(a.reconciler, b.reconciler) });

/** Reads as fast as it can for `seconds`: lines and bytes received, peak RSS sampled every 250 ms. */
async function follow(url: string, token: string, seconds: number, mem: () => Mem): Promise<{ lines: number; bytes: number; peak: Mem }> {
  const res = await open(url, token);
  const started = Date.now();
  // Under a loaded machine the worker's job lease may lapse (the worker stops): say so, the rate is then short.
  res.on("end", () => console.log(`${url.split("?")[0]}: the stream ended after ${Date.now() - started} ms (the worker stopped or was replaced)`));
  let lines = 0;
  let bytes = 0;
  let peak = mem();
  const sampler = setInterval(() => (peak = maxMem(peak, mem())), 250);
  res.on("data", (chunk: Buffer) => {
    bytes += chunk.length;
    for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) lines++;
  });
  await new Promise((r) => setTimeout(r, seconds * 1000));
  clearInterval(sampler);
  res.destroy();
  return { lines, bytes, peak };
}

/** Opens a follow and reads (almost) nothing: the socket fills and the server must hold back. */
async function stalled(url: string, token: string, seconds: number, mem: () => Mem): Promise<{ bytesRead: number; firstHalf: Mem; secondHalf: Mem }> {
  const res = await open(url, token);
  res.pause();
  let firstHalf = mem();
  let secondHalf = mem();
  const started = Date.now();
  const sampler = setInterval(() => {
    if (Date.now() - started < (seconds * 1000) / 2) firstHalf = maxMem(firstHalf, mem());
    else secondHalf = maxMem(secondHalf, mem());
  }, 250);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  clearInterval(sampler);
  const bytesRead = res.readableLength;
  res.destroy();
  return { bytesRead, firstHalf, secondHalf };
}

async function count(url: string, token: string): Promise<{ lines: number }> {
  const res = await open(url, token);
  let lines = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) lines++;
  return { lines };
}

function open(url: string, token: string): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers: { authorization: `Bearer ${token}` } }, (res) => {
      if (res.statusCode !== 200) reject(new Error(`${url} answered ${res.statusCode}`));
      else resolve(res);
    });
    req.on("error", reject);
    req.end();
  });
}

main().then(() => process.exit(0), (err) => {
  console.error(`bench:logs failed: ${(err as Error).stack}`);
  process.exit(1);
});
