/** Small helpers on values every part uses: listen addresses and frozen snapshots. */

/** "127.0.0.1:8000" → ["127.0.0.1", 8000]; "[::1]:8000" → ["::1", 8000]. */
export function splitListen(listen: string): [string, number] {
  const colon = listen.lastIndexOf(":");
  let host = listen.slice(0, colon);
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  return [host, Number(listen.slice(colon + 1))];
}

/** Deep-freezes a snapshot (children first, so a partly frozen value ends up wholly frozen). */
export function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object") {
    for (const x of Object.values(value as Record<string, unknown>)) deepFreeze(x);
    Object.freeze(value);
  }
  return value;
}

/** `text` cut to at most `max` characters, marking the cut. */
export function clip(text: string, max: number): string {
  return text.length <= max ? text : text.slice(0, Math.max(0, max - 1)) + "…";
}
