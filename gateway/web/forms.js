// @ts-check
// What every form of the page does alike: counting characters against a limit,
// the submit shortcut, error lines, and dialogs closed from their backdrop.

import { ApiError, MAX_CONTENT_CHARS } from './api.js';
import { h } from './dom.js';
import { charCount, formatNumber } from './format.js';

/**
 * @typedef {{ count: number, over: boolean, near: boolean, blank: boolean, label: string }} Measure
 */

// navigator.userAgentData is not in every browser (nor in TypeScript's DOM types yet).
const agentData = /** @type {{ userAgentData?: { platform?: string } }} */ (navigator).userAgentData;
export const isMac = /Mac|iPhone|iPad|iPod/.test(agentData?.platform || navigator.platform || '');

/**
 * Ctrl+Enter, or Cmd+Enter on a Mac, but never while an IME is composing.
 * @param {KeyboardEvent} event
 */
export function isSubmitShortcut(event) {
  return event.key === 'Enter' && (event.ctrlKey || event.metaKey) && !event.isComposing && event.keyCode !== 229;
}

/**
 * "123 / 10,000", and whether the text may be sent.
 * @param {string} text
 * @param {number} [max]
 * @returns {Measure}
 */
export function measure(text, max = MAX_CONTENT_CHARS) {
  const count = charCount(text);
  const over = count - max;
  const label = over > 0
    ? `${formatNumber(over)} too many (${formatNumber(count)} / ${formatNumber(max)})`
    : `${formatNumber(count)} / ${formatNumber(max)}`;
  return { count, over: over > 0, near: count > max * 0.95, blank: count === 0, label };
}

/**
 * @param {HTMLElement} el
 * @param {Measure} m
 */
export function showCounter(el, m) {
  el.textContent = m.label;
  el.classList.toggle('is-near', m.near && !m.over);
  el.classList.toggle('is-over', m.over);
}

/**
 * An error line for a dialog or a form: the title in bold, then what to do.
 * @param {string} title
 * @param {string} description
 */
export function problemLine(title, description) {
  return h('p', { className: 'dialog-error-text' }, h('strong', { text: title }), ' ', description);
}

/**
 * What went wrong, for a person: an API error's description, else a plain sentence.
 * @param {unknown} error
 */
export function describe(error) {
  if (!(error instanceof ApiError)) console.error(error);
  return error instanceof ApiError ? error.description : 'Something unexpected happened. Try again.';
}

/**
 * The status of an API error, 0 for anything else (offline, a bug).
 * @param {unknown} error
 */
export const statusOf = (error) => (error instanceof ApiError ? error.status : 0);

/**
 * A click on a dialog's backdrop (outside its panel) closes it, as Escape does.
 * @param {HTMLDialogElement} dialog
 */
export function closeOnBackdrop(dialog) {
  dialog.addEventListener('click', (event) => {
    if (event.target !== dialog) return;
    const box = dialog.getBoundingClientRect();
    const inside = event.clientX >= box.left && event.clientX <= box.right &&
      event.clientY >= box.top && event.clientY <= box.bottom;
    if (!inside) dialog.close();
  });
}

/**
 * Gives the focus back to what had it before a dialog opened, if that is still on screen.
 * @param {Element | null} opener
 */
export function refocus(opener) {
  if ((opener instanceof HTMLElement || opener instanceof SVGElement) && opener.isConnected && !opener.closest('[hidden]')) opener.focus();
}
