// @ts-check
// The stock: the cotos pinned to the place on screen (home, or the cotonoma), in their order,
// as an outline with the cotos each connects to nested under it (to STOCK_DEPTH), each level
// shown or hidden with its disclosure button. Pins and the cotos under a coto are put in
// another order by dragging them among their siblings, from the keyboard (Alt+ArrowUp or
// Alt+ArrowDown moves the focused item), or with a tap on their Move up and Move down buttons
// (shown in the reorder mode, for touch screens), each move said in a status region. The order is kept by the
// graph service (PUT .../pins/order, PUT .../cotos/ID/order). What changes elsewhere (a pin or
// a connection made by another member, live.js; one made on this page, connect.js) reads the
// stock again, keeping what is open and where the focus was.

/** @import { StockNode } from './graph-api.js' */

import { ApiError } from './api.js';
import { clearError, showError } from './alerts.js';
import { byId, chevronIcon, h } from './dom.js';
import { excerpt, orderConnections, orderPins, stock, unpin } from './graph-api.js';
import { cotoHref } from './router.js';
import { emit, identityReady, on, state } from './state.js';

const section = byId('stock', HTMLElement);
const list = byId('stock-list', HTMLUListElement);
const summary = byId('stock-summary', HTMLSpanElement);
const graphButton = byId('stock-graph', HTMLButtonElement);
const reorderButton = byId('stock-reorder', HTMLButtonElement);
const announcer = byId('stock-announcer', HTMLParagraphElement);

const RELOAD_MS = 120; // changes that come together read the stock once

/** @type {Set<string>} the cotos pinned to the place on screen */
let pinned = new Set();
/** @type {Set<string>} every coto the stock shows, at any depth */
let shown = new Set();
/** @type {Set<string>} the outline's items whose children are hidden, by path (coto ids from the pin down) */
const collapsed = new Set();
/** @type {string | null | undefined} the place whose stock is on screen (null: home), undefined: none */
let place;
let reading = 0; // bumped by every read: an older answer is dropped
/** @type {ReturnType<typeof setTimeout> | undefined} */
let reloadTimer;
let lists = 0; // ids for the nested lists
let saving = 0; // orders on their way: the stock read meanwhile would undo the moves made since
let moved = 0; // moves made on this page, counted

/**
 * Whether a coto is pinned to the stock on screen.
 * @param {string} id
 */
export const isPinned = (id) => pinned.has(id);

/**
 * @param {string} path
 * @param {string} what
 */
function disclosure(path, what) {
  const open = !collapsed.has(path);
  const button = h('button', {
    className: 'stock-toggle', type: 'button', 'aria-expanded': String(open), 'aria-label': `Connected to ${what}`,
    title: open ? 'Hide the connected cotos' : 'Show the connected cotos',
  }, chevronIcon('stock-toggle-icon'));
  return button;
}

/**
 * One item of the outline, with its children.
 * @param {StockNode} node
 * @param {string} parentPath
 * @param {boolean} top a pin
 * @returns {HTMLLIElement}
 */
function itemOf(node, parentPath, top) {
  const { coto, connection } = node;
  const path = parentPath ? `${parentPath}/${coto.id}` : coto.id;
  shown.add(coto.id);
  const what = excerpt(coto) || 'a coto';
  const li = h('li', { className: 'stock-item', draggable: 'true', dataset: { id: coto.id, path } });
  if (connection) li.dataset.connection = connection.id;
  const children = Array.isArray(node.children) ? node.children : [];
  const row = h('div', { className: 'stock-row' });
  if (children.length > 0) row.append(disclosure(path, what));
  else row.append(h('span', { className: 'stock-toggle-space', 'aria-hidden': 'true' }));
  const body = h('span', { className: 'stock-body' });
  if (connection?.linking_phrase) body.append(h('span', { className: 'stock-phrase', text: connection.linking_phrase }), ' ');
  body.append(h('a', {
    className: 'stock-link', href: cotoHref(coto.id, coto.posted_in?.key), 'aria-describedby': 'stock-keys',
    'aria-keyshortcuts': 'Alt+ArrowUp Alt+ArrowDown', text: what,
  }));
  row.append(body);
  // Moving without dragging (a single tap each, for touch screens): shown in the reorder mode.
  row.append(
    h('button', { className: 'icon-button stock-move stock-move-up', type: 'button', 'aria-label': `Move ${what} up`, title: 'Move up' }, '↑'),
    h('button', { className: 'icon-button stock-move stock-move-down', type: 'button', 'aria-label': `Move ${what} down`, title: 'Move down' }, '↓'));
  if (top) {
    row.append(h('button', {
      className: 'icon-button stock-unpin', type: 'button', 'aria-label': `Unpin ${what}`, title: 'Unpin',
    }, '×'));
  }
  li.append(row);
  if (children.length > 0) {
    lists += 1;
    const ul = h('ul', { className: 'stock-children', id: `stock-list-${lists}`, hidden: collapsed.has(path) },
      ...children.map((child) => itemOf(child, path, false)));
    row.querySelector('.stock-toggle')?.setAttribute('aria-controls', ul.id);
    li.append(ul);
  }
  return li;
}

/** @param {StockNode[]} nodes */
function render(nodes) {
  // The focus stays where it was: on the same item's same control.
  const active = document.activeElement;
  const focusedItem = active instanceof HTMLElement && list.contains(active) ? active.closest('li.stock-item') : null;
  const focusedPath = focusedItem instanceof HTMLElement ? focusedItem.dataset.path : undefined;
  const focusedClass = active instanceof HTMLElement ? [...active.classList].findLast((c) => c.startsWith('stock-')) : undefined;
  pinned = new Set(nodes.map((node) => node.coto.id));
  shown = new Set();
  list.replaceChildren(...nodes.map((node) => itemOf(node, '', true)));
  summary.textContent = nodes.length === 0
    ? 'Nothing pinned yet.'
    : `${nodes.length} pinned`;
  graphButton.disabled = nodes.length === 0;
  reorderButton.disabled = nodes.length === 0;
  if (focusedPath) {
    const item = [...list.querySelectorAll('li.stock-item')].find((li) => /** @type {HTMLElement} */ (li).dataset.path === focusedPath);
    const again = item?.querySelector(`:scope > .stock-row .${focusedClass ?? 'stock-link'}`);
    if (again instanceof HTMLElement) again.focus();
  }
  emit('stock-changed', null);
}

async function load() {
  const generation = state.generation;
  const key = state.place;
  const read = ++reading;
  const movedBefore = moved;
  try {
    const nodes = await stock(key);
    if (read !== reading || generation !== state.generation) return;
    if (moved !== movedBefore) {
      reloadSoon(); // an item moved while this was read: what it says is older than the page
      return;
    }
    render(nodes);
  } catch (error) {
    if (read !== reading || generation !== state.generation) return;
    // Said in the stock's own head, not as the page's alert: the timeline works without it.
    const retry = h('button', { className: 'link-button', type: 'button', id: 'stock-retry' }, 'Try again');
    retry.addEventListener('click', () => load());
    summary.replaceChildren(`The stock could not be loaded${error instanceof ApiError ? ` (${error.status || 'offline'})` : ''}. `, retry);
  }
}

/** Reads the stock again soon, once for changes that come together, and never while an order is being saved. */
function reloadSoon() {
  if (place === undefined) return;
  clearTimeout(reloadTimer);
  reloadTimer = setTimeout(() => (saving > 0 ? reloadSoon() : load()), RELOAD_MS);
}

/**
 * Shows the stock of a place (null: home), or none (undefined).
 * @param {string | null | undefined} key
 */
function showFor(key) {
  place = key;
  clearTimeout(reloadTimer);
  reading += 1;
  pinned = new Set();
  shown = new Set();
  list.replaceChildren();
  section.hidden = key === undefined;
  summary.textContent = '';
  emit('stock-changed', null);
  if (key !== undefined) load();
}

// ------------------------------------------------------------------- order

/**
 * Sends the order of one list of siblings: the pins, or the cotos under a coto.
 * @param {HTMLUListElement} ul
 */
async function saveOrder(ul) {
  const items = [...ul.children].filter((li) => li instanceof HTMLLIElement);
  saving += 1;
  moved += 1;
  try {
    if (ul === list) {
      await orderPins(items.map((li) => li.dataset.id ?? ''), place ?? null);
    } else {
      const parentId = /** @type {HTMLElement | null} */ (ul.closest('li.stock-item'))?.dataset.id ?? '';
      await orderConnections(parentId, items.map((li) => li.dataset.connection ?? ''));
    }
    clearError();
  } catch (error) {
    showError('The new order was not saved.', error);
  } finally {
    saving -= 1;
  }
  reloadSoon();
}

/**
 * Moves a focused item one place up or down among its siblings, says so, and saves the order.
 * @param {HTMLLIElement} li
 * @param {-1 | 1} step
 */
function move(li, step) {
  const ul = li.parentElement;
  if (!(ul instanceof HTMLUListElement)) return;
  const sibling = step < 0 ? li.previousElementSibling : li.nextElementSibling;
  const what = li.querySelector('.stock-link')?.textContent ?? 'The coto';
  const siblings = ul.children.length;
  if (!sibling) {
    announcer.textContent = `“${what}” is already ${step < 0 ? 'first' : 'last'}.`;
    return;
  }
  const focused = document.activeElement;
  if (step < 0) sibling.before(li);
  else sibling.after(li);
  if (focused instanceof HTMLElement) focused.focus();
  const position = [...ul.children].indexOf(li) + 1;
  announcer.textContent = `Moved “${what}” ${step < 0 ? 'up' : 'down'}: ${position} of ${siblings}.`;
  saveOrder(ul);
}

/** @type {HTMLLIElement | null} the item being dragged */
let dragged = null;
let dragStartOrder = '';

/** @param {HTMLUListElement} ul */
const orderOf = (ul) => [...ul.children].map((li) => /** @type {HTMLElement} */ (li).dataset.path).join(' ');

function listenForDrags() {
  list.addEventListener('dragstart', (event) => {
    const li = event.target instanceof Element ? event.target.closest('li.stock-item') : null;
    if (!(li instanceof HTMLLIElement) || !(li.parentElement instanceof HTMLUListElement)) return;
    dragged = li;
    dragStartOrder = orderOf(li.parentElement);
    li.classList.add('is-dragged');
    if (event.dataTransfer) {
      event.dataTransfer.effectAllowed = 'move';
      event.dataTransfer.setData('text/plain', li.querySelector('.stock-link')?.textContent ?? '');
    }
  });
  list.addEventListener('dragover', (event) => {
    if (!dragged || !(event.target instanceof Element)) return;
    // Among its own siblings only: the item over which the pointer is, in the dragged one's list.
    let over = event.target.closest('li.stock-item');
    while (over && over.parentElement !== dragged.parentElement) over = over.parentElement?.closest('li.stock-item') ?? null;
    if (!over) return;
    event.preventDefault();
    if (over === dragged) return;
    const box = over.getBoundingClientRect();
    const row = over.querySelector(':scope > .stock-row')?.getBoundingClientRect() ?? box;
    if (event.clientY < row.top + row.height / 2) over.before(dragged);
    else over.after(dragged);
  });
  list.addEventListener('drop', (event) => event.preventDefault());
  list.addEventListener('dragend', () => {
    const li = dragged;
    dragged = null;
    if (!li) return;
    li.classList.remove('is-dragged');
    const ul = li.parentElement;
    if (!(ul instanceof HTMLUListElement) || orderOf(ul) === dragStartOrder) return;
    const position = [...ul.children].indexOf(li) + 1;
    announcer.textContent = `Moved “${li.querySelector('.stock-link')?.textContent ?? 'the coto'}”: ${position} of ${ul.children.length}.`;
    saveOrder(ul);
  });
}

// ------------------------------------------------------------------- start

/**
 * @param {HTMLButtonElement} button
 */
function toggle(button) {
  const li = button.closest('li.stock-item');
  const path = li instanceof HTMLElement ? li.dataset.path ?? '' : '';
  const ul = li?.querySelector(':scope > .stock-children');
  if (!(ul instanceof HTMLElement)) return;
  const open = button.getAttribute('aria-expanded') !== 'true';
  button.setAttribute('aria-expanded', String(open));
  button.title = open ? 'Hide the connected cotos' : 'Show the connected cotos';
  ul.hidden = !open;
  if (open) collapsed.delete(path);
  else collapsed.add(path);
}

/** @param {HTMLButtonElement} button */
async function unpinFrom(button) {
  const id = /** @type {HTMLElement | null} */ (button.closest('li.stock-item'))?.dataset.id;
  if (!id || place === undefined) return;
  button.disabled = true;
  try {
    await unpin(id, place);
    clearError();
    announcer.textContent = 'Unpinned.';
  } catch (error) {
    if (!(error instanceof Error && 'status' in error && error.status === 404)) showError('The coto was not unpinned.', error);
  }
  const next = button.closest('li.stock-item')?.nextElementSibling?.querySelector('.stock-link');
  if (next instanceof HTMLElement) next.focus();
  else graphButton.focus();
  reloadSoon();
}

export function start() {
  list.addEventListener('click', (event) => {
    const button = event.target instanceof Element ? event.target.closest('button') : null;
    const li = button?.closest('li.stock-item');
    if (button?.classList.contains('stock-toggle')) toggle(button);
    else if (button?.classList.contains('stock-unpin')) unpinFrom(button);
    else if (button?.classList.contains('stock-move') && li instanceof HTMLLIElement) {
      move(li, button.classList.contains('stock-move-up') ? -1 : 1);
    }
  });
  list.addEventListener('keydown', (event) => {
    if (!event.altKey || (event.key !== 'ArrowUp' && event.key !== 'ArrowDown')) return;
    const li = event.target instanceof Element ? event.target.closest('li.stock-item') : null;
    if (!(li instanceof HTMLLIElement)) return;
    event.preventDefault();
    move(li, event.key === 'ArrowUp' ? -1 : 1);
  });
  listenForDrags();
  graphButton.addEventListener('click', () => emit('graph-wanted', { cotoId: null, opener: graphButton }));
  reorderButton.addEventListener('click', () => {
    const reordering = reorderButton.getAttribute('aria-pressed') !== 'true';
    reorderButton.setAttribute('aria-pressed', String(reordering));
    section.classList.toggle('is-reordering', reordering);
  });
  on('place', ({ key }) => {
    showFor(undefined);
    if (key !== null) return; // a cotonoma's stock once it has opened (cotonoma-shown)
    const generation = state.generation;
    identityReady.then(() => {
      if (generation === state.generation && state.amishi && state.confirmToken === null) showFor(null);
    });
  });
  on('cotonoma-shown', ({ cotonoma }) => {
    if (state.amishi) showFor(cotonoma.key);
  });
  on('identity', ({ amishi, changed }) => {
    if (!changed) return;
    if (!amishi) showFor(undefined);
    else if (state.place === null && state.confirmToken === null) showFor(null);
  });
  on('not-found', () => showFor(undefined));
  on('graph-changed', reloadSoon);
  on('live-pin', reloadSoon);
  on('live-pin-deleted', reloadSoon);
  on('live-connection', reloadSoon);
  on('live-connection-updated', reloadSoon);
  on('live-connection-deleted', reloadSoon);
  on('live-reset', reloadSoon);
  on('live-resync', reloadSoon);
  on('live-coto-updated', ({ coto }) => {
    if (shown.has(coto.id)) reloadSoon();
  });
  on('live-coto-deleted', ({ id }) => {
    if (!shown.has(id)) return;
    for (const li of list.querySelectorAll('li.stock-item')) if (/** @type {HTMLElement} */ (li).dataset.id === id) li.remove();
    reloadSoon();
  });
}
