// @ts-check
// The alert area above the composer: what failed, and what to do about it.

import { ApiError } from './api.js';
import { byId, h } from './dom.js';
import { emit } from './state.js';

const area = byId('error-area', HTMLDivElement);

export function clearError() {
  area.replaceChildren();
}

/**
 * Shows an API error's description in the alert area, with what we were doing.
 * @param {string} context
 * @param {unknown} error
 */
export function showError(context, error) {
  const description = error instanceof ApiError
    ? error.description
    : 'Something unexpected happened in this page. Reload it and try again.';
  if (!(error instanceof ApiError)) console.error(error);
  showMessage(context, description);
}

/**
 * @param {string} context
 * @param {string} description
 */
export function showMessage(context, description) {
  const dismiss = h('button', {
    className: 'error-dismiss', type: 'button', 'aria-label': 'Dismiss this message', title: 'Dismiss',
  }, '×');
  dismiss.addEventListener('click', () => {
    clearError();
    emit('composer-focus', null);
  });
  area.replaceChildren(
    h('div', { className: 'error' },
      h('p', { className: 'error-text' },
        h('strong', { className: 'error-context', text: context }), ' ',
        h('span', { className: 'error-description', text: description })),
      dismiss),
  );
}
