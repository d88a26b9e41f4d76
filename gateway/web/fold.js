// @ts-check
// Long cotos fold: a coto's content much taller than FOLD_LINES lines shows only those
// (clipped by max-height, css/timeline.css), with "Show more" to unfold it and "Show less"
// to fold it again. Its height is measured by a ResizeObserver, which calls back after
// layout and before the frame is painted: a long coto is never seen unfolded first, a
// short one is never touched, and a change of width (a phone turned) measures again.

import { h } from './dom.js';

const FOLD_LINES = 16;
const MORE_LINES = 4; // a coto folds only when that hides at least this many more lines

/** Cotos the person unfolded, by id: they stay unfolded when drawn again (edited, renamed). */
const unfolded = new Set();
let serial = 0;

/** @param {HTMLElement} content */
function lineHeight(content) {
  const style = getComputedStyle(content);
  return parseFloat(style.lineHeight) || parseFloat(style.fontSize) * 1.6 || 16;
}

/**
 * Folds or unfolds a coto's content for its height now, and shows or hides its button.
 * @param {HTMLElement} content
 * @param {HTMLButtonElement} button
 * @param {string} id
 */
function measure(content, button, id) {
  const limit = FOLD_LINES * lineHeight(content);
  const long = content.scrollHeight > limit + MORE_LINES * lineHeight(content);
  const open = unfolded.has(id);
  button.hidden = !long;
  content.classList.toggle('is-folded', long && !open);
  content.style.maxHeight = long && !open ? `${limit}px` : '';
  button.setAttribute('aria-expanded', String(!long || open));
  button.textContent = open ? 'Show less' : 'Show more';
}

/** @type {WeakMap<Element, () => void>} */
const measures = new WeakMap();
const observer = new ResizeObserver((entries) => {
  for (const { target } of entries) {
    if (!target.isConnected) observer.unobserve(target); // drawn anew, or gone
    else measures.get(target)?.();
  }
});

/**
 * The content's "Show more" button, which folds the content when it is long; the content
 * gets an id for it.
 * @param {HTMLElement} content
 * @param {string} id the coto's id
 */
export function foldButton(content, id) {
  content.id = `coto-content-${++serial}`;
  const button = h('button', {
    className: 'link-button coto-fold', type: 'button', 'aria-controls': content.id, 'aria-expanded': 'true',
    hidden: true,
  }, 'Show more');
  button.addEventListener('click', () => {
    if (unfolded.has(id)) unfolded.delete(id);
    else unfolded.add(id);
    measure(content, button, id);
    // Folded again from below: the coto's start back in view, not some coto further down.
    if (!unfolded.has(id) && content.getBoundingClientRect().top < 0) content.scrollIntoView({ block: 'start' });
  });
  measures.set(content, () => measure(content, button, id));
  observer.observe(content);
  return button;
}
