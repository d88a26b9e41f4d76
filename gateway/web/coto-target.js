// @ts-check
// Opening a place at one of its cotos (/cotonomas/KEY#coto-ID, or /#coto-ID: where a search
// result leads). The timeline (timeline.js) loads its newest page as always, with its ETag,
// and shows the coto if it is there: the common case, a recent coto, stays the live
// timeline it always is. An older coto is not looked for page after page: the timeline
// opens again at a cursor just newer than it. Coto ids are UUIDv7, ordered by time as the
// timelines are, and `before` is exclusive, so the id plus one (a 128-bit increment) is a
// cursor whose page starts with that very coto: one request, however old it is.
//
// Opened there, the timeline is a window on older cotos, with a gap above it: what is
// posted meanwhile is not put on top of it (live edits and deletions still apply, by id),
// its resync reads the page at that cursor, and a bar above it leads back to the newest
// ("Show the newest", a link to the place itself); posting from the composer goes back to
// the newest too, where the new coto is. A coto found on neither page (deleted meanwhile,
// or not in this place) is said so, and the newest page is shown.

import { byId } from './dom.js';
import { cotonomaHref } from './router.js';

const bar = byId('timeline-anchor', HTMLDivElement);
const newest = byId('timeline-newest', HTMLAnchorElement);
const reducedMotion = window.matchMedia('(prefers-reduced-motion: reduce)');

const TARGET_MS = 4000; // how long the coto opened at stays highlighted

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The cursor just newer than a coto: its id plus one, as a UUID. Null for what is not one.
 * @param {string} id
 * @returns {string | null}
 */
export function cursorJustNewer(id) {
  if (!UUID.test(id)) return null;
  const value = BigInt(`0x${id.replaceAll('-', '')}`) + 1n;
  if (value >> 128n) return null; // ffffffff-...: nothing is newer
  const hex = value.toString(16).padStart(32, '0');
  return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)].join('-');
}

/**
 * Shows the coto opened at: scrolled into view, highlighted for a while, and focused, once it
 * is on screen (a cotonoma's cotos may come before the cotonoma itself has opened and shows them).
 * @param {HTMLLIElement} li
 */
export function showTarget(li) {
  const observer = new ResizeObserver(() => {
    if (li.isConnected && !li.checkVisibility()) return;
    observer.disconnect();
    if (li.isConnected) reveal(li);
  });
  observer.observe(li);
}

/** @param {HTMLLIElement} li */
function reveal(li) {
  li.classList.add('is-target');
  setTimeout(() => li.classList.remove('is-target'), TARGET_MS);
  // A coto taller than most of the screen is shown from its top, any other in the middle.
  const tall = li.getBoundingClientRect().height > window.innerHeight * 0.6;
  li.scrollIntoView({ block: tall ? 'start' : 'center', behavior: reducedMotion.matches ? 'auto' : 'smooth' });
  li.tabIndex = -1;
  li.focus({ preventScroll: true });
}

/**
 * The bar above a timeline opened at an older coto, or none.
 * @param {boolean} shown
 * @param {string | null} place the place's cotonoma key, null for home
 */
export function showAnchorBar(shown, place) {
  bar.hidden = !shown;
  newest.href = place === null ? '/' : cotonomaHref(place);
}
