import { describe, expect, it } from "vitest";
import { takeListenFds } from "../../node-agent/router/socket-activation.js";

describe("systemd socket activation (sd_listen_fds)", () => {
  it("takes the sockets passed to this process by name, from fd 3, and clears the variables", () => {
    const env: NodeJS.ProcessEnv = { LISTEN_PID: "42", LISTEN_FDS: "2", LISTEN_FDNAMES: "https:http", OTHER: "x" };
    expect(takeListenFds(env, 42)).toEqual({ https: 3, http: 4 });
    expect(env).toEqual({ OTHER: "x" });
  });

  it("unnamed sockets: the first is http, the second https", () => {
    expect(takeListenFds({ LISTEN_PID: "7", LISTEN_FDS: "1" }, 7)).toEqual({ http: 3 });
    expect(takeListenFds({ LISTEN_PID: "7", LISTEN_FDS: "2", LISTEN_FDNAMES: "unknown:unknown" }, 7)).toEqual({ http: 3, https: 4 });
  });

  it("sockets meant for another process (LISTEN_PID) or none: bind yourself", () => {
    const env: NodeJS.ProcessEnv = { LISTEN_PID: "41", LISTEN_FDS: "1" };
    expect(takeListenFds(env, 42)).toEqual({});
    expect(env).toEqual({});
    expect(takeListenFds({}, 42)).toEqual({});
  });

  it("a socket with another name, or two of one name, is refused with what to change", () => {
    expect(() => takeListenFds({ LISTEN_PID: "1", LISTEN_FDS: "1", LISTEN_FDNAMES: "api" }, 1)).toThrow(/named "api" \(fd 3\).*FileDescriptorName=/);
    expect(() => takeListenFds({ LISTEN_PID: "1", LISTEN_FDS: "2", LISTEN_FDNAMES: "http:http" }, 1)).toThrow(/two sockets named "http"/);
  });
});
