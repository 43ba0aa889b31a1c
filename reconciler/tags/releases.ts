/**
 * Tags for clusters whose agents use the process runtime: the release directories in a local folder
 * (`<releasesDir>/<tag>/`), newest first by modification time. The same shape as the registry client, so
 * the API lists them and refuses deploys of a release that is not there.
 */
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { tagSchema } from "../../specs/common.js";
import { byNameDesc, type TagInfo } from "./registry.js";
import { reconError } from "../errors.js";

const TAG = new RegExp(tagSchema.pattern);

export class ReleaseDirTags {
  constructor(readonly dir: string) {}

  async tags(): Promise<TagInfo[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      throw reconError("RECON_ERR_UNAVAILABLE", `cannot read the releases dir ${this.dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    const found: { tag: string; mtime: number }[] = [];
    for (const name of names) {
      if (!TAG.test(name)) continue;
      const st = await stat(join(this.dir, name)).catch(() => undefined);
      if (st?.isDirectory()) found.push({ tag: name, mtime: st.mtimeMs });
    }
    found.sort((a, b) => b.mtime - a.mtime || byNameDesc(a.tag, b.tag));
    return found.map((f) => Object.freeze({ tag: f.tag, created: new Date(f.mtime).toISOString() }));
  }

  /** Why a deploy of `tag` is refused. */
  notFound(tag: string, known: readonly TagInfo[]): string {
    return `release ${tag} does not exist in ${this.dir}; copy it there first or pick one of ${known.slice(0, 5).map((t) => t.tag).join(", ") || "(none yet)"}`;
  }
}
