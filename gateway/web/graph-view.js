// @ts-check
// The graph view: the stock of the place on screen (its pins, under the place itself, and what
// they connect to), or one coto's neighbourhood (what it connects to and what connects to it),
// drawn with Cytoscape.js in a dialog. Cytoscape (vendor/cytoscape.esm.min.js, its licence
// beside it) is loaded the first time the view opens, never with the page. Clicking (or
// tapping) a coto's node opens that coto in its place; the same cotos are listed under the
// drawing as links, for the keyboard and for screen readers.
//
// Cytoscape adds a <style> element of its own unless an element with its id is on the page:
// the page's policy refuses inline styles, so graph.css (which holds that one rule) is linked
// with that id (index.html).

/** @import { Coto } from './api.js' */
/** @import { Neighbourhood, StockNode } from './graph-api.js' */

import { clearError } from './alerts.js';
import { h } from './dom.js';
import { closeOnBackdrop, describe, problemLine, refocus } from './forms.js';
import { excerpt, neighbourhood, stock } from './graph-api.js';
import { cotoHref, navigate } from './router.js';
import { on, state } from './state.js';

const CYTOSCAPE = '/vendor/cytoscape.esm.min.js';
const ROOT = 'place';

const title = h('h2', { className: 'dialog-title', id: 'graph-title', text: 'Graph' });
const closeButton = h('button', { className: 'dialog-close', type: 'button', 'aria-label': 'Close', title: 'Close' }, '×');
const status = h('p', { className: 'graph-status', id: 'graph-status', role: 'status' });
const canvas = h('div', { className: 'graph-canvas', id: 'graph-canvas', role: 'img', 'aria-label': 'The graph' });
const listHeading = h('h3', { className: 'graph-list-heading', id: 'graph-list-heading', text: 'Cotos in this graph' });
const list = h('ul', { className: 'graph-list', id: 'graph-list', 'aria-labelledby': 'graph-list-heading' });
const problem = h('div', { className: 'dialog-error', id: 'graph-error', role: 'alert' });
const dialog = h('dialog', { className: 'dialog graph-dialog', id: 'graph-dialog', 'aria-labelledby': 'graph-title' },
  h('div', { className: 'dialog-panel graph-panel' },
    h('div', { className: 'dialog-head' }, title, closeButton), status, problem, canvas, listHeading, list));

/** @type {Promise<any> | null} the module, once asked for */
let library = null;
/** @type {any} the drawing on screen */
let cy = null;
/** @type {Element | null} */
let opener = null;
let opening = 0;
let placeName = 'Home';

/** @typedef {{ data: Record<string, string>, classes?: string }} GraphElement */
/** @typedef {{ elements: GraphElement[], cotos: Coto[], partial: boolean }} Drawing partial: more connections than drawn */

/**
 * The nodes and edges of a stock: the place, its pins, and what they lead to (each coto and
 * each connection once, however many ways lead to it).
 * @param {StockNode[]} pins
 * @returns {Drawing}
 */
function stockElements(pins) {
  /** @type {Map<string, Coto>} */
  const cotos = new Map();
  /** @type {Map<string, GraphElement>} */
  const edges = new Map();
  /** @param {StockNode} node */
  const walk = (node) => {
    cotos.set(node.coto.id, node.coto);
    for (const child of Array.isArray(node.children) ? node.children : []) {
      const c = child.connection;
      if (c) edges.set(c.id, { data: { id: c.id, source: c.start, target: c.end, label: c.linking_phrase ?? '' } });
      walk(child);
    }
  };
  pins.forEach(walk);
  /** @type {GraphElement[]} */
  const elements = [{ data: { id: ROOT, label: placeName }, classes: 'place' }];
  for (const coto of cotos.values()) elements.push({ data: { id: coto.id, label: excerpt(coto, 40) } });
  for (const node of pins) elements.push({ data: { id: `pin-${node.coto.id}`, source: ROOT, target: node.coto.id, label: '' }, classes: 'pin' });
  elements.push(...edges.values());
  return { elements, cotos: [...cotos.values()], partial: false };
}

/**
 * The nodes and edges of one coto's neighbourhood.
 * @param {Neighbourhood} found
 * @returns {Drawing}
 */
function neighbourhoodElements(found) {
  /** @type {Map<string, Coto>} */
  const cotos = new Map([[found.coto.id, found.coto]]);
  /** @type {GraphElement[]} */
  const edges = [];
  for (const { connection: c, coto } of [...found.outgoing, ...found.incoming]) {
    cotos.set(coto.id, coto);
    edges.push({ data: { id: c.id, source: c.start, target: c.end, label: c.linking_phrase ?? '' } });
  }
  /** @type {GraphElement[]} */
  const nodes = [...cotos.values()].map((coto) => ({
    data: { id: coto.id, label: excerpt(coto, 40) }, classes: coto.id === found.coto.id ? 'center' : '',
  }));
  const partial = found.outgoingNext !== null || found.incomingNext !== null;
  return { elements: [...nodes, ...edges], cotos: [...cotos.values()], partial };
}

/** The page's colours (light or dark), as the drawing's style. */
function styleOf() {
  const css = getComputedStyle(document.documentElement);
  /** @param {string} name @param {string} fallback */
  const v = (name, fallback) => css.getPropertyValue(name).trim() || fallback;
  const text = v('--text', '#1f2328');
  const accent = v('--accent', '#2f6f5e');
  const surface = v('--surface', '#ffffff');
  const muted = v('--muted', '#6b7178');
  return [
    { selector: 'node', style: {
      label: 'data(label)', 'background-color': surface, 'border-width': 1.5, 'border-color': accent, color: text,
      shape: 'round-rectangle', width: 'label', height: 'label', padding: '8px', 'font-size': 11,
      'text-valign': 'center', 'text-halign': 'center', 'text-wrap': 'ellipsis', 'text-max-width': '150px',
    } },
    { selector: 'node.place', style: { 'background-color': accent, color: surface, 'font-weight': 'bold' } },
    { selector: 'node.center', style: { 'border-width': 3 } },
    { selector: 'edge', style: {
      label: 'data(label)', width: 1.5, 'line-color': muted, 'target-arrow-color': muted, 'target-arrow-shape': 'triangle',
      'curve-style': 'bezier', 'font-size': 10, color: muted, 'text-background-color': surface, 'text-background-opacity': 1,
      'text-background-padding': '2px', 'text-rotation': 'autorotate',
    } },
    { selector: 'edge.pin', style: { 'line-style': 'dashed', 'target-arrow-shape': 'none' } },
  ];
}

/**
 * Opens a coto in its place: the dialog closes, and the page goes there (router.js).
 * @param {Coto} coto
 */
function openCoto(coto) {
  dialog.close();
  navigate(cotoHref(coto.id, coto.posted_in?.key));
}

/**
 * Draws what was read.
 * @param {{ elements: GraphElement[], cotos: Coto[] }} graph
 * @param {string} root the node the drawing grows from
 */
async function draw({ elements, cotos }, root) {
  library ??= import(CYTOSCAPE);
  const cytoscape = (await library).default;
  cy?.destroy();
  const byId = new Map(cotos.map((coto) => [coto.id, coto]));
  cy = cytoscape({
    container: canvas, elements, style: styleOf(), wheelSensitivity: 0.4, boxSelectionEnabled: false,
    layout: { name: 'breadthfirst', directed: true, roots: [root], spacingFactor: 1.1, padding: 16 },
  });
  cy.on('tap', 'node', (/** @type {any} */ event) => {
    const coto = byId.get(event.target.id());
    if (coto) openCoto(coto);
  });
  const edges = elements.filter((el) => el.data.source && !el.classes?.includes('pin')).length;
  canvas.setAttribute('aria-label', `A graph of ${cotos.length} ${cotos.length === 1 ? 'coto' : 'cotos'} and ` +
    `${edges} ${edges === 1 ? 'connection' : 'connections'}; the same cotos are listed below.`);
  canvas.dataset.nodes = String(cy.nodes().length);
  canvas.dataset.edges = String(cy.edges().length);
  list.replaceChildren(...cotos.map((coto) => {
    const link = h('a', { className: 'graph-list-link', href: cotoHref(coto.id, coto.posted_in?.key), text: excerpt(coto) || 'a coto' });
    return h('li', {}, link);
  }));
}

/** @type {string | null} the coto whose neighbourhood is drawn, null for the stock */
let drawn = null;

/**
 * Opens the view of the stock on screen (cotoId null) or of one coto's neighbourhood.
 * @param {string | null} cotoId
 * @param {Element | null} from
 */
async function open(cotoId, from) {
  const attempt = ++opening;
  opener = from;
  drawn = cotoId;
  title.textContent = cotoId ? 'Graph of a coto’s connections' : `Graph of the stock: ${placeName}`;
  problem.replaceChildren();
  list.replaceChildren();
  delete canvas.dataset.nodes;
  status.textContent = 'Drawing the graph…';
  if (!dialog.open) dialog.showModal();
  closeButton.focus();
  try {
    const graph = cotoId ? neighbourhoodElements(await neighbourhood(cotoId)) : stockElements(await stock(state.place));
    if (attempt !== opening || !dialog.open) return;
    await draw(graph, cotoId ?? ROOT);
    if (attempt !== opening) return;
    status.textContent = graph.cotos.length === 0 ? 'Nothing to draw yet: pin a coto first.'
      : graph.partial ? 'Drawn: the first 50 connections each way. Its Connections list shows them all.' : '';
    clearError();
  } catch (error) {
    if (attempt !== opening) return;
    status.textContent = '';
    problem.replaceChildren(problemLine('The graph could not be drawn.', describe(error)));
  }
}

/** Draws the open view again from what the service answers now, the focus left where it is. */
async function redrawIfOpen() {
  if (!dialog.open) return;
  const attempt = ++opening;
  const cotoId = drawn;
  try {
    const graph = cotoId ? neighbourhoodElements(await neighbourhood(cotoId)) : stockElements(await stock(state.place));
    if (attempt === opening && dialog.open) await draw(graph, cotoId ?? ROOT);
  } catch {
    // The drawing on screen stays; the next change or opening tries again.
  }
}

export function start() {
  document.body.append(dialog);
  closeOnBackdrop(dialog);
  closeButton.addEventListener('click', () => dialog.close());
  dialog.addEventListener('close', () => {
    opening += 1;
    cy?.destroy();
    cy = null;
    refocus(opener);
  });
  dialog.addEventListener('click', (event) => {
    if (event.target instanceof Element && event.target.closest('a[href]')) dialog.close();
  });
  on('graph-wanted', ({ cotoId, opener: from }) => open(cotoId, from));
  // What other members connect or pin meanwhile is drawn too: read again, once for a burst.
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let redrawTimer;
  const redraw = () => {
    clearTimeout(redrawTimer);
    redrawTimer = setTimeout(() => redrawIfOpen(), 150);
  };
  for (const type of /** @type {const} */ (['live-connection', 'live-connection-updated', 'live-connection-deleted',
    'live-pin', 'live-pin-deleted'])) on(type, redraw);
  on('place', ({ key }) => {
    if (key === null) placeName = 'Home';
    if (dialog.open) dialog.close();
  });
  on('cotonoma-shown', ({ cotonoma }) => { placeName = cotonoma.name; });
  on('cotonoma-renamed', ({ name }) => { placeName = name; });
}
