/** The CLI's side of the reconciler API: --server / $SWITCHYARD_SERVER and $SWITCHYARD_TOKEN. */
import { DEFAULT_RECONCILER_LISTEN } from "../specs/defaults.js";

export class ApiError extends Error {
  /** The API's error code (RECON_ERR_…), when the answer had one. */
  constructor(message: string, readonly code?: string) {
    super(message);
  }
}

export function serverUrl(flag: string | undefined): string {
  return (flag ?? process.env.SWITCHYARD_SERVER ?? `http://${DEFAULT_RECONCILER_LISTEN}`).replace(/\/+$/, "");
}

export async function call<T>(server: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
  const token = process.env.SWITCHYARD_TOKEN;
  let res: Response;
  try {
    res = await fetch(server + path, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { "content-type": "application/json" } : {}), ...headers },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    throw new ApiError(`cannot reach ${server}: ${e.cause?.code ?? e.message}`);
  }
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const err = (json as { error?: { message?: string; code?: string } } | undefined)?.error;
    const msg = err?.message ?? text.slice(0, 200);
    if (res.status === 401 && !token) throw new ApiError(`${msg} (set SWITCHYARD_TOKEN to an API token: switchyard user token <name> --data <data-dir>)`, err?.code);
    throw new ApiError(msg, err?.code);
  }
  return json as T;
}
