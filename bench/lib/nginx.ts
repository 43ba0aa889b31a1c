/** nginx from Debian's package as the baseline: one worker, upstream keep-alive, all files in a temp dir. */
import { spawn, type ChildProcess } from "node:child_process";
import { writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";

/** HTTPS on a second port with the router's certificate: TLS 1.2/1.3, session cache and tickets on. */
export interface NginxTls {
  port: number;
  certFile: string;
  keyFile: string;
}

export function nginxConfig(dir: string, listenPort: number, upstreamPort: number, tls?: NginxTls): string {
  const proxy = `
      proxy_pass http://blue;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $http_host;
      add_header x-switchyard-color blue;`;
  const https = tls === undefined ? "" : `
  server {
    listen 127.0.0.1:${tls.port} ssl;
    ssl_certificate ${tls.certFile};
    ssl_certificate_key ${tls.keyFile};
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:SSL:10m;
    ssl_session_tickets on;
    location / {${proxy}
    }
  }`;
  return `worker_processes 1;
daemon off;
pid ${join(dir, "nginx.pid")};
error_log ${join(dir, "error.log")} warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${join(dir, "body")};
  proxy_temp_path ${join(dir, "proxy")};
  fastcgi_temp_path ${join(dir, "fastcgi")};
  uwsgi_temp_path ${join(dir, "uwsgi")};
  scgi_temp_path ${join(dir, "scgi")};
  keepalive_requests 1000000;
  keepalive_timeout 60s;
  upstream blue { server 127.0.0.1:${upstreamPort}; keepalive 256; keepalive_requests 1000000; }
  server {
    listen 127.0.0.1:${listenPort};
    location / {${proxy}
    }
  }${https}
}
`;
}

export function startNginx(dir: string, listenPort: number, upstreamPort: number, cpus?: string, tls?: NginxTls): ChildProcess {
  mkdirSync(dir, { recursive: true });
  const conf = join(dir, "nginx.conf");
  writeFileSync(conf, nginxConfig(dir, listenPort, upstreamPort, tls));
  const args = ["-p", dir, "-c", conf];
  return cpus
    ? spawn("taskset", ["-c", cpus, "nginx", ...args], { stdio: ["ignore", "ignore", "inherit"] })
    : spawn("nginx", args, { stdio: ["ignore", "ignore", "inherit"] });
}
