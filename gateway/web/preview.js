// @ts-check
// Write and Preview: a pair of toggle buttons (aria-pressed) that show a draft's Markdown,
// drawn as its coto will be (markdown.js), in place of its textarea, and back. Used by the
// composer and by a coto edited in place.

import { h } from './dom.js';
import { renderMarkdown } from './markdown.js';

/**
 * @typedef {object} Preview
 * @property {HTMLElement} group the two buttons, to put where the form wants them
 * @property {HTMLElement} preview where the draft is drawn, to put beside the textarea
 * @property {() => void} write back to writing (after posting, say); the textarea is not focused
 */

/**
 * @param {HTMLTextAreaElement} input
 * @param {string} id an id for the preview, unique on the page
 * @returns {Preview}
 */
export function previewToggle(input, id) {
  const writeButton = h('button', {
    className: 'write-preview-button', type: 'button', 'aria-pressed': 'true', 'aria-controls': input.id,
  }, 'Write');
  const previewButton = h('button', {
    className: 'write-preview-button', type: 'button', 'aria-pressed': 'false', 'aria-controls': id,
  }, 'Preview');
  const group = h('div', { className: 'write-preview', role: 'group', 'aria-label': 'Write or preview' },
    writeButton, previewButton);
  const preview = h('div', {
    className: 'markdown write-preview-area', id, role: 'region', 'aria-label': 'Preview', hidden: true,
  });

  /** @param {boolean} previewing */
  const show = (previewing) => {
    if (previewing) {
      // As tall as the textarea was, at least: the buttons below stay where they were.
      preview.style.minHeight = `${input.offsetHeight}px`;
      const blank = input.value.trim() === '';
      preview.replaceChildren(blank ? h('p', { className: 'write-preview-empty', text: 'Nothing to preview yet.' })
        : renderMarkdown(input.value));
    }
    input.hidden = previewing;
    preview.hidden = !previewing;
    writeButton.setAttribute('aria-pressed', String(!previewing));
    previewButton.setAttribute('aria-pressed', String(previewing));
  };
  writeButton.addEventListener('click', () => {
    show(false);
    input.focus();
  });
  previewButton.addEventListener('click', () => show(true));
  return { group, preview, write: () => show(false) };
}
