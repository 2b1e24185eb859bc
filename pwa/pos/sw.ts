// The POS page's service worker: keeps the page's own files so /pos opens with no network after
// the first visit. Only those files: the API calls (/sync/…, /fiscal/…) always go to the network,
// the client library decides what to do when they fail.

// The project compiles with the DOM library; the few worker types used here, declared locally.
interface SwEvent extends Event {
  waitUntil(promise: Promise<unknown>): void;
}
interface SwFetchEvent extends SwEvent {
  request: Request;
  respondWith(response: Promise<Response>): void;
}
interface SwScope {
  location: Location;
  skipWaiting(): Promise<void>;
  clients: { claim(): Promise<void> };
  addEventListener(type: 'install' | 'activate', listener: (event: SwEvent) => void): void;
  addEventListener(type: 'fetch', listener: (event: SwFetchEvent) => void): void;
}
const sw = globalThis as unknown as SwScope;
/** Set by scripts/build-pos.ts to a hash of the bundle: a new build is a new cache. */
declare const POS_VERSION: string;

const CACHE = `velox-pos-${POS_VERSION}`;
const ASSETS = ['/pos', '/pos/app.js', '/pos/styles.css', '/pos/manifest.webmanifest'];

sw.addEventListener('install', (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((c) => c.addAll(ASSETS))
      .then(() => sw.skipWaiting()),
  );
});

sw.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => sw.clients.claim()),
  );
});

sw.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== 'GET' || url.origin !== sw.location.origin) return;
  if (!ASSETS.includes(url.pathname)) return;
  // Network first, so a till online always gets the current build; the cache when offline.
  event.respondWith(
    fetch(event.request)
      .then(async (res) => {
        if (res.ok) await (await caches.open(CACHE)).put(url.pathname, res.clone());
        return res;
      })
      .catch(async () => (await caches.match(url.pathname)) ?? Response.error()),
  );
});
