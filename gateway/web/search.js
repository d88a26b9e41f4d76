// @ts-check
// Search: the box in the header ("/" focuses it; on a narrow screen it folds into
// a button that opens it) and the cotos that contain the text, newest first, shown
// in place of the page (GET /api/search). Each result says where it was posted,
// who wrote it and when, with the text found marked, and is a link to its place
// at that coto (router.js cotoHref; timeline.js shows it). Esc, or the close
// buttons, put the page back as it was; going anywhere closes the results.
// What people wrote goes in as text (textContent), never as HTML.

/** @import { Coto, CotoPage } from './api.js' */

import { request } from './api.js';
import { clearError, showError } from './alerts.js';
import { authorElement, byId, cotonomaIcon, h } from './dom.js';
import { formatFull, formatWhen } from './format.js';
import { cotoHref } from './router.js';
import { on } from './state.js';

const main = byId('main', HTMLElement);
const form = byId('search-form', HTMLFormElement);
const toggle = byId('search-toggle', HTMLButtonElement);
const input = byId('search-input', HTMLInputElement);
const clear = byId('search-clear', HTMLButtonElement);
const results = byId('search-results', HTMLElement);
const heading = byId('search-heading', HTMLHeadingElement);
const status = byId('search-status', HTMLParagraphElement);
const list = byId('search-list', HTMLOListElement);
const more = byId('search-more', HTMLButtonElement);

const SNIPPET_CHARS = 280; // a longer coto shows this much of itself, around the first match
const SNIPPET_BEFORE = 60; // of which this much comes before the match

/** @type {string} the text the results on screen were found for */
let query = '';
/** @type {string | null} the cursor of the next page of results */
let next = null;
let found = 0; // results on screen
let asked = 0; // bumped by every search and by closing: an older answer is dropped
/** @type {HTMLElement | null} where the focus was before the search: Esc brings it back */
let returnTo = null;
let scrollBefore = 0;

/**
 * GET /api/search: the cotos one may read that contain q, newest first.
 * @param {string} q
 * @param {string | null} before
 * @returns {Promise<CotoPage>}
 */
function searchCotos(q, before) {
  const params = new URLSearchParams({ q });
  if (before) params.set('before', before);
  return request('GET', `/api/search?${params}`);
}

/**
 * The text as a pattern matching it anywhere, in any case (as the search does).
 * @param {string} text
 */
const patternOf = (text) => new RegExp(text.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&'), 'giu');

/**
 * A long coto's part around its first match, with "…" where it was cut; a short one whole.
 * @param {string} content
 * @param {RegExp} pattern
 */
function snippet(content, pattern) {
  if (content.length <= SNIPPET_CHARS) return content;
  pattern.lastIndex = 0;
  const at = pattern.exec(content)?.index ?? 0;
  let end = Math.min(content.length, Math.max(at - SNIPPET_BEFORE, 0) + SNIPPET_CHARS);
  let from = Math.max(0, end - SNIPPET_CHARS);
  // Never half of a character (a surrogate pair).
  if (/[\uDC00-\uDFFF]/.test(content.charAt(from))) from += 1;
  if (/[\uD800-\uDBFF]/.test(content.charAt(end - 1))) end -= 1;
  return `${from > 0 ? '…' : ''}${content.slice(from, end)}${end < content.length ? '…' : ''}`;
}

/**
 * The text as nodes, each match of the pattern in a <mark>.
 * @param {string} text
 * @param {RegExp} pattern
 * @returns {(Node | string)[]}
 */
function marked(text, pattern) {
  /** @type {(Node | string)[]} */
  const nodes = [];
  let last = 0;
  pattern.lastIndex = 0; // matchAll starts where the pattern's last use (snippet) ended
  for (const match of text.matchAll(pattern)) {
    if (match.index > last) nodes.push(text.slice(last, match.index));
    nodes.push(h('mark', { className: 'search-mark', text: match[0] }));
    last = match.index + match[0].length;
  }
  if (last < text.length) nodes.push(text.slice(last));
  return nodes;
}

/**
 * One result: where it was posted, its text (the link to it there), who wrote it and when.
 * @param {Coto} coto
 * @param {RegExp} pattern
 */
function resultElement(coto, pattern) {
  const where = coto.posted_in && typeof coto.posted_in.key === 'string' ? coto.posted_in : null;
  const place = where
    ? h('span', { className: 'search-result-place' }, cotonomaIcon('search-result-place-icon'),
      h('span', { className: 'search-result-place-name', text: where.name || 'A cotonoma' }))
    : h('span', { className: 'search-result-place is-home', text: 'Home' });
  const text = h('span', { className: 'search-result-text' }, ...marked(snippet(coto.content, pattern), pattern));
  if (coto.as_cotonoma) text.prepend(cotonomaIcon('search-result-cotonoma-icon'));
  return h('li', { className: 'search-result', dataset: { id: coto.id } },
    place,
    h('a', { className: 'search-result-link', href: cotoHref(coto.id, where?.key) }, text),
    h('div', { className: 'coto-meta search-result-meta' },
      authorElement(coto.amishi),
      h('time', {
        className: 'coto-time', datetime: coto.created_at, title: formatFull(coto.created_at),
        text: formatWhen(coto.created_at),
      })));
}

/** Says how many were found, for the eye and (aria-live) for screen readers. */
function showCount() {
  status.classList.toggle('is-empty', found === 0);
  if (found === 0) {
    status.replaceChildren(h('span', { className: 'empty-title', text: `No cotos contain “${query}”.` }),
      'Try a shorter or different text.');
    return;
  }
  const cotos = `${found} ${found === 1 ? 'coto' : 'cotos'}`;
  status.textContent = next ? `${cotos} shown; there are more.` : `${cotos} found.`;
}

/**
 * Asks for a page of results: the first of a new search, or the next one (more).
 * @param {string} q
 * @param {string | null} before
 */
async function search(q, before) {
  const mine = ++asked;
  const pattern = patternOf(q);
  const fromMore = document.activeElement === more; // before it is disabled, and loses the focus
  results.setAttribute('aria-busy', 'true');
  more.disabled = true;
  if (!before) {
    show(q);
    status.textContent = 'Searching…';
  }
  try {
    const page = await searchCotos(q, before);
    if (mine !== asked) return;
    clearError();
    const cotos = (Array.isArray(page.cotos) ? page.cotos : []).filter((c) => c && typeof c.id === 'string');
    const added = cotos.map((coto) => resultElement(coto, pattern));
    list.append(...added);
    // Asked for with "More results": the first of them takes the focus (the button may go).
    if (fromMore) added[0]?.querySelector('a')?.focus();
    found += cotos.length;
    next = page.next || null;
    showCount();
  } catch (error) {
    if (mine !== asked) return;
    showError(before ? 'More results could not be loaded.' : 'The search could not be done.', error);
    if (!before) status.textContent = 'The search could not be done.';
  } finally {
    if (mine === asked) {
      results.removeAttribute('aria-busy');
      more.disabled = false;
      more.hidden = !next;
    }
  }
}

/**
 * Shows the results region, empty, for a new search; the page steps aside (css/search.css).
 * @param {string} q
 */
function show(q) {
  if (results.hidden) scrollBefore = window.scrollY;
  query = q;
  next = null;
  found = 0;
  list.replaceChildren();
  more.hidden = true;
  heading.textContent = `Results for “${q}”`;
  results.hidden = false;
  main.classList.add('is-searching');
  setOpen(true);
  window.scrollTo(0, 0);
  heading.focus({ preventScroll: true });
}

/**
 * The box, open or folded (only a narrow screen folds it: css/search.css).
 * @param {boolean} open
 */
function setOpen(open) {
  form.classList.toggle('is-open', open);
  toggle.setAttribute('aria-expanded', String(open));
  showClear();
}

/** The box's close button, whenever there is something to close. */
function showClear() {
  clear.hidden = !input.value && results.hidden && !form.classList.contains('is-open');
}

/** Whether the box folds into its button (a narrow screen). */
const folds = () => getComputedStyle(toggle).display !== 'none';

/**
 * Closes the search: the results, the box's text, and (narrow) the box itself.
 * @param {'back' | 'box' | 'none'} focus back where the person was before searching, in the box, or left alone
 */
function close(focus) {
  asked += 1;
  const wasShowing = !results.hidden;
  results.hidden = true;
  main.classList.remove('is-searching');
  list.replaceChildren();
  status.textContent = '';
  input.value = '';
  setOpen(false);
  if (focus === 'none') return;
  if (wasShowing) window.scrollTo(0, scrollBefore);
  if (focus === 'box' && !folds()) input.focus();
  else if (focus === 'back' && returnTo?.isConnected && returnTo.checkVisibility()) returnTo.focus({ preventScroll: true });
  else if (folds()) toggle.focus();
  else main.focus({ preventScroll: true });
}

/** Opens the box (narrow: unfolds it) and puts the focus in it. */
function focusBox() {
  setOpen(true);
  input.focus();
  input.select();
}

/**
 * Whether typing in this element writes into it (so "/" is a character there, not a shortcut).
 * @param {EventTarget | null} target
 */
function isTextField(target) {
  if (!(target instanceof HTMLElement)) return false;
  if (target.isContentEditable || target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement) return true;
  return target instanceof HTMLInputElement &&
    !['button', 'checkbox', 'color', 'file', 'image', 'radio', 'range', 'reset', 'submit'].includes(target.type);
}

/** @param {KeyboardEvent} event */
function onKey(event) {
  if (event.key !== '/' || event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey ||
      event.isComposing || isTextField(event.target) || document.querySelector('dialog[open]')) return;
  event.preventDefault(); // the "/" is not typed into the box
  focusBox();
}

/** @param {KeyboardEvent} event */
function onEscape(event) {
  if (event.key !== 'Escape' || event.defaultPrevented) return;
  if (results.hidden && !form.classList.contains('is-open') && !input.value) return;
  event.preventDefault();
  close('back');
}

export function start() {
  document.addEventListener('keydown', onKey);
  form.addEventListener('keydown', onEscape);
  results.addEventListener('keydown', onEscape);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const q = input.value.trim();
    if (q) search(q, null);
    else input.focus();
  });
  // Where the person was, remembered as the focus comes into the search from elsewhere.
  form.addEventListener('focusin', (event) => {
    const from = event.relatedTarget instanceof HTMLElement ? event.relatedTarget : null;
    if (from && results.contains(from)) return; // back from the results: the same search goes on
    if (from && !form.contains(from)) returnTo = from;
    else if (results.hidden) returnTo = null; // from nowhere, or the box's own button: nothing to go back to
  });
  // Narrow: an empty box folds again once the focus has left it.
  form.addEventListener('focusout', () => setTimeout(() => {
    if (!form.contains(document.activeElement) && !input.value && results.hidden) setOpen(false);
  }));
  input.addEventListener('input', showClear);
  toggle.addEventListener('click', focusBox);
  clear.addEventListener('click', () => close('box'));
  byId('search-done', HTMLButtonElement).addEventListener('click', () => close('back'));
  more.addEventListener('click', () => {
    if (next) search(query, next);
  });
  // Going anywhere (a result, a link, another person) leaves the results.
  on('place', () => close('none'));
  // The alert's dismiss button asks for the composer, which the results hide: their heading instead.
  on('composer-focus', () => {
    if (!results.hidden) heading.focus();
  });
}
