/**
 * The dotenv format of secret files: `KEY=VALUE` lines, `export KEY=VALUE`, blank lines, `#` comments, and
 * values in single quotes (taken as they are) or double quotes (with \n, \t, \", \\ escapes). Errors name the
 * file and line and never quote a value: the file holds secrets.
 */

/** A variable name a secret may set. */
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export class DotenvError extends Error {
  constructor(readonly line: number, readonly reason: string) {
    super(`line ${line}: ${reason}`);
    this.name = "DotenvError";
  }
}

/** Parses a dotenv text; throws DotenvError (line and reason, no value) for the first bad line. */
export function parseDotenv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  lines.forEach((raw, i) => {
    const no = i + 1;
    let line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    if (line.startsWith("export ")) line = line.slice("export ".length).trimStart();
    const eq = line.indexOf("=");
    if (eq < 0) throw new DotenvError(no, "expected NAME=VALUE (no '=' on this line)");
    const name = line.slice(0, eq).trim();
    if (!NAME.test(name)) throw new DotenvError(no, `the variable name is not valid (use letters, digits and _, not starting with a digit)`);
    if (name in out) throw new DotenvError(no, `${name} is set twice`);
    const v = value(line.slice(eq + 1).trim(), no);
    // A NUL byte cannot be in a process's environment, and the runtime's refusal would quote the value
    // (into status and logs); other control characters are pasting accidents. \n, \r and \t from escapes stay.
    if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(v)) throw new DotenvError(no, `the value of ${name} holds a control character (a NUL byte or similar); remove it`);
    out[name] = v;
  });
  return out;
}

function value(v: string, no: number): string {
  const q = v[0];
  if (q !== '"' && q !== "'") {
    if (/\s#/.test(v)) return v.slice(0, v.search(/\s#/)).trimEnd();
    return v;
  }
  const end = closingQuote(v, q);
  if (end < 0) throw new DotenvError(no, `the value's ${q === '"' ? "double" : "single"} quote is not closed on this line`);
  const rest = v.slice(end + 1).trim();
  if (rest !== "" && !rest.startsWith("#")) throw new DotenvError(no, "there is text after the closing quote");
  const inner = v.slice(1, end);
  if (q === "'") return inner;
  return inner.replace(/\\([nrt"\\$])/g, (_, c: string) => ({ n: "\n", r: "\r", t: "\t" } as Record<string, string>)[c] ?? c);
}

function closingQuote(v: string, q: string): number {
  for (let i = 1; i < v.length; i++) {
    if (q === '"' && v[i] === "\\") {
      i++;
      continue;
    }
    if (v[i] === q) return i;
  }
  return -1;
}
