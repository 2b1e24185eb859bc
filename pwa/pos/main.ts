import { createPosClient, type CartLine, type SyncStatus } from '../src';
import type { CachedProduct } from '../src/db';

// The POS page served at /pos: a thin view over the client library (pwa/src). Everything it shows
// comes from IndexedDB, so it works the same offline, after a reload, as online.

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const client = createPosClient();
const cart = new Map<string, number>();
let products: CachedProduct[] = [];

function text(el: HTMLElement, value: string) {
  el.textContent = value;
}

function list(el: HTMLElement, items: string[]) {
  el.replaceChildren(
    ...items.map((t) => {
      const li = document.createElement('li');
      li.textContent = t;
      return li;
    }),
  );
}

function showStatus(s: SyncStatus) {
  const badge = $('sync-state');
  text(badge, s.state);
  badge.className = `badge ${s.state}`;
  badge.title = s.last_error ?? '';
  text($('sync-pending'), String(s.pending));
  text($('sync-dead'), String(s.dead));
  text($('sync-last'), s.last_synced_at ? new Date(s.last_synced_at).toLocaleTimeString() : 'never');
  void renderProducts();
  void renderDeadLetters();
}

async function renderProducts() {
  products = (await client.db.products.toArray())
    .filter((p) => p.active)
    .sort((a, b) => a.name.localeCompare(b.name));
  const buttons = await Promise.all(
    products.map(async (p) => {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'product';
      b.dataset.testid = `product-${p.id}`;
      b.dataset.productId = p.id;
      let left: number | null = null;
      try {
        left = await client.validator.available(p.id);
      } catch {
        left = null;
      }
      b.append(p.name);
      const small = document.createElement('small');
      small.textContent = `${p.price.toFixed(2)}${left === null ? '' : ` · stock ${left}`}`;
      b.append(small);
      b.addEventListener('click', () => {
        cart.set(p.id, (cart.get(p.id) ?? 0) + 1);
        renderCart();
      });
      return b;
    }),
  );
  $('products').replaceChildren(...buttons);
}

function cartLines(): CartLine[] {
  const byId = new Map(products.map((p) => [p.id, p]));
  // Name and price as shown: the sale uses them if the product cache cannot be read.
  return [...cart].map(([product_id, qty]) => ({
    product_id,
    qty,
    name: byId.get(product_id)?.name,
    unit_price: byId.get(product_id)?.price,
  }));
}

function renderCart() {
  const byId = new Map(products.map((p) => [p.id, p]));
  list(
    $('cart'),
    cartLines().map((l) => `${l.qty} × ${byId.get(l.product_id)?.name ?? l.product_id}`),
  );
  const total = cartLines().reduce((s, l) => s + l.qty * (byId.get(l.product_id)?.price ?? 0), 0);
  text($('cart-total'), total.toFixed(2));
}

async function renderDeadLetters() {
  const dead = await client.deadLetters();
  list(
    $('dead-letters'),
    dead.map((d) => `${d.event.type} #${d.seq}: ${d.code} — ${d.message}`),
  );
}

function showErrors(messages: string[]) {
  list($('error-list'), messages);
  $<HTMLDialogElement>('error-dialog').showModal();
}

async function sell(acceptWarnings: boolean) {
  $('notice').hidden = true;
  try {
    const result = await client.sales.sell(cartLines(), { acceptWarnings });
    if (result.status === 'blocked') return showErrors(result.errors.map((e) => e.message));
    if (result.status === 'needs-confirmation') {
      list(
        $('notice-list'),
        result.warnings.map((w) => w.message),
      );
      $('notice').hidden = false;
      return;
    }
    cart.clear();
    renderCart();
    text(
      $('last-sale'),
      `Sold ${result.total.toFixed(2)}${result.fiscal_number === null ? '' : ` · invoice ${result.fiscal_number}`}`,
    );
    $('last-sale').dataset.fiscalNumber = result.fiscal_number === null ? '' : String(result.fiscal_number);
    await renderProducts();
  } catch (err) {
    showErrors([err instanceof Error ? err.message : String(err)]);
  }
}

function showPos() {
  $('signin').hidden = true;
  $('pos').hidden = false;
  client.sync.status.subscribe(showStatus);
  client.start();
}

async function main() {
  $('sell').addEventListener('click', () => void sell(false));
  $('notice-continue').addEventListener('click', () => void sell(true));
  $('notice-cancel').addEventListener('click', () => ($('notice').hidden = true));
  $('clear').addEventListener('click', () => {
    cart.clear();
    renderCart();
  });
  $('error-ok').addEventListener('click', () => $<HTMLDialogElement>('error-dialog').close());
  $('signin-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const form = new FormData(ev.target as HTMLFormElement);
    const field = (name: string) => String(form.get(name) ?? '');
    client
      .signIn({
        store_id: field('store_id'),
        device_id: field('device_id'),
        token: field('token'),
        series_id: field('series_id') || null,
      })
      .then(showPos)
      .catch((err: unknown) => text($('signin-error'), err instanceof Error ? err.message : String(err)));
  });

  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.register('/pos/sw.js', { scope: '/pos' }).catch(() => undefined);
  }
  if (await client.restore()) showPos();
  else $('signin').hidden = false;
}

void main();
