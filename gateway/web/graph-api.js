// @ts-check
// The graph service's public contract as the web client calls it (services/graph/openapi.yaml):
// connections between cotos, each with an optional linking phrase, and pins, the cotos kept
// in a place's stock (home, or a cotonoma), ordered. Same origin, JSON, cookies only, through
// api.js' request (errors are ApiErrors; an expired session is refreshed once).

/** @import { Coto } from './api.js' */

import { request } from './api.js';

export const MAX_LINKING_PHRASE_CHARS = 200;
/** How deep the stock is read: pins, what they connect to, and what that connects to. */
export const STOCK_DEPTH = 3;

/**
 * A connection from one coto to another. `created_in`: the cotonoma it was made in, null at home.
 * @typedef {object} Connection
 * @property {string} id
 * @property {string} start
 * @property {string} end
 * @property {string | null} linking_phrase
 * @property {string} created_by the amishi's id
 * @property {string | null} created_in
 * @property {number} order
 * @property {string} created_at
 */
/** @typedef {{ coto_id: string, cotonoma_key: string | null, created_by: string, order: number, created_at: string }} Pin */
/**
 * One coto of the stock: a pin (connection null) or a coto a connection leads to from its parent.
 * @typedef {{ coto: Coto, connection: Connection | null, children: StockNode[] }} StockNode
 */
/** @typedef {{ connection: Connection, coto: Coto }} Neighbour */
/**
 * A coto with the first page of its neighbours each way, and the cursors of the next (null: no more).
 * @typedef {{ coto: Coto, outgoing: Neighbour[], incoming: Neighbour[], outgoingNext: string | null, incomingNext: string | null }} Neighbourhood
 */
/** @typedef {'outgoing' | 'incoming'} Way */

/** @param {string} id */
const connectionPath = (id) => `/api/graph/connections/${encodeURIComponent(id)}`;

/**
 * Connects two cotos; resolves to the connection. 409: they are connected already; 422: the same coto.
 * @param {string} start
 * @param {string} end
 * @param {string | null} linkingPhrase
 * @param {string | null} cotonomaKey the cotonoma it is made in, null at home
 * @returns {Promise<Connection>}
 */
export async function connect(start, end, linkingPhrase, cotonomaKey) {
  /** @type {Record<string, string>} */
  const body = { start, end };
  if (linkingPhrase) body.linking_phrase = linkingPhrase;
  if (cotonomaKey) body.cotonoma_key = cotonomaKey;
  return (await request('POST', '/api/graph/connections', body)).connection;
}

/**
 * Sets or (null) clears a connection's linking phrase; resolves to the connection.
 * @param {string} id
 * @param {string | null} linkingPhrase
 * @returns {Promise<Connection>}
 */
export async function setLinkingPhrase(id, linkingPhrase) {
  return (await request('PATCH', connectionPath(id), { linking_phrase: linkingPhrase })).connection;
}

/**
 * @param {string} id
 * @returns {Promise<null>}
 */
export function disconnect(id) {
  return request('DELETE', connectionPath(id));
}

/** @param {unknown} value */
const cursorOf = (value) => (typeof value === 'string' ? value : null);

/**
 * A coto with what it connects to (outgoing, in their order) and what connects to it (incoming,
 * oldest first): the first page of each (50), as a hub may have thousands.
 * @param {string} id
 * @returns {Promise<Neighbourhood>}
 */
export async function neighbourhood(id) {
  const body = await request('GET', `/api/graph/cotos/${encodeURIComponent(id)}`);
  return {
    coto: body.coto,
    outgoing: Array.isArray(body?.outgoing) ? body.outgoing : [],
    incoming: Array.isArray(body?.incoming) ? body.incoming : [],
    outgoingNext: cursorOf(body?.outgoing_next),
    incomingNext: cursorOf(body?.incoming_next),
  };
}

/**
 * The next page of a coto's neighbours one way, after a cursor a page gave.
 * @param {string} id
 * @param {Way} way
 * @param {string} after
 * @returns {Promise<{ neighbours: Neighbour[], next: string | null }>}
 */
export async function moreNeighbours(id, way, after) {
  const body = await request('GET', `/api/graph/cotos/${encodeURIComponent(id)}/${way}?after=${encodeURIComponent(after)}`);
  return { neighbours: Array.isArray(body?.neighbours) ? body.neighbours : [], next: cursorOf(body?.next) };
}

/**
 * Puts a coto's outgoing connections in this order.
 * @param {string} cotoId
 * @param {string[]} connectionIds
 */
export function orderConnections(cotoId, connectionIds) {
  return request('PUT', `/api/graph/cotos/${encodeURIComponent(cotoId)}/order`, { ids: connectionIds });
}

/**
 * Pins a coto to home (cotonomaKey null) or to a cotonoma's stock; resolves to the pin. 409: pinned already.
 * @param {string} cotoId
 * @param {string | null} cotonomaKey
 * @returns {Promise<Pin>}
 */
export async function pin(cotoId, cotonomaKey) {
  const body = cotonomaKey ? { coto_id: cotoId, cotonoma_key: cotonomaKey } : { coto_id: cotoId };
  return (await request('POST', '/api/graph/pins', body)).pin;
}

/**
 * @param {string} cotoId
 * @param {string | null} cotonomaKey
 * @returns {Promise<null>}
 */
export function unpin(cotoId, cotonomaKey) {
  const query = cotonomaKey ? `?cotonoma=${encodeURIComponent(cotonomaKey)}` : '';
  return request('DELETE', `/api/graph/pins/${encodeURIComponent(cotoId)}${query}`);
}

/**
 * Puts a place's pins in this order.
 * @param {string[]} cotoIds
 * @param {string | null} cotonomaKey
 */
export function orderPins(cotoIds, cotonomaKey) {
  return request('PUT', '/api/graph/pins/order', cotonomaKey ? { ids: cotoIds, cotonoma_key: cotonomaKey } : { ids: cotoIds });
}

/**
 * A place's stock: its pins, in order, each with what it connects to, to STOCK_DEPTH.
 * @param {string | null} cotonomaKey
 * @returns {Promise<StockNode[]>}
 */
export async function stock(cotonomaKey) {
  const params = new URLSearchParams({ depth: String(STOCK_DEPTH) });
  if (cotonomaKey) params.set('cotonoma', cotonomaKey);
  const body = await request('GET', `/api/graph/pins?${params}`);
  return Array.isArray(body?.pins) ? body.pins : [];
}

/**
 * A coto's text in one short line: its first line of words, without Markdown's marks.
 * @param {Coto} coto
 * @param {number} [max]
 */
export function excerpt(coto, max = 80) {
  const line = (coto.content || '').split('\n').map((l) => l.replace(/^[#>\-*+\s]+|[*_`~]/g, '').trim())
    .find((l) => l !== '') ?? '';
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}
