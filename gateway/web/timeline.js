// @ts-check
// The timeline: the cotos of the place on screen, newest first, a page at a
// time ("Load older"), with the line that says it is loading, empty or failing.
// Each coto is drawn (and edited) by coto.js.

/** @import { Coto } from './api.js' */
/** @import { CotoHost } from './coto.js' */

import { ApiError, listCotos } from './api.js';
import { clearError, showError } from './alerts.js';
import { isCotonomaCoto, renderCoto } from './coto.js';
import { byId, h } from './dom.js';
import { formatWhen } from './format.js';
import { emit, on, state } from './state.js';

const timeline = byId('timeline', HTMLOListElement);
const heading = byId('timeline-heading', HTMLHeadingElement);
const status = byId('timeline-status', HTMLParagraphElement);
const loadOlder = byId('load-older', HTMLButtonElement);

/** @type {Map<string, Coto>} id -> coto, for every coto on screen */
const cotos = new Map();
/** @type {string | null} cursor of the next older page, or null */
let next = null;
let loading = false;
let loadedOnce = false;

/** @type {CotoHost} */
const host = {
  current: (id) => cotos.get(id),
  updated: (coto) => cotos.set(coto.id, coto),
  gone: forget,
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
 * Puts cotos on the timeline: at the top (just posted) or the bottom (older page).
 * @param {Coto[]} page
 * @param {'top' | 'bottom'} where
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
  else timeline.append(fragment);
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
  const before = next;
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
  } catch (error) {
    if (generation !== state.generation) return;
    if (key !== null && error instanceof ApiError && error.status === 404) {
      emit('not-found', null);
      return;
    }
    const what = key === null ? 'Your cotos' : 'The cotos';
    showError(before ? 'Older cotos could not be loaded.' : `${what} could not be loaded.`, error);
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
}

/** Puts what is new at the top of the timeline (e.g. the coto of a cotonoma just created). */
async function loadNewest() {
  const generation = state.generation;
  if (!loadedOnce) {
    loadPage();
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

/** Empties the timeline, for another place or another person. */
function resetTimeline() {
  cotos.clear();
  next = null;
  loading = false;
  loadedOnce = false;
  state.cotosShown = null;
  timeline.replaceChildren();
  loadOlder.hidden = true;
  status.hidden = false;
  status.textContent = '';
  clearError();
}

function refreshTimes() {
  for (const time of timeline.querySelectorAll('time.coto-time')) {
    time.textContent = formatWhen(/** @type {HTMLTimeElement} */ (time).dateTime);
  }
}

export function start() {
  on('place', ({ key }) => {
    resetTimeline();
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
  on('coto-posted', ({ coto }) => addCotos([coto], 'top'));
  loadOlder.addEventListener('click', loadPage);
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') refreshTimes();
  });
  setInterval(refreshTimes, 60000);
}
