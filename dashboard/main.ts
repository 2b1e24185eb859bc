import { createApi, RefusedError, type Api, type AlertRow } from './node-api';
import { HISTORY_HOURS, renderChart, resizeChart } from './chart';
import { el, renderAlerts, renderHealth, renderRelays } from './render';

// The operators' dashboard served at /dashboard: a store's health, its last 24 hours, the relays
// and the store's alerts, refreshed every 30 s. The admin secret lives in sessionStorage (gone
// when the tab closes) and leaves the page only as `Authorization: Bearer`.

const SECRET_KEY = 'velox-dashboard-secret';
const STORE_KEY = 'velox-dashboard-store';
const REFRESH_MS = 30_000;

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

let api: Api | null = null;
let timer: ReturnType<typeof setInterval> | null = null;
let refreshing: Promise<void> | null = null;

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

function showSignIn(error = '') {
  if (timer !== null) clearInterval(timer);
  timer = null;
  api = null;
  sessionStorage.removeItem(SECRET_KEY);
  $('dashboard').hidden = true;
  $('session').hidden = true;
  $('signin').hidden = false;
  $('signin-error').textContent = error;
  $('secret').focus();
}

/** Tries the secret on the node (GET /stores); keeps it only once the node accepted it. */
async function start(secret: string) {
  const candidate = createApi(secret);
  try {
    await loadStores(candidate);
  } catch (err) {
    return showSignIn(err instanceof RefusedError ? err.message : `Could not sign in: ${message(err)}`);
  }
  api = candidate;
  sessionStorage.setItem(SECRET_KEY, secret);
  $('signin').hidden = true;
  $('signin-error').textContent = '';
  $('session').hidden = false;
  $('dashboard').hidden = false;
  await refresh();
  timer = setInterval(() => void refresh(), REFRESH_MS);
}

async function loadStores(from: Api) {
  const stores = await from.stores();
  const select = $<HTMLSelectElement>('store');
  const wanted = select.value || sessionStorage.getItem(STORE_KEY) || '';
  select.replaceChildren(
    ...stores.map((s) => el('option', { value: s.id }, `${s.name} (${s.id.slice(0, 8)})`)),
  );
  select.value = stores.some((s) => s.id === wanted) ? wanted : (stores[0]?.id ?? '');
  $('no-stores').hidden = stores.length > 0;
}

function refresh(): Promise<void> {
  refreshing ??= load().finally(() => {
    refreshing = null;
  });
  return refreshing;
}

async function load() {
  const current = api;
  if (!current) return;
  const errors: string[] = [];
  const attempt = async <T>(what: string, work: () => Promise<T>): Promise<T | null> => {
    try {
      return await work();
    } catch (err) {
      if (err instanceof RefusedError) throw err;
      errors.push(`${what}: ${message(err)}`);
      return null;
    }
  };
  try {
    await attempt('stores', () => loadStores(current));
    const storeId = $<HTMLSelectElement>('store').value;
    for (const id of ['health', 'chart', 'relays', 'alerts']) $(id).closest('section')!.hidden = !storeId;
    if (!storeId) return;
    const [report, history, peers, alerts] = await Promise.all([
      attempt('health', () => current.health(storeId)),
      attempt('history', () => current.history(storeId, HISTORY_HOURS)),
      attempt('relays', () => current.relays()),
      attempt('alerts', () => current.alerts(storeId)),
    ]);
    if (report) renderHealth(report, $);
    if (history) $('chart-empty').hidden = renderChart($('chart'), history);
    if (peers) {
      renderRelays($<HTMLTableElement>('relays'), peers, report);
      $('no-peers').hidden = peers.length > 0;
    }
    if (alerts) showAlerts(alerts);
    $('updated').textContent = `updated ${new Date().toLocaleTimeString()}`;
  } catch (err) {
    return showSignIn(message(err));
  }
  $('load-error').textContent = errors.join(' · ');
}

function showAlerts(alerts: AlertRow[]) {
  renderAlerts($<HTMLTableElement>('alerts'), alerts, (alert, button) => void acknowledge(alert, button));
  $('no-alerts').hidden = alerts.length > 0;
}

async function acknowledge(alert: AlertRow, button: HTMLButtonElement) {
  const current = api;
  if (!current) return;
  button.disabled = true;
  try {
    await current.acknowledge(alert.id);
    showAlerts(await current.alerts($<HTMLSelectElement>('store').value));
  } catch (err) {
    if (err instanceof RefusedError) return showSignIn(err.message);
    button.disabled = false;
    $('load-error').textContent = `acknowledge ${alert.type}: ${message(err)}`;
  }
}

document.addEventListener('DOMContentLoaded', () => {
  $('signin-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const input = $<HTMLInputElement>('secret');
    const secret = input.value;
    input.value = '';
    if (secret) void start(secret);
  });
  $('sign-out').addEventListener('click', () => showSignIn());
  $('refresh').addEventListener('click', () => void refresh());
  $('store').addEventListener('change', () => {
    sessionStorage.setItem(STORE_KEY, $<HTMLSelectElement>('store').value);
    void refresh();
  });
  window.addEventListener('resize', () => resizeChart($('chart')));
  const saved = sessionStorage.getItem(SECRET_KEY);
  if (saved) void start(saved);
  else showSignIn();
});
