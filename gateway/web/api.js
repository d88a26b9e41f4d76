// The public contract (v1) as seen by the web client: same origin, JSON,
// cookies only. Errors come back as {"title", "description"} with a 4xx/5xx.

export const MAX_CONTENT_CHARS = 10000;

export class ApiError extends Error {
  constructor(status, title, description) {
    super(description || title || `Request failed (${status})`);
    this.name = 'ApiError';
    this.status = status;
    this.title = title || 'Something went wrong';
    this.description = this.message;
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
  return new ApiError(response.status, title || response.statusText, description);
}

async function request(method, path, body) {
  const init = {
    method,
    credentials: 'same-origin',
    headers: { Accept: 'application/json' },
    cache: 'no-store',
  };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, 'Offline', FALLBACK_DESCRIPTIONS[0]);
  }
  if (!response.ok) throw await errorFrom(response);
  if (response.status === 204) return null;
  try {
    return await response.json();
  } catch {
    throw new ApiError(response.status, 'Unexpected answer', 'Cotoami sent an answer this page could not read.');
  }
}

/** The home timeline, newest first: {cotos, next}. */
export function listCotos(before = null) {
  const query = before ? `?before=${encodeURIComponent(before)}` : '';
  return request('GET', `/api/cotos${query}`);
}

/** Posts a coto; resolves to the coto. */
export async function postCoto(content) {
  const body = await request('POST', '/api/cotos', { content });
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
