/// <reference types="vitest/config" />
import path from "node:path";
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";
import tailwindcss from "@tailwindcss/vite";

// The monitor (`fedforge monitor`) serves the API and the WebSocket; in dev, Vite proxies both to it.
const monitor = process.env.FEDFORGE_MONITOR_URL || "http://127.0.0.1:8090";

export default defineConfig({
  plugins: [react(), tailwindcss()],
  resolve: { alias: { "@": path.resolve(import.meta.dirname, "src") } },
  server: {
    host: "127.0.0.1",
    proxy: { "/api": { target: monitor, ws: true, changeOrigin: true } },
  },
  build: { outDir: "dist", emptyOutDir: true, reportCompressedSize: true },
  test: {
    environment: "jsdom",
    setupFiles: ["./src/test/setup.ts"],
    css: false,
    // user-event typing takes seconds when the machine is busy (2 cores shared with the federation and builds).
    testTimeout: 20_000,
  },
});
