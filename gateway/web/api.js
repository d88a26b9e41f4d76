// @ts-check
// The public contract (v1) as seen by the web client: same origin, JSON,
// cookies only. Errors come back as {"title", "description"} with a 4xx/5xx.
//
// Sessions: the access and refresh tokens are HttpOnly cookies this page never
// sees. When a call answers 401 because the access token has expired, the
// client refreshes the session once (one refresh shared by every call that
// was waiting) and repeats the call once, so nobody notices. When the refresh
// itself is refused, the session has ended: `session` dispatches "signedout"
// and the call fails with an ApiError whose `signedOut` is true.

export const MAX_CONTENT_CHARS = 10000;

// The shapes the services answer with (their openapi.yaml), as far as this page reads them.

/**
 * A person. `email` only in the signed-in person's own session.
 * @typedef {{ id: string, display_name: string, avatar_url: string, email?: string }} Amishi
 */
/**
 * A note; one with `as_cotonoma` stands for the cotonoma `cotonoma_key`.
 * @typedef {object} Coto
 * @property {string} id
 * @property {string} content
 * @property {Amishi | null} amishi
 * @property {{ key: string, name: string | null } | null} posted_in
 * @property {boolean} as_cotonoma
 * @property {string | null} cotonoma_key
 * @property {string} created_at
 * @property {string} updated_at
 */
/** @typedef {{ cotos: Coto[], next: string | null }} CotoPage */
/**
 * A room for cotos.
 * @typedef {object} Cotonoma
 * @property {string} key
 * @property {string} name
 * @property {Amishi} owner
 * @property {string | null} parent_key
 * @property {boolean} shared
 */
/**
 * One cotonoma, with the way down to it (root first) and what it holds.
 * @typedef {{ cotonoma: Cotonoma, ancestors: { key: string, name: string }[], children: Cotonoma[] }} CotonomaView
 */
/** @typedef {{ email: string, added_at: string }} Member */

export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} title
   * @param {string} description
   */
  constructor(status, title, description) {
    super(description || title || `Request failed (${status})`);
    this.name = 'ApiError';
    this.status = status;
    this.title = title || 'Something went wrong';
    this.description = this.message;
    this.signedOut = false;
    /** @type {number | undefined} seconds, from a Retry-After header */
    this.retryAfter = undefined;
  }
}

const OFFLINE = 'Cotoami could not be reached. Check your connection and try again.';

/** @type {Record<number, string>} */
const FALLBACK_DESCRIPTIONS = {
  0: OFFLINE,
  404: 'That was not found. It may have been deleted already.',
  413: 'That is too large to send.',
  429: 'Too many requests. Wait a moment and try again.',
  502: 'Cotoami is not answering right now. Try again shortly.',
  503: 'Cotoami is not answering right now. Try again shortly.',
  504: 'Cotoami took too long to answer. Try again shortly.',
};

/**
 * Session events: "refreshed" (detail: the amishi) after a transparent
 * refresh, "signedout" (detail: null) when the session ended without the
 * person asking (the refresh was refused).
 */
export const session = new EventTarget();

/**
 * @param {'refreshed' | 'signedout'} type
 * @param {Amishi | null} amishi
 */
function announce(type, amishi) {
  session.dispatchEvent(new CustomEvent(type, { detail: amishi }));
}

/**
 * @param {Response} response
 * @returns {Promise<ApiError>}
 */
async function errorFrom(response) {
  let title = '';
  let description = '';
  try {
    const body = await response.json();
    if (body && typeof body === 'object') {
      if (typeof body.title === 'string') title = body.title;
      if (typeof body.description === 'string') description = body.description;
    }
  } catch {
    // Not JSON (e.g. a proxy's HTML page): fall back to a plain sentence.
  }
  if (!description) {
    description = FALLBACK_DESCRIPTIONS[response.status] ||
      (response.status >= 500
        ? 'Something went wrong on our side. Try again shortly.'
        : `The request failed (${response.status}).`);
  }
  const error = new ApiError(response.status, title || response.statusText, description);
  const retryAfter = Number.parseInt(response.headers.get('Retry-After') || '', 10);
  if (Number.isFinite(retryAfter) && retryAfter >= 0) error.retryAfter = retryAfter;
  return error;
}

/**
 * A 401 about the access token itself (expired, or not one we can use): worth one refresh.
 * @param {Response} response
 * @param {ApiError} error
 */
function isTokenRefusal(response, error) {
  if (response.status !== 401) return false;
  const challenge = response.headers.get('WWW-Authenticate') || '';
  return /invalid_token/i.test(challenge) || error.title === 'Session expired' || error.title === 'Invalid session';
}

/**
 * @param {string} method
 * @param {string} path
 * @param {unknown} body JSON, or undefined for none
 * @param {Record<string, string>} [headers]
 * @returns {Promise<Response>}
 */
async function send(method, path, body, headers = {}) {
  /** @type {Record<string, string>} */
  const allHeaders = { Accept: 'application/json', ...headers };
  /** @type {RequestInit} */
  const init = { method, credentials: 'same-origin', headers: allHeaders, cache: 'no-store' };
  if (body !== undefined) {
    allHeaders['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  try {
    return await fetch(path, init);
  } catch {
    throw new ApiError(0, 'Offline', OFFLINE);
  }
}

/**
 * The answer's JSON as the service sent it: each call below says what it holds.
 * @param {Response} response
 * @returns {Promise<any>}
 */
async function readBody(response) {
  if (response.status === 204) return null;
  try {
    return await response.json();
  } catch {
    throw new ApiError(response.status, 'Unexpected answer', 'Cotoami sent an answer this page could not read.');
  }
}

// ----------------------------------------------------------- the refresh

/** @type {Promise<Amishi> | null} the refresh in flight, shared by every call that needs it */
let refreshing = null;
/** @type {Promise<Amishi> | null} the latest refresh, settled or not */
let lastRefresh = null;
let refreshes = 0; // how many refreshes have settled: a call sent before one needs none of its own

function signedOutError() {
  const error = new ApiError(401, 'Signed out', 'Your session has ended. Sign in again to see your account’s cotos.');
  error.signedOut = true;
  return error;
}

/**
 * POST /api/auth/refresh, at most one at a time. Resolves to the amishi;
 * rejects with a signed-out ApiError when the session has ended (401), or
 * with the refresh's own error when it could not be asked (offline, 5xx).
 * @returns {Promise<Amishi>}
 */
export function refreshSession() {
  if (!refreshing) {
    refreshing = lastRefresh = (async () => {
      const response = await send('POST', '/api/auth/refresh', {});
      if (response.status === 401) {
        announce('signedout', null);
        throw signedOutError();
      }
      if (!response.ok) throw await errorFrom(response);
      /** @type {{ amishi: Amishi }} */
      const { amishi } = await readBody(response);
      announce('refreshed', amishi);
      return amishi;
    })().finally(() => {
      refreshes += 1;
      refreshing = null;
    });
  }
  return refreshing;
}

/**
 * One API call. With `refresh` (the default), an expired access token is
 * refreshed and the call repeated once; calls that never read the access
 * token (signing in, the refresh itself) pass refresh: false.
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 * @param {{ refresh?: boolean, headers?: Record<string, string>, onAnswer?: ((response: Response) => void) | null }} [options]
 *   onAnswer: called with the final answer, for its headers
 * @returns {Promise<any>} the answer's JSON (see readBody), null for a 204, NOT_MODIFIED for a 304
 */
export async function request(method, path, body, { refresh = true, headers = {}, onAnswer = null } = {}) {
  const epoch = refreshes;
  let response = await send(method, path, body, headers);
  if (!response.ok && response.status !== 304) {
    const error = await errorFrom(response);
    if (!refresh || !isTokenRefusal(response, error)) throw error;
    // A refresh that settled after this call was sent has already renewed the
    // cookie (or ended the session): its outcome is this call's too.
    if (refreshing || epoch === refreshes) await refreshSession();
    else await lastRefresh;
    response = await send(method, path, body, headers);
    // Refused even after a refresh: said as it is, never refreshed again in a loop.
    if (!response.ok && response.status !== 304) throw await errorFrom(response);
  }
  onAnswer?.(response);
  return response.status === 304 ? NOT_MODIFIED : readBody(response);
}

/** What request() resolves to for a 304: only a call that sent If-None-Match gets it. */
const NOT_MODIFIED = Symbol('not modified');

// ------------------------------------------------------------- sessions

/**
 * Who is signed in: the amishi {id, email, display_name, avatar_url}, or null.
 * @returns {Promise<Amishi | null>}
 */
export async function currentSession() {
  const body = await request('GET', '/api/auth/session');
  return body && body.amishi ? body.amishi : null;
}

/**
 * Mails a sign-in link; resolves to the answer {status, description, expires_minutes}.
 * @param {string} email
 * @param {boolean} saveAnonymous
 * @returns {Promise<{ status?: string, description?: string, expires_minutes?: number }>}
 */
export function requestSigninLink(email, saveAnonymous) {
  return request('POST', '/api/auth/signin', { email, save_anonymous: saveAnonymous }, { refresh: false });
}

/**
 * Whom a sign-in link is for, and how many anonymous cotos signing in would
 * save (0 for none, null when that cannot be told just now), consuming nothing.
 * @param {string} token
 * @returns {Promise<{ email: string, email_hint?: string, anonymous_cotos: number | null }>}
 */
export function inspectSigninLink(token) {
  return request('POST', '/api/auth/link', { token }, { refresh: false });
}

/**
 * Signs in with a link's token (consuming it); resolves to the amishi and how many anonymous
 * cotos it saved (null: later). With saveAnonymous false, those the link would save are declined.
 * @param {string} token
 * @param {boolean} [saveAnonymous]
 * @returns {Promise<{ amishi: Amishi, saved_cotos?: number | null }>}
 */
export function signIn(token, saveAnonymous = true) {
  return request('POST', '/api/auth/session', { token, save_anonymous: saveAnonymous }, { refresh: false });
}

/** @returns {Promise<null>} */
export function signOut() {
  newestPages.clear();
  return request('DELETE', '/api/auth/session', undefined, { refresh: false });
}

// ---------------------------------------------------------------- cotos

/**
 * A timeline, newest first: {cotos, next}. Home (everything I posted,
 * wherever) without `cotonomaKey`; that cotonoma's timeline with it.
 * @param {string | null} [before]
 * @param {number | null} [limit]
 * @param {string | null} [cotonomaKey]
 * @returns {Promise<CotoPage>}
 */
export async function listCotos(before = null, limit = null, cotonomaKey = null) {
  const params = new URLSearchParams();
  if (cotonomaKey) params.set('cotonoma', cotonomaKey);
  if (before) params.set('before', before);
  if (limit) params.set('limit', String(limit));
  const query = params.toString();
  const path = `/api/cotos${query ? `?${query}` : ''}`;
  // A first page read again (a refresh, a stream opened anew) names the one
  // read last: unchanged, the service answers 304 and the page is not sent.
  const known = before ? undefined : newestPages.get(path);
  /** @type {string | null} */
  let etag = null;
  const page = await request('GET', path, undefined, {
    headers: known ? { 'If-None-Match': known.etag } : {},
    onAnswer: (response) => { etag = response.headers.get('ETag'); },
  });
  if (page === NOT_MODIFIED && known) return structuredClone(known.page);
  if (!before && etag) {
    newestPages.delete(path);
    newestPages.set(path, { etag, page: structuredClone(page) });
    // The oldest goes first: a few places are enough to refresh the ones in view.
    if (newestPages.size > 16) newestPages.delete(newestPages.keys().next().value ?? '');
  }
  return page;
}

/**
 * The first page of each place as last read, with its ETag. Only ever shown
 * again when the service answers 304: when the page it would send now is
 * these very bytes. Cleared on signing out, as memory no longer needed.
 * @type {Map<string, { etag: string, page: CotoPage }>}
 */
const newestPages = new Map();
session.addEventListener('signedout', () => newestPages.clear());

/**
 * Posts a coto, at home or into a cotonoma; resolves to the coto. A retry
 * with the same idempotencyKey finds the coto an earlier attempt made, if its
 * answer was lost, instead of posting it twice.
 * @param {string} content
 * @param {string | null} [cotonomaKey]
 * @param {string | null} [idempotencyKey]
 * @returns {Promise<Coto>}
 */
export async function postCoto(content, cotonomaKey = null, idempotencyKey = null) {
  const body = await request('POST', '/api/cotos', cotonomaKey ? { content, cotonoma_key: cotonomaKey } : { content },
    { headers: idempotencyKey ? { 'Idempotency-Key': idempotencyKey } : {} });
  return body.coto;
}

/**
 * Replaces a coto's content; resolves to the updated coto.
 * @param {string} id
 * @param {string} content
 * @returns {Promise<Coto>}
 */
export async function updateCoto(id, content) {
  const body = await request('PATCH', `/api/cotos/${encodeURIComponent(id)}`, { content });
  return body.coto;
}

/**
 * @param {string} id
 * @returns {Promise<null>}
 */
export function deleteCoto(id) {
  return request('DELETE', `/api/cotos/${encodeURIComponent(id)}`);
}

// ------------------------------------------------------------ cotonomas

export const MAX_COTONOMA_NAME_CHARS = 50;

/** @param {string} key */
const cotonomaPath = (key) => `/api/cotonomas/${encodeURIComponent(key)}`;

/** A page of the cotonomas I own (any depth) and those shared with me, newest first.
 * @param {string | null} [before] the `next` of the page before
 * @returns {Promise<{ cotonomas: Cotonoma[], next: string | null }>}
 */
export async function listCotonomas(before = null) {
  const body = await request('GET', `/api/cotonomas${before ? `?before=${encodeURIComponent(before)}` : ''}`);
  return { cotonomas: Array.isArray(body?.cotonomas) ? body.cotonomas : [], next: body?.next ?? null };
}

/**
 * Creates a cotonoma at home (parentKey null) or inside one; resolves to the cotonoma.
 * @param {string} name
 * @param {string | null} [parentKey]
 * @returns {Promise<Cotonoma>}
 */
export async function createCotonoma(name, parentKey = null) {
  const body = await request('POST', '/api/cotonomas', parentKey ? { name, parent_key: parentKey } : { name });
  return body.cotonoma;
}

/**
 * One cotonoma: {cotonoma, ancestors: [{key, name}] root first, children: [cotonoma]}.
 * @param {string} key
 * @returns {Promise<CotonomaView>}
 */
export function getCotonoma(key) {
  return request('GET', cotonomaPath(key));
}

/**
 * Renames a cotonoma (its owner only); resolves to the cotonoma.
 * @param {string} key
 * @param {string} name
 * @returns {Promise<Cotonoma>}
 */
export async function renameCotonoma(key, name) {
  const body = await request('PATCH', cotonomaPath(key), { name });
  return body.cotonoma;
}

/**
 * The people a cotonoma is shared with (its owner only): [{email, added_at}].
 * @param {string} key
 * @returns {Promise<Member[]>}
 */
export async function listMembers(key) {
  const body = await request('GET', `${cotonomaPath(key)}/members`);
  return Array.isArray(body?.members) ? body.members : [];
}

/**
 * Shares a cotonoma with an email address, which gets an invitation; resolves to the member.
 * @param {string} key
 * @param {string} email
 * @returns {Promise<Member>}
 */
export async function addMember(key, email) {
  const body = await request('POST', `${cotonomaPath(key)}/members`, { email });
  return body.member;
}

/**
 * @param {string} key
 * @param {string} email
 * @returns {Promise<null>}
 */
export function removeMember(key, email) {
  return request('DELETE', `${cotonomaPath(key)}/members/${encodeURIComponent(email)}`);
}
