import { describe, expect, it } from "vitest";
import { envRefusal, processEnv } from "../../node-agent/process-env.js";

describe("process runtime env names", () => {
  it("refuses loader, shell and runtime variables, and anything but a plain name", () => {
    const refused = [
      "LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT", "DYLD_INSERT_LIBRARIES", "GCONV_PATH", "GLIBC_TUNABLES", "MALLOC_CHECK_",
      "BASH_ENV", "BASH_XTRACEFD", "ENV", "SHELLOPTS", "BASHOPTS", "PS4", "PROMPT_COMMAND", "IFS", "CDPATH", "SHELL",
      "PATH", "HOME", "XDG_CONFIG_HOME", "OPENSSL_CONF", "SSL_CERT_FILE", "GIT_SSH_COMMAND", "LESSOPEN", "EDITOR",
      "NODE_OPTIONS", "NODE_PATH", "NODE_EXTRA_CA_CERTS", "NODE_TLS_REJECT_UNAUTHORIZED", "NPM_CONFIG_SCRIPT_SHELL", "UV_THREADPOOL_SIZE",
      "PYTHONPATH", "PYTHONSTARTUP", "PYTHONWARNINGS", "PERL5OPT", "PERL5LIB", "RUBYOPT", "RUBYLIB", "GEM_HOME", "BUNDLE_GEMFILE",
      "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS", "CLASSPATH", "PHPRC", "LUA_INIT", "GOFLAGS", "DOTNET_STARTUP_HOOKS",
      "lower", "Mixed_Case", "BASH_FUNC_x%%", "A-B", "1ABC", "",
    ];
    for (const name of refused) expect(envRefusal(name), name).not.toBeNull();
  });

  it("accepts an app's own settings", () => {
    for (const name of ["LOG_LEVEL", "DATABASE_URL", "STORE_URL", "JOB_INTERVAL_MS", "NODE_ENV", "HOST", "PORT", "_PRIVATE", "GOOGLE_CLOUD_PROJECT", "TZ", "LANG"]) {
      expect(envRefusal(name), name).toBeNull();
    }
  });

  it("HOST and PORT are the agent's; PATH comes from the agent; nothing else is inherited", () => {
    const env = processEnv({ service: "web", env: { HOST: "0.0.0.0", PORT: "1", LOG_LEVEL: "info" }, hostPort: 18081, port: 8080, publishAddress: "10.0.0.11" });
    expect(env).toMatchObject({ HOST: "10.0.0.11", PORT: "18081", LOG_LEVEL: "info", PATH: process.env.PATH });
    expect(env.HOME).toBeUndefined();
    const job = processEnv({ service: "worker", env: { PORT: "9" }, publishAddress: "127.0.0.1", user: { name: "app", uid: 1000, gid: 1000, home: "/home/app" } });
    expect(job).toMatchObject({ HOST: "127.0.0.1", HOME: "/home/app", USER: "app", LOGNAME: "app" });
    expect(job.PORT).toBeUndefined();
    expect(() => processEnv({ service: "web", env: { SHELLOPTS: "xtrace" }, publishAddress: "127.0.0.1" })).toThrow(/services\.web\.env\.SHELLOPTS is refused/);
  });
});
