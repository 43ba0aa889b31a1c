/**
 * Builds the dashboard into static files that the reconciler serves at `/`:
 * `npm run build:dashboard` → dist/dashboard/ (relative base, hashed asset names).
 * `npx vite --config dashboard/vite.config.ts` serves it for development, with /api proxied to
 * dashboard/dev-server.mjs, the real reconciler on the process runtime (run that first: `node dashboard/dev-server.mjs`).
 */
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";
import { svelte } from "@sveltejs/vite-plugin-svelte";

const root = fileURLToPath(new URL(".", import.meta.url));

export default defineConfig({
  root,
  base: "./",
  plugins: [svelte({ configFile: false })],
  build: {
    outDir: fileURLToPath(new URL("../dist/dashboard", import.meta.url)),
    emptyOutDir: true,
    target: "es2022",
    assetsDir: "assets",
    reportCompressedSize: true,
  },
  server: {
    proxy: { "/api": { target: process.env.SWITCHYARD_DEV_API ?? "http://127.0.0.1:8790", changeOrigin: false } },
  },
});
