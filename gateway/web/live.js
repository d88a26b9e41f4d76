// @ts-check
// Live rooms: the server-sent events of the place on screen (/api/live/home for
// the signed-in person's home, /api/live/cotonomas/KEY for a cotonoma once it
// has opened), told to the views as "live-..." events on the bus. One stream at
// a time; it closes when the page leaves the place.
//
// EventSource reconnects by itself after a dropped stream, sending
// Last-Event-ID, so nothing is missed or doubled. It gives up on an answer
// that is not a stream (a 4xx or 5xx) and says only "error": then one fetch
// asks what the status is. 401: the session is refreshed once and the stream
// opened again; 5xx or offline: opened again later; any other 4xx: live stays
// off (the timeline's own answers say whether the place exists). A stream
// opened without a Last-Event-ID (the first of a place, one opened anew, or a
// reconnect before any event came) starts at "now": the timeline then merges
// its newest page again ("live-resync"), so nothing done between its load and
// the stream's start is lost.

/** @import { Amishi, Coto, Cotonoma } from './api.js' */

import { ApiError, refreshSession } from './api.js';
import { byId, isAmishi } from './dom.js';
import { emit, identityReady, on, state } from './state.js';

const statusLine = byId('live-status', HTMLParagraphElement);

const RETRY_FIRST_MS = 1000;
const RETRY_MAX_MS = 30000;

/** @type {EventSource | null} */
let source = null;
/** @type {string | null} the stream's path while one is wanted */
let wanted = null;
let retryMs = RETRY_FIRST_MS;
/** @type {ReturnType<typeof setTimeout> | undefined} */
let retryTimer;
let refreshed = false; // a 401 was answered by one refresh already: a second one ends live
let opening = 0; // bumped by every open and close: a check or a timer of an older stream does nothing

/** @param {'connected' | 'reconnecting' | 'off'} how */
function showStatus(how) {
  statusLine.hidden = how !== 'reconnecting';
  statusLine.textContent = how === 'reconnecting' ? 'Reconnecting…' : '';
  emit('live-status', { connected: how === 'connected' });
}

/**
 * The JSON of an event, or undefined when it is not JSON.
 * @param {MessageEvent} event
 * @returns {any}
 */
function dataOf(event) {
  try {
    return JSON.parse(event.data);
  } catch {
    return undefined;
  }
}

/** @param {unknown} coto @returns {coto is Coto} */
const isCoto = (coto) => typeof coto === 'object' && coto !== null && 'id' in coto && typeof coto.id === 'string';

/** @param {EventSource} es */
function listen(es) {
  let resumable = false; // an event with an id came: EventSource resumes after it by itself
  /** @param {MessageEvent} event */
  const seen = (event) => {
    if (event.lastEventId) resumable = true;
  };
  es.addEventListener('open', () => {
    retryMs = RETRY_FIRST_MS;
    refreshed = false; // the session works again: a later expiry gets its own refresh
    showStatus('connected');
    if (!resumable) emit('live-resync', null);
  });
  es.addEventListener('error', () => {
    if (es !== source) return;
    if (es.readyState === EventSource.CONNECTING) {
      showStatus('reconnecting'); // EventSource retries by itself, with Last-Event-ID
      return;
    }
    es.close();
    source = null;
    checkWhyClosed();
  });
  es.addEventListener('coto', (event) => {
    seen(event);
    const coto = dataOf(event);
    if (isCoto(coto)) emit('live-coto', { coto });
  });
  es.addEventListener('coto-updated', (event) => {
    seen(event);
    const coto = dataOf(event);
    if (isCoto(coto)) emit('live-coto-updated', { coto });
  });
  es.addEventListener('coto-deleted', (event) => {
    seen(event);
    const id = dataOf(event)?.id;
    if (typeof id === 'string') emit('live-coto-deleted', { id });
  });
  es.addEventListener('cotonoma-updated', (event) => {
    seen(event);
    const cotonoma = dataOf(event);
    if (typeof cotonoma?.key === 'string' && typeof cotonoma.name === 'string') {
      emit('live-cotonoma-updated', { cotonoma: /** @type {Cotonoma} */ (cotonoma) });
    }
  });
  listenForGraph(es, seen);
  es.addEventListener('presence', (event) => {
    const amishis = dataOf(event)?.amishis;
    if (!Array.isArray(amishis)) return;
    /** @type {Map<string, Amishi>} one entry per person, however many tabs they have open */
    const people = new Map();
    for (const amishi of amishis) if (isAmishi(amishi) && typeof amishi.id === 'string') people.set(amishi.id, amishi);
    emit('live-presence', { amishis: [...people.values()] });
  });
  es.addEventListener('revoked', () => {
    if (es !== source) return;
    stop();
    emit('live-revoked', null);
  });
  es.addEventListener('reset', (event) => {
    seen(event);
    emit('live-reset', null);
  });
}

/**
 * The graph service's events: connections and pins made, changed or deleted in the place.
 * @param {EventSource} es
 * @param {(event: MessageEvent) => void} seen
 */
function listenForGraph(es, seen) {
  // Graph's events name what changed, never its content: the stock and the dialogs read it
  // again through the API, which decides what this person may see.
  for (const name of /** @type {const} */ (['connection', 'connection-updated', 'connection-deleted'])) {
    es.addEventListener(name, (event) => {
      seen(event);
      const id = dataOf(event)?.id;
      if (typeof id === 'string') emit(`live-${name}`, { id });
    });
  }
  for (const name of /** @type {const} */ (['pin', 'pin-deleted'])) {
    es.addEventListener(name, (event) => {
      seen(event);
      const { coto_id: cotoId, cotonoma_key: key } = dataOf(event) ?? {};
      if (typeof cotoId === 'string') emit(`live-${name}`, { coto_id: cotoId, cotonoma_key: typeof key === 'string' ? key : null });
    });
  }
}

function open() {
  if (!wanted) return;
  opening += 1;
  source = new EventSource(wanted);
  listen(source);
}

/** Asks once, with fetch, what the answer that ended the stream was; then decides. */
async function checkWhyClosed() {
  const path = wanted;
  const attempt = opening;
  if (!path) return;
  let status = 0; // offline, unless an answer comes
  const abort = new AbortController();
  try {
    const response = await fetch(path, {
      credentials: 'same-origin', cache: 'no-store', headers: { Accept: 'text/event-stream' }, signal: abort.signal,
    });
    status = response.status;
  } catch {
    // Offline: tried again below, as after a 5xx.
  } finally {
    abort.abort(); // the status is all that was wanted: never a second stream
  }
  if (attempt !== opening || path !== wanted) return;
  if (status === 401 && !refreshed) {
    refreshed = true;
    try {
      await refreshSession();
    } catch (error) {
      if (error instanceof ApiError && error.signedOut) return; // identity.js shows that
    }
    if (attempt === opening && path === wanted) open();
    return;
  }
  if (status >= 400 && status < 500 && status !== 408 && status !== 429) {
    showStatus('off');
    wanted = null;
    return;
  }
  // A stream that did answer this time: again at once. A 5xx or offline: later, a little more each time.
  const answered = status >= 200 && status < 300;
  showStatus('reconnecting');
  retryTimer = setTimeout(() => {
    if (attempt === opening && path === wanted) open();
  }, answered ? 0 : retryMs);
  if (!answered) retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
}

function stop() {
  opening += 1;
  wanted = null;
  clearTimeout(retryTimer);
  source?.close();
  source = null;
  retryMs = RETRY_FIRST_MS;
  refreshed = false;
  showStatus('off');
}

/** @param {string} path */
function follow(path) {
  stop();
  wanted = path;
  open();
}

export function start() {
  on('place', ({ key }) => {
    stop();
    if (key !== null) return; // a cotonoma's stream opens once the cotonoma has (cotonoma-shown)
    const generation = state.generation;
    identityReady.then(() => {
      if (generation === state.generation && state.amishi && state.confirmToken === null) follow('/api/live/home');
    });
  });
  on('cotonoma-shown', ({ cotonoma }) => follow(`/api/live/cotonomas/${encodeURIComponent(cotonoma.key)}`));
  on('not-found', stop);
  // A page kept in the back-forward cache holds no stream; shown again, it follows anew.
  window.addEventListener('pagehide', () => {
    if (!wanted) return;
    const path = wanted;
    stop();
    window.addEventListener('pageshow', (event) => {
      if (event.persisted && !wanted) {
        wanted = path;
        open();
      }
    }, { once: true });
  });
}
