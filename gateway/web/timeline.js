// @ts-check
// The timeline: the cotos of the place on screen, newest first, a page at a
// time ("Load older"), with the line that says it is loading, empty or failing.
// Each coto is drawn (and edited) by coto.js. What others post, edit and delete
// meanwhile comes from live.js and is applied by coto id, so nothing shows twice;
// a coto restored from the trash goes back to its place. A place opened at a coto
// (a search result) opens at it (coto-target.js says how).

/** @import { Coto } from './api.js' */
/** @import { CotoHost } from './coto.js' */

import { ApiError, listCotos } from './api.js';
import { clearError, showError, showMessage } from './alerts.js';
import { isCotonomaCoto, renderCoto } from './coto.js';
import { cursorJustNewer, showAnchorBar, showTarget } from './coto-target.js';
import { byId, h, isAmishi } from './dom.js';
import { formatWhen } from './format.js';
import { placeOf } from './trash.js';
import { leaveCoto } from './router.js';
import { emit, on, state } from './state.js';

const timeline = byId('timeline', HTMLOListElement);
const heading = byId('timeline-heading', HTMLHeadingElement);
const status = byId('timeline-status', HTMLParagraphElement);
const loadOlder = byId('load-older', HTMLButtonElement);
const newCotos = byId('new-cotos', HTMLButtonElement);
const announcer = byId('live-announcer', HTMLParagraphElement);
const appHeader = document.querySelector('.app-header');

const ARRIVED_MS = 4000; // how long a coto that just arrived stays highlighted
const ANNOUNCE_MS = 2000; // arrivals within this are announced in one sentence
const reducedMotion = window.matchMedia('(prefers-reduced-motion: reduce)');

/** @type {Map<string, Coto>} id -> coto, for every coto on screen */
const cotos = new Map();
/** @type {string | null} cursor of the next older page, or null */
let next = null;
let loading = false;
let loadedOnce = false;
/** @type {string | null} the coto the place was opened at (#coto-ID), until its page has come */
let targetId = null;
/** @type {string | null} opened at an older coto: the first page's cursor, just newer than it */
let firstCursor = null;
let resyncWanted = false; // asked while the first page was still coming: merged once it has come
let unseen = 0; // cotos that arrived above the reader while they were scrolled down
/** @type {string[]} who wrote the cotos that arrived since the last announcement ('' for nobody named) */
let unannounced = [];
/** @type {ReturnType<typeof setTimeout> | undefined} */
let announceTimer;

/** @type {CotoHost} */
const host = {
  current: (id) => cotos.get(id),
  updated: (coto) => cotos.set(coto.id, coto),
  gone: forget,
  returned: (coto) => arrive(coto),
};

function updateStatus() {
  state.cotosShown = loadedOnce ? cotos.size : null;
  // Until the first page has loaded, the status says "Loading…" or offers a retry.
  if (!loadedOnce) return;
  if (cotos.size > 0) {
    status.hidden = true;
    return;
  }
  status.hidden = false;
  status.replaceChildren(
    h('span', { className: 'empty-title', text: 'Nothing here yet.' }), ' ',
    state.place === null
      ? 'Write your first coto above; it will appear here.'
      : 'Write the first coto in this cotonoma above; everyone it is shared with sees it here.',
  );
}

/**
 * @param {HTMLLIElement} li
 * @param {Coto} coto
 */
function forget(li, coto) {
  // Focus moves to the next coto (or the previous one, or the composer).
  const neighbour = li.nextElementSibling || li.previousElementSibling;
  li.remove();
  cotos.delete(coto.id);
  updateStatus();
  const target = neighbour?.querySelector('.coto-delete, .coto-delete-cancel, textarea, a');
  if (target instanceof HTMLElement) target.focus();
  else emit('composer-focus', null);
}

/**
 * Puts cotos on the timeline: at the top (just posted), the bottom (older page), or before an item.
 * @param {Coto[]} page
 * @param {'top' | 'bottom' | Element} where
 */
function addCotos(page, where) {
  const fragment = document.createDocumentFragment();
  for (const coto of page) {
    if (!coto || typeof coto.id !== 'string' || cotos.has(coto.id)) continue;
    cotos.set(coto.id, coto);
    const li = h('li', { className: where === 'top' ? 'coto is-new' : 'coto', dataset: { id: coto.id } });
    renderCoto(li, coto, 'view', host);
    fragment.append(li);
  }
  if (where === 'top') timeline.prepend(fragment);
  else timeline.insertBefore(fragment, where === 'bottom' ? null : where);
  updateStatus();
}

/**
 * Re-renders the cotos on screen that name a cotonoma (its coto, or "in NAME"), after a rename.
 * @param {string} key
 * @param {string} name
 */
function renameOnTimeline(key, name) {
  for (const li of timeline.querySelectorAll('li.coto[data-mode="view"]')) {
    const coto = cotos.get(/** @type {HTMLLIElement} */ (li).dataset.id ?? '');
    if (!coto) continue;
    let renamed = coto;
    if (isCotonomaCoto(coto) && coto.cotonoma_key === key) renamed = { ...renamed, content: name };
    if (coto.posted_in?.key === key) renamed = { ...renamed, posted_in: { ...coto.posted_in, name } };
    if (renamed !== coto) {
      cotos.set(coto.id, renamed);
      renderCoto(/** @type {HTMLLIElement} */ (li), renamed, 'view', host);
    }
  }
}

async function loadPage() {
  if (loading) return;
  const first = !loadedOnce;
  const before = first ? firstCursor : next;
  const generation = state.generation;
  const key = state.place;
  loading = true;
  loadOlder.disabled = true;
  loadOlder.textContent = 'Loading…';
  if (!loadedOnce) {
    status.hidden = false;
    status.textContent = key === null ? 'Loading your cotos…' : 'Loading cotos…';
  }
  try {
    const page = await listCotos(before, null, key);
    if (generation !== state.generation) return; // the timeline was emptied meanwhile
    loadedOnce = true;
    addCotos(Array.isArray(page.cotos) ? page.cotos : [], 'bottom');
    next = page.next || null;
    if (resyncWanted) resync();
  } catch (error) {
    if (generation !== state.generation) return;
    if (key !== null && error instanceof ApiError && error.status === 404) {
      emit('not-found', null);
      return;
    }
    const what = key === null ? 'Your cotos' : 'The cotos';
    showError(first ? `${what} could not be loaded.` : 'Older cotos could not be loaded.', error);
    if (!loadedOnce) {
      const retry = h('button', { className: 'button button-secondary button-small', type: 'button', id: 'retry-load' }, 'Try again');
      retry.addEventListener('click', () => {
        clearError();
        loadPage();
      });
      status.replaceChildren(`${what} could not be loaded. `, retry);
    }
  } finally {
    if (generation === state.generation) {
      loading = false;
      loadOlder.disabled = false;
      loadOlder.textContent = 'Load older';
      loadOlder.hidden = !next;
    }
  }
  if (!first || !loadedOnce || generation !== state.generation) return;
  showAnchorBar(firstCursor !== null, key);
  if (before !== firstCursor) reload(); // back to the newest while this page was coming
  else if (targetId !== null) findTarget(targetId);
}

/**
 * The first page has come, of a place opened at a coto: it is shown, or looked for at its cursor.
 * @param {string} id
 */
function findTarget(id) {
  const li = cotoElement(id);
  if (li instanceof HTMLLIElement) {
    targetId = null;
    showTarget(li);
    return;
  }
  // Older than the newest page reaches: the timeline opens again at it.
  const oldest = timeline.lastElementChild instanceof HTMLLIElement ? timeline.lastElementChild.dataset.id ?? '' : '';
  const cursor = firstCursor === null && next && id < oldest ? cursorJustNewer(id) : null;
  if (cursor) {
    resetTimeline();
    firstCursor = cursor;
    loadPage();
    return;
  }
  targetId = null;
  if (firstCursor !== null) backToNewest();
  else leaveCoto();
  showMessage('That coto is not here.', 'It may have been deleted, or moved. Here are the newest cotos.');
}

/** A timeline opened at an older coto goes back to the newest (the person posted here, say). */
function backToNewest() {
  leaveCoto();
  targetId = null;
  firstCursor = null;
  reload(); // or, while the first page is still coming, once it has come (loadPage)
}

/** Puts what is new at the top of the timeline (e.g. the coto of a cotonoma just created). */
async function loadNewest() {
  const generation = state.generation;
  if (!loadedOnce || firstCursor !== null) {
    if (firstCursor === null) loadPage();
    else backToNewest(); // where the new coto is
    return;
  }
  try {
    const page = await listCotos(null, null, state.place);
    if (generation !== state.generation) return;
    addCotos((Array.isArray(page.cotos) ? page.cotos : []).filter((coto) => !cotos.has(coto?.id)), 'top');
  } catch (error) {
    if (generation === state.generation) showError('The newest cotos could not be loaded.', error);
  }
}

// -------------------------------------------------------------- live events

/** Where the page's visible part begins: below the sticky header. */
const viewTop = () => Math.max(0, appHeader?.getBoundingClientRect().bottom ?? 0);

/** Whether the reader has scrolled past the timeline's top, so a coto put there would push what they read. */
const scrolledDown = () => timeline.getBoundingClientRect().top < viewTop();

/** The first coto the reader sees at least a part of: it stays where it is. */
function firstVisibleCoto() {
  const top = viewTop();
  for (const li of timeline.children) if (li.getBoundingClientRect().bottom > top) return li;
  return null;
}

function showUnseen() {
  newCotos.hidden = unseen === 0;
  if (unseen === 0) return;
  const what = `${unseen} new ${unseen === 1 ? 'coto' : 'cotos'}`;
  newCotos.setAttribute('aria-label', `${what}, show the newest`);
  newCotos.replaceChildren(h('span', { className: 'new-cotos-arrow', 'aria-hidden': 'true', text: '↑' }), what);
}

const clearUnseen = () => { unseen = 0; showUnseen(); };

/** Scrolls up to the newest coto, which takes the focus (the pill that had it is gone). */
function showNewest() {
  clearUnseen();
  const first = timeline.firstElementChild;
  if (!(first instanceof HTMLElement)) return;
  window.scrollTo({
    top: window.scrollY + first.getBoundingClientRect().top - viewTop() - 16,
    behavior: reducedMotion.matches ? 'auto' : 'smooth',
  });
  first.tabIndex = -1;
  first.focus({ preventScroll: true });
}

/**
 * Tells screen readers of arrivals politely, one sentence for a burst of them.
 * @param {string} name
 */
function announce(name) {
  unannounced.push(name);
  if (announceTimer !== undefined) return;
  announceTimer = setTimeout(() => {
    const [only] = unannounced;
    announcer.textContent = unannounced.length === 1
      ? `New coto${only ? ` from ${only}` : ''}.`
      : `${unannounced.length} new cotos.`;
    unannounced = [];
    announceTimer = undefined;
  }, ANNOUNCE_MS);
}

/**
 * Someone posted where the person is: at the top, without moving what the reader is looking at.
 * @param {Coto} coto
 */
function arrive(coto) {
  if (!loadedOnce || cotos.has(coto.id)) return; // already shown, e.g. from this page's own POST
  if (firstCursor !== null) return; // a window on older cotos: new ones are with the newest
  const place = placeOf(timeline, coto.id, next !== null); // not 'top': restored from the trash
  if (place && place !== 'top') addCotos([coto], place); // back in its place (null: not loaded yet)
  if (place !== 'top') return;
  const anchor = scrolledDown() ? firstVisibleCoto() : null;
  const anchorTop = anchor?.getBoundingClientRect().top ?? 0;
  addCotos([coto], 'top');
  const li = timeline.firstElementChild;
  if (anchor) {
    // Wherever the browser's own scroll anchoring left it, the coto read stays put.
    window.scrollBy(0, anchor.getBoundingClientRect().top - anchorTop);
  }
  // The person's own cotos in a cotonoma are no news to them (posted here or on another device).
  if (state.place !== null && isAmishi(coto.amishi) && coto.amishi.id === state.amishi?.id) return;
  if (li instanceof HTMLElement) {
    li.classList.add('is-arrived');
    setTimeout(() => li.classList.remove('is-arrived'), ARRIVED_MS);
  }
  if (anchor) {
    unseen += 1;
    showUnseen();
  }
  announce(state.place !== null && isAmishi(coto.amishi) ? coto.amishi.display_name : '');
}

/** @param {string} id */
const cotoElement = (id) => [...timeline.children].find((li) => li instanceof HTMLLIElement && li.dataset.id === id);

/**
 * A coto on screen was edited (by its author, maybe on another device): replaced in place.
 * @param {Coto} coto
 */
function replace(coto) {
  if (!cotos.has(coto.id)) return;
  cotos.set(coto.id, coto);
  if (isCotonomaCoto(coto)) renameOnTimeline(coto.cotonoma_key, coto.content);
  const li = cotoElement(coto.id);
  // An open editor or deletion question is left alone: it takes the new version when it closes.
  if (!(li instanceof HTMLLIElement) || li.dataset.mode !== 'view') return;
  const focused = document.activeElement;
  const refocus = focused instanceof HTMLElement && li.contains(focused)
    ? ['.coto-edit', '.coto-delete', '.coto-cotonoma-link', '.coto-posted-in'].find((sel) => focused.matches(sel))
    : undefined;
  renderCoto(li, coto, 'view', host);
  const again = refocus ? li.querySelector(refocus) : null;
  if (again instanceof HTMLElement) again.focus({ preventScroll: true });
}

/**
 * A coto was deleted: it leaves the timeline, the focus too if it was in it.
 * @param {string} id
 */
function remove(id) {
  const coto = cotos.get(id);
  const li = cotoElement(id);
  if (!coto || !(li instanceof HTMLLIElement)) return;
  if (li.contains(document.activeElement)) {
    forget(li, coto);
    return;
  }
  li.remove();
  cotos.delete(id);
  updateStatus();
}

/**
 * The stream starts at "now": the newest page is asked for again and merged, for what
 * was posted, edited or deleted between the timeline's load and the stream's start.
 */
async function resync() {
  resyncWanted = !loadedOnce;
  if (!loadedOnce) return;
  const generation = state.generation;
  let page;
  try {
    page = await listCotos(firstCursor, null, state.place);
  } catch {
    return; // the timeline stays as it was; the stream carries on
  }
  if (generation !== state.generation || !loadedOnce) return;
  const fresh = (Array.isArray(page.cotos) ? page.cotos : []).filter((c) => c && typeof c.id === 'string');
  const ids = new Set(fresh.map((c) => c.id));
  const oldest = fresh.at(-1)?.created_at ?? '';
  // Gone: on screen, as new as the page reaches (all of them, if it is the last), and not in it.
  for (const [id, coto] of [...cotos]) {
    if (!ids.has(id) && (!page.next || coto.created_at >= oldest)) remove(id);
  }
  for (const coto of fresh) {
    if (cotos.has(coto.id) && cotos.get(coto.id)?.updated_at !== coto.updated_at) replace(coto);
  }
  for (const coto of fresh.filter((c) => !cotos.has(c.id)).reverse()) arrive(coto);
}

/** Events were missed (the stream could not resume): the timeline is loaded again. */
function reload() {
  if (!loadedOnce) return; // its first page is still coming, and will be current
  resetTimeline();
  loadPage();
}

/** Empties the timeline, for another place or another person. */
function resetTimeline() {
  clearUnseen();
  clearTimeout(announceTimer);
  announceTimer = undefined;
  unannounced = [];
  cotos.clear();
  next = null;
  loading = false;
  loadedOnce = false;
  resyncWanted = false;
  state.cotosShown = null;
  timeline.replaceChildren();
  loadOlder.hidden = true;
  showAnchorBar(false, state.place);
  status.hidden = false;
  status.textContent = '';
  clearError();
}

function refreshTimes() {
  for (const time of timeline.querySelectorAll('time.coto-time')) time.textContent = formatWhen(time.getAttribute('datetime') ?? '');
}

export function start() {
  on('place', ({ key, coto }) => {
    resetTimeline();
    targetId = coto;
    firstCursor = null;
    if (key !== null) return; // a cotonoma's cotos load once it is being opened (cotonoma-entered)
    heading.textContent = 'Your cotos';
    loadPage();
  });
  on('cotonoma-entered', () => loadPage());
  on('cotonoma-shown', ({ cotonoma }) => {
    heading.textContent = `Cotos in ${cotonoma.name}`;
  });
  on('cotonoma-renamed', ({ key, name }) => {
    heading.textContent = `Cotos in ${name}`;
    renameOnTimeline(key, name);
  });
  on('cotonoma-created', () => loadNewest());
  on('not-found', resetTimeline);
  on('coto-posted', ({ coto }) => (firstCursor === null ? addCotos([coto], 'top') : backToNewest()));
  on('live-coto', ({ coto }) => arrive(coto));
  on('live-coto-updated', ({ coto }) => replace(coto));
  on('live-coto-deleted', ({ id }) => remove(id));
  on('live-reset', reload);
  on('live-resync', resync);
  newCotos.addEventListener('click', showNewest);
  window.addEventListener('scroll', () => {
    if (unseen > 0 && !scrolledDown()) clearUnseen(); // the reader came up to them by themselves
  }, { passive: true });
  loadOlder.addEventListener('click', loadPage);
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') refreshTimes();
  });
  setInterval(refreshTimes, 60000);
}
