// @ts-check
// "Delete cotonoma" on a cotonoma's page, for its owner: a dialog that asks first and
// says, when the cotonoma is refused (409), what it still holds. Only an empty cotonoma
// can be deleted (DELETE /api/cotonomas/KEY); then the person is taken where it was
// (its parent, or home).

/** @import { Cotonoma } from './api.js' */

import { request } from './api.js';
import { byId, h } from './dom.js';
import { closeOnBackdrop, describe, problemLine, refocus, statusOf } from './forms.js';
import { route } from './router.js';
import { emit, isOwner, on, state } from './state.js';

/**
 * Deletes an empty cotonoma (its owner only).
 * @param {string} key
 * @returns {Promise<null>}
 */
export function deleteCotonoma(key) {
  return request('DELETE', `/api/cotonomas/${encodeURIComponent(key)}`);
}

const button = h('button', {
  className: 'button button-secondary button-small', id: 'delete-cotonoma', type: 'button', hidden: true,
  'aria-haspopup': 'dialog', title: 'Delete this cotonoma',
}, 'Delete');
const question = h('p', { className: 'dialog-text', id: 'delete-cotonoma-question' });
const problem = h('div', { className: 'dialog-error', id: 'delete-cotonoma-error', role: 'alert' });
const cancel = h('button', { className: 'button button-quiet', id: 'delete-cotonoma-cancel', type: 'button' }, 'Cancel');
const confirm = h('button', { className: 'button button-danger', id: 'delete-cotonoma-confirm', type: 'button' },
  'Delete cotonoma');
const dialog = h('dialog', { className: 'dialog', id: 'delete-cotonoma-dialog', 'aria-labelledby': 'delete-cotonoma-title',
  'aria-describedby': 'delete-cotonoma-question' },
h('div', { className: 'dialog-panel' },
  h('div', { className: 'dialog-head' }, h('h2', { className: 'dialog-title', id: 'delete-cotonoma-title', text: 'Delete cotonoma' })),
  question, problem, h('div', { className: 'dialog-actions' }, cancel, confirm)));

/** @type {Cotonoma | null} the cotonoma on screen, if the person owns it */
let owned = null;

function open() {
  if (!owned) return;
  question.textContent = `Delete “${owned.name}”? Only an empty cotonoma can be deleted: ` +
    'one without cotos or cotonomas in it. This cannot be undone.';
  problem.replaceChildren();
  confirm.disabled = false;
  dialog.showModal();
  cancel.focus();
}

async function remove() {
  const cotonoma = owned;
  if (!cotonoma || confirm.disabled) return;
  const generation = state.generation;
  confirm.disabled = true;
  problem.replaceChildren();
  try {
    await deleteCotonoma(cotonoma.key);
  } catch (error) {
    if (generation !== state.generation) return;
    // 409: what it still holds, in the service's words.
    problem.replaceChildren(problemLine(statusOf(error) === 409 ? 'This cotonoma is not empty.'
      : 'The cotonoma was not deleted.', describe(error)));
    confirm.disabled = statusOf(error) === 409;
    cancel.focus();
    return;
  }
  dialog.close();
  emit('cotonomas-changed', null);
  // Still at its address (its live stream may have said it is gone, and the page so): away from it.
  if (state.place !== cotonoma.key) return;
  // Its address leads nowhere now: where it was takes its place in the history.
  history.replaceState(null, '', cotonoma.parent_key ? `/cotonomas/${encodeURIComponent(cotonoma.parent_key)}` : '/');
  route(true);
}

export function start() {
  byId('cotonoma-title-row', HTMLDivElement).append(button);
  document.body.append(dialog);
  closeOnBackdrop(dialog);
  button.addEventListener('click', open);
  cancel.addEventListener('click', () => dialog.close());
  confirm.addEventListener('click', remove);
  dialog.addEventListener('close', () => refocus(button));
  on('place', () => {
    owned = null;
    button.hidden = true;
    if (dialog.open) dialog.close();
  });
  on('cotonoma-shown', ({ cotonoma }) => {
    owned = isOwner(cotonoma) ? cotonoma : null;
    button.hidden = owned === null;
  });
  on('cotonoma-renamed', ({ key, name }) => {
    if (owned && owned.key === key) owned = { ...owned, name };
  });
}
