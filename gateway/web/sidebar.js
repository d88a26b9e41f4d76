// @ts-check
// The list of the signed-in person's cotonomas ("My cotonomas", "Shared with
// me"): a column on wide screens, a drawer on narrow ones.

/** @import { Cotonoma } from './api.js' */

import { ApiError, listCotonomas } from './api.js';
import { byId, cotonomaIcon, h, isAmishi, peopleIcon } from './dom.js';
import { cotonomaHref } from './router.js';
import { isOwner, on, state } from './state.js';

const sidebar = byId('sidebar', HTMLElement);
const drawerToggle = byId('drawer-toggle', HTMLButtonElement);
const drawerClose = byId('drawer-close', HTMLButtonElement);
const drawerBackdrop = byId('drawer-backdrop', HTMLDivElement);
const homeLink = byId('home-link', HTMLAnchorElement);
const myCotonomas = byId('my-cotonomas', HTMLUListElement);
const myCotonomasEmpty = byId('my-cotonomas-empty', HTMLParagraphElement);
const sharedCotonomas = byId('shared-cotonomas', HTMLUListElement);
const sharedCotonomasEmpty = byId('shared-cotonomas-empty', HTMLParagraphElement);
const listStatus = byId('cotonoma-list-status', HTMLParagraphElement);

/** @type {Cotonoma[]} GET /api/cotonomas: mine and shared with me */
let cotonomaList = [];
let listGeneration = 0; // bumped by each load and clear: only the latest answer is shown

/**
 * @param {Cotonoma} cotonoma
 * @param {Map<string, Cotonoma>} byKey
 */
function cotonomaListItem(cotonoma, byKey) {
  const mine = isOwner(cotonoma);
  const link = h('a', {
    className: 'cotonoma-link', href: cotonomaHref(cotonoma.key), dataset: { key: cotonoma.key },
    'aria-current': cotonoma.key === state.place ? 'page' : null,
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
  const byKey = new Map(cotonomaList.map((c) => [c.key, c]));
  const mine = cotonomaList.filter((c) => isOwner(c));
  const shared = cotonomaList.filter((c) => !isOwner(c));
  myCotonomas.replaceChildren(...mine.map((c) => cotonomaListItem(c, byKey)));
  sharedCotonomas.replaceChildren(...shared.map((c) => cotonomaListItem(c, byKey)));
  myCotonomasEmpty.hidden = mine.length > 0;
  sharedCotonomasEmpty.hidden = shared.length > 0;
}

/** The list's link to the place on screen is marked as the current page. */
function markCurrentInList() {
  const current = state.place;
  for (const link of sidebar.querySelectorAll('.cotonoma-link')) {
    if (/** @type {HTMLAnchorElement} */ (link).dataset.key === current) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  if (current === null) homeLink.setAttribute('aria-current', 'page');
  else homeLink.removeAttribute('aria-current');
}

async function loadCotonomaList() {
  if (!state.amishi) return;
  listGeneration += 1;
  const generation = listGeneration;
  try {
    const loaded = await listCotonomas();
    if (generation !== listGeneration || !state.amishi) return;
    cotonomaList = loaded.filter((c) => c && typeof c.key === 'string' && typeof c.name === 'string');
    listStatus.replaceChildren();
    renderCotonomaList();
  } catch (error) {
    if (generation !== listGeneration || (error instanceof ApiError && error.signedOut)) return;
    const retry = h('button', { className: 'link-button', type: 'button' }, 'Try again');
    retry.addEventListener('click', loadCotonomaList);
    listStatus.replaceChildren('Your cotonomas could not be loaded. ', retry);
    if (!(error instanceof ApiError)) console.error(error);
  }
}

function clearCotonomaList() {
  listGeneration += 1;
  cotonomaList = [];
  myCotonomas.replaceChildren();
  sharedCotonomas.replaceChildren();
  listStatus.replaceChildren();
}

// ------------------------------------------------------------------ drawer

const narrow = window.matchMedia('(max-width: 959.98px)');
// What the open drawer covers: out of reach of the keyboard until it closes.
const coveredByDrawer = () => /** @type {HTMLElement[]} */ (
  [document.querySelector('.app-header'), document.getElementById('main'), document.querySelector('.app-footer')]
    .filter((el) => el instanceof HTMLElement));

function openDrawer() {
  document.body.classList.add('drawer-open');
  drawerToggle.setAttribute('aria-expanded', 'true');
  drawerBackdrop.hidden = false;
  for (const el of coveredByDrawer()) el.inert = true;
  const current = sidebar.querySelector('[aria-current="page"]');
  (current instanceof HTMLElement ? current : homeLink).focus();
}

function closeDrawer() {
  if (!document.body.classList.contains('drawer-open')) return;
  const hadFocus = sidebar.contains(document.activeElement);
  document.body.classList.remove('drawer-open');
  drawerToggle.setAttribute('aria-expanded', 'false');
  drawerBackdrop.hidden = true;
  for (const el of coveredByDrawer()) el.inert = false;
  if (hadFocus && narrow.matches) drawerToggle.focus();
}

function setUpDrawer() {
  drawerToggle.addEventListener('click', () => {
    if (document.body.classList.contains('drawer-open')) closeDrawer();
    else openDrawer();
  });
  drawerClose.addEventListener('click', closeDrawer);
  drawerBackdrop.addEventListener('click', closeDrawer);
  sidebar.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && document.body.classList.contains('drawer-open')) {
      event.preventDefault();
      closeDrawer();
    }
  });
  narrow.addEventListener('change', () => {
    if (!narrow.matches) closeDrawer();
  });
}

export function start() {
  setUpDrawer();
  on('place', () => {
    closeDrawer();
    markCurrentInList();
  });
  on('identity', ({ amishi, changed }) => {
    sidebar.hidden = !amishi;
    drawerToggle.hidden = !amishi;
    document.body.classList.toggle('has-sidebar', Boolean(amishi));
    if (!amishi) closeDrawer();
    if (changed) {
      clearCotonomaList();
      loadCotonomaList();
    }
  });
  on('cotonomas-changed', loadCotonomaList);
  on('cotonoma-renamed', loadCotonomaList);
  document.addEventListener('visibilitychange', () => {
    // Another tab may have made or shared cotonomas meanwhile.
    if (document.visibilityState === 'visible' && state.amishi !== undefined && state.confirmToken === null) {
      loadCotonomaList();
    }
  });
}
