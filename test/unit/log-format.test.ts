import { describe, expect, it } from "vitest";
import { chooseLogFormat } from "../../common/log.js";

describe("chooseLogFormat (README: readable logs in a terminal, JSON under systemd)", () => {
  it("pretty on a terminal, JSON otherwise; the flag, then SWITCHYARD_LOG_FORMAT, override", () => {
    expect(chooseLogFormat(undefined, true, undefined)).toBe("pretty");
    expect(chooseLogFormat(undefined, false, undefined)).toBe("json");
    expect(chooseLogFormat(undefined, false, "")).toBe("json");
    expect(chooseLogFormat(undefined, true, "json")).toBe("json");
    expect(chooseLogFormat(undefined, false, "pretty")).toBe("pretty");
    expect(chooseLogFormat("json", true, "pretty")).toBe("json");
    expect(chooseLogFormat("pretty", false, "json")).toBe("pretty");
    expect(() => chooseLogFormat("xml", true, undefined)).toThrow(/json or pretty, not "xml"/);
    expect(() => chooseLogFormat(undefined, true, "yaml")).toThrow(/json or pretty/);
  });
});
