// @ts-check
// A coto's Markdown, safe by construction. markdown-it (vendor/, a classic script that
// index.html loads before the modules) only parses: md.parse() gives tokens, and this
// module builds the DOM from them itself, element by element from a fixed list, with
// text nodes for every piece of text and only the attributes it checked. No HTML string
// is ever made or parsed (no innerHTML, no md.render), so whatever a coto holds can only
// ever come out as text or as one of these elements.
// Raw HTML is text (html: false); links go only to http, https and mailto (new URL()
// decides, as the browser would); an image is never loaded: it is a link to its address.

import { h } from './dom.js';

/**
 * A markdown-it token: the fields read here (its Token class has more).
 * @typedef {object} Token
 * @property {string} type e.g. paragraph_open, inline, text, link_open, fence
 * @property {string} tag
 * @property {number} nesting 1 opens an element, -1 closes it, 0 stands alone
 * @property {[string, string | number][] | null} attrs
 * @property {string} content
 * @property {string} info a fence's info string (its language first)
 * @property {boolean} hidden a paragraph of a tight list: its text goes in the item itself
 * @property {Token[] | null} children an inline token's tokens
 */

/**
 * The global that vendor/markdown-it.umd.min.js defines: markdownit(preset, options).
 * @typedef {(preset: 'default', options: { html: boolean, linkify: boolean, typographer: boolean }) =>
 *   { parse: (src: string, env: object) => Token[] }} MarkdownItFactory
 */

const factory = /** @type {{ markdownit?: MarkdownItFactory }} */ (/** @type {unknown} */ (window)).markdownit;
// The default preset is CommonMark with tables and strikethrough; linkify turns bare
// http(s) addresses and mail addresses into links (not bare domains: "app.py" stays text).
const md = factory ? factory('default', { html: false, linkify: true, typographer: false }) : null;

const SCHEMES = new Set(['http:', 'https:', 'mailto:']);
const REL = 'noopener noreferrer nofollow ugc';
const TASK = /^\[([ xX])\](?:[ \t]+|$)/;

/**
 * The address a link may lead to: http, https or mailto, as the browser itself parses it
 * (a relative one is on this site); null for anything else (javascript:, data:, ...).
 * @param {string} href
 */
export function safeUrl(href) {
  try {
    const url = new URL(href, location.origin);
    return SCHEMES.has(url.protocol) ? url : null;
  } catch {
    return null;
  }
}

/**
 * @param {Token} token
 * @param {string} name
 */
function attr(token, name) {
  const found = token.attrs?.find(([key]) => key === name);
  return found === undefined ? null : String(found[1]);
}

/**
 * A link to a safe address, opened apart from the page; null if the address is not safe.
 * @param {string} href
 * @param {string | null} title
 */
function linkTo(href, title) {
  const url = safeUrl(href);
  if (!url) return null;
  const a = h('a', { className: 'md-link', href: url.href, rel: REL, title });
  if (url.protocol !== 'mailto:') a.target = '_blank';
  return a;
}

/**
 * The text of inline tokens alone (an image's description).
 * @param {Token[]} tokens
 * @returns {string}
 */
function plainText(tokens) {
  return tokens.map((t) => {
    if (t.type === 'image') return plainText(t.children ?? []);
    if (t.type === 'softbreak' || t.type === 'hardbreak') return ' ';
    return t.nesting === 0 ? t.content : '';
  }).join('');
}

/**
 * An image is not loaded (it may be on any host): it is a link to it, its description the link's text.
 * @param {Token} token
 */
function imageLink(token) {
  const src = attr(token, 'src') ?? '';
  const text = plainText(token.children ?? []).trim() || src;
  const a = linkTo(src, attr(token, 'title') || `Image, not loaded here: ${src}`);
  if (!a) return document.createTextNode(text);
  a.classList.add('md-image-link');
  a.append(text);
  return a;
}

const INLINE_TAGS = /** @type {const} */ ({ strong_open: 'strong', em_open: 'em', s_open: 's' });

/**
 * Appends an inline token's children: text, emphasis, code, breaks, links.
 * @param {Node} parent
 * @param {Token[]} tokens
 */
function appendInline(parent, tokens) {
  /** @type {Node[]} */
  const open = [parent];
  for (const token of tokens) {
    const at = open[open.length - 1] ?? parent;
    if (token.type === 'softbreak' || token.type === 'hardbreak') {
      // A line break in a coto is one on screen too, as people write notes (CommonMark lets a
      // renderer show a soft break so).
      at.appendChild(h('br'));
      at.appendChild(document.createTextNode('\n'));
    } else if (token.type === 'code_inline') {
      at.appendChild(h('code', { className: 'md-code-inline', text: token.content }));
    } else if (token.type === 'image') {
      // Inside a link, its description alone: a link holds no other link.
      const inLink = open.some((node) => node instanceof HTMLAnchorElement);
      at.appendChild(inLink ? document.createTextNode(plainText(token.children ?? [])) : imageLink(token));
    } else if (token.type === 'link_open') {
      // An unsafe link is no link: its text stays, in the element around it.
      const a = linkTo(attr(token, 'href') ?? '', attr(token, 'title'));
      if (a) at.appendChild(a);
      open.push(a ?? at);
    } else if (token.type in INLINE_TAGS) {
      const el = h(INLINE_TAGS[/** @type {keyof typeof INLINE_TAGS} */ (token.type)]);
      at.appendChild(el);
      open.push(el);
    } else if (token.nesting === 1) {
      open.push(at); // nothing else opens an element: its content goes where it is
    } else if (token.nesting === -1) {
      if (open.length > 1) open.pop();
    } else {
      at.appendChild(document.createTextNode(token.content)); // text, escapes, entities, raw HTML
    }
  }
}

/** The copy buttons' "Copied" timers. @type {WeakMap<HTMLButtonElement, number>} */
const flashes = new WeakMap();

/**
 * @param {HTMLButtonElement} button
 * @param {string} text
 */
function flash(button, text) {
  button.textContent = text;
  clearTimeout(flashes.get(button));
  flashes.set(button, setTimeout(() => { button.textContent = 'Copy'; }, 2000));
}

/**
 * Copies a code block; where the clipboard may not be written (a plain-http page, or
 * refused), selects it instead, for Ctrl+C.
 * @param {HTMLButtonElement} button
 * @param {HTMLElement} code
 */
async function copyCode(button, code) {
  try {
    await navigator.clipboard.writeText(code.textContent ?? '');
    flash(button, 'Copied');
  } catch {
    getSelection()?.selectAllChildren(code);
    flash(button, 'Selected');
  }
}

/**
 * A code block (fenced or indented): monospace, scrolled sideways, with a copy button.
 * @param {Token} token
 */
function codeBlock(token) {
  const language = token.type === 'fence' ? token.info.trim().split(/\s+/)[0] ?? '' : '';
  const code = h('code', { text: token.content.replace(/\n$/, '') });
  const copy = h('button', { className: 'md-copy', type: 'button', 'aria-label': 'Copy the code' }, 'Copy');
  copy.addEventListener('click', () => copyCode(copy, code));
  return h('div', { className: 'md-code' },
    h('div', { className: 'md-code-bar' }, language ? h('span', { className: 'md-code-language', text: language }) : null, copy),
    h('pre', { className: 'md-pre' }, code));
}

/**
 * A cell's alignment (markdown-it gives it as a style attribute, which the page's CSP
 * would refuse anyway): a class.
 * @param {Token} token
 */
function alignClass(token) {
  const align = /^text-align:(left|center|right)$/.exec(attr(token, 'style') ?? '');
  return align ? `md-align-${align[1]}` : null;
}

/**
 * Whether each list item is a task ("[ ]" or "[x]" opening its first paragraph, which
 * markdown-it leaves as text): the item's and the paragraph's inline token map to it
 * checked or not, and the marker is taken off the text.
 * @param {Token[]} tokens
 */
function findTasks(tokens) {
  /** @type {Map<Token, boolean>} */
  const tasks = new Map();
  tokens.forEach((token, i) => {
    const inline = tokens[i + 2];
    const first = inline?.children?.[0];
    if (token.type !== 'list_item_open' || tokens[i + 1]?.type !== 'paragraph_open' || !inline || !first) return;
    const marker = first.type === 'text' ? TASK.exec(first.content) : null;
    if (!marker) return;
    first.content = first.content.slice(marker[0].length);
    tasks.set(token, marker[1] !== ' ').set(inline, marker[1] !== ' ');
  });
  return tasks;
}

/**
 * The element a block token opens (appended to parent), or parent itself for one that
 * opens none (a tight list's paragraph). A coto's headings sit in a list item under the
 * timeline's own h2: a coto's h1 is an h3, its h2 an h4 and so on down to h6, so the
 * page's outline stays in order; their class keeps the level written, for a modest size.
 * @param {Token} token
 * @param {Node} parent
 * @param {Map<Token, boolean>} tasks
 * @returns {Node}
 */
function openBlock(token, parent, tasks) {
  /** @type {HTMLElement} */
  let el;
  switch (token.type) {
    case 'paragraph_open':
      if (token.hidden) return parent;
      el = h('p');
      break;
    case 'heading_open': {
      const level = Number(token.tag.slice(1)) || 1;
      el = h(/** @type {'h3' | 'h4' | 'h5' | 'h6'} */ (`h${Math.min(level + 2, 6)}`), { className: `md-heading md-h${level}` });
      break;
    }
    case 'blockquote_open': el = h('blockquote'); break;
    case 'bullet_list_open': el = h('ul'); break;
    case 'ordered_list_open': {
      const start = Number(attr(token, 'start') ?? 1);
      el = h('ol', { start: Number.isSafeInteger(start) && start !== 1 ? String(start) : null });
      break;
    }
    case 'list_item_open':
      el = h('li');
      if (tasks.has(token)) {
        el.className = 'md-task';
        if (parent instanceof HTMLElement) parent.classList.add('md-task-list');
      }
      break;
    case 'table_open': {
      // Wrapped, so a wide table scrolls sideways within the coto.
      const table = h('table');
      parent.appendChild(h('div', { className: 'md-table' }, table));
      return table;
    }
    case 'thead_open': el = h('thead'); break;
    case 'tbody_open': el = h('tbody'); break;
    case 'tr_open': el = h('tr'); break;
    case 'th_open': el = h('th', { className: alignClass(token), scope: 'col' }); break;
    case 'td_open': el = h('td', { className: alignClass(token) }); break;
    default: return parent; // nothing else opens an element: its content goes where it is
  }
  parent.appendChild(el);
  return el;
}

/**
 * A coto's content as Markdown, built as DOM nodes.
 * @param {string} text
 * @returns {DocumentFragment}
 */
export function renderMarkdown(text) {
  const root = document.createDocumentFragment();
  if (!md) {
    root.append(h('p', { className: 'md-unparsed', text })); // markdown-it did not load: the text as it is
    return root;
  }
  const tokens = md.parse(text, {});
  const tasks = findTasks(tokens);
  /** @type {Node[]} */
  const open = [root];
  for (const token of tokens) {
    const parent = open[open.length - 1] ?? root;
    if (token.nesting === 1) {
      open.push(openBlock(token, parent, tasks));
      continue;
    }
    if (token.nesting === -1) {
      if (open.length > 1) open.pop();
    } else if (token.type === 'inline') {
      const checked = tasks.get(token);
      if (checked !== undefined) {
        parent.appendChild(h('input', { className: 'md-task-box', type: 'checkbox', checked, disabled: true }));
      }
      appendInline(parent, token.children ?? []);
      continue;
    } else if (token.type === 'fence' || token.type === 'code_block') {
      parent.appendChild(codeBlock(token));
    } else if (token.type === 'hr') {
      parent.appendChild(h('hr'));
    } else {
      parent.appendChild(h('p', { text: token.content })); // raw HTML (never, with html: false): text
    }
    // A line after each block, as in the Markdown: the text reads as written (textContent).
    (open[open.length - 1] ?? root).appendChild(document.createTextNode('\n'));
  }
  return root;
}
