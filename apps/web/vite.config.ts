import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';
import { VitePWA } from 'vite-plugin-pwa';
import { precompress } from './precompress';

// The web app is static files: the API process serves them at / in embedded mode, nginx in
// cluster mode. `npm run dev:web` proxies the API to a local `npm start`. Files under assets/ are
// named by their content hash (Vite's default), so they can be cached for ever; the others
// (index.html, sw.js, workbox-*.js, the manifest, the icons) keep their names and are revalidated.
export default defineConfig({
  root: import.meta.dirname,
  plugins: [
    react(),
    VitePWA({
      registerType: 'autoUpdate',
      injectRegister: false,
      includeAssets: ['favicon.svg', 'icon-192.png', 'icon-512.png'],
      manifest: {
        name: 'Taskman',
        short_name: 'Taskman',
        description: 'Your tasks, on every device',
        theme_color: '#4f46e5',
        background_color: '#ffffff',
        display: 'standalone',
        start_url: '/',
        icons: [
          { src: '/icon-192.png', sizes: '192x192', type: 'image/png' },
          { src: '/icon-512.png', sizes: '512x512', type: 'image/png' },
          { src: '/icon-512.png', sizes: '512x512', type: 'image/png', purpose: 'maskable' },
        ],
      },
      workbox: {
        navigateFallback: '/index.html',
        navigateFallbackDenylist: [/^\/api\//, /^\/admin\//, /^\/docs/, /^\/health\//, /^\/openapi\.json/],
        runtimeCaching: [
          {
            // The last loaded tasks, projects and profile open offline; online, the network wins.
            // (Not the live events stream: it never ends, so it can be neither timed out nor cached.)
            urlPattern: ({ url, request }) =>
              url.pathname.startsWith('/api/v1/') &&
              url.pathname !== '/api/v1/events' &&
              request.method === 'GET',
            handler: 'NetworkFirst',
            options: {
              cacheName: 'taskman-api',
              networkTimeoutSeconds: 4,
              expiration: { maxEntries: 200, maxAgeSeconds: 7 * 86_400 },
            },
          },
        ],
      },
    }),
    // Last: .br and .gz copies of the text files, the service worker's included.
    precompress(),
  ],
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: true },
  server: {
    proxy: { '/api': 'http://127.0.0.1:3000', '/health': 'http://127.0.0.1:3000' },
  },
});
