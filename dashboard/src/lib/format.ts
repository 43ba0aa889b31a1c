/** Small formatting helpers shared by the components. */

const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
const abs = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

/** "3 minutes ago", "in 5 seconds"; `now` is passed so callers re-render on a clock. */
export function ago(iso: string | null | undefined, now: number): string {
  if (!iso) return "—";
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return "—";
  const s = Math.round((t - now) / 1000);
  const a = Math.abs(s);
  if (a < 5) return "just now";
  if (a < 60) return rtf.format(s, "second");
  if (a < 3600) return rtf.format(Math.round(s / 60), "minute");
  if (a < 86400) return rtf.format(Math.round(s / 3600), "hour");
  return rtf.format(Math.round(s / 86400), "day");
}

export function absolute(iso: string | null | undefined): string {
  if (!iso) return "";
  const t = Date.parse(iso);
  return Number.isNaN(t) ? iso : abs.format(t);
}

export function seconds(ms: number): string {
  const s = Math.max(0, Math.ceil(ms / 1000));
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KB", "MB", "GB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

export function shortCommit(c: string): string {
  return c.slice(0, 7);
}

export function cap(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

const versionOrder = new Intl.Collator("en", { numeric: true, sensitivity: "base" });

/** v1 is older than v2, v1.10 newer than v1.9 — only for tags that look like versions (the commit messages' rule). */
export function olderVersion(tag: string, than: string): boolean {
  const versioned = (t: string) => /^v?\d/i.test(t);
  return versioned(tag) && versioned(than) && versionOrder.compare(tag, than) < 0;
}

/** A log line as plain text: ANSI escape sequences and control characters (but tabs) taken out. */
export function plainText(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-_]/g, "").replace(/[\x00-\x08\x0a-\x1f\x7f\x9b]/g, "");
}
