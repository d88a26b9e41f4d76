// @ts-check
// One coto on the timeline, in one of its modes: viewing, confirming its
// deletion, or editing it in place. Part of the timeline (timeline.js), which
// holds the cotos on screen and is told through a CotoHost what changed.

/** @import { Coto } from './api.js' */

import { ApiError, deleteCoto, updateCoto } from './api.js';
import { clearError, showError } from './alerts.js';
import { withGraph } from './connect.js';
import { authorElement, cotonomaIcon, h, isAmishi, pencilIcon, trashIcon } from './dom.js';
import { foldButton } from './fold.js';
import { formatFull, formatWhen } from './format.js';
import { isSubmitShortcut, measure, showCounter } from './forms.js';
import { renderMarkdown } from './markdown.js';
import { previewToggle } from './preview.js';
import { cotonomaHref } from './router.js';
import { state } from './state.js';
import { announceDeleted, mayModerate } from './trash.js';

/**
 * What a coto needs from the timeline holding it.
 * @typedef {object} CotoHost
 * @property {(id: string) => Coto | undefined} current the coto as the timeline has it now
 * @property {(coto: Coto) => void} updated a coto was changed
 * @property {(li: HTMLLIElement, coto: Coto) => void} gone a coto was deleted, or found gone
 * @property {(coto: Coto) => void} returned a coto came back from the trash: it goes where it was
 */

/** @typedef {'view' | 'confirm-delete' | 'edit'} Mode */

/** @param {Coto} coto */
function timeElement(coto) {
  return h('time', {
    className: 'coto-time',
    datetime: coto.created_at,
    title: formatFull(coto.created_at),
    text: formatWhen(coto.created_at),
  });
}

/**
 * Whether the person looking wrote this coto. Home holds nothing but their own
 * (and may load before the session check answers); an anonymous pad's cotos
 * have no author. In a cotonoma, the author is compared.
 * @param {Coto} coto
 */
function isMine(coto) {
  if (!isAmishi(coto.amishi) || state.place === null) return true;
  return Boolean(state.amishi) && coto.amishi.id === state.amishi?.id;
}

/**
 * Whether a coto stands for a cotonoma (renamed from the cotonoma's page, never edited as a coto).
 * @param {Coto} coto
 * @returns {coto is Coto & { cotonoma_key: string }}
 */
export function isCotonomaCoto(coto) {
  return Boolean(coto.as_cotonoma) && typeof coto.cotonoma_key === 'string' && coto.cotonoma_key !== '';
}

/**
 * "in NAME": where a coto was posted, unless that is the place on screen.
 * @param {Coto} coto
 */
function postedInElement(coto) {
  const where = coto.posted_in;
  if (!where || typeof where.key !== 'string' || where.key === state.place) return null;
  return h('a', {
    className: 'coto-posted-in', href: cotonomaHref(where.key), dataset: { key: where.key },
    title: `Posted in the cotonoma ${where.name}`,
  }, cotonomaIcon('coto-posted-in-icon'), 'in ', h('span', { className: 'coto-posted-in-name', text: where.name }));
}

/**
 * A cotonoma's coto: its name, as a link into it.
 * @param {Coto & { cotonoma_key: string }} coto
 */
function cotonomaContent(coto) {
  return h('div', { className: 'coto-content coto-content-cotonoma' },
    h('a', {
      className: 'coto-cotonoma-link', href: cotonomaHref(coto.cotonoma_key), dataset: { key: coto.cotonoma_key },
      title: `Open the cotonoma ${coto.content}`,
    }, cotonomaIcon('coto-cotonoma-icon'), h('span', { className: 'coto-cotonoma-name', text: coto.content })));
}

/**
 * Focuses the element in a coto that matches, if there is one.
 * @param {HTMLElement} li
 * @param {string} selector
 */
function focusIn(li, selector) {
  const el = li.querySelector(selector);
  if (el instanceof HTMLElement) el.focus();
}

/**
 * Fills a coto's <li> for one of its modes.
 * @param {HTMLLIElement} li
 * @param {Coto} coto
 * @param {Mode} mode
 * @param {CotoHost} host
 */
export function renderCoto(li, coto, mode, host) {
  li.dataset.mode = mode;
  li.classList.toggle('is-confirming', mode === 'confirm-delete');
  li.classList.toggle('is-editing', mode === 'edit');
  li.classList.toggle('coto-cotonoma', isCotonomaCoto(coto));

  const meta = h('div', { className: 'coto-meta' }, authorElement(coto.amishi), timeElement(coto));
  if (coto.updated_at && coto.updated_at !== coto.created_at && !isCotonomaCoto(coto)) {
    meta.append(h('span', {
      className: 'coto-edited', title: `Edited ${formatFull(coto.updated_at)}`, text: 'edited',
    }));
  }
  const postedIn = postedInElement(coto);

  if (mode === 'edit') {
    li.replaceChildren(...[postedIn, editForm(li, coto, host), meta].filter((el) => el !== null));
    return;
  }

  // A coto's content is Markdown (markdown.js builds it as elements, never from HTML); a
  // cotonoma's coto is its name, plain text.
  const content = isCotonomaCoto(coto)
    ? cotonomaContent(coto)
    : h('div', { className: 'coto-content markdown' }, renderMarkdown(coto.content));
  const fold = isCotonomaCoto(coto) ? null : foldButton(content, coto.id);
  /** @param {HTMLElement | null} actions */
  const parts = (actions) => [postedIn, content, fold, h('div', { className: 'coto-footer' }, meta, withGraph(actions, coto, mode))]
    .filter((el) => el !== null);

  if (mode === 'confirm-delete') {
    const confirm = h('button', { className: 'button button-danger button-small coto-delete-confirm', type: 'button' }, 'Delete');
    const cancel = h('button', { className: 'button button-quiet button-small coto-delete-cancel', type: 'button' }, 'Cancel');
    confirm.addEventListener('click', () => removeCoto(li, coto, host, confirm, cancel));
    cancel.addEventListener('click', () => {
      renderCoto(li, coto, 'view', host);
      focusIn(li, '.coto-delete, .coto-moderate');
    });
    const question = isMine(coto) ? 'Delete this coto?' : 'Delete this coto? Its author cannot restore it.';
    const actions = h('div', { className: 'coto-actions coto-confirm', role: 'group', 'aria-label': 'Confirm deletion' },
      h('span', { className: 'coto-confirm-question', text: question }), confirm, cancel);
    li.replaceChildren(...parts(actions));
    cancel.focus();
    return;
  }

  // Only the author changes a coto, and the cotonoma's owner may delete it (shown once the
  // cotonoma is known: trash.js); a cotonoma is renamed on its own page.
  if (isCotonomaCoto(coto) || (!isMine(coto) && (!state.amishi || state.place === null))) {
    li.replaceChildren(...parts(null));
    return;
  }
  const del = h('button', {
    className: isMine(coto) ? 'icon-button coto-delete' : 'icon-button coto-moderate',
    type: 'button', 'aria-label': 'Delete this coto', title: 'Delete', hidden: !isMine(coto) && !mayModerate(),
  }, trashIcon(), h('span', { className: 'icon-button-label', text: 'Delete' }));
  del.addEventListener('click', () => renderCoto(li, coto, 'confirm-delete', host));
  if (!isMine(coto)) {
    li.replaceChildren(...parts(h('div', { className: 'coto-actions' }, del)));
    return;
  }
  const edit = h('button', {
    className: 'icon-button coto-edit', type: 'button', 'aria-label': 'Edit this coto', title: 'Edit',
  }, pencilIcon(), h('span', { className: 'icon-button-label', text: 'Edit' }));
  edit.addEventListener('click', () => renderCoto(li, coto, 'edit', host));
  li.replaceChildren(...parts(h('div', { className: 'coto-actions' }, edit, del)));
}

/**
 * @param {HTMLLIElement} li
 * @param {Coto} coto
 * @param {CotoHost} host
 */
function editForm(li, coto, host) {
  const inputId = `edit-${coto.id}`;
  const counterId = `edit-count-${coto.id}`;
  const input = h('textarea', {
    className: 'coto-edit-input', id: inputId, rows: '3', 'aria-label': 'Edit coto',
    'aria-describedby': counterId,
  });
  input.value = coto.content;
  const counter = h('span', { className: 'char-count', id: counterId });
  const save = h('button', { className: 'button button-primary button-small coto-save', type: 'submit' }, 'Save');
  const cancel = h('button', { className: 'button button-quiet button-small coto-cancel', type: 'button' }, 'Cancel');
  const preview = previewToggle(input, `edit-preview-${coto.id}`);
  const form = h('form', { className: 'coto-edit-form', novalidate: true },
    input, preview.preview, h('div', { className: 'coto-edit-bar' }, preview.group, counter, cancel, save));

  const refresh = () => {
    const m = measure(input.value);
    showCounter(counter, m);
    save.disabled = form.classList.contains('is-busy') || m.blank || m.over;
  };
  const close = () => {
    renderCoto(li, host.current(coto.id) || coto, 'view', host);
    focusIn(li, '.coto-edit');
  };
  input.addEventListener('input', refresh);
  form.addEventListener('keydown', (event) => { // the textarea's, or the preview's buttons'
    if (isSubmitShortcut(event)) {
      event.preventDefault();
      if (!save.disabled) form.requestSubmit();
    } else if (event.key === 'Escape') {
      event.preventDefault();
      close();
    }
  });
  cancel.addEventListener('click', close);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (save.disabled) return;
    if (input.value.trim() === coto.content) {
      close();
      return;
    }
    form.classList.add('is-busy');
    refresh();
    try {
      const updated = await updateCoto(coto.id, input.value);
      clearError();
      host.updated(updated);
      renderCoto(li, updated, 'view', host);
      focusIn(li, '.coto-edit');
    } catch (error) {
      form.classList.remove('is-busy');
      refresh();
      showError('Your change was not saved.', error);
      if (error instanceof ApiError && error.status === 404) host.gone(li, coto);
    }
  });
  refresh();
  queueMicrotask(() => {
    input.focus();
    input.setSelectionRange(input.value.length, input.value.length);
  });
  return form;
}

/**
 * @param {HTMLLIElement} li
 * @param {Coto} coto
 * @param {CotoHost} host
 * @param {HTMLButtonElement[]} buttons
 */
async function removeCoto(li, coto, host, ...buttons) {
  for (const b of buttons) b.disabled = true;
  li.classList.add('is-busy');
  try {
    await deleteCoto(coto.id);
    clearError();
    host.gone(li, coto);
    announceDeleted(coto, host.returned, isMine(coto));
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      host.gone(li, coto); // already gone: nothing left to do
      return;
    }
    li.classList.remove('is-busy');
    for (const b of buttons) b.disabled = false;
    showError('Your coto was not deleted.', error);
  }
}
