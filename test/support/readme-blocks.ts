/** README.md cut into the pieces a claim can live in: paragraphs, top-level list items and fenced code blocks. */
export interface ReadmeBlock {
  /** The heading line the block sits under ("" before the first). */
  heading: string;
  kind: "para" | "item" | "code";
  text: string;
}

export function readmeBlocks(markdown: string): ReadmeBlock[] {
  const blocks: ReadmeBlock[] = [];
  let cur: ReadmeBlock | null = null;
  let fence = false;
  let heading = "";
  const flush = () => {
    if (cur) blocks.push(cur);
    cur = null;
  };
  for (const line of markdown.split("\n")) {
    if (line.startsWith("```")) {
      flush();
      fence = !fence;
      if (fence) cur = { heading, kind: "code", text: "" };
      continue;
    }
    if (fence) {
      cur!.text += line + "\n";
      continue;
    }
    if (/^#+ /.test(line)) {
      flush();
      heading = line;
    } else if (line.trim() === "") {
      if (cur?.kind !== "item") flush();
    } else if (/^(- |\d+\. )/.test(line)) {
      flush();
      cur = { heading, kind: "item", text: line + "\n" };
    } else if (cur?.kind === "item" && /^\s/.test(line)) {
      cur.text += line + "\n";
    } else {
      if (cur?.kind === "item") flush();
      cur ??= { heading, kind: "para", text: "" };
      cur.text += line + "\n";
    }
  }
  flush();
  return blocks;
}
