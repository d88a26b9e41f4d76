// @ts-check
// The list of the signed-in person's cotonomas ("My cotonomas", "Shared with
// me"), each a tree (tree.js): a column on wide screens, a drawer on narrow ones.

/** @import { Cotonoma } from './api.js' */
/** @import { TreeNode } from './tree.js' */

import { ApiError, listCotonomas } from './api.js';
import { byId, h } from './dom.js';
import { isOwner, on, state } from './state.js';
import { drawTree, forestOf, loadOpenState, openAll, pathTo } from './tree.js';

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

/** @type {Cotonoma[]} GET /api/cotonomas, every page: mine and shared with me */
let cotonomaList = [];
let listGeneration = 0; // bumped by each load and clear: only the latest answer is shown
let listComplete = false; // every page of it has come
/** @type {string | null} the place whose way down the list has been opened: once per visit */
let revealed = null;
/** @type {string | null} the parent of the cotonoma on screen, once it is shown */
let shownParent = null;

/**
 * Opens the way down to the cotonoma on screen, once it is in the list (or,
 * when it is reached only through a shared ancestor, to its parent), itself
 * included: the person sees where they are. Closed again, it stays closed.
 * @param {TreeNode[][]} forests
 */
function revealCurrent(forests) {
  const current = state.place;
  if (!current || revealed === current) return;
  for (const key of [current, shownParent]) {
    const path = key ? forests.map((roots) => pathTo(roots, key)).find((p) => p.length > 0) : undefined;
    if (path) {
      openAll(path);
      revealed = current;
      return;
    }
  }
}

function renderCotonomaList() {
  const everything = new Map(cotonomaList.map((c) => [c.key, c]));
  const mine = cotonomaList.filter((c) => isOwner(c));
  const shared = cotonomaList.filter((c) => !isOwner(c));
  const forests = [forestOf(mine), forestOf(shared)];
  revealCurrent(forests);
  // Drawn anew, the focus stays on the same cotonoma's link or button.
  const focused = document.activeElement;
  const refocus = focused instanceof HTMLElement && sidebar.contains(focused) && focused.dataset.key
    ? `${focused.matches('.cotonoma-toggle') ? '.cotonoma-toggle' : '.cotonoma-link'}[data-key="${CSS.escape(focused.dataset.key)}"]`
    : null;
  const options = { current: state.place, mine: isOwner, everything };
  myCotonomas.replaceChildren(...drawTree(forests[0] ?? [], options));
  sharedCotonomas.replaceChildren(...drawTree(forests[1] ?? [], options));
  // "None yet" only once every page has come.
  myCotonomasEmpty.hidden = !listComplete || mine.length > 0;
  sharedCotonomasEmpty.hidden = !listComplete || shared.length > 0;
  const again = refocus ? sidebar.querySelector(refocus) : null;
  if (again instanceof HTMLElement) again.focus({ preventScroll: true });
  if (state.place === null) homeLink.setAttribute('aria-current', 'page');
  else homeLink.removeAttribute('aria-current');
}

/**
 * Every page of the list, one after another. The first load shows each page as
 * it comes (a cotonoma that came before its parent moves under it when the
 * parent comes); a load after a change replaces the list once it is whole.
 */
async function loadCotonomaList() {
  if (!state.amishi) return;
  listGeneration += 1;
  const generation = listGeneration;
  const progressive = cotonomaList.length === 0;
  /** @type {Cotonoma[]} */
  const loaded = [];
  /** @type {string | null} */
  let before = null;
  try {
    do {
      const page = await listCotonomas(before);
      if (generation !== listGeneration || !state.amishi) return;
      loaded.push(...page.cotonomas.filter((c) => c && typeof c.key === 'string' && typeof c.name === 'string'));
      before = page.next !== before ? page.next : null;
      if (progressive || !before) {
        cotonomaList = [...loaded];
        listComplete = !before;
        renderCotonomaList();
      }
    } while (before);
    listStatus.replaceChildren();
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
  listComplete = false;
  revealed = null;
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
  // The current cotonoma's link, unless the person closed what holds it.
  (current instanceof HTMLElement && !current.closest('[hidden]') ? current : homeLink).focus();
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

/**
 * The signed-in layout (the cotonomas' column), and the mark first-paint.js draws it from
 * before the session check on this browser's next visit.
 * @param {boolean} signedIn
 */
function rememberLayout(signedIn) {
  document.documentElement.classList.toggle('has-sidebar', signedIn);
  try {
    if (signedIn) localStorage.setItem('cotoami.signed-in', '1');
    else localStorage.removeItem('cotoami.signed-in');
  } catch {
    // Storage refused: the next visit's layout follows its session check.
  }
}

export function start() {
  setUpDrawer();
  on('place', () => {
    closeDrawer();
    revealed = null;
    shownParent = null;
    renderCotonomaList();
  });
  on('cotonoma-shown', ({ cotonoma }) => {
    if (cotonoma.key !== state.place) return;
    shownParent = cotonoma.parent_key;
    if (revealed !== state.place) renderCotonomaList();
  });
  on('identity', ({ amishi, changed }) => {
    sidebar.hidden = !amishi;
    drawerToggle.hidden = !amishi;
    rememberLayout(Boolean(amishi));
    if (!amishi) closeDrawer();
    if (changed) {
      clearCotonomaList();
      if (amishi) loadOpenState(amishi.id);
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
