// @ts-check
// The sidebar's cotonomas as trees: each under its parent when the parent is in
// the same list ("My cotonomas", or "Shared with me"), else at the top of it.
// A nested list of links, each parent with a disclosure button before it
// (aria-expanded), rather than the ARIA tree pattern: the links stay links (a
// new tab, the screen reader's list of links), Tab and Enter do the rest, and
// there is no roving focus to keep. What is open is kept for the session, per
// person (sessionStorage: names of rooms, no token).

/** @import { Cotonoma } from './api.js' */

import { chevronIcon, cotonomaIcon, h, peopleIcon } from './dom.js';
import { cotonomaHref } from './router.js';

/** @typedef {{ cotonoma: Cotonoma, children: TreeNode[] }} TreeNode */

/**
 * The list's trees, siblings in the list's order (newest first). A cotonoma
 * whose parent is not in the list is a root; so is one on a loop of parents
 * (which the service never makes), so that nothing goes missing.
 * @param {Cotonoma[]} cotonomas
 * @returns {TreeNode[]}
 */
export function forestOf(cotonomas) {
  /** @type {Map<string, TreeNode>} */
  const nodes = new Map();
  for (const cotonoma of cotonomas) {
    if (!nodes.has(cotonoma.key)) nodes.set(cotonoma.key, { cotonoma, children: [] });
  }
  /** @type {TreeNode[]} */
  const roots = [];
  for (const node of nodes.values()) {
    const parent = node.cotonoma.parent_key ? nodes.get(node.cotonoma.parent_key) : undefined;
    if (parent && !isAncestor(node, parent, nodes)) parent.children.push(node);
    else roots.push(node);
  }
  return roots;
}

/**
 * Whether `node` is `of` or above it, following the parents in `nodes`.
 * @param {TreeNode} node
 * @param {TreeNode} of
 * @param {Map<string, TreeNode>} nodes
 */
function isAncestor(node, of, nodes) {
  /** @type {TreeNode | undefined} */
  let at = of;
  for (let steps = 0; at && steps <= nodes.size; steps += 1) {
    if (at === node) return true;
    at = at.cotonoma.parent_key ? nodes.get(at.cotonoma.parent_key) : undefined;
  }
  return false;
}

/**
 * The keys from a root of the trees down to `key` (itself last), or [] if it is in none of them.
 * @param {TreeNode[]} roots
 * @param {string} key
 * @returns {string[]}
 */
export function pathTo(roots, key) {
  for (const node of roots) {
    if (node.cotonoma.key === key) return [key];
    const below = pathTo(node.children, key);
    if (below.length) return [node.cotonoma.key, ...below];
  }
  return [];
}

// ------------------------------------------------------------ open or closed

const STORAGE_PREFIX = 'cotoami.sidebar.open.';
/** @type {Set<string>} the keys of the cotonomas shown open */
let openKeys = new Set();
let storageKey = '';

/**
 * Reads what this person had open in this tab's session.
 * @param {string} amishiId
 */
export function loadOpenState(amishiId) {
  storageKey = STORAGE_PREFIX + amishiId;
  openKeys = new Set();
  try {
    const saved = JSON.parse(sessionStorage.getItem(storageKey) || '[]');
    if (Array.isArray(saved)) openKeys = new Set(saved.filter((key) => typeof key === 'string'));
  } catch {
    // Storage refused (a private window's settings) or spoilt: everything starts closed.
  }
}

/** @param {string[]} keys */
export function openAll(keys) {
  for (const key of keys) openKeys.add(key);
  saveOpenState();
}

/**
 * @param {string} key
 * @param {boolean} open
 */
function setOpen(key, open) {
  if (open) openKeys.add(key);
  else openKeys.delete(key);
  saveOpenState();
}

function saveOpenState() {
  if (!storageKey) return;
  try {
    sessionStorage.setItem(storageKey, JSON.stringify([...openKeys]));
  } catch {
    // Not kept: the tree still opens and closes for as long as the page is open.
  }
}

// ------------------------------------------------------------------ drawing

/**
 * How one list is drawn.
 * @typedef {object} TreeOptions
 * @property {string | null} current the key of the cotonoma on screen
 * @property {(cotonoma: Cotonoma) => boolean} mine whether the person owns it
 * @property {Map<string, Cotonoma>} everything the whole list, both parts, by key
 */

/**
 * The <li> of each root, its sub-cotonomas in a nested <ul> under it.
 * @param {TreeNode[]} roots
 * @param {TreeOptions} options
 * @returns {HTMLLIElement[]}
 */
export function drawTree(roots, options) {
  return roots.map((node) => treeItem(node, null, options));
}

/**
 * @param {TreeNode} node
 * @param {TreeNode | null} parent the node it is drawn under
 * @param {TreeOptions} options
 * @returns {HTMLLIElement}
 */
function treeItem(node, parent, options) {
  const { cotonoma, children } = node;
  const link = h('a', {
    className: 'cotonoma-link', href: cotonomaHref(cotonoma.key), dataset: { key: cotonoma.key },
    title: cotonoma.name, 'aria-current': cotonoma.key === options.current ? 'page' : null,
  },
  cotonomaIcon('cotonoma-link-icon'),
  h('span', { className: 'cotonoma-link-name', text: cotonoma.name }),
  // Marked as shared on the name's line; said to assistive tech by its label, not as text.
  options.mine(cotonoma) && cotonoma.shared
    ? h('span', { className: 'cotonoma-link-shared', role: 'img', 'aria-label': 'shared', title: 'Shared' }, peopleIcon())
    : null);
  const detail = detailOf(cotonoma, parent, options);
  if (detail) link.append(h('span', { className: 'cotonoma-link-detail', text: detail }));

  const row = h('div', { className: 'cotonoma-row' });
  const item = h('li', { className: 'cotonoma-item', dataset: { key: cotonoma.key } }, row);
  if (children.length === 0) {
    row.append(h('span', { className: 'cotonoma-toggle-space' }), link);
    return item;
  }
  const open = openKeys.has(cotonoma.key);
  const listId = `cotonoma-children-${cotonoma.key}`;
  const toggle = h('button', {
    className: 'cotonoma-toggle', type: 'button', dataset: { key: cotonoma.key },
    'aria-expanded': String(open), 'aria-controls': listId,
    'aria-label': `Cotonomas in ${cotonoma.name}`, title: `Cotonomas in ${cotonoma.name}`,
  }, chevronIcon('cotonoma-toggle-icon'));
  const list = h('ul', { className: 'cotonoma-items cotonoma-children', id: listId },
    ...children.map((child) => treeItem(child, node, options)));
  list.hidden = !open;
  toggle.addEventListener('click', () => {
    const opening = toggle.getAttribute('aria-expanded') !== 'true';
    toggle.setAttribute('aria-expanded', String(opening));
    list.hidden = !opening;
    setOpen(cotonoma.key, opening);
  });
  row.append(toggle, link);
  item.append(list);
  return item;
}

/**
 * The muted line under a name: whose it is when not the person's (unless the
 * same as the one it is drawn under), and where it is when its parent is
 * elsewhere in the list (mine inside a cotonoma shared with me, or the other way).
 * @param {Cotonoma} cotonoma
 * @param {TreeNode | null} parent
 * @param {TreeOptions} options
 */
function detailOf(cotonoma, parent, options) {
  const parts = [];
  const owner = cotonoma.owner;
  if (!options.mine(cotonoma) && typeof owner?.display_name === 'string' &&
      owner.id !== parent?.cotonoma.owner?.id) {
    parts.push(`by ${owner.display_name}`);
  }
  const elsewhere = !parent && cotonoma.parent_key ? options.everything.get(cotonoma.parent_key) : undefined;
  if (elsewhere) parts.push(`in ${elsewhere.name}`);
  return parts.join(' · ');
}
