// @ts-check
// What every view may read about the page, and the events views tell each other
// what happened by. A view never calls into another view: it emits what it did
// (or wants) here, and whichever views care listen.

/** @import { Amishi, Coto, Cotonoma } from './api.js' */

/**
 * Each field has one writer, named here; everyone else only reads it.
 * @type {{
 *   amishi: Amishi | null | undefined,
 *   place: string | null,
 *   generation: number,
 *   confirmToken: string | null,
 *   cotosShown: number | null,
 * }}
 */
export const state = {
  // The signed-in amishi, null when anonymous, undefined until known (identity.js).
  amishi: undefined,
  // Where the person is: home (null) or a cotonoma's key, '' for a malformed one (router.js).
  place: null,
  // Bumped whenever the page changes place or person: answers for an older one are dropped
  // (router.js; cotonoma-page.js when the place turns out not to exist).
  generation: 0,
  // The sign-in link's token on the confirm page, else null (app.js, confirm.js).
  confirmToken: null,
  // How many cotos the timeline shows, once its first page has loaded; null before (timeline.js).
  cotosShown: null,
};

/** @param {{ owner?: Amishi } | null | undefined} cotonoma */
export const isOwner = (cotonoma) => Boolean(state.amishi) && cotonoma?.owner?.id === state.amishi?.id;

/** @type {() => void} */
let identityKnown = () => {};
/** @type {Promise<void>} Resolves once it is known who (or that nobody) is signed in (identity.js). */
export const identityReady = new Promise((resolve) => {
  identityKnown = resolve;
});
export const resolveIdentity = () => identityKnown();

/**
 * The events, by name, with what each carries.
 * @typedef {object} AppEvents
 * @property {{ key: string | null, focus: boolean, coto: string | null }} place the page shows another
 *   place (router.js); `focus`: the person navigated, so the new page's heading takes the focus;
 *   `coto`: the id of a coto to show there (#coto-ID, a search result), else null
 * @property {{ amishi: Amishi | null, changed: boolean }} identity who is signed in is known anew
 *   (identity.js); `changed`: another person (or nobody) than before
 * @property {{ amishi: Amishi, saved: number | null }} signed-in a sign-in link was used on this page
 *   (confirm.js); `saved`: how many anonymous cotos it saved into the account (null: later)
 * @property {{ note: string }} signin-wanted the person should sign in; `note` says why, if anything
 * @property {{ key: string }} cotonoma-entered signed in at a cotonoma's address: it is being opened
 * @property {{ cotonoma: Cotonoma }} cotonoma-shown the cotonoma on screen, just opened
 * @property {{ key: string, name: string }} cotonoma-renamed its owner renamed a cotonoma
 * @property {{ cotonoma: Cotonoma }} cotonoma-created one was made where the person is
 * @property {null} cotonomas-changed the list of the person's cotonomas may differ now
 * @property {null} not-found the place on screen does not exist, or is not the person's to see
 * @property {{ coto: Coto }} coto-posted posted from the composer, where the person is
 * @property {null} composer-focus the composer should take the focus
 * @property {{ connected: boolean }} live-status the place's live stream is open, or not (live.js)
 * @property {{ coto: Coto }} live-coto someone posted a coto where the person is (live.js, as all live-...)
 * @property {{ coto: Coto }} live-coto-updated a coto was edited
 * @property {{ id: string }} live-coto-deleted a coto was deleted
 * @property {{ cotonoma: Cotonoma }} live-cotonoma-updated the open cotonoma was renamed
 * @property {{ amishis: Amishi[] }} live-presence who has the open cotonoma open now, the person included
 * @property {null} live-revoked the person may no longer see the open cotonoma; its stream has ended
 * @property {null} live-reset events were missed: what is on screen should be loaded again
 * @property {null} live-resync a stream started at "now": the newest cotos should be merged again
 * @property {{ id: string }} live-connection someone connected two cotos here (live.js, as all live-...)
 * @property {{ id: string }} live-connection-updated a connection's linking phrase or order was changed
 * @property {{ id: string }} live-connection-deleted a connection was deleted
 * @property {{ coto_id: string, cotonoma_key: string | null }} live-pin a coto was pinned to this place's stock
 * @property {{ coto_id: string, cotonoma_key: string | null }} live-pin-deleted a coto was unpinned
 * @property {null} graph-changed this page made, changed or deleted a pin or a connection (connect.js, ...)
 * @property {null} stock-changed the stock on screen was read again: which cotos are pinned may differ (stock.js)
 * @property {{ coto: Coto, opener: HTMLElement }} connections-wanted a coto's connections should be shown
 * @property {{ cotoId: string | null, opener: HTMLElement | null }} graph-wanted the graph view should open:
 *   of the stock on screen (cotoId null) or of a coto's neighbourhood
 */

const bus = new EventTarget();

/**
 * @template {keyof AppEvents} K
 * @param {K} type
 * @param {AppEvents[K]} detail
 */
export function emit(type, detail) {
  bus.dispatchEvent(new CustomEvent(type, { detail }));
}

/**
 * @template {keyof AppEvents} K
 * @param {K} type
 * @param {(detail: AppEvents[K]) => void} listener
 */
export function on(type, listener) {
  bus.addEventListener(type, (event) => listener(/** @type {CustomEvent<AppEvents[K]>} */ (event).detail));
}
