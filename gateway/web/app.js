// Cotoami web client: the anonymous memo pad (growth record 1).
// Everything a person wrote is rendered with textContent, never as HTML.

import { ApiError, MAX_CONTENT_CHARS, deleteCoto, listCotos, postCoto, updateCoto } from './api.js';
import { charCount, formatFull, formatNumber, formatWhen } from './format.js';

const $ = (id) => document.getElementById(id);

const els = {
  composer: $('composer'),
  input: $('coto-input'),
  postButton: $('post-button'),
  charCount: $('char-count'),
  postHint: $('post-hint'),
  errorArea: $('error-area'),
  timeline: $('timeline'),
  status: $('timeline-status'),
  loadOlder: $('load-older'),
};

const state = {
  cotos: new Map(), // id -> coto, for every coto on screen
  next: null, // cursor of the next older page, or null
  posting: false,
  loading: false,
  loadedOnce: false,
};

// ---------------------------------------------------------------- helpers

/** Makes an element: h('button', {className: 'x', type: 'button'}, 'text', child ...). */
function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'className') el.className = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key === 'text') el.textContent = value;
    else if (key in el && typeof value !== 'string') el[key] = value;
    else el.setAttribute(key, value === true ? '' : value);
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    el.append(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return el;
}

const isMac = /Mac|iPhone|iPad|iPod/.test(navigator.userAgentData?.platform || navigator.platform || '');

/** Ctrl+Enter, or Cmd+Enter on a Mac, but never while an IME is composing. */
function isSubmitShortcut(event) {
  return event.key === 'Enter' && (event.ctrlKey || event.metaKey) && !event.isComposing && event.keyCode !== 229;
}

/** "123 / 10,000", and whether the text may be sent. */
function measure(text) {
  const count = charCount(text);
  const over = count - MAX_CONTENT_CHARS;
  const label = over > 0
    ? `${formatNumber(over)} too many (${formatNumber(count)} / ${formatNumber(MAX_CONTENT_CHARS)})`
    : `${formatNumber(count)} / ${formatNumber(MAX_CONTENT_CHARS)}`;
  return { count, over: over > 0, near: count > MAX_CONTENT_CHARS * 0.95, blank: count === 0, label };
}

function showCounter(el, m) {
  el.textContent = m.label;
  el.classList.toggle('is-near', m.near && !m.over);
  el.classList.toggle('is-over', m.over);
}

// ----------------------------------------------------------------- errors

function clearError() {
  els.errorArea.replaceChildren();
}

/** Shows an API error's description in the alert area, with what we were doing. */
function showError(context, error) {
  const description = error instanceof ApiError
    ? error.description
    : 'Something unexpected happened in this page. Reload it and try again.';
  if (!(error instanceof ApiError)) console.error(error);
  const dismiss = h('button', {
    className: 'error-dismiss', type: 'button', 'aria-label': 'Dismiss this message', title: 'Dismiss',
  }, '×');
  dismiss.addEventListener('click', () => {
    clearError();
    els.input.focus();
  });
  els.errorArea.replaceChildren(
    h('div', { className: 'error' },
      h('p', { className: 'error-text' },
        h('strong', { className: 'error-context', text: context }), ' ',
        h('span', { className: 'error-description', text: description })),
      dismiss),
  );
}

// --------------------------------------------------------------- composer

function updateComposer() {
  const m = measure(els.input.value);
  showCounter(els.charCount, m);
  els.postButton.disabled = state.posting || m.blank || m.over;
  els.input.setAttribute('aria-invalid', m.over ? 'true' : 'false');
}

async function submitComposer() {
  const m = measure(els.input.value);
  if (state.posting || m.blank || m.over) return;
  state.posting = true;
  els.composer.classList.add('is-busy');
  els.postButton.textContent = 'Posting…';
  updateComposer();
  try {
    const coto = await postCoto(els.input.value);
    clearError();
    addCotos([coto], 'top');
    els.input.value = '';
  } catch (error) {
    showError('Your coto was not posted.', error);
  } finally {
    state.posting = false;
    els.composer.classList.remove('is-busy');
    els.postButton.textContent = 'Post';
    updateComposer();
    els.input.focus();
  }
}

// --------------------------------------------------------------- timeline

function updateStatus() {
  // Until the first page has loaded, the status says "Loading…" or offers a retry.
  if (!state.loadedOnce) return;
  if (state.cotos.size > 0) {
    els.status.hidden = true;
    return;
  }
  els.status.hidden = false;
  els.status.replaceChildren(
    h('span', { className: 'empty-title', text: 'Nothing here yet.' }), ' ',
    'Write your first coto above; it will appear here.',
  );
}

function timeElement(coto) {
  const time = h('time', {
    className: 'coto-time',
    datetime: coto.created_at,
    title: formatFull(coto.created_at),
    text: formatWhen(coto.created_at),
  });
  return time;
}

/** Fills a coto's <li> for one of its modes: 'view', 'confirm-delete' or 'edit'. */
function renderCoto(li, coto, mode = 'view') {
  li.dataset.mode = mode;
  li.classList.toggle('is-confirming', mode === 'confirm-delete');
  li.classList.toggle('is-editing', mode === 'edit');

  const meta = h('div', { className: 'coto-meta' }, timeElement(coto));
  if (coto.updated_at && coto.updated_at !== coto.created_at) {
    meta.append(h('span', {
      className: 'coto-edited', title: `Edited ${formatFull(coto.updated_at)}`, text: 'edited',
    }));
  }

  if (mode === 'edit') {
    li.replaceChildren(editForm(li, coto), meta);
    return;
  }

  const content = h('div', { className: 'coto-content', text: coto.content });
  let actions;
  if (mode === 'confirm-delete') {
    const confirm = h('button', { className: 'button button-danger button-small coto-delete-confirm', type: 'button' }, 'Delete');
    const cancel = h('button', { className: 'button button-quiet button-small coto-delete-cancel', type: 'button' }, 'Cancel');
    confirm.addEventListener('click', () => removeCoto(li, coto, confirm, cancel));
    cancel.addEventListener('click', () => {
      renderCoto(li, coto, 'view');
      li.querySelector('.coto-delete')?.focus();
    });
    actions = h('div', { className: 'coto-actions coto-confirm', role: 'group', 'aria-label': 'Confirm deletion' },
      h('span', { className: 'coto-confirm-question', text: 'Delete this coto?' }), confirm, cancel);
    li.replaceChildren(content, h('div', { className: 'coto-footer' }, meta, actions));
    cancel.focus();
    return;
  }

  const edit = h('button', {
    className: 'icon-button coto-edit', type: 'button', 'aria-label': 'Edit this coto', title: 'Edit',
  }, pencilIcon(), h('span', { className: 'icon-button-label', text: 'Edit' }));
  const del = h('button', {
    className: 'icon-button coto-delete', type: 'button', 'aria-label': 'Delete this coto', title: 'Delete',
  }, trashIcon(), h('span', { className: 'icon-button-label', text: 'Delete' }));
  edit.addEventListener('click', () => renderCoto(li, coto, 'edit'));
  del.addEventListener('click', () => renderCoto(li, coto, 'confirm-delete'));
  actions = h('div', { className: 'coto-actions' }, edit, del);
  li.replaceChildren(content, h('div', { className: 'coto-footer' }, meta, actions));
}

function editForm(li, coto) {
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
  const form = h('form', { className: 'coto-edit-form', novalidate: true },
    input, h('div', { className: 'coto-edit-bar' }, counter, cancel, save));

  const refresh = () => {
    const m = measure(input.value);
    showCounter(counter, m);
    save.disabled = form.classList.contains('is-busy') || m.blank || m.over;
  };
  const close = () => {
    renderCoto(li, state.cotos.get(coto.id) || coto, 'view');
    li.querySelector('.coto-edit')?.focus();
  };
  input.addEventListener('input', refresh);
  input.addEventListener('keydown', (event) => {
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
      state.cotos.set(updated.id, updated);
      renderCoto(li, updated, 'view');
      li.querySelector('.coto-edit')?.focus();
    } catch (error) {
      form.classList.remove('is-busy');
      refresh();
      showError('Your change was not saved.', error);
      if (error instanceof ApiError && error.status === 404) forget(li, coto);
    }
  });
  refresh();
  queueMicrotask(() => {
    input.focus();
    input.setSelectionRange(input.value.length, input.value.length);
  });
  return form;
}

function forget(li, coto) {
  // Focus moves to the next coto (or the previous one, or the composer).
  const neighbour = li.nextElementSibling || li.previousElementSibling;
  li.remove();
  state.cotos.delete(coto.id);
  updateStatus();
  const target = neighbour?.querySelector('.coto-delete, .coto-delete-cancel, textarea') || els.input;
  target.focus();
}

async function removeCoto(li, coto, ...buttons) {
  for (const b of buttons) b.disabled = true;
  li.classList.add('is-busy');
  try {
    await deleteCoto(coto.id);
    clearError();
    forget(li, coto);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      forget(li, coto); // already gone: nothing left to do
      return;
    }
    li.classList.remove('is-busy');
    for (const b of buttons) b.disabled = false;
    showError('Your coto was not deleted.', error);
  }
}

/** Puts cotos on the timeline: at the top (just posted) or the bottom (older page). */
function addCotos(cotos, where) {
  const fragment = document.createDocumentFragment();
  for (const coto of cotos) {
    if (!coto || typeof coto.id !== 'string' || state.cotos.has(coto.id)) continue;
    state.cotos.set(coto.id, coto);
    const li = h('li', { className: where === 'top' ? 'coto is-new' : 'coto', dataset: { id: coto.id } });
    renderCoto(li, coto, 'view');
    fragment.append(li);
  }
  if (where === 'top') els.timeline.prepend(fragment);
  else els.timeline.append(fragment);
  updateStatus();
}

async function loadPage() {
  if (state.loading) return;
  const before = state.next;
  state.loading = true;
  els.loadOlder.disabled = true;
  els.loadOlder.textContent = 'Loading…';
  if (!state.loadedOnce) {
    els.status.hidden = false;
    els.status.textContent = 'Loading your cotos…';
  }
  try {
    const page = await listCotos(before);
    state.loadedOnce = true;
    addCotos(Array.isArray(page.cotos) ? page.cotos : [], 'bottom');
    state.next = page.next || null;
  } catch (error) {
    showError(before ? 'Older cotos could not be loaded.' : 'Your cotos could not be loaded.', error);
    if (!state.loadedOnce) {
      const retry = h('button', { className: 'button button-secondary button-small', type: 'button', id: 'retry-load' }, 'Try again');
      retry.addEventListener('click', () => {
        clearError();
        loadPage();
      });
      els.status.replaceChildren('Your cotos could not be loaded. ', retry);
    }
  } finally {
    state.loading = false;
    els.loadOlder.disabled = false;
    els.loadOlder.textContent = 'Load older';
    els.loadOlder.hidden = !state.next;
  }
}

function refreshTimes() {
  for (const time of els.timeline.querySelectorAll('time.coto-time')) {
    time.textContent = formatWhen(time.dateTime);
  }
}

// ------------------------------------------------------------------ icons

const SVG = 'http://www.w3.org/2000/svg';

function icon(paths) {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('width', '16');
  svg.setAttribute('height', '16');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  svg.setAttribute('class', 'icon');
  for (const d of paths) {
    const path = document.createElementNS(SVG, 'path');
    path.setAttribute('d', d);
    svg.append(path);
  }
  return svg;
}

const pencilIcon = () => icon(['M4 20h4L19 9l-4-4L4 16v4z', 'M13.5 6.5l4 4']);
const trashIcon = () => icon(['M4 7h16', 'M10 11v6', 'M14 11v6', 'M6 7l1 13h10l1-13', 'M9 7V4h6v3']);

// ------------------------------------------------------------------- start

function start() {
  if (isMac) {
    els.postHint.replaceChildren(h('kbd', { text: '⌘' }), ' + ', h('kbd', { text: 'Enter' }), ' to post');
  }
  els.input.addEventListener('input', updateComposer);
  els.input.addEventListener('keydown', (event) => {
    if (isSubmitShortcut(event)) {
      event.preventDefault();
      submitComposer();
    }
  });
  els.composer.addEventListener('submit', (event) => {
    event.preventDefault();
    submitComposer();
  });
  els.loadOlder.addEventListener('click', loadPage);
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') refreshTimes();
  });
  setInterval(refreshTimes, 60000);
  updateComposer();
  loadPage();
}

start();
