// Shared by server.js and worker.js: which version of the demo app this is, and what the
// deployer told the container about itself. Node builtins only.
//
// The version is baked into the image by build.sh (ENV APP_VERSION=vN and the file /app/VERSION).
// Outside an image (the agent's process runtime, `node server.js` by hand) it falls back to
// SWITCHYARD_TAG, then to the VERSION file beside this script, then to "dev".

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

function readVersionFile() {
  try {
    return readFileSync(join(here, 'VERSION'), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

export const version = process.env.APP_VERSION || process.env.SWITCHYARD_TAG || readVersionFile() || 'dev';
export const color = process.env.SWITCHYARD_COLOR || '';
export const node = process.env.SWITCHYARD_NODE || '';
export const tag = process.env.SWITCHYARD_TAG || version;

// The database the app would use, from DATABASE_URL: a secret the agent reads from the node's secrets
// folder (cluster.yaml `secrets: [database]`). Only where it points is ever shown, never the password.
export const database = describeDatabase(process.env.DATABASE_URL);

function describeDatabase(raw) {
  if (!raw) return 'not configured (no DATABASE_URL)';
  try {
    const u = new URL(raw);
    return `${u.protocol}//${u.username ? `${u.username}@` : ''}${u.host}${u.pathname} (password from a secret)`;
  } catch {
    return 'configured (DATABASE_URL is not a URL)';
  }
}

// How each version looks and behaves. v1 and v2 are visibly different; v3 listens but is
// deliberately unhealthy (GET /healthz answers 500), for testing that a bad tag is never switched to;
// v4 passes its health check but answers 500 everywhere else, for testing the automatic rollback.
const flavours = {
  v1: { title: 'Version one', accent: '#1f6feb', background: '#eaf2ff', healthy: true, motto: 'The original.' },
  v2: { title: 'Version two', accent: '#1a7f37', background: '#eafbea', healthy: true, motto: 'New and improved.' },
  v3: { title: 'Version three', accent: '#cf222e', background: '#ffecec', healthy: false, motto: 'Broken on purpose.' },
  v4: { title: 'Version four', accent: '#bf8700', background: '#fff8c5', healthy: true, failing: true, motto: 'Healthy outside, broken inside.' },
};

export const flavour = flavours[version] || {
  title: `Version ${version}`,
  accent: '#6e7781',
  background: '#f6f8fa',
  healthy: true,
  motto: 'An unknown version.',
};

// DEMO_HEALTHY=false (or true) overrides the version's health, for tests that need an unhealthy v1/v2.
if (process.env.DEMO_HEALTHY === 'false') flavour.healthy = false;
if (process.env.DEMO_HEALTHY === 'true') flavour.healthy = true;
