// @ts-check
// The place on screen: home, or a cotonoma's page with its header (breadcrumbs,
// title, rename, owner and sharing, who is here now, sub-cotonomas); and the
// cards shown instead while it opens, when it cannot, when it is not there (or
// no longer shared with the person), or needs a sign-in.

/** @import { Amishi, Cotonoma, CotonomaView } from './api.js' */

import { ApiError, MAX_COTONOMA_NAME_CHARS, getCotonoma, renameCotonoma } from './api.js';
import { isCotonomaCoto } from './coto.js';
import { avatarElement, byId, cotonomaIcon, h, isAmishi, peopleIcon } from './dom.js';
import { describe, measure, problemLine, showCounter, statusOf } from './forms.js';
import { cotonomaHref, route } from './router.js';
import { emit, identityReady, isOwner, on, state } from './state.js';

const main = byId('main', HTMLElement);
const pad = byId('pad', HTMLDivElement);
const loadingCard = byId('cotonoma-loading', HTMLElement);
const loadingText = byId('cotonoma-loading-text', HTMLParagraphElement);
const loadingActions = byId('cotonoma-loading-actions', HTMLDivElement);
const notFound = byId('cotonoma-not-found', HTMLElement);
const notFoundTitle = byId('not-found-title', HTMLHeadingElement);
const notFoundAddress = byId('not-found-address', HTMLSpanElement);
const invitation = byId('cotonoma-signin', HTMLElement);
const invitationTitle = byId('cotonoma-signin-title', HTMLHeadingElement);
const header = byId('cotonoma-header', HTMLElement);
const breadcrumbs = byId('breadcrumbs', HTMLElement);
const titleRow = byId('cotonoma-title-row', HTMLDivElement);
const title = byId('cotonoma-title', HTMLHeadingElement);
const renameButton = byId('rename-cotonoma', HTMLButtonElement);
const renameForm = byId('rename-form', HTMLFormElement);
const renameName = byId('rename-name', HTMLInputElement);
const renameSave = byId('rename-save', HTMLButtonElement);
const renameCount = byId('rename-count', HTMLSpanElement);
const renameError = byId('rename-error', HTMLDivElement);
const meta = byId('cotonoma-meta', HTMLParagraphElement);
const subCotonomas = byId('sub-cotonomas', HTMLDivElement);
const subCotonomaList = byId('sub-cotonoma-list', HTMLUListElement);
const presence = byId('presence', HTMLDivElement);
const presenceList = byId('presence-list', HTMLUListElement);

const NOT_FOUND_TITLE = notFoundTitle.textContent ?? '';
const REVOKED_TITLE = 'This cotonoma is no longer shared with you';

/** @type {CotonomaView | null} the open cotonoma, as GET /api/cotonomas/KEY answered */
let opened = null;
let focusOnOpen = false; // a navigation the person made: the new page's heading takes the focus

/** @param {HTMLElement} heading */
function focusHeading(heading) {
  if (!focusOnOpen) return;
  focusOnOpen = false;
  heading.focus({ preventScroll: true });
}

function showHome() {
  document.title = 'Cotoami';
  pad.hidden = false;
  if (focusOnOpen) {
    focusOnOpen = false;
    main.focus({ preventScroll: true });
  }
}

/**
 * Opens /cotonomas/KEY: the header and the timeline together (the members for its owner).
 * @param {string} key
 */
async function openCotonoma(key) {
  const generation = state.generation;
  document.title = 'Cotonoma — Cotoami';
  pad.hidden = true;
  if (!key) {
    emit('not-found', null);
    return;
  }
  loadingText.textContent = 'Opening the cotonoma…';
  loadingActions.hidden = true;
  loadingCard.hidden = false;
  await identityReady;
  if (generation !== state.generation) return;
  if (!state.amishi) {
    showInvitation();
    return;
  }
  emit('cotonoma-entered', { key });
  let answer;
  try {
    answer = await getCotonoma(key);
  } catch (error) {
    if (generation !== state.generation) return;
    if (error instanceof ApiError && error.status === 404) emit('not-found', null);
    else if (error instanceof ApiError && error.status === 401 && !error.signedOut) showInvitation();
    else if (!(error instanceof ApiError && error.signedOut)) showOpenTrouble(error);
    return;
  }
  if (generation !== state.generation) return;
  if (!answer?.cotonoma || typeof answer.cotonoma.name !== 'string') {
    showOpenTrouble(new ApiError(502, 'Unexpected answer', 'Cotoami sent an answer this page could not read.'));
    return;
  }
  opened = {
    cotonoma: answer.cotonoma,
    ancestors: (Array.isArray(answer.ancestors) ? answer.ancestors : []).filter((a) => a && a.key !== key),
    children: Array.isArray(answer.children) ? answer.children : [],
  };
  loadingCard.hidden = true;
  pad.hidden = false;
  renderCotonoma(opened);
  header.hidden = false;
  emit('cotonoma-shown', { cotonoma: opened.cotonoma });
  focusHeading(title);
}

/** @param {unknown} error */
function showOpenTrouble(error) {
  loadingText.replaceChildren(h('strong', { text: 'The cotonoma could not be opened.' }), ' ', describe(error));
  loadingActions.hidden = false;
  loadingCard.hidden = false;
}

/**
 * Who has the cotonoma open now, the person first ("you"): the others are why it is worth saying.
 * @param {Amishi[]} amishis
 */
function renderPresence(amishis) {
  const me = state.amishi?.id;
  const people = [...amishis].sort((a, b) => Number(b.id === me) - Number(a.id === me));
  presenceList.replaceChildren(...people.map((amishi) => {
    const name = amishi.id === me ? `${amishi.display_name} (you)` : amishi.display_name;
    return h('li', { className: 'presence-person', title: name, dataset: { id: amishi.id } },
      avatarElement(amishi, 'presence-avatar', 24), h('span', { className: 'visually-hidden', text: name }));
  }));
  presence.hidden = people.length === 0;
}

/**
 * The open cotonoma as another page (its owner's) renamed it: the header and everything naming it.
 * @param {Cotonoma} cotonoma
 */
function renamedElsewhere(cotonoma) {
  if (!opened || cotonoma.key !== opened.cotonoma.key) return;
  const before = opened.cotonoma.name;
  opened.cotonoma = { ...opened.cotonoma, ...cotonoma };
  renderCotonoma(opened);
  // The page that renamed it has already said so from its own answer.
  if (opened.cotonoma.name !== before) emit('cotonoma-renamed', { key: cotonoma.key, name: opened.cotonoma.name });
}

/**
 * The sub-cotonomas as they are now: one deleted goes from the page and from the list of
 * cotonomas. Its deletion reaches this page only as its coto's (an id alone), so they are read again.
 * @param {string} key
 */
async function rereadChildren(key) {
  let answer;
  try {
    answer = await getCotonoma(key);
  } catch {
    return; // the page keeps what it shows; the next visit reads it afresh
  }
  if (!opened || opened.cotonoma.key !== key || !Array.isArray(answer?.children)) return;
  const now = new Set(answer.children.map((c) => c.key));
  if (now.size === opened.children.length && opened.children.every((c) => now.has(c.key))) return;
  opened.children = answer.children;
  renderSubCotonomas(opened.children);
  emit('cotonomas-changed', null);
}

/** Taken out of the cotonoma while on its page: the not-found card, saying why, takes the focus. */
function showRevoked() {
  notFoundTitle.textContent = REVOKED_TITLE;
  focusOnOpen = true;
  emit('not-found', null);
  emit('cotonomas-changed', null);
}

/** The same page for "no such cotonoma" and "not yours to see": its existence is private. */
function showNotFound() {
  state.generation += 1; // whatever else is still loading for this page is of no use now
  document.title = 'Not found — Cotoami';
  for (const section of [pad, loadingCard, invitation, header]) section.hidden = true;
  notFoundAddress.textContent = state.amishi?.email
    ? `the address you signed in with (${state.amishi.email})`
    : 'the address you signed in with';
  notFound.hidden = false;
  focusHeading(notFoundTitle);
}

/** Not signed in at a cotonoma's address (where an invitation mail leads): sign in, then come back. */
function showInvitation() {
  document.title = 'Sign in — Cotoami';
  loadingCard.hidden = true;
  pad.hidden = true;
  invitation.hidden = false;
  focusHeading(invitationTitle);
}

/** @param {CotonomaView} view */
function renderCotonoma({ cotonoma, ancestors, children }) {
  document.title = `${cotonoma.name} — Cotoami`;
  title.replaceChildren(cotonomaIcon('place-title-icon'), h('span', { className: 'place-title-name', text: cotonoma.name }));
  renameButton.hidden = !isOwner(cotonoma);
  renderBreadcrumbs(cotonoma, ancestors);
  renderCotonomaMeta(cotonoma);
  renderSubCotonomas(children);
}

/**
 * Home › ancestors › this cotonoma, each a link.
 * @param {Cotonoma} cotonoma
 * @param {CotonomaView['ancestors']} ancestors
 */
function renderBreadcrumbs(cotonoma, ancestors) {
  /**
   * @param {string} href
   * @param {string} text
   */
  const crumb = (href, text, current = false) => h('li', { className: 'breadcrumb' },
    h('a', { className: 'breadcrumb-link', href, 'aria-current': current ? 'page' : null, text }));
  breadcrumbs.replaceChildren(h('ol', { className: 'breadcrumb-list' },
    crumb('/', 'Home'),
    ...ancestors.filter((a) => typeof a.key === 'string').map((a) => crumb(cotonomaHref(a.key), a.name)),
    crumb(cotonomaHref(cotonoma.key), cotonoma.name, true)));
}

/**
 * Whose it is, and, to a member, that it is shared with them (its owner has the members button, members.js).
 * @param {Cotonoma} cotonoma
 */
function renderCotonomaMeta(cotonoma) {
  const owner = isAmishi(cotonoma.owner)
    ? h('span', { className: 'place-owner' },
      avatarElement(cotonoma.owner, 'coto-author-avatar', 20),
      h('span', { className: 'place-owner-name', text: cotonoma.owner.display_name }))
    : null;
  const badge = isOwner(cotonoma)
    ? null
    : h('span', { className: 'shared-badge', id: 'cotonoma-shared' }, peopleIcon(), 'Shared with you');
  meta.replaceChildren(...[owner, badge].filter((el) => el !== null));
}

/** @param {Cotonoma[]} children */
function renderSubCotonomas(children) {
  subCotonomaList.replaceChildren(...children.filter((c) => c && typeof c.key === 'string').map((child) =>
    h('li', { className: 'sub-cotonoma-item' },
      h('a', { className: 'sub-cotonoma', href: cotonomaHref(child.key), dataset: { key: child.key } },
        cotonomaIcon(), h('span', { className: 'sub-cotonoma-name', text: child.name })))));
  subCotonomas.hidden = subCotonomaList.childElementCount === 0;
}

// ------------------------------------------------------------------- rename

/** @param {Cotonoma} cotonoma */
function openRename(cotonoma) {
  renameName.value = cotonoma.name;
  renameError.replaceChildren();
  renameName.setAttribute('aria-invalid', 'false');
  titleRow.hidden = true;
  renameForm.hidden = false;
  updateRenameCount();
  renameName.focus();
  renameName.select();
}

function closeRename() {
  if (renameForm.hidden) return;
  renameForm.hidden = true;
  titleRow.hidden = false;
}

function updateRenameCount() {
  const m = measure(renameName.value, MAX_COTONOMA_NAME_CHARS);
  showCounter(renameCount, m);
  renameSave.disabled = renameForm.classList.contains('is-busy') || m.blank || m.over;
}

async function submitRename() {
  const view = opened;
  if (renameSave.disabled || !view) return;
  const { cotonoma } = view;
  const name = renameName.value.trim();
  if (name === cotonoma.name) {
    closeRename();
    renameButton.focus();
    return;
  }
  const generation = state.generation;
  renameForm.classList.add('is-busy');
  updateRenameCount();
  renameError.replaceChildren();
  try {
    const renamed = await renameCotonoma(cotonoma.key, name);
    if (generation !== state.generation) return;
    view.cotonoma = { ...cotonoma, ...renamed };
    closeRename();
    renderCotonoma(view);
    emit('cotonoma-renamed', { key: cotonoma.key, name: view.cotonoma.name });
    renameButton.focus();
  } catch (error) {
    if (generation !== state.generation) return;
    const status = statusOf(error);
    renameError.replaceChildren(problemLine(
      status === 409 || status === 400 ? 'Check the name.' : 'The name was not changed.', describe(error)));
    renameName.setAttribute('aria-invalid', status === 409 || status === 400 ? 'true' : 'false');
    renameName.focus();
  } finally {
    renameForm.classList.remove('is-busy');
    updateRenameCount();
  }
}

function setUpRename() {
  renameButton.addEventListener('click', () => {
    if (opened) openRename(opened.cotonoma);
  });
  renameName.addEventListener('input', () => {
    updateRenameCount();
    if (renameName.getAttribute('aria-invalid') === 'true') {
      renameName.setAttribute('aria-invalid', 'false');
      renameError.replaceChildren();
    }
  });
  renameName.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') {
      event.preventDefault();
      closeRename();
      renameButton.focus();
    }
  });
  byId('rename-cancel', HTMLButtonElement).addEventListener('click', () => {
    closeRename();
    renameButton.focus();
  });
  renameForm.addEventListener('submit', (event) => {
    event.preventDefault();
    submitRename();
  });
}

export function start() {
  setUpRename();
  byId('cotonoma-retry', HTMLButtonElement).addEventListener('click', () => route());
  byId('cotonoma-signin-button', HTMLButtonElement).addEventListener('click', () =>
    emit('signin-wanted', { note: 'Use the address this cotonoma was shared with.' }));
  on('place', ({ key, focus }) => {
    opened = null;
    notFoundTitle.textContent = NOT_FOUND_TITLE;
    presence.hidden = true;
    presenceList.replaceChildren();
    if (focus) focusOnOpen = true;
    closeRename();
    for (const section of [loadingCard, notFound, invitation, header]) section.hidden = true;
    if (key === null) showHome();
    else openCotonoma(key);
  });
  on('not-found', showNotFound);
  on('live-presence', ({ amishis }) => {
    if (opened) renderPresence(amishis);
  });
  on('live-status', ({ connected }) => {
    if (!connected) presence.hidden = true; // who is here is not known while the stream is down
  });
  on('live-cotonoma-updated', ({ cotonoma }) => renamedElsewhere(cotonoma));
  on('live-coto', ({ coto }) => {
    // A sub-cotonoma made here by someone else: its coto came, it joins the sub-cotonomas.
    if (!opened || !isCotonomaCoto(coto) || coto.posted_in?.key !== opened.cotonoma.key || !isAmishi(coto.amishi)) return;
    if (opened.children.some((c) => c.key === coto.cotonoma_key)) return;
    opened.children = [{
      key: coto.cotonoma_key, name: coto.content, owner: coto.amishi, parent_key: opened.cotonoma.key, shared: false,
    }, ...opened.children];
    renderSubCotonomas(opened.children);
    emit('cotonomas-changed', null);
  });
  on('live-coto-updated', ({ coto }) => {
    // A sub-cotonoma renamed: its coto here changed its name.
    if (!opened || !coto.as_cotonoma || typeof coto.cotonoma_key !== 'string') return;
    const child = opened.children.find((c) => c.key === coto.cotonoma_key);
    if (!child || child.name === coto.content) return;
    child.name = coto.content;
    renderSubCotonomas(opened.children);
  });
  on('live-coto-deleted', () => {
    if (opened && opened.children.length > 0) rereadChildren(opened.cotonoma.key);
  });
  on('live-revoked', () => {
    if (opened) showRevoked();
  });
  on('cotonoma-created', ({ cotonoma: created }) => {
    if (!opened || !created || typeof created.key !== 'string') return;
    opened.children = [created, ...opened.children.filter((c) => c.key !== created.key)];
    renderSubCotonomas(opened.children);
  });
  // The confirm page (confirm.js) stands in for the place until its link is used.
  if (state.confirmToken !== null) pad.hidden = true;
}
