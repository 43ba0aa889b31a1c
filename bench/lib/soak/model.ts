/** The desired state as the soak's driver models it (what it writes into state.yaml). */
import type { Color } from "../../../specs/types.js";

export interface DesiredModel {
  active: Color;
  tags: Record<Color, string>;
  stopped: Record<Color, boolean>;
  owner: "active" | "blue" | "green" | "none";
}

export const other = (c: Color): Color => (c === "blue" ? "green" : "blue");

export function ownerColor(m: DesiredModel): Color | null {
  return m.owner === "none" ? null : m.owner === "active" ? m.active : m.owner;
}

export function describeModel(m: DesiredModel): string {
  const c = (x: Color) => `${x}=${m.stopped[x] ? "stopped" : m.tags[x]}`;
  return `active ${m.active}, ${c("blue")}, ${c("green")}, jobs ${m.owner}`;
}
