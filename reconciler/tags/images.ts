/**
 * Tags of an app whose services run images of several repositories (cluster.yaml services.*.image): the
 * colour's tag applies to every service, so only a tag present in every repository can be deployed. The
 * same shape as the registry client; one registry (URL and credentials) serves every repository.
 */
import type { TagInfo } from "../../specs/api/tags.js";
import { RegistryClient, type RegistryClientOptions } from "./registry.js";

export class ImageTags {
  private readonly clients: readonly RegistryClient[];
  /** Each repository's tags at the last listing, for saying which one lacks a tag. */
  private last = new Map<string, ReadonlySet<string>>();

  /** `repositories` in order: the first one's tag list (and its creation times) is the one shown. */
  constructor(readonly repositories: readonly string[], o: Omit<RegistryClientOptions, "repository">) {
    this.clients = repositories.map((repository) => new RegistryClient({ ...o, repository }));
  }

  /** Tags present in every repository, newest first (the first repository's order and creation times). */
  async tags(): Promise<TagInfo[]> {
    const lists = await Promise.all(this.clients.map((c) => c.tags()));
    this.last = new Map(this.repositories.map((r, i) => [r, new Set(lists[i]!.map((t) => t.tag))]));
    const sets = [...this.last.values()];
    return lists[0]!.filter((t) => sets.every((s) => s.has(t.tag)));
  }

  /** Why a deploy of `tag` is refused: the repositories that lack it. */
  notFound(tag: string, known: readonly TagInfo[]): string {
    const lacking = this.repositories.filter((r) => !this.last.get(r)?.has(tag));
    const pick = known.slice(0, 5).map((t) => t.tag).join(", ") || "(none in all of them)";
    return `tag ${tag} is not in ${lacking.join(" and ") || "every repository"}; a colour's tag runs every service, so push ${tag} to each of ${this.repositories.join(", ")} first, or pick one of ${pick}`;
  }

  /** The manifest digest `tag` points at now in `repository` (default: the first one). */
  digestOf(tag: string, repository?: string): Promise<string> {
    const i = repository === undefined ? 0 : this.repositories.indexOf(repository);
    if (i < 0) return Promise.reject(new Error(`${repository} is not one of the app's image repositories`));
    return this.clients[i]!.digestOf(tag);
  }
}
