import { defineConfig } from 'vite'
import preact from '@preact/preset-vite'
import { fileURLToPath } from 'node:url'

// The gateway serves web/dist itself (src/features/web). `vite` (dev server) proxies the API to a
// gateway on GW_URL (default http://127.0.0.1:8080) so the screens can be worked on with HMR.
const gateway = process.env.GW_URL ?? 'http://127.0.0.1:8080'

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  plugins: [preact({ prerender: { enabled: false } })],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    chunkSizeWarningLimit: 600,
  },
  server: {
    proxy: { '/api': { target: gateway, changeOrigin: false }, '/docs': gateway },
  },
})
