// Cotoami web client: the anonymous memo pad (growth record 1) and signing in
// with email alone (growth record 2).
// Everything a person wrote is rendered with textContent, never as HTML.

import {
  ApiError, MAX_CONTENT_CHARS, currentSession, deleteCoto, inspectSigninLink, listCotos, postCoto,
  requestSigninLink, session, signIn, signOut, updateCoto,
} from './api.js';
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
  pad: $('pad'),
  // the header and the notices
  signinButton: $('signin-button'),
  signedIn: $('session-signed-in'),
  identity: $('identity'),
  signoutButton: $('signout-button'),
  anonymousNotice: $('anonymous-notice'),
  noticeSignin: $('notice-signin'),
  accountNotice: $('account-notice'),
  accountNoticeName: $('account-notice-name'),
  // the sign-in dialog
  dialog: $('signin-dialog'),
  signinForm: $('signin-form'),
  signinEmail: $('signin-email'),
  signinSaveRow: $('signin-save-row'),
  signinSave: $('signin-save-anonymous'),
  signinError: $('signin-error'),
  signinSubmit: $('signin-submit'),
  signinSent: $('signin-sent'),
  signinSentAddress: $('signin-sent-address'),
  signinSentValidity: $('signin-sent-validity'),
  // the confirm page (/signin/TOKEN)
  confirm: $('confirm'),
  confirmChecking: $('confirm-checking'),
  confirmSignin: $('confirm-signin'),
  confirmEmail: $('confirm-email'),
  confirmButton: $('confirm-button'),
  confirmProblem: $('confirm-problem'),
  confirmError: $('confirm-error'),
  confirmErrorTitle: $('confirm-error-title'),
  confirmErrorText: $('confirm-error-text'),
  confirmNewLink: $('confirm-new-link'),
  confirmRetry: $('confirm-retry'),
};

const state = {
  cotos: new Map(), // id -> coto, for every coto on screen
  next: null, // cursor of the next older page, or null
  posting: false,
  loading: false,
  loadedOnce: false,
  generation: 0, // bumped when the timeline is emptied: answers for an older one are dropped
  amishi: undefined, // the signed-in amishi, null when anonymous, undefined until known
  confirmToken: null, // the sign-in link's token on the confirm page, else null
  signinBusy: false,
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
  showMessage(context, description);
}

function showMessage(context, description) {
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
  const generation = state.generation;
  try {
    const coto = await postCoto(els.input.value);
    if (generation === state.generation) {
      clearError();
      addCotos([coto], 'top');
    }
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

  const meta = h('div', { className: 'coto-meta' }, authorElement(coto.amishi), timeElement(coto));
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
  const generation = state.generation;
  state.loading = true;
  els.loadOlder.disabled = true;
  els.loadOlder.textContent = 'Loading…';
  if (!state.loadedOnce) {
    els.status.hidden = false;
    els.status.textContent = 'Loading your cotos…';
  }
  try {
    const page = await listCotos(before);
    if (generation !== state.generation) return; // the timeline was emptied meanwhile
    state.loadedOnce = true;
    addCotos(Array.isArray(page.cotos) ? page.cotos : [], 'bottom');
    state.next = page.next || null;
  } catch (error) {
    if (generation !== state.generation) return;
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
    if (generation === state.generation) {
      state.loading = false;
      els.loadOlder.disabled = false;
      els.loadOlder.textContent = 'Load older';
      els.loadOlder.hidden = !state.next;
    }
  }
}

/** Empties the timeline (another person, or nobody, is signed in now) and loads it again. */
function reloadTimeline() {
  state.generation += 1;
  state.cotos.clear();
  state.next = null;
  state.loading = false;
  state.loadedOnce = false;
  els.timeline.replaceChildren();
  els.loadOlder.hidden = true;
  clearError();
  loadPage();
}

function refreshTimes() {
  for (const time of els.timeline.querySelectorAll('time.coto-time')) {
    time.textContent = formatWhen(time.dateTime);
  }
}

// ---------------------------------------------------------------- avatars

/** The first character of a name, for an avatar that has no picture. */
function initialOf(name) {
  const first = [...(name || '').trim()][0];
  return first ? first.toLocaleUpperCase() : '?';
}

/** One of eight calm colours, always the same for the same amishi. */
function hueOf(id) {
  let hash = 0;
  for (const c of String(id)) hash = (hash * 31 + c.codePointAt(0)) % 997;
  return hash % 8;
}

function imageUrl(url) {
  try {
    const parsed = new URL(url, location.origin);
    return parsed.protocol === 'https:' || parsed.protocol === 'http:' ? parsed.href : null;
  } catch {
    return null;
  }
}

/**
 * A round avatar: the initial on a colour, covered by the picture once it has
 * loaded. A picture that fails (offline, blocked) is dropped, never shown broken.
 */
function avatarElement(amishi, className, size) {
  const wrap = h('span', {
    className: `avatar avatar-hue-${hueOf(amishi.id)} ${className}`, 'aria-hidden': 'true',
  }, h('span', { className: 'avatar-initial', text: initialOf(amishi.display_name) }));
  const src = imageUrl(amishi.avatar_url);
  if (src) {
    const img = h('img', {
      className: 'avatar-image', alt: '', width: String(size), height: String(size), decoding: 'async',
      referrerpolicy: 'no-referrer',
    });
    img.addEventListener('load', () => wrap.classList.add('has-image'), { once: true });
    img.addEventListener('error', () => img.remove(), { once: true });
    img.src = src;
    wrap.append(img);
  }
  return wrap;
}

/** A coto's author, small: only signed-in cotos have one. */
function authorElement(amishi) {
  if (!amishi || typeof amishi !== 'object' || typeof amishi.display_name !== 'string') return null;
  return h('span', { className: 'coto-author' },
    avatarElement(amishi, 'coto-author-avatar', 20),
    h('span', { className: 'coto-author-name', text: amishi.display_name }));
}

// --------------------------------------------------------------- identity

/** Shows who is signed in (or that nobody is) in the header and the notice. */
function renderIdentity() {
  const amishi = state.amishi;
  const known = amishi !== undefined;
  els.signinButton.hidden = !known || Boolean(amishi) || state.confirmToken !== null;
  els.signedIn.hidden = !amishi;
  els.anonymousNotice.hidden = !known || Boolean(amishi);
  els.accountNotice.hidden = !amishi;
  if (amishi) {
    els.identity.replaceChildren(
      avatarElement(amishi, 'amishi-avatar', 28),
      h('span', { className: 'amishi-name', text: amishi.display_name }),
    );
    els.identity.title = amishi.email ? `Signed in as ${amishi.display_name} (${amishi.email})` : `Signed in as ${amishi.display_name}`;
    els.accountNoticeName.textContent = amishi.email || amishi.display_name;
  } else {
    els.identity.replaceChildren();
    els.identity.removeAttribute('title');
  }
}

/** Someone (or nobody) is signed in now; a different person gets their own timeline. */
function setIdentity(amishi) {
  const before = state.amishi;
  state.amishi = amishi;
  renderIdentity();
  const changed = before !== undefined && (before?.id ?? null) !== (amishi?.id ?? null);
  if (changed && state.confirmToken === null) reloadTimeline();
}

/** The session ended without the person asking (the refresh was refused). */
function sessionEnded() {
  if (state.amishi === null) return;
  const wasSignedIn = Boolean(state.amishi);
  state.amishi = null;
  renderIdentity();
  if (state.confirmToken !== null) return;
  reloadTimeline();
  if (wasSignedIn) showMessage('You are signed out.', 'Your session has ended. Sign in again to see your account’s cotos.');
}

async function checkSession() {
  try {
    setIdentity(await currentSession());
  } catch (error) {
    if (error instanceof ApiError && error.signedOut) return; // sessionEnded() has shown it
    // Not known (offline, a failing service): offer signing in; the timeline says what failed.
    if (state.amishi === undefined) setIdentity(null);
  }
}

async function signOutNow() {
  els.signoutButton.disabled = true;
  try {
    await signOut();
    setIdentity(null);
    els.signinButton.focus();
  } catch (error) {
    showError('You are still signed in.', error);
  } finally {
    els.signoutButton.disabled = false;
  }
}

// ---------------------------------------------------------- sign-in dialog

let dialogOpener = null;

function showDialogError(title, description) {
  els.signinError.replaceChildren(
    h('p', { className: 'dialog-error-text' },
      h('strong', { text: title }), ' ', description),
  );
}

function clearDialogError() {
  els.signinError.replaceChildren();
  els.signinEmail.setAttribute('aria-invalid', 'false');
}

/** Whether the "save the anonymous cotos" choice makes sense: an anonymous pad with cotos. */
async function updateSaveChoice() {
  const row = els.signinSaveRow;
  if (state.amishi !== null) {
    row.hidden = true;
    return;
  }
  if (state.confirmToken === null && state.loadedOnce) {
    row.hidden = state.cotos.size === 0;
    return;
  }
  row.hidden = true; // the pad is not on screen (the confirm page): ask whether it has any
  try {
    const page = await listCotos(null, 1);
    row.hidden = state.amishi !== null || !(Array.isArray(page.cotos) && page.cotos.length > 0);
  } catch {
    // Without knowing, the choice stays hidden; signing in works all the same.
  }
}

function openSigninDialog() {
  dialogOpener = document.activeElement;
  els.signinForm.hidden = false;
  els.signinSent.hidden = true;
  els.dialog.setAttribute('aria-labelledby', 'signin-title');
  clearDialogError();
  updateSaveChoice();
  if (!els.dialog.open) els.dialog.showModal();
  els.signinEmail.focus();
  els.signinEmail.select();
}

function closeSigninDialog() {
  if (els.dialog.open) els.dialog.close();
}

function waitText(seconds) {
  if (!Number.isFinite(seconds)) return '';
  if (seconds < 90) return ' Try again in a minute.';
  return ` Try again in about ${Math.ceil(seconds / 60)} minutes.`;
}

async function submitSignin() {
  if (state.signinBusy) return;
  const email = els.signinEmail.value.trim();
  if (!email) {
    showDialogError('Enter your email address.', 'The sign-in link is mailed to it.');
    els.signinEmail.setAttribute('aria-invalid', 'true');
    els.signinEmail.focus();
    return;
  }
  state.signinBusy = true;
  clearDialogError();
  els.signinForm.classList.add('is-busy');
  els.signinSubmit.disabled = true;
  els.signinSubmit.textContent = 'Sending…';
  try {
    const saveAnonymous = !els.signinSaveRow.hidden && els.signinSave.checked;
    const answer = await requestSigninLink(email, saveAnonymous);
    // The service says how long its links work; the mail says the same.
    const minutes = Number.isInteger(answer?.expires_minutes) ? answer.expires_minutes : 10;
    els.signinSentAddress.textContent = email;
    els.signinSentValidity.textContent = `it works once, within ${minutes}\u00a0minutes`;
    els.signinForm.hidden = true;
    els.signinSent.hidden = false;
    els.dialog.setAttribute('aria-labelledby', 'signin-sent-title');
    $('signin-done').focus();
  } catch (error) {
    if (error instanceof ApiError && error.status === 400) {
      showDialogError('Check the address.', error.description);
      els.signinEmail.setAttribute('aria-invalid', 'true');
      els.signinEmail.focus();
    } else if (error instanceof ApiError && error.status === 429) {
      showDialogError(`${error.title}.`, `${error.description}${waitText(error.retryAfter)}`);
    } else {
      if (!(error instanceof ApiError)) console.error(error);
      showDialogError('No link was sent.', error instanceof ApiError ? error.description : 'Something unexpected happened. Try again.');
    }
  } finally {
    state.signinBusy = false;
    els.signinForm.classList.remove('is-busy');
    els.signinSubmit.disabled = false;
    els.signinSubmit.textContent = 'Send sign-in link';
  }
}

function setUpSigninDialog() {
  for (const opener of [els.signinButton, els.noticeSignin, els.confirmNewLink]) {
    opener.addEventListener('click', openSigninDialog);
  }
  els.signinForm.addEventListener('submit', (event) => {
    event.preventDefault();
    submitSignin();
  });
  for (const id of ['signin-cancel', 'signin-close', 'signin-sent-close', 'signin-done']) {
    $(id).addEventListener('click', closeSigninDialog);
  }
  $('signin-again').addEventListener('click', openSigninDialog);
  els.signinEmail.addEventListener('input', () => {
    if (els.signinEmail.getAttribute('aria-invalid') === 'true') clearDialogError();
  });
  // A click on the backdrop (outside the panel) closes the dialog, as Escape does.
  els.dialog.addEventListener('click', (event) => {
    if (event.target === els.dialog) {
      const box = els.dialog.getBoundingClientRect();
      const inside = event.clientX >= box.left && event.clientX <= box.right &&
        event.clientY >= box.top && event.clientY <= box.bottom;
      if (!inside) closeSigninDialog();
    }
  });
  els.dialog.addEventListener('close', () => {
    if (dialogOpener && dialogOpener.isConnected && !dialogOpener.closest('[hidden]')) dialogOpener.focus();
    dialogOpener = null;
  });
}

// ----------------------------------------------------------- confirm page

/** The token of a sign-in link (/signin/TOKEN), or null on any other page. */
function tokenInAddress() {
  const match = /^\/signin\/([^/]*)\/?$/.exec(location.pathname);
  if (!match) return null;
  try {
    return decodeURIComponent(match[1]);
  } catch {
    return '';
  }
}

/** What to say about a link that cannot sign anyone in, and what to do next. */
function linkTrouble(error) {
  if (!(error instanceof ApiError)) {
    console.error(error);
    return { title: 'Something went wrong', text: 'This page ran into a problem. Reload it and try again.', retry: true };
  }
  if (error.status === 410 && /used/i.test(error.title)) {
    return {
      title: error.title,
      text: 'Each sign-in link works only once, and this one has signed someone in already. ' +
        'Ask for a new link, then open the newest mail.',
    };
  }
  if (error.status === 410) {
    return {
      title: error.title,
      text: 'A sign-in link works for 10 minutes after it was asked for. Ask for a new link and open it soon after it arrives.',
    };
  }
  if (error.status === 400) {
    return {
      title: 'Not a sign-in link',
      text: 'This address is not a working sign-in link; it may have been cut short when it was copied. Ask for a new link.',
    };
  }
  return { title: error.status === 429 ? error.title : 'The link could not be checked', text: error.description, retry: true };
}

function showLinkTrouble(error, retry) {
  const trouble = linkTrouble(error);
  els.confirmChecking.hidden = true;
  els.confirmSignin.hidden = true;
  els.confirmErrorTitle.textContent = trouble.title;
  els.confirmErrorText.textContent = trouble.text;
  els.confirmRetry.hidden = !trouble.retry;
  els.confirmRetry.onclick = trouble.retry ? retry : null;
  els.confirmError.hidden = false;
}

/** Shows whom the link signs in, consuming nothing (mail scanners open links too). */
async function checkLink() {
  els.confirmError.hidden = true;
  els.confirmSignin.hidden = true;
  els.confirmChecking.hidden = false;
  const token = state.confirmToken;
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(token)) {
    showLinkTrouble(new ApiError(400, 'Invalid sign-in link', ''), checkLink);
    return;
  }
  try {
    const { email_hint: hint } = await inspectSigninLink(token);
    els.confirmEmail.textContent = hint;
    els.confirmProblem.replaceChildren();
    els.confirmChecking.hidden = true;
    els.confirmSignin.hidden = false;
    els.confirmButton.focus();
  } catch (error) {
    showLinkTrouble(error, checkLink);
  }
}

/** The button: consumes the link, then the token leaves the address bar and the history. */
async function confirmSignin() {
  els.confirmButton.disabled = true;
  els.confirmButton.textContent = 'Signing in…';
  els.confirmProblem.replaceChildren();
  try {
    const amishi = await signIn(state.confirmToken);
    history.replaceState(null, '', '/');
    document.title = 'Cotoami';
    state.confirmToken = null;
    els.confirm.hidden = true;
    els.pad.hidden = false;
    state.amishi = amishi;
    renderIdentity();
    reloadTimeline();
  } catch (error) {
    if (error instanceof ApiError && (error.status === 400 || error.status === 410)) {
      showLinkTrouble(error, checkLink);
    } else {
      els.confirmProblem.replaceChildren(h('p', { className: 'confirm-problem-text' },
        h('strong', { text: 'You are not signed in yet.' }), ' ',
        error instanceof ApiError ? error.description : 'Something unexpected happened. Try again.'));
    }
  } finally {
    els.confirmButton.disabled = false;
    els.confirmButton.textContent = 'Sign in';
  }
}

function startConfirmPage() {
  document.title = 'Sign in — Cotoami';
  els.pad.hidden = true;
  els.confirm.hidden = false;
  els.confirmButton.addEventListener('click', confirmSignin);
  // Leaving replaces the page, so the link's address does not stay in the history.
  for (const link of els.confirm.querySelectorAll('a[href="/"]')) {
    link.addEventListener('click', (event) => {
      if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
      event.preventDefault();
      location.replace('/');
    });
  }
  checkLink();
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
  setUpSigninDialog();
  els.signoutButton.addEventListener('click', signOutNow);
  session.addEventListener('signedout', sessionEnded);
  session.addEventListener('refreshed', (event) => setIdentity(event.detail || null));
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
    if (document.visibilityState !== 'visible') return;
    refreshTimes();
    // Another tab may have signed in or out meanwhile: the cookies are shared.
    if (state.amishi !== undefined && state.confirmToken === null) checkSession();
  });
  setInterval(refreshTimes, 60000);
  updateComposer();
  state.confirmToken = tokenInAddress();
  // Who is signed in, and the timeline, at once: both follow the same cookies.
  checkSession();
  if (state.confirmToken !== null) startConfirmPage();
  else loadPage();
}

start();
