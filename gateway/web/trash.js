// @ts-check
// The trash, as the web client shows it: a deleted coto's "Deleted · Undo" notice
// (about 6 s, longer while the pointer is on it; its Undo button takes the focus,
// which goes back to the timeline when it closes; Esc closes it), restoring the coto where it was
// (POST /api/cotos/ID/restore), and whether the person may remove others' cotos
// here: the owner of the cotonoma on screen (moderation, never restorable by its author).

/** @import { Coto } from './api.js' */

import { ApiError, request } from './api.js';
import { clearError, showError } from './alerts.js';
import { h } from './dom.js';
import { isOwner, on, state } from './state.js';

const NOTICE_MS = 6000;

const text = h('span', { className: 'undo-notice-text' });
const undo = h('button', { className: 'button button-secondary button-small undo-notice-button', type: 'button' }, 'Undo');
const notice = h('div', { className: 'undo-notice', id: 'undo-notice' }, text, undo);
// Always on the page, empty between notices, so that screen readers hear each one.
const region = h('div', { className: 'undo-notice-region', role: 'status' });

/** @type {ReturnType<typeof setTimeout> | undefined} */
let timer;
/** @type {(() => void) | null} what Undo does for the coto the notice is about */
let undoing = null;
/** @type {HTMLElement | null} where the focus goes when the notice closes while holding it */
let returnTo = null;
let moderating = false; // the person owns the cotonoma on screen

/**
 * Whether the person may delete others' cotos here (the owner of the cotonoma on screen).
 * @returns {boolean}
 */
export const mayModerate = () => moderating && state.place !== null;

/**
 * Brings the person's deleted coto back from the trash; resolves to the coto.
 * @param {string} id
 * @returns {Promise<Coto>}
 */
export async function restoreCoto(id) {
  const body = await request('POST', `/api/cotos/${encodeURIComponent(id)}/restore`);
  return body.coto;
}

function hide() {
  clearTimeout(timer);
  timer = undefined;
  const hadFocus = notice.contains(document.activeElement);
  region.replaceChildren();
  undoing = null;
  if (hadFocus && returnTo?.isConnected) returnTo.focus();
  returnTo = null;
}

/** Closes the notice in NOTICE_MS, unless the pointer is on it then. */
function hideLater() {
  clearTimeout(timer);
  timer = setTimeout(() => {
    if (notice.matches(':hover')) hideLater();
    else hide();
  }, NOTICE_MS);
}

/**
 * Says that a coto was deleted, with Undo for the person's own (a signed-in amishi's: the
 * anonymous pad has no trash), which restores it and gives it back to the timeline.
 * @param {Coto} coto
 * @param {(coto: Coto) => void} returned puts the restored coto back in its place
 * @param {boolean} restorable false when it was another's, removed by the cotonoma's owner
 */
export function announceDeleted(coto, returned, restorable) {
  const canUndo = restorable && Boolean(state.amishi);
  if (!notice.contains(document.activeElement)) {
    returnTo = document.activeElement instanceof HTMLElement ? document.activeElement : null;
  }
  text.textContent = canUndo ? 'Deleted' : 'Deleted for good';
  undo.hidden = !canUndo;
  undoing = canUndo ? () => restore(coto, returned) : null;
  region.replaceChildren(notice);
  if (canUndo) undo.focus({ preventScroll: true });
  hideLater();
}

/**
 * @param {Coto} coto
 * @param {(coto: Coto) => void} returned
 */
async function restore(coto, returned) {
  undo.disabled = true;
  try {
    const back = await restoreCoto(coto.id);
    clearError();
    returned(back);
    returnTo = null;
    hide();
    const li = document.querySelector(`li.coto[data-id="${CSS.escape(back.id)}"]`);
    const again = li?.querySelector('.coto-delete') ?? li;
    if (again instanceof HTMLElement) again.focus();
  } catch (error) {
    hide();
    showError(error instanceof ApiError && error.status === 404 ? 'That coto can no longer be restored.'
      : 'Your coto was not restored.', error);
  } finally {
    undo.disabled = false;
  }
}

/**
 * Where a coto goes on a timeline (newest first, by id, as UUIDv7s sort): 'top' when it is
 * newer than every coto there (or there is none), else the item it goes before, 'bottom' after
 * the last one, or null when its place is on an older page not loaded yet (`more`).
 * @param {HTMLOListElement} list
 * @param {string} id
 * @param {boolean} more
 * @returns {'top' | 'bottom' | Element | null}
 */
export function placeOf(list, id, more) {
  const items = [...list.children].filter((li) => li instanceof HTMLLIElement);
  const next = items.find((li) => (li.dataset.id ?? '') < id);
  if (next === items[0]) return 'top';
  return next ?? (more ? null : 'bottom');
}

export function start() {
  document.body.append(region);
  undo.addEventListener('click', () => undoing?.());
  notice.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') {
      event.preventDefault();
      hide();
    }
  });
  on('place', () => {
    moderating = false;
    hide();
  });
  on('cotonoma-shown', ({ cotonoma }) => {
    moderating = isOwner(cotonoma);
    // Cotos drawn before the cotonoma was known get their Delete now.
    for (const button of document.querySelectorAll('#timeline .coto-moderate')) {
      if (button instanceof HTMLElement) button.hidden = !moderating;
    }
  });
}
