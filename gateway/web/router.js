// @ts-check
// The page's addresses (client-side routes; the gateway serves index.html for each):
//   /                 home: the anonymous pad, or everything I posted
//   /cotonomas/KEY    one cotonoma: its header, members (owner), timeline
//   /signin/TOKEN     the confirm page of a sign-in link (full loads only)
//   ...#coto-ID       home or a cotonoma, opened at one of its cotos (a search result, timeline.js)
// Going somewhere bumps the generation and emits "place"; each view shows its part.

import { emit, state } from './state.js';

const KEY_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** @param {string} key */
export const cotonomaHref = (key) => `/cotonomas/${encodeURIComponent(key)}`;

const COTO_FRAGMENT = /^#coto-([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

/**
 * The address of a coto in the place it was posted in: its cotonoma, or home.
 * @param {string} id
 * @param {string | null | undefined} cotonomaKey
 */
export const cotoHref = (id, cotonomaKey) => `${cotonomaKey ? cotonomaHref(cotonomaKey) : '/'}#coto-${id}`;

/**
 * The cotonoma key in a path (/cotonomas/KEY), '' for a malformed one, null for any other path.
 * @param {string} pathname
 * @returns {string | null}
 */
function cotonomaKeyIn(pathname) {
  const match = /^\/cotonomas\/([^/]*)\/?$/.exec(pathname);
  if (!match) return null;
  try {
    const key = decodeURIComponent(match[1] ?? '');
    return KEY_PATTERN.test(key) ? key : '';
  } catch {
    return '';
  }
}

/**
 * Whether a path is one of this page's own routes (so a link to it needs no page load).
 * @param {string} pathname
 */
function isPagePath(pathname) {
  return pathname === '/' || cotonomaKeyIn(pathname) !== null;
}

/**
 * The token of a sign-in link (/signin/TOKEN) in the address bar, or null on any other page.
 * @returns {string | null}
 */
export function tokenInAddress() {
  const match = /^\/signin\/([^/]*)\/?$/.exec(location.pathname);
  if (!match) return null;
  try {
    return decodeURIComponent(match[1] ?? '');
  } catch {
    return '';
  }
}

/**
 * Shows the page for the address bar's path: home, or a cotonoma.
 * @param {boolean} [focus] the person went there: its heading takes the focus
 */
export function route(focus = false) {
  state.generation += 1;
  const key = cotonomaKeyIn(location.pathname);
  state.place = key;
  const coto = COTO_FRAGMENT.exec(location.hash)?.[1] ?? null;
  // Opened at a coto, the coto takes the focus once it is shown, not the page's heading.
  emit('place', { key, focus: focus && coto === null, coto });
}

/** Home or the cotonoma on screen, no longer at a coto: the address loses its #coto-ID. */
export function leaveCoto() {
  if (COTO_FRAGMENT.test(location.hash)) history.replaceState(null, '', location.pathname);
}

/**
 * Goes to a page of the client without loading the document again.
 * @param {string} path with its #coto-ID, if any
 */
export function navigate(path) {
  if (path !== location.pathname + location.hash) history.pushState(null, '', path);
  route(true);
  window.scrollTo(0, 0);
}

/**
 * Same-origin links to the client's own pages are followed in place.
 * @param {MouseEvent} event
 */
function followLinksInPlace(event) {
  if (event.defaultPrevented || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
  const link = event.target instanceof Element ? event.target.closest('a[href]') : null;
  if (!(link instanceof HTMLAnchorElement) || link.target || link.hasAttribute('download') ||
      link.getAttribute('href')?.startsWith('#')) return;
  if (state.confirmToken !== null) return; // the confirm page is left by a full load (see confirm.js)
  const url = new URL(link.href);
  if (url.origin !== location.origin || !isPagePath(url.pathname)) return;
  event.preventDefault();
  navigate(url.pathname + (COTO_FRAGMENT.test(url.hash) ? url.hash : ''));
}

// ------------------------------------------------- coming back after sign-in

// The page someone asked for a sign-in link on, to return to once they are in.
// localStorage, not sessionStorage: the link in the mail usually opens in a new
// tab, which has a sessionStorage of its own. Only a path of this page is kept.
const RETURN_KEY = 'cotoami.signin.return';
const RETURN_LIFETIME_MS = 60 * 60 * 1000;

export function rememberReturnPath() {
  if (state.confirmToken !== null) return; // asking again from a confirm page: keep the page asked from first
  try {
    localStorage.setItem(RETURN_KEY, JSON.stringify({ path: location.pathname, at: Date.now() }));
  } catch {
    // Storage refused (private mode): signing in still works, and ends at home.
  }
}

/** The page to go to after signing in with a link (once: it is forgotten), else home. */
export function takeReturnPath() {
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

export function start() {
  document.addEventListener('click', followLinksInPlace);
  window.addEventListener('popstate', () => {
    if (state.confirmToken === null) route();
  });
}
