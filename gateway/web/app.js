// Cotoami web client: the anonymous memo pad (growth record 1), signing in
// with email alone (2), cotonomas (3) and sharing them by email (4).
// Everything a person wrote is rendered with textContent, never as HTML.
//
// Pages (client-side routes, the gateway serves index.html for each):
//   /                 home: the anonymous pad, or everything I posted
//   /cotonomas/KEY    one cotonoma: its header, members (owner), timeline
//   /signin/TOKEN     the confirm page of a sign-in link (full loads only)

import {
  ApiError, MAX_CONTENT_CHARS, MAX_COTONOMA_NAME_CHARS, addMember, createCotonoma, currentSession, deleteCoto,
  getCotonoma, inspectSigninLink, listCotonomas, listCotos, listMembers, postCoto, removeMember, renameCotonoma,
  requestSigninLink, session, signIn, signOut, updateCoto,
} from './api.js';
import {
  authorElement, avatarElement, cotonomaIcon, h, isAmishi, pencilIcon, peopleIcon, trashIcon,
} from './dom.js';
import { charCount, formatFull, formatNumber, formatWhen } from './format.js';

const $ = (id) => document.getElementById(id);

const els = {
  main: $('main'),
  composer: $('composer'),
  composerLabel: $('composer-label'),
  input: $('coto-input'),
  postButton: $('post-button'),
  charCount: $('char-count'),
  postHint: $('post-hint'),
  errorArea: $('error-area'),
  timeline: $('timeline'),
  timelineHeading: $('timeline-heading'),
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
  // the list of cotonomas: a column on wide screens, a drawer on narrow ones
  sidebar: $('sidebar'),
  drawerToggle: $('drawer-toggle'),
  drawerClose: $('drawer-close'),
  drawerBackdrop: $('drawer-backdrop'),
  homeLink: $('home-link'),
  myCotonomas: $('my-cotonomas'),
  myCotonomasEmpty: $('my-cotonomas-empty'),
  sharedCotonomas: $('shared-cotonomas'),
  sharedCotonomasEmpty: $('shared-cotonomas-empty'),
  listStatus: $('cotonoma-list-status'),
  // the cotonoma page
  cotonomaLoading: $('cotonoma-loading'),
  cotonomaLoadingText: $('cotonoma-loading-text'),
  cotonomaLoadingActions: $('cotonoma-loading-actions'),
  cotonomaRetry: $('cotonoma-retry'),
  notFound: $('cotonoma-not-found'),
  notFoundTitle: $('not-found-title'),
  notFoundAddress: $('not-found-address'),
  invitation: $('cotonoma-signin'),
  invitationTitle: $('cotonoma-signin-title'),
  invitationSignin: $('cotonoma-signin-button'),
  cotonomaHeader: $('cotonoma-header'),
  breadcrumbs: $('breadcrumbs'),
  titleRow: $('cotonoma-title-row'),
  title: $('cotonoma-title'),
  renameButton: $('rename-cotonoma'),
  renameForm: $('rename-form'),
  renameName: $('rename-name'),
  renameSave: $('rename-save'),
  renameCount: $('rename-count'),
  renameError: $('rename-error'),
  cotonomaMeta: $('cotonoma-meta'),
  subCotonomas: $('sub-cotonomas'),
  subCotonomaList: $('sub-cotonoma-list'),
  // the members panel (owners only)
  membersPanel: $('members-panel'),
  memberList: $('member-list'),
  memberEmpty: $('member-empty'),
  memberForm: $('member-form'),
  memberEmail: $('member-email'),
  memberAdd: $('member-add'),
  memberError: $('member-error'),
  memberStatus: $('member-status'),
  // the new-cotonoma dialog
  newCotonomaButton: $('new-cotonoma-button'),
  cotonomaDialog: $('cotonoma-dialog'),
  cotonomaForm: $('cotonoma-form'),
  cotonomaWhere: $('cotonoma-where'),
  cotonomaName: $('cotonoma-name'),
  cotonomaCount: $('cotonoma-count'),
  cotonomaError: $('cotonoma-error'),
  cotonomaCreate: $('cotonoma-create'),
  // the sign-in dialog
  dialog: $('signin-dialog'),
  signinNote: $('signin-note'),
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
  // The Idempotency-Key of the draft being posted, kept until it is posted, so
  // pressing Post again after a lost answer cannot post the same draft twice.
  draft: null, // { content, place, key }
  loading: false,
  loadedOnce: false,
  generation: 0, // bumped whenever the page changes place or person: answers for an older one are dropped
  amishi: undefined, // the signed-in amishi, null when anonymous, undefined until known
  confirmToken: null, // the sign-in link's token on the confirm page, else null
  signinBusy: false,
  place: { key: null }, // where the person is: home (key null) or a cotonoma
  opened: null, // the open cotonoma as GET /api/cotonomas/KEY answered: {cotonoma, ancestors, children}
  members: null, // the open cotonoma's members, once its owner has them
  cotonomaList: [], // GET /api/cotonomas: mine and shared with me
  listGeneration: 0,
  focusOnOpen: false, // a navigation the person made: the new page's heading takes the focus
};

/** Resolves once it is known who (or that nobody) is signed in. */
let identityKnown;
const identityReady = new Promise((resolve) => { identityKnown = resolve; });

// ---------------------------------------------------------------- helpers

const isMac = /Mac|iPhone|iPad|iPod/.test(navigator.userAgentData?.platform || navigator.platform || '');

/** Ctrl+Enter, or Cmd+Enter on a Mac, but never while an IME is composing. */
function isSubmitShortcut(event) {
  return event.key === 'Enter' && (event.ctrlKey || event.metaKey) && !event.isComposing && event.keyCode !== 229;
}

/** "123 / 10,000", and whether the text may be sent. */
function measure(text, max = MAX_CONTENT_CHARS) {
  const count = charCount(text);
  const over = count - max;
  const label = over > 0
    ? `${formatNumber(over)} too many (${formatNumber(count)} / ${formatNumber(max)})`
    : `${formatNumber(count)} / ${formatNumber(max)}`;
  return { count, over: over > 0, near: count > max * 0.95, blank: count === 0, label };
}

function showCounter(el, m) {
  el.textContent = m.label;
  el.classList.toggle('is-near', m.near && !m.over);
  el.classList.toggle('is-over', m.over);
}

/** An error line for a dialog or a form: the title in bold, then what to do. */
function problemLine(title, description) {
  return h('p', { className: 'dialog-error-text' }, h('strong', { text: title }), ' ', description);
}

function describe(error) {
  if (!(error instanceof ApiError)) console.error(error);
  return error instanceof ApiError ? error.description : 'Something unexpected happened. Try again.';
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

// ---------------------------------------------------------------- routing

const KEY_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

const cotonomaHref = (key) => `/cotonomas/${encodeURIComponent(key)}`;

/** The cotonoma key in a path (/cotonomas/KEY), '' for a malformed one, null for any other path. */
function cotonomaKeyIn(pathname) {
  const match = /^\/cotonomas\/([^/]*)\/?$/.exec(pathname);
  if (!match) return null;
  try {
    const key = decodeURIComponent(match[1]);
    return KEY_PATTERN.test(key) ? key : '';
  } catch {
    return '';
  }
}

/** Whether a path is one of this page's own routes (so a link to it needs no page load). */
function isPagePath(pathname) {
  return pathname === '/' || cotonomaKeyIn(pathname) !== null;
}

/** Goes to a page of the client without loading the document again. */
function navigate(path) {
  if (path !== location.pathname) history.pushState(null, '', path);
  state.focusOnOpen = true;
  route();
  window.scrollTo(0, 0);
}

/** Same-origin links to the client's own pages are followed in place. */
function followLinksInPlace(event) {
  if (event.defaultPrevented || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
  const link = event.target.closest('a[href]');
  if (!link || link.target || link.hasAttribute('download') || link.getAttribute('href').startsWith('#')) return;
  if (state.confirmToken !== null) return; // the confirm page is left by a full load (see startConfirmPage)
  const url = new URL(link.href);
  if (url.origin !== location.origin || !isPagePath(url.pathname)) return;
  event.preventDefault();
  navigate(url.pathname);
}

/** Shows the page for the address bar's path: home, or a cotonoma. */
function route() {
  state.generation += 1;
  const key = cotonomaKeyIn(location.pathname);
  state.place = { key };
  state.opened = null;
  state.members = null;
  closeDrawer();
  closeRename();
  resetTimeline();
  markCurrentInList();
  for (const section of [els.cotonomaLoading, els.notFound, els.invitation, els.cotonomaHeader, els.membersPanel]) {
    section.hidden = true;
  }
  if (key === null) showHome();
  else openCotonoma(key);
}

// -------------------------------------------------------------------- home

function showHome() {
  document.title = 'Cotoami';
  els.pad.hidden = false;
  els.composerLabel.textContent = 'New coto';
  els.timelineHeading.textContent = 'Your cotos';
  renderNotices();
  if (state.focusOnOpen) {
    state.focusOnOpen = false;
    els.main.focus({ preventScroll: true });
  }
  loadPage();
}

// --------------------------------------------------------------- composer

function updateComposer() {
  const m = measure(els.input.value);
  showCounter(els.charCount, m);
  els.postButton.disabled = state.posting || m.blank || m.over;
  els.input.setAttribute('aria-invalid', m.over ? 'true' : 'false');
}

/** 128 random bits in hex (crypto.randomUUID exists only on HTTPS pages). */
function newIdempotencyKey() {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
}

async function submitComposer() {
  const m = measure(els.input.value);
  if (state.posting || m.blank || m.over) return;
  state.posting = true;
  els.composer.classList.add('is-busy');
  els.postButton.textContent = 'Posting…';
  updateComposer();
  const generation = state.generation;
  const content = els.input.value;
  const place = state.place.key;
  if (!state.draft || state.draft.content !== content || state.draft.place !== place) {
    state.draft = { content, place, key: newIdempotencyKey() };
  }
  try {
    const coto = await postCoto(content, place, state.draft.key);
    state.draft = null;
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
    state.place.key === null
      ? 'Write your first coto above; it will appear here.'
      : 'Write the first coto in this cotonoma above; everyone it is shared with sees it here.',
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

/**
 * Whether the person looking wrote this coto. Home holds nothing but their own
 * (and may load before the session check answers); an anonymous pad's cotos
 * have no author. In a cotonoma, the author is compared.
 */
function isMine(coto) {
  if (!isAmishi(coto.amishi) || state.place.key === null) return true;
  return Boolean(state.amishi) && coto.amishi.id === state.amishi.id;
}

/** Whether a coto stands for a cotonoma (renamed from the cotonoma's page, never edited as a coto). */
function isCotonomaCoto(coto) {
  return Boolean(coto.as_cotonoma) && typeof coto.cotonoma_key === 'string' && coto.cotonoma_key !== '';
}

/** "in NAME": where a coto was posted, unless that is the place on screen. */
function postedInElement(coto) {
  const where = coto.posted_in;
  if (!where || typeof where.key !== 'string' || where.key === state.place.key) return null;
  return h('a', {
    className: 'coto-posted-in', href: cotonomaHref(where.key), dataset: { key: where.key },
    title: `Posted in the cotonoma ${where.name}`,
  }, cotonomaIcon('coto-posted-in-icon'), 'in ', h('span', { className: 'coto-posted-in-name', text: where.name }));
}

/** A cotonoma's coto: its name, as a link into it. */
function cotonomaContent(coto) {
  return h('div', { className: 'coto-content coto-content-cotonoma' },
    h('a', {
      className: 'coto-cotonoma-link', href: cotonomaHref(coto.cotonoma_key), dataset: { key: coto.cotonoma_key },
      title: `Open the cotonoma ${coto.content}`,
    }, cotonomaIcon('coto-cotonoma-icon'), h('span', { className: 'coto-cotonoma-name', text: coto.content })));
}

/** Fills a coto's <li> for one of its modes: 'view', 'confirm-delete' or 'edit'. */
function renderCoto(li, coto, mode = 'view') {
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
    li.replaceChildren(...[postedIn, editForm(li, coto), meta].filter(Boolean));
    return;
  }

  const content = isCotonomaCoto(coto)
    ? cotonomaContent(coto)
    : h('div', { className: 'coto-content', text: coto.content });
  const parts = (actions) => [postedIn, content, h('div', { className: 'coto-footer' }, meta, actions)].filter(Boolean);

  if (mode === 'confirm-delete') {
    const confirm = h('button', { className: 'button button-danger button-small coto-delete-confirm', type: 'button' }, 'Delete');
    const cancel = h('button', { className: 'button button-quiet button-small coto-delete-cancel', type: 'button' }, 'Cancel');
    confirm.addEventListener('click', () => removeCoto(li, coto, confirm, cancel));
    cancel.addEventListener('click', () => {
      renderCoto(li, coto, 'view');
      li.querySelector('.coto-delete')?.focus();
    });
    const actions = h('div', { className: 'coto-actions coto-confirm', role: 'group', 'aria-label': 'Confirm deletion' },
      h('span', { className: 'coto-confirm-question', text: 'Delete this coto?' }), confirm, cancel);
    li.replaceChildren(...parts(actions));
    cancel.focus();
    return;
  }

  // Only the author changes a coto; a cotonoma is renamed on its own page.
  if (!isMine(coto) || isCotonomaCoto(coto)) {
    li.replaceChildren(...parts(null));
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
  li.replaceChildren(...parts(h('div', { className: 'coto-actions' }, edit, del)));
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
  const target = neighbour?.querySelector('.coto-delete, .coto-delete-cancel, textarea, a') || els.input;
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

/** Re-renders the cotos on screen that name a cotonoma (its coto, or "in NAME"), after a rename. */
function renameOnTimeline(key, name) {
  for (const li of els.timeline.querySelectorAll('li.coto[data-mode="view"]')) {
    const coto = state.cotos.get(li.dataset.id);
    if (!coto) continue;
    let renamed = coto;
    if (isCotonomaCoto(coto) && coto.cotonoma_key === key) renamed = { ...renamed, content: name };
    if (coto.posted_in?.key === key) renamed = { ...renamed, posted_in: { ...coto.posted_in, name } };
    if (renamed !== coto) {
      state.cotos.set(coto.id, renamed);
      renderCoto(li, renamed, 'view');
    }
  }
}

async function loadPage() {
  if (state.loading) return;
  const before = state.next;
  const generation = state.generation;
  const key = state.place.key;
  state.loading = true;
  els.loadOlder.disabled = true;
  els.loadOlder.textContent = 'Loading…';
  if (!state.loadedOnce) {
    els.status.hidden = false;
    els.status.textContent = key === null ? 'Loading your cotos…' : 'Loading cotos…';
  }
  try {
    const page = await listCotos(before, null, key);
    if (generation !== state.generation) return; // the timeline was emptied meanwhile
    state.loadedOnce = true;
    addCotos(Array.isArray(page.cotos) ? page.cotos : [], 'bottom');
    state.next = page.next || null;
  } catch (error) {
    if (generation !== state.generation) return;
    if (key !== null && error instanceof ApiError && error.status === 404) {
      showNotFound();
      return;
    }
    const what = key === null ? 'Your cotos' : 'The cotos';
    showError(before ? 'Older cotos could not be loaded.' : `${what} could not be loaded.`, error);
    if (!state.loadedOnce) {
      const retry = h('button', { className: 'button button-secondary button-small', type: 'button', id: 'retry-load' }, 'Try again');
      retry.addEventListener('click', () => {
        clearError();
        loadPage();
      });
      els.status.replaceChildren(`${what} could not be loaded. `, retry);
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

/** Puts what is new at the top of the timeline (e.g. the coto of a cotonoma just created). */
async function loadNewest() {
  const generation = state.generation;
  if (!state.loadedOnce) {
    loadPage();
    return;
  }
  try {
    const page = await listCotos(null, null, state.place.key);
    if (generation !== state.generation) return;
    addCotos((Array.isArray(page.cotos) ? page.cotos : []).filter((coto) => !state.cotos.has(coto?.id)), 'top');
  } catch (error) {
    if (generation === state.generation) showError('The newest cotos could not be loaded.', error);
  }
}

/** Empties the timeline, for another place or another person. */
function resetTimeline() {
  state.cotos.clear();
  state.next = null;
  state.loading = false;
  state.loadedOnce = false;
  els.timeline.replaceChildren();
  els.loadOlder.hidden = true;
  els.status.hidden = false;
  els.status.textContent = '';
  clearError();
}

function refreshTimes() {
  for (const time of els.timeline.querySelectorAll('time.coto-time')) {
    time.textContent = formatWhen(time.dateTime);
  }
}

// ----------------------------------------------------------- cotonoma page

const isOwner = (cotonoma) => Boolean(state.amishi) && cotonoma?.owner?.id === state.amishi.id;

function focusHeading(heading) {
  if (!state.focusOnOpen) return;
  state.focusOnOpen = false;
  heading.focus({ preventScroll: true });
}

/** Opens /cotonomas/KEY: the header and the timeline together, the members for its owner. */
async function openCotonoma(key) {
  const generation = state.generation;
  document.title = 'Cotonoma — Cotoami';
  els.pad.hidden = true;
  renderNotices();
  if (!key) {
    showNotFound();
    return;
  }
  els.cotonomaLoadingText.textContent = 'Opening the cotonoma…';
  els.cotonomaLoadingActions.hidden = true;
  els.cotonomaLoading.hidden = false;
  await identityReady;
  if (generation !== state.generation) return;
  if (!state.amishi) {
    showInvitation();
    return;
  }
  els.composerLabel.textContent = 'New coto';
  loadPage();
  let opened;
  try {
    opened = await getCotonoma(key);
  } catch (error) {
    if (generation !== state.generation) return;
    if (error instanceof ApiError && error.status === 404) showNotFound();
    else if (error instanceof ApiError && error.status === 401 && !error.signedOut) showInvitation();
    else if (!(error instanceof ApiError && error.signedOut)) showOpenTrouble(error);
    return;
  }
  if (generation !== state.generation) return;
  if (!opened?.cotonoma || typeof opened.cotonoma.name !== 'string') {
    showOpenTrouble(new ApiError(502, 'Unexpected answer', 'Cotoami sent an answer this page could not read.'));
    return;
  }
  state.opened = {
    cotonoma: opened.cotonoma,
    ancestors: (Array.isArray(opened.ancestors) ? opened.ancestors : []).filter((a) => a && a.key !== key),
    children: Array.isArray(opened.children) ? opened.children : [],
  };
  els.cotonomaLoading.hidden = true;
  els.pad.hidden = false;
  renderCotonoma();
  els.cotonomaHeader.hidden = false;
  if (isOwner(opened.cotonoma)) {
    els.membersPanel.hidden = false;
    loadMembers();
  }
  focusHeading(els.title);
}

function showOpenTrouble(error) {
  els.cotonomaLoadingText.replaceChildren(
    h('strong', { text: 'The cotonoma could not be opened.' }), ' ', describe(error));
  els.cotonomaLoadingActions.hidden = false;
  els.cotonomaLoading.hidden = false;
}

/** The same page for "no such cotonoma" and "not yours to see": its existence is private. */
function showNotFound() {
  state.generation += 1; // whatever else is still loading for this page is of no use now
  document.title = 'Not found — Cotoami';
  resetTimeline();
  for (const section of [els.pad, els.cotonomaLoading, els.invitation, els.cotonomaHeader, els.membersPanel]) {
    section.hidden = true;
  }
  els.notFoundAddress.textContent = state.amishi?.email
    ? `the address you signed in with (${state.amishi.email})`
    : 'the address you signed in with';
  els.notFound.hidden = false;
  focusHeading(els.notFoundTitle);
}

/** Not signed in at a cotonoma's address (where an invitation mail leads): sign in, then come back. */
function showInvitation() {
  document.title = 'Sign in — Cotoami';
  els.cotonomaLoading.hidden = true;
  els.pad.hidden = true;
  els.invitation.hidden = false;
  focusHeading(els.invitationTitle);
}

function renderCotonoma() {
  const { cotonoma } = state.opened;
  document.title = `${cotonoma.name} — Cotoami`;
  els.title.replaceChildren(cotonomaIcon('place-title-icon'), h('span', { className: 'place-title-name', text: cotonoma.name }));
  els.renameButton.hidden = !isOwner(cotonoma);
  els.composerLabel.textContent = `New coto in ${cotonoma.name}`;
  els.timelineHeading.textContent = `Cotos in ${cotonoma.name}`;
  renderBreadcrumbs();
  renderCotonomaMeta();
  renderSubCotonomas();
}

/** Home › ancestors › this cotonoma, each a link. */
function renderBreadcrumbs() {
  const { cotonoma, ancestors } = state.opened;
  const crumb = (href, text, current = false) => h('li', { className: 'breadcrumb' },
    h('a', { className: 'breadcrumb-link', href, 'aria-current': current ? 'page' : null, text }));
  els.breadcrumbs.replaceChildren(h('ol', { className: 'breadcrumb-list' },
    crumb('/', 'Home'),
    ...ancestors.filter((a) => typeof a.key === 'string').map((a) => crumb(cotonomaHref(a.key), a.name)),
    crumb(cotonomaHref(cotonoma.key), cotonoma.name, true)));
}

/** Whose it is, and whom it is shared with. */
function renderCotonomaMeta() {
  const { cotonoma } = state.opened;
  const owner = isAmishi(cotonoma.owner)
    ? h('span', { className: 'place-owner' },
      avatarElement(cotonoma.owner, 'coto-author-avatar', 20),
      h('span', { className: 'place-owner-name', text: cotonoma.owner.display_name }))
    : null;
  let badge;
  if (!isOwner(cotonoma)) {
    badge = h('span', { className: 'shared-badge', id: 'cotonoma-shared' }, peopleIcon(), 'Shared with you');
  } else {
    const count = Array.isArray(state.members) ? state.members.length : null;
    const shared = count === null ? Boolean(cotonoma.shared) : count > 0;
    let text = 'Only you';
    if (shared) text = count ? `Shared with ${count} ${count === 1 ? 'person' : 'people'}` : 'Shared';
    badge = h('span', { className: shared ? 'shared-badge' : 'shared-badge is-private', id: 'cotonoma-shared' },
      peopleIcon(), text);
  }
  els.cotonomaMeta.replaceChildren(...[owner, badge].filter(Boolean));
}

function renderSubCotonomas() {
  const { children } = state.opened;
  els.subCotonomaList.replaceChildren(...children.filter((c) => c && typeof c.key === 'string').map((child) =>
    h('li', { className: 'sub-cotonoma-item' },
      h('a', { className: 'sub-cotonoma', href: cotonomaHref(child.key), dataset: { key: child.key } },
        cotonomaIcon(), h('span', { className: 'sub-cotonoma-name', text: child.name })))));
  els.subCotonomas.hidden = els.subCotonomaList.childElementCount === 0;
}

// ------------------------------------------------------------------- rename

function openRename() {
  const { cotonoma } = state.opened;
  els.renameName.value = cotonoma.name;
  els.renameError.replaceChildren();
  els.renameName.setAttribute('aria-invalid', 'false');
  els.titleRow.hidden = true;
  els.renameForm.hidden = false;
  updateRenameCount();
  els.renameName.focus();
  els.renameName.select();
}

function closeRename() {
  if (els.renameForm.hidden) return;
  els.renameForm.hidden = true;
  els.titleRow.hidden = false;
}

function updateRenameCount() {
  const m = measure(els.renameName.value, MAX_COTONOMA_NAME_CHARS);
  showCounter(els.renameCount, m);
  els.renameSave.disabled = els.renameForm.classList.contains('is-busy') || m.blank || m.over;
}

async function submitRename() {
  if (els.renameSave.disabled || !state.opened) return;
  const { cotonoma } = state.opened;
  const name = els.renameName.value.trim();
  if (name === cotonoma.name) {
    closeRename();
    els.renameButton.focus();
    return;
  }
  const generation = state.generation;
  els.renameForm.classList.add('is-busy');
  updateRenameCount();
  els.renameError.replaceChildren();
  try {
    const renamed = await renameCotonoma(cotonoma.key, name);
    if (generation !== state.generation) return;
    state.opened.cotonoma = { ...cotonoma, ...renamed };
    closeRename();
    renderCotonoma();
    renameOnTimeline(cotonoma.key, state.opened.cotonoma.name);
    loadCotonomaList();
    els.renameButton.focus();
  } catch (error) {
    if (generation !== state.generation) return;
    const status = error instanceof ApiError ? error.status : 0;
    els.renameError.replaceChildren(problemLine(
      status === 409 || status === 400 ? 'Check the name.' : 'The name was not changed.', describe(error)));
    els.renameName.setAttribute('aria-invalid', status === 409 || status === 400 ? 'true' : 'false');
    els.renameName.focus();
  } finally {
    els.renameForm.classList.remove('is-busy');
    updateRenameCount();
  }
}

function setUpRename() {
  els.renameButton.addEventListener('click', openRename);
  els.renameName.addEventListener('input', () => {
    updateRenameCount();
    if (els.renameName.getAttribute('aria-invalid') === 'true') {
      els.renameName.setAttribute('aria-invalid', 'false');
      els.renameError.replaceChildren();
    }
  });
  els.renameName.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') {
      event.preventDefault();
      closeRename();
      els.renameButton.focus();
    }
  });
  $('rename-cancel').addEventListener('click', () => {
    closeRename();
    els.renameButton.focus();
  });
  els.renameForm.addEventListener('submit', (event) => {
    event.preventDefault();
    submitRename();
  });
}

// ------------------------------------------------------------------ members

function memberItem(member) {
  const remove = h('button', {
    className: 'button button-quiet button-small member-remove', type: 'button',
    'aria-label': `Remove ${member.email}`, title: `Stop sharing with ${member.email}`,
  }, 'Remove');
  remove.addEventListener('click', () => removeMemberNow(member, remove));
  const added = typeof member.added_at === 'string'
    ? h('time', { className: 'member-added', datetime: member.added_at, title: formatFull(member.added_at), text: `added ${formatWhen(member.added_at)}` })
    : null;
  return h('li', { className: 'member', dataset: { email: member.email } },
    h('span', { className: 'member-who' },
      h('span', { className: 'member-email', text: member.email }), added),
    remove);
}

function renderMembers() {
  const members = state.members || [];
  els.memberList.replaceChildren(...members.map(memberItem));
  els.memberEmpty.hidden = state.members === null || members.length > 0;
  renderCotonomaMeta();
}

async function loadMembers() {
  const generation = state.generation;
  const { key } = state.opened.cotonoma;
  els.memberError.replaceChildren();
  els.memberStatus.textContent = '';
  try {
    const members = await listMembers(key);
    if (generation !== state.generation) return;
    state.members = members.filter((m) => m && typeof m.email === 'string');
    renderMembers();
  } catch (error) {
    if (generation !== state.generation) return;
    if (error instanceof ApiError && (error.status === 403 || error.status === 404)) {
      els.membersPanel.hidden = true; // not the owner after all
      return;
    }
    els.memberError.replaceChildren(problemLine('The members could not be loaded.', describe(error)));
  }
}

async function addMemberNow() {
  if (els.memberForm.classList.contains('is-busy') || !state.opened) return;
  const email = els.memberEmail.value.trim();
  els.memberStatus.textContent = '';
  if (!email) {
    els.memberError.replaceChildren(problemLine('Enter an email address.', 'The invitation is mailed to it.'));
    els.memberEmail.setAttribute('aria-invalid', 'true');
    els.memberEmail.focus();
    return;
  }
  const generation = state.generation;
  const { key } = state.opened.cotonoma;
  els.memberForm.classList.add('is-busy');
  els.memberAdd.disabled = true;
  els.memberError.replaceChildren();
  try {
    const member = await addMember(key, email);
    if (generation !== state.generation) return;
    const added = member && typeof member.email === 'string' ? member : { email, added_at: new Date().toISOString() };
    state.members = [...(state.members || []).filter((m) => m.email !== added.email), added];
    renderMembers();
    els.memberEmail.value = '';
    els.memberStatus.textContent = `Shared with ${added.email}: an invitation is on its way.`;
    loadCotonomaList();
  } catch (error) {
    if (generation !== state.generation) return;
    const status = error instanceof ApiError ? error.status : 0;
    let title = 'Nobody was added.';
    if (status === 400) title = 'Check the address.';
    else if (status === 409) title = 'Already shared.';
    els.memberError.replaceChildren(problemLine(title, describe(error)));
    els.memberEmail.setAttribute('aria-invalid', status === 400 || status === 409 ? 'true' : 'false');
  } finally {
    els.memberForm.classList.remove('is-busy');
    els.memberAdd.disabled = false;
    els.memberEmail.focus();
  }
}

async function removeMemberNow(member, button) {
  const generation = state.generation;
  const { key } = state.opened.cotonoma;
  button.disabled = true;
  els.memberError.replaceChildren();
  els.memberStatus.textContent = '';
  try {
    await removeMember(key, member.email);
  } catch (error) {
    if (generation !== state.generation) return;
    if (!(error instanceof ApiError && error.status === 404)) { // 404: not a member any more, as wanted
      button.disabled = false;
      els.memberError.replaceChildren(problemLine(`${member.email} was not removed.`, describe(error)));
      return;
    }
  }
  if (generation !== state.generation) return;
  state.members = (state.members || []).filter((m) => m.email !== member.email);
  renderMembers();
  els.memberStatus.textContent = `${member.email} no longer sees this cotonoma.`;
  els.memberEmail.focus();
  loadCotonomaList();
}

function setUpMembers() {
  els.memberForm.addEventListener('submit', (event) => {
    event.preventDefault();
    addMemberNow();
  });
  els.memberEmail.addEventListener('input', () => {
    if (els.memberEmail.getAttribute('aria-invalid') === 'true') {
      els.memberEmail.setAttribute('aria-invalid', 'false');
      els.memberError.replaceChildren();
    }
  });
}

// --------------------------------------------------------- cotonoma list

function cotonomaListItem(cotonoma, byKey) {
  const mine = isOwner(cotonoma);
  const link = h('a', {
    className: 'cotonoma-link', href: cotonomaHref(cotonoma.key), dataset: { key: cotonoma.key },
    'aria-current': cotonoma.key === state.place.key ? 'page' : null,
  }, cotonomaIcon('cotonoma-link-icon'), h('span', { className: 'cotonoma-link-name', text: cotonoma.name }));
  const parent = cotonoma.parent_key ? byKey.get(cotonoma.parent_key) : null;
  let detail = null;
  if (!mine && isAmishi(cotonoma.owner)) detail = `by ${cotonoma.owner.display_name}`;
  else if (parent) detail = `in ${parent.name}`;
  if (detail) link.append(h('span', { className: 'cotonoma-link-detail', text: detail }));
  if (mine && cotonoma.shared) {
    link.append(h('span', { className: 'cotonoma-link-shared', title: 'Shared' }, peopleIcon()));
  }
  return h('li', { className: 'cotonoma-item' }, link);
}

function renderCotonomaList() {
  const list = state.cotonomaList;
  const byKey = new Map(list.map((c) => [c.key, c]));
  const mine = list.filter((c) => isOwner(c));
  const shared = list.filter((c) => !isOwner(c));
  els.myCotonomas.replaceChildren(...mine.map((c) => cotonomaListItem(c, byKey)));
  els.sharedCotonomas.replaceChildren(...shared.map((c) => cotonomaListItem(c, byKey)));
  els.myCotonomasEmpty.hidden = mine.length > 0;
  els.sharedCotonomasEmpty.hidden = shared.length > 0;
}

/** The list's link to the place on screen is marked as the current page. */
function markCurrentInList() {
  const current = state.place.key;
  for (const link of els.sidebar.querySelectorAll('.cotonoma-link')) {
    if (link.dataset.key === current) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  if (current === null) els.homeLink.setAttribute('aria-current', 'page');
  else els.homeLink.removeAttribute('aria-current');
}

async function loadCotonomaList() {
  if (!state.amishi) return;
  state.listGeneration += 1;
  const generation = state.listGeneration;
  try {
    const list = await listCotonomas();
    if (generation !== state.listGeneration || !state.amishi) return;
    state.cotonomaList = list.filter((c) => c && typeof c.key === 'string' && typeof c.name === 'string');
    els.listStatus.replaceChildren();
    renderCotonomaList();
  } catch (error) {
    if (generation !== state.listGeneration || (error instanceof ApiError && error.signedOut)) return;
    const retry = h('button', { className: 'link-button', type: 'button' }, 'Try again');
    retry.addEventListener('click', loadCotonomaList);
    els.listStatus.replaceChildren('Your cotonomas could not be loaded. ', retry);
    if (!(error instanceof ApiError)) console.error(error);
  }
}

function clearCotonomaList() {
  state.listGeneration += 1;
  state.cotonomaList = [];
  els.myCotonomas.replaceChildren();
  els.sharedCotonomas.replaceChildren();
  els.listStatus.replaceChildren();
}

// ------------------------------------------------------------------ drawer

const narrow = window.matchMedia('(max-width: 959.98px)');
// What the open drawer covers: out of reach of the keyboard until it closes.
const coveredByDrawer = () => [document.querySelector('.app-header'), els.main, document.querySelector('.app-footer')];

function openDrawer() {
  document.body.classList.add('drawer-open');
  els.drawerToggle.setAttribute('aria-expanded', 'true');
  els.drawerBackdrop.hidden = false;
  for (const el of coveredByDrawer()) el.inert = true;
  (els.sidebar.querySelector('[aria-current="page"]') || els.homeLink).focus();
}

function closeDrawer() {
  if (!document.body.classList.contains('drawer-open')) return;
  const hadFocus = els.sidebar.contains(document.activeElement);
  document.body.classList.remove('drawer-open');
  els.drawerToggle.setAttribute('aria-expanded', 'false');
  els.drawerBackdrop.hidden = true;
  for (const el of coveredByDrawer()) el.inert = false;
  if (hadFocus && narrow.matches) els.drawerToggle.focus();
}

function setUpDrawer() {
  els.drawerToggle.addEventListener('click', () => {
    if (document.body.classList.contains('drawer-open')) closeDrawer();
    else openDrawer();
  });
  els.drawerClose.addEventListener('click', closeDrawer);
  els.drawerBackdrop.addEventListener('click', closeDrawer);
  els.sidebar.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && document.body.classList.contains('drawer-open')) {
      event.preventDefault();
      closeDrawer();
    }
  });
  narrow.addEventListener('change', () => {
    if (!narrow.matches) closeDrawer();
  });
}

// ------------------------------------------------------ new-cotonoma dialog

let cotonomaDialogOpener = null;

async function newCotonoma() {
  await identityReady;
  if (!state.amishi) {
    openSigninDialog('Cotonomas need an account: sign in with your email address, then make one.');
    return;
  }
  cotonomaDialogOpener = document.activeElement;
  els.cotonomaName.value = '';
  els.cotonomaError.replaceChildren();
  els.cotonomaName.setAttribute('aria-invalid', 'false');
  els.cotonomaWhere.textContent = state.opened
    ? `in “${state.opened.cotonoma.name}”`
    : 'on your home timeline';
  updateCotonomaCount();
  if (!els.cotonomaDialog.open) els.cotonomaDialog.showModal();
  els.cotonomaName.focus();
}

function updateCotonomaCount() {
  const m = measure(els.cotonomaName.value, MAX_COTONOMA_NAME_CHARS);
  showCounter(els.cotonomaCount, m);
  els.cotonomaCreate.disabled = els.cotonomaForm.classList.contains('is-busy') || m.over;
}

async function submitNewCotonoma() {
  if (els.cotonomaForm.classList.contains('is-busy')) return;
  const name = els.cotonomaName.value.trim();
  if (!name) {
    els.cotonomaError.replaceChildren(problemLine('Name the cotonoma.', 'A name of 1 to 50 characters.'));
    els.cotonomaName.setAttribute('aria-invalid', 'true');
    els.cotonomaName.focus();
    return;
  }
  const generation = state.generation;
  const parentKey = state.place.key;
  els.cotonomaForm.classList.add('is-busy');
  els.cotonomaCreate.textContent = 'Creating…';
  updateCotonomaCount();
  els.cotonomaError.replaceChildren();
  try {
    const created = await createCotonoma(name, parentKey);
    els.cotonomaDialog.close();
    loadCotonomaList();
    if (generation !== state.generation) return;
    if (state.opened && created && typeof created.key === 'string') {
      state.opened.children = [created, ...state.opened.children.filter((c) => c.key !== created.key)];
      renderSubCotonomas();
    }
    loadNewest();
  } catch (error) {
    const status = error instanceof ApiError ? error.status : 0;
    let title = 'No cotonoma was created.';
    if (status === 400) title = 'Check the name.';
    else if (status === 409) title = 'That name is taken here.';
    els.cotonomaError.replaceChildren(problemLine(title, describe(error)));
    els.cotonomaName.setAttribute('aria-invalid', status === 400 || status === 409 ? 'true' : 'false');
    els.cotonomaName.focus();
  } finally {
    els.cotonomaForm.classList.remove('is-busy');
    els.cotonomaCreate.textContent = 'Create';
    updateCotonomaCount();
  }
}

/** A click on a dialog's backdrop (outside its panel) closes it, as Escape does. */
function closeOnBackdrop(dialog) {
  dialog.addEventListener('click', (event) => {
    if (event.target !== dialog) return;
    const box = dialog.getBoundingClientRect();
    const inside = event.clientX >= box.left && event.clientX <= box.right &&
      event.clientY >= box.top && event.clientY <= box.bottom;
    if (!inside) dialog.close();
  });
}

function setUpCotonomaDialog() {
  els.newCotonomaButton.addEventListener('click', newCotonoma);
  els.cotonomaForm.addEventListener('submit', (event) => {
    event.preventDefault();
    submitNewCotonoma();
  });
  for (const id of ['cotonoma-cancel', 'cotonoma-close']) {
    $(id).addEventListener('click', () => els.cotonomaDialog.close());
  }
  els.cotonomaName.addEventListener('input', () => {
    updateCotonomaCount();
    if (els.cotonomaName.getAttribute('aria-invalid') === 'true') {
      els.cotonomaName.setAttribute('aria-invalid', 'false');
      els.cotonomaError.replaceChildren();
    }
  });
  closeOnBackdrop(els.cotonomaDialog);
  els.cotonomaDialog.addEventListener('close', () => {
    const opener = cotonomaDialogOpener;
    cotonomaDialogOpener = null;
    if (opener && opener.isConnected && !opener.closest('[hidden]')) opener.focus();
  });
}

// --------------------------------------------------------------- identity

/** The notices above the composer belong to home. */
function renderNotices() {
  const amishi = state.amishi;
  const known = amishi !== undefined;
  const home = state.place.key === null;
  els.anonymousNotice.hidden = !known || Boolean(amishi) || !home;
  els.accountNotice.hidden = !amishi || !home;
}

/** Shows who is signed in (or that nobody is) in the header, the notices and the list. */
function renderIdentity() {
  const amishi = state.amishi;
  const known = amishi !== undefined;
  els.signinButton.hidden = !known || Boolean(amishi) || state.confirmToken !== null;
  els.signedIn.hidden = !amishi;
  renderNotices();
  els.sidebar.hidden = !amishi;
  els.drawerToggle.hidden = !amishi;
  document.body.classList.toggle('has-sidebar', Boolean(amishi));
  if (!amishi) closeDrawer();
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
  if (known) identityKnown();
}

/** Someone (or nobody) is signed in now; a different person gets their own page. */
function setIdentity(amishi) {
  const before = state.amishi;
  state.amishi = amishi;
  renderIdentity();
  const personChanged = (before?.id ?? null) !== (amishi?.id ?? null);
  if (personChanged) {
    clearCotonomaList();
    loadCotonomaList();
  }
  if (before !== undefined && personChanged && state.confirmToken === null) route();
}

/** The session ended without the person asking (the refresh was refused). */
function sessionEnded() {
  if (state.amishi === null) return;
  const wasSignedIn = Boolean(state.amishi);
  state.amishi = null;
  renderIdentity();
  clearCotonomaList();
  if (state.confirmToken !== null) return;
  route();
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

// ------------------------------------------------- coming back after sign-in

// The page someone asked for a sign-in link on, to return to once they are in.
// localStorage, not sessionStorage: the link in the mail usually opens in a new
// tab, which has a sessionStorage of its own. Only a path of this page is kept.
const RETURN_KEY = 'cotoami.signin.return';
const RETURN_LIFETIME_MS = 60 * 60 * 1000;

function rememberReturnPath() {
  if (state.confirmToken !== null) return; // asking again from a confirm page: keep the page asked from first
  try {
    localStorage.setItem(RETURN_KEY, JSON.stringify({ path: location.pathname, at: Date.now() }));
  } catch {
    // Storage refused (private mode): signing in still works, and ends at home.
  }
}

function takeReturnPath() {
  try {
    const saved = JSON.parse(localStorage.getItem(RETURN_KEY) || 'null');
    localStorage.removeItem(RETURN_KEY);
    if (saved && typeof saved.path === 'string' && isPagePath(saved.path) &&
        Date.now() - Number(saved.at) < RETURN_LIFETIME_MS) {
      return saved.path;
    }
  } catch {
    // Nothing readable saved: home.
  }
  return '/';
}

// ---------------------------------------------------------- sign-in dialog

let dialogOpener = null;

function showDialogError(title, description) {
  els.signinError.replaceChildren(problemLine(title, description));
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
  if (state.confirmToken === null && state.place.key === null && state.loadedOnce) {
    row.hidden = state.cotos.size === 0;
    return;
  }
  row.hidden = true; // the pad is not on screen: ask whether it has any
  try {
    const page = await listCotos(null, 1);
    row.hidden = state.amishi !== null || !(Array.isArray(page.cotos) && page.cotos.length > 0);
  } catch {
    // Without knowing, the choice stays hidden; signing in works all the same.
  }
}

/** Opens the sign-in dialog; `note` says why signing in is needed here, if it is. */
function openSigninDialog(note = '') {
  dialogOpener = document.activeElement;
  els.signinNote.textContent = note;
  els.signinNote.hidden = !note;
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
    rememberReturnPath();
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
      showDialogError('No link was sent.', describe(error));
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
    opener.addEventListener('click', () => openSigninDialog());
  }
  els.invitationSignin.addEventListener('click', () =>
    openSigninDialog('Use the address this cotonoma was shared with.'));
  els.signinForm.addEventListener('submit', (event) => {
    event.preventDefault();
    submitSignin();
  });
  for (const id of ['signin-cancel', 'signin-close', 'signin-sent-close', 'signin-done']) {
    $(id).addEventListener('click', closeSigninDialog);
  }
  $('signin-again').addEventListener('click', () => openSigninDialog(els.signinNote.textContent));
  els.signinEmail.addEventListener('input', () => {
    if (els.signinEmail.getAttribute('aria-invalid') === 'true') clearDialogError();
  });
  closeOnBackdrop(els.dialog);
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

/**
 * The button: consumes the link; then the token leaves the address bar and the
 * history, and the person is on the page they asked for the link from.
 */
async function confirmSignin() {
  els.confirmButton.disabled = true;
  els.confirmButton.textContent = 'Signing in…';
  els.confirmProblem.replaceChildren();
  try {
    const amishi = await signIn(state.confirmToken);
    history.replaceState(null, '', takeReturnPath());
    document.title = 'Cotoami';
    state.confirmToken = null;
    els.confirm.hidden = true;
    const before = state.amishi;
    state.amishi = amishi;
    renderIdentity();
    if ((before?.id ?? null) !== amishi.id) clearCotonomaList();
    loadCotonomaList();
    route();
  } catch (error) {
    if (error instanceof ApiError && (error.status === 400 || error.status === 410)) {
      showLinkTrouble(error, checkLink);
    } else {
      els.confirmProblem.replaceChildren(h('p', { className: 'confirm-problem-text' },
        h('strong', { text: 'You are not signed in yet.' }), ' ', describe(error)));
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

// ------------------------------------------------------------------- start

function start() {
  setUpSigninDialog();
  setUpCotonomaDialog();
  setUpRename();
  setUpMembers();
  setUpDrawer();
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
  els.cotonomaRetry.addEventListener('click', route);
  document.addEventListener('click', followLinksInPlace);
  window.addEventListener('popstate', () => {
    if (state.confirmToken === null) route();
  });
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState !== 'visible') return;
    refreshTimes();
    // Another tab may have signed in or out meanwhile: the cookies are shared.
    if (state.amishi !== undefined && state.confirmToken === null) {
      checkSession();
      loadCotonomaList();
    }
  });
  setInterval(refreshTimes, 60000);
  updateComposer();
  state.confirmToken = tokenInAddress();
  // Who is signed in, and the page, at once: both follow the same cookies.
  checkSession();
  if (state.confirmToken !== null) startConfirmPage();
  else route();
}

start();
