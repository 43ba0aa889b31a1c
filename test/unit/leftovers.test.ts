import { describe, expect, it } from "vitest";
import { Leftovers, asideName } from "../../node-agent/leftovers.js";
import { LEFTOVER_REMOVAL_RETRY_MS } from "../../specs/defaults.js";

const T0 = 1_000_000;
const ID = "950b95f3f588" + "a".repeat(52);
const c = (state: string, name = "sy-shop-vm1-web", id = ID) => ({ id, name, state });

describe("leftovers: stopped containers the engine could not remove", () => {
  it("a container is one only once its removal failed (here, or as Docker's dead state, or set aside by name), and never while it runs", () => {
    const book = new Leftovers();
    expect(book.is(c("exited"), T0), "a plain dead workload is a death, not a leftover").toBe(false);
    expect(book.is(c("dead"), T0), "dead: a removal failed before this agent started").toBe(true);
    expect(book.is(c("exited", asideName("sy-shop-vm1-web", "0123456789abcdef"), "b".repeat(64)), T0)).toBe(true);
    expect(book.is(c("exited", "sy-shop-vm1-web-unremovable-nothex", "e".repeat(64)), T0)).toBe(false);
    const other = "c".repeat(64);
    book.add(other, T0);
    expect(book.is(c("removing", "sy-shop-vm1-web", other), T0)).toBe(true);
    for (const state of ["running", "restarting", "paused"]) {
      expect(book.is(c(state, "sy-shop-vm1-web", other), T0), `${state}: it may hold its port, it blocks`).toBe(false);
      expect(book.is(c(state, asideName("sy-shop-vm1-web", ID)), T0)).toBe(false);
    }
  });

  it("the aside name frees the service's name and says what it is", () => {
    expect(asideName("sy-shop-vm1-web", ID)).toBe("sy-shop-vm1-web-unremovable-950b95f3f588");
  });

  it("removal is retried every interval, not in a hot loop, until it is gone", () => {
    const book = new Leftovers();
    expect(book.nextWait(T0)).toBeNull();
    book.add(ID, T0);
    expect(book.nextWait(T0)).toBe(LEFTOVER_REMOVAL_RETRY_MS);
    expect(book.due(T0 + LEFTOVER_REMOVAL_RETRY_MS - 1)).toEqual([]);
    expect(book.due(T0 + LEFTOVER_REMOVAL_RETRY_MS)).toEqual([ID]);
    expect(book.due(T0 + LEFTOVER_REMOVAL_RETRY_MS + 1), "just tried: waits again").toEqual([]);
    expect(book.nextWait(T0 + LEFTOVER_REMOVAL_RETRY_MS)).toBe(LEFTOVER_REMOVAL_RETRY_MS);
    // One found in a listing (after an agent restart) is tried at once.
    const found = "d".repeat(64);
    book.is(c("dead", "x", found), T0 + 7);
    expect(book.due(T0 + 7)).toEqual([found]);
    book.gone(ID);
    book.gone(found);
    expect(book.nextWait(T0)).toBeNull();
    expect(LEFTOVER_REMOVAL_RETRY_MS).toBeGreaterThanOrEqual(3000);
  });
});
