/** Small domain types shared by every part. */
export type Color = "blue" | "green";
export const COLORS: readonly Color[] = ["blue", "green"];
export function otherColor(c: Color): Color {
  return c === "blue" ? "green" : "blue";
}
