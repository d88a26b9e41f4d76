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

export class ApiError extends Error {
  constructor(status, title, description) {
    super(description || title || `Request failed (${status})`);
    this.name = 'ApiError';
    this.status = status;
    this.title = title || 'Something went wrong';
    this.description = this.message;
    this.signedOut = false;
  }
}

const FALLBACK_DESCRIPTIONS = {
  0: 'Cotoami could not be reached. Check your connection and try again.',
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

function announce(type, amishi) {
  session.dispatchEvent(new CustomEvent(type, { detail: amishi }));
}

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

/** A 401 about the access token itself (expired, or not one we can use): worth one refresh. */
function isTokenRefusal(response, error) {
  if (response.status !== 401) return false;
  const challenge = response.headers.get('WWW-Authenticate') || '';
  return /invalid_token/i.test(challenge) || error.title === 'Session expired' || error.title === 'Invalid session';
}

async function send(method, path, body, headers = {}) {
  const init = {
    method,
    credentials: 'same-origin',
    headers: { Accept: 'application/json', ...headers },
    cache: 'no-store',
  };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  try {
    return await fetch(path, init);
  } catch {
    throw new ApiError(0, 'Offline', FALLBACK_DESCRIPTIONS[0]);
  }
}

async function readBody(response) {
  if (response.status === 204) return null;
  try {
    return await response.json();
  } catch {
    throw new ApiError(response.status, 'Unexpected answer', 'Cotoami sent an answer this page could not read.');
  }
}

// ----------------------------------------------------------- the refresh

let refreshing = null; // the refresh in flight, shared by every call that needs it
let lastRefresh = null; // the latest refresh, settled or not
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
 */
async function request(method, path, body, { refresh = true, headers = {} } = {}) {
  const epoch = refreshes;
  let response = await send(method, path, body, headers);
  if (!response.ok) {
    const error = await errorFrom(response);
    if (!refresh || !isTokenRefusal(response, error)) throw error;
    // A refresh that settled after this call was sent has already renewed the
    // cookie (or ended the session): its outcome is this call's too.
    if (refreshing || epoch === refreshes) await refreshSession();
    else await lastRefresh;
    response = await send(method, path, body, headers);
    // Refused even after a refresh: said as it is, never refreshed again in a loop.
    if (!response.ok) throw await errorFrom(response);
  }
  return readBody(response);
}

// ------------------------------------------------------------- sessions

/** Who is signed in: the amishi {id, email, display_name, avatar_url}, or null. */
export async function currentSession() {
  const body = await request('GET', '/api/auth/session');
  return body && body.amishi ? body.amishi : null;
}

/** Mails a sign-in link; resolves to the answer {status, description}. */
export function requestSigninLink(email, saveAnonymous) {
  return request('POST', '/api/auth/signin', { email, save_anonymous: saveAnonymous }, { refresh: false });
}

/** Whom a sign-in link is for ({email_hint}), consuming nothing. */
export function inspectSigninLink(token) {
  return request('POST', '/api/auth/link', { token }, { refresh: false });
}

/** Signs in with a link's token (consuming it); resolves to the amishi. */
export async function signIn(token) {
  const body = await request('POST', '/api/auth/session', { token }, { refresh: false });
  return body.amishi;
}

export function signOut() {
  return request('DELETE', '/api/auth/session', undefined, { refresh: false });
}

// ---------------------------------------------------------------- cotos

/**
 * A timeline, newest first: {cotos, next}. Home (everything I posted,
 * wherever) without `cotonomaKey`; that cotonoma's timeline with it.
 */
export function listCotos(before = null, limit = null, cotonomaKey = null) {
  const params = new URLSearchParams();
  if (cotonomaKey) params.set('cotonoma', cotonomaKey);
  if (before) params.set('before', before);
  if (limit) params.set('limit', String(limit));
  const query = params.toString();
  return request('GET', `/api/cotos${query ? `?${query}` : ''}`);
}

/**
 * Posts a coto, at home or into a cotonoma; resolves to the coto. A retry
 * with the same idempotencyKey finds the coto an earlier attempt made, if its
 * answer was lost, instead of posting it twice.
 */
export async function postCoto(content, cotonomaKey = null, idempotencyKey = null) {
  const body = await request('POST', '/api/cotos', cotonomaKey ? { content, cotonoma_key: cotonomaKey } : { content },
    { headers: idempotencyKey ? { 'Idempotency-Key': idempotencyKey } : {} });
  return body.coto;
}

/** Replaces a coto's content; resolves to the updated coto. */
export async function updateCoto(id, content) {
  const body = await request('PATCH', `/api/cotos/${encodeURIComponent(id)}`, { content });
  return body.coto;
}

export function deleteCoto(id) {
  return request('DELETE', `/api/cotos/${encodeURIComponent(id)}`);
}

// ------------------------------------------------------------ cotonomas

export const MAX_COTONOMA_NAME_CHARS = 50;

const cotonomaPath = (key) => `/api/cotonomas/${encodeURIComponent(key)}`;

/** The cotonomas I own (any depth) and those shared with me, newest first. */
export async function listCotonomas() {
  const body = await request('GET', '/api/cotonomas');
  return Array.isArray(body?.cotonomas) ? body.cotonomas : [];
}

/** Creates a cotonoma at home (parentKey null) or inside one; resolves to the cotonoma. */
export async function createCotonoma(name, parentKey = null) {
  const body = await request('POST', '/api/cotonomas', parentKey ? { name, parent_key: parentKey } : { name });
  return body.cotonoma;
}

/** One cotonoma: {cotonoma, ancestors: [{key, name}] root first, children: [cotonoma]}. */
export function getCotonoma(key) {
  return request('GET', cotonomaPath(key));
}

/** Renames a cotonoma (its owner only); resolves to the cotonoma. */
export async function renameCotonoma(key, name) {
  const body = await request('PATCH', cotonomaPath(key), { name });
  return body.cotonoma;
}

/** The people a cotonoma is shared with (its owner only): [{email, added_at}]. */
export async function listMembers(key) {
  const body = await request('GET', `${cotonomaPath(key)}/members`);
  return Array.isArray(body?.members) ? body.members : [];
}

/** Shares a cotonoma with an email address, which gets an invitation; resolves to the member. */
export async function addMember(key, email) {
  const body = await request('POST', `${cotonomaPath(key)}/members`, { email });
  return body.member;
}

export function removeMember(key, email) {
  return request('DELETE', `${cotonomaPath(key)}/members/${encodeURIComponent(email)}`);
}
