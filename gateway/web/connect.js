// @ts-check
// Connecting cotos, from the timeline. Each coto of a signed-in person's place has three more
// buttons (withGraph): Pin (to the stock of the place on screen: stock.js), Connect (selects the
// coto: the connect mode) and Connections (its panel: connections.js). While cotos are selected
// (a visible selection on the timeline, and a bar saying how many), every other coto offers
// "Connect here": a dialog connects the selected cotos to that one, in the direction chosen,
// with an optional linking phrase ("is an example of"), made in the place on screen.

/** @import { Coto } from './api.js' */

import { clearError, showError } from './alerts.js';
import { h, icon, isAmishi } from './dom.js';
import { closeOnBackdrop, describe, measure, problemLine, refocus, showCounter, statusOf } from './forms.js';
import { MAX_LINKING_PHRASE_CHARS, connect, excerpt, pin, unpin } from './graph-api.js';
import { emit, on, state } from './state.js';
import { isPinned } from './stock.js';

export const pinIcon = () => icon(['M9 4h6', 'M10 4v6l-3 4h10l-3-4V4', 'M12 14v6']);
const linkIcon = () => icon(['M10 14a4 4 0 0 0 5.7 0l3-3a4 4 0 0 0-5.7-5.7l-1 1', 'M14 10a4 4 0 0 0-5.7 0l-3 3a4 4 0 0 0 5.7 5.7l1-1']);
const graphIcon = () => icon(['M6 6h.01', 'M18 8h.01', 'M9 18h.01', 'M7.5 7l9 1', 'M7 7.5l1.5 9', 'M17 9.5l-7 7']);

/** @type {Map<string, Coto>} the cotos selected to be connected, in the order they were selected */
const selected = new Map();

// ------------------------------------------------------------- the selection bar

const count = h('span', { className: 'selection-count' });
const clear = h('button', { className: 'button button-quiet button-small', type: 'button', id: 'selection-clear' }, 'Clear');
const bar = h('div', { className: 'selection-bar', id: 'selection-bar', role: 'region', 'aria-label': 'Cotos to connect', hidden: true },
  h('span', { className: 'selection-text' }, count, ' ',
    h('span', { className: 'selection-hint', text: 'Choose “Connect here” on the coto to connect them to.' })), clear);
// Always on the page, so that a screen reader hears each change of the selection.
const said = h('p', { className: 'visually-hidden', id: 'selection-status', role: 'status' });

/** Shows the selection: the bar, each coto's state, and whether "Connect here" is offered. */
function showSelection() {
  bar.hidden = selected.size === 0;
  count.textContent = `${selected.size} ${selected.size === 1 ? 'coto' : 'cotos'} selected.`;
  for (const li of document.querySelectorAll('li.coto[data-id]')) {
    const id = /** @type {HTMLElement} */ (li).dataset.id ?? '';
    li.classList.toggle('is-selected', selected.has(id));
    const button = li.querySelector('.coto-connect');
    if (button) button.setAttribute('aria-pressed', String(selected.has(id)));
    const here = li.querySelector('.coto-connect-here');
    if (here instanceof HTMLElement) here.hidden = selected.size === 0 || selected.has(id);
  }
}

/** @param {Coto} coto */
function toggleSelected(coto) {
  if (selected.has(coto.id)) selected.delete(coto.id);
  else selected.set(coto.id, coto);
  said.textContent = `${selected.has(coto.id) ? 'Selected' : 'No longer selected'}: ${excerpt(coto, 40)}. ` +
    `${selected.size} selected.`;
  showSelection();
}

function clearSelection() {
  selected.clear();
  said.textContent = 'Nothing selected.';
  showSelection();
}

// ------------------------------------------------------------------ pins

/** Each Pin button on the page says whether its coto is in the stock on screen. */
function showPins() {
  for (const button of document.querySelectorAll('.coto-pin')) {
    const id = /** @type {HTMLElement} */ (button.closest('li.coto'))?.dataset.id ?? '';
    const pinned = isPinned(id);
    button.setAttribute('aria-pressed', String(pinned));
    button.setAttribute('title', pinned ? 'Unpin it from the stock' : 'Pin it to the stock');
    const label = button.querySelector('.icon-button-label');
    if (label) label.textContent = pinned ? 'Pinned' : 'Pin';
  }
}

/**
 * @param {Coto} coto
 * @param {HTMLButtonElement} button
 */
async function togglePin(coto, button) {
  const place = state.place;
  const pinned = isPinned(coto.id);
  button.disabled = true;
  try {
    if (pinned) await unpin(coto.id, place);
    else await pin(coto.id, place);
    clearError();
  } catch (error) {
    // Pinned (409) or unpinned (404) already, elsewhere: the stock read again says how it is.
    if (statusOf(error) !== 409 && statusOf(error) !== 404) {
      showError(pinned ? 'The coto was not unpinned.' : 'The coto was not pinned.', error);
    }
  } finally {
    button.disabled = false;
  }
  emit('graph-changed', null);
}

// ----------------------------------------------------------- a coto's buttons

/**
 * A coto's actions with the graph's buttons before them: in the view mode, on an amishi's coto
 * (an anonymous pad's cotos have none: they are kept in Redis, beyond the graph's reach).
 * @param {HTMLElement | null} actions the coto's own actions (edit, delete), if any
 * @param {Coto} coto
 * @param {string} mode
 * @returns {HTMLElement | null}
 */
export function withGraph(actions, coto, mode) {
  // Home may load before the session check answers (identity.js): a coto of an amishi there is
  // the person's own, so the buttons are drawn unless nobody is known to be signed in.
  if (mode !== 'view' || state.amishi === null || !isAmishi(coto.amishi)) return actions;
  const pinned = isPinned(coto.id);
  const pinButton = h('button', {
    className: 'icon-button coto-pin', type: 'button', 'aria-pressed': String(pinned),
    title: pinned ? 'Unpin it from the stock' : 'Pin it to the stock',
  }, pinIcon(), h('span', { className: 'icon-button-label', text: pinned ? 'Pinned' : 'Pin' }));
  pinButton.addEventListener('click', () => togglePin(coto, pinButton));
  const select = h('button', {
    className: 'icon-button coto-connect', type: 'button', 'aria-pressed': String(selected.has(coto.id)),
    title: 'Select it, to connect it to another coto',
  }, linkIcon(), h('span', { className: 'icon-button-label', text: 'Connect' }));
  select.addEventListener('click', () => toggleSelected(coto));
  const here = h('button', {
    className: 'button button-primary button-small coto-connect-here', type: 'button', 'aria-haspopup': 'dialog',
    hidden: selected.size === 0 || selected.has(coto.id),
  }, 'Connect here');
  here.addEventListener('click', () => openDialog(coto, here));
  const links = h('button', {
    className: 'icon-button coto-connections', type: 'button', 'aria-haspopup': 'dialog', title: 'Its connections',
  }, graphIcon(), h('span', { className: 'icon-button-label', text: 'Connections' }));
  links.addEventListener('click', () => emit('connections-wanted', { coto, opener: links }));
  const all = actions ?? h('div', { className: 'coto-actions' });
  all.prepend(here, pinButton, select, links);
  // The coto's <li> keeps its selection through a new rendering (after an edit, say).
  queueMicrotask(() => all.closest('li.coto')?.classList.toggle('is-selected', selected.has(coto.id)));
  return all;
}

// ----------------------------------------------------------- the connect dialog

const title = h('h2', { className: 'dialog-title', id: 'connect-title', text: 'Connect' });
const closeButton = h('button', { className: 'dialog-close', type: 'button', 'aria-label': 'Close', title: 'Close' }, '×');
const target = h('p', { className: 'dialog-text connect-target', id: 'connect-target' });
const chosen = h('ul', { className: 'connect-selected', 'aria-label': 'Selected cotos' });
/**
 * @param {string} value
 * @param {string} label
 * @param {boolean} checked
 */
const direction = (value, label, checked) => h('label', { className: 'checkbox-row' },
  h('input', { type: 'radio', name: 'direction', value, checked }), label);
const directions = h('fieldset', { className: 'connect-direction' }, h('legend', { text: 'Direction' }),
  direction('out', 'From this coto to the selected ones', true),
  direction('in', 'From the selected ones to this coto', false));
const phrase = h('input', {
  className: 'field-input', id: 'connect-phrase', name: 'linking_phrase', type: 'text', autocomplete: 'off',
  placeholder: 'e.g. is an example of', 'aria-describedby': 'connect-phrase-count',
});
const phraseCount = h('span', { className: 'char-count field-count', id: 'connect-phrase-count' });
const problem = h('div', { className: 'dialog-error', id: 'connect-error', role: 'alert' });
const cancel = h('button', { className: 'button button-quiet', type: 'button' }, 'Cancel');
const submit = h('button', { className: 'button button-primary', id: 'connect-submit', type: 'submit' }, 'Connect');
const form = h('form', { className: 'dialog-panel', action: '/', method: 'post', novalidate: true },
  h('div', { className: 'dialog-head' }, title, closeButton), target, chosen, directions,
  h('label', { className: 'field-label', for: 'connect-phrase' }, 'Linking phrase ', h('span', { className: 'field-optional', text: '(optional)' })),
  phrase, phraseCount, problem, h('div', { className: 'dialog-actions' }, cancel, submit));
const dialog = h('dialog', { className: 'dialog connect-dialog', id: 'connect-dialog', 'aria-labelledby': 'connect-title' }, form);

/** @type {Coto | null} the coto the selected ones are connected to */
let targetCoto = null;
/** @type {HTMLElement | null} */
let opener = null;

function refreshForm() {
  const m = measure(phrase.value.trim(), MAX_LINKING_PHRASE_CHARS);
  showCounter(phraseCount, m);
  submit.disabled = form.classList.contains('is-busy') || m.over || selected.size === 0;
}

/**
 * @param {Coto} coto
 * @param {HTMLElement} from
 */
function openDialog(coto, from) {
  targetCoto = coto;
  opener = from;
  title.textContent = `Connect ${selected.size} ${selected.size === 1 ? 'coto' : 'cotos'}`;
  target.replaceChildren('To: ', h('strong', { text: excerpt(coto) || 'this coto' }));
  chosen.replaceChildren(...[...selected.values()].map((c) => h('li', { text: excerpt(c) || '…' })));
  phrase.value = '';
  problem.replaceChildren();
  refreshForm();
  dialog.showModal();
  phrase.focus();
}

/** Connects every selected coto to the target; those connected already count as done. */
async function connectSelected() {
  const to = targetCoto;
  if (!to || selected.size === 0) return;
  const outward = new FormData(form).get('direction') !== 'in';
  const linking = phrase.value.trim() || null;
  form.classList.add('is-busy');
  refreshForm();
  /** @type {string[]} */
  const failed = [];
  let lastError = null;
  for (const coto of [...selected.values()]) {
    try {
      await (outward ? connect(to.id, coto.id, linking, state.place) : connect(coto.id, to.id, linking, state.place));
      selected.delete(coto.id);
    } catch (error) {
      if (statusOf(error) === 409) {
        selected.delete(coto.id); // connected already: nothing left to do
        continue;
      }
      failed.push(excerpt(coto, 40));
      lastError = error;
    }
  }
  form.classList.remove('is-busy');
  emit('graph-changed', null);
  showSelection();
  if (failed.length === 0) {
    said.textContent = 'Connected.';
    dialog.close();
    return;
  }
  chosen.replaceChildren(...[...selected.values()].map((c) => h('li', { text: excerpt(c) || '…' })));
  problem.replaceChildren(problemLine(`Not connected: ${failed.join(', ')}.`, describe(lastError)));
  refreshForm();
}

export function start() {
  document.body.append(bar, said, dialog);
  closeOnBackdrop(dialog);
  clear.addEventListener('click', clearSelection);
  closeButton.addEventListener('click', () => dialog.close());
  cancel.addEventListener('click', () => dialog.close());
  dialog.addEventListener('close', () => refocus(opener));
  phrase.addEventListener('input', refreshForm);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (!submit.disabled) connectSelected();
  });
  on('stock-changed', showPins);
  on('live-coto-deleted', ({ id }) => {
    if (selected.delete(id)) showSelection();
  });
  on('identity', ({ changed }) => {
    if (changed) clearSelection();
  });
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && !event.defaultPrevented && selected.size > 0 && !document.querySelector('dialog[open]') &&
        document.activeElement?.closest('#selection-bar, li.coto')) clearSelection();
  });
}
