// @ts-check
// The (+) button and its dialog: a new cotonoma, made where the person is (at
// home, or inside the cotonoma on screen). Cotonomas need an account: without
// one, the button asks to sign in instead.

import { MAX_COTONOMA_NAME_CHARS, createCotonoma } from './api.js';
import { byId } from './dom.js';
import { closeOnBackdrop, describe, measure, problemLine, refocus, showCounter, statusOf } from './forms.js';
import { emit, identityReady, on, state } from './state.js';

const button = byId('new-cotonoma-button', HTMLButtonElement);
const dialog = byId('cotonoma-dialog', HTMLDialogElement);
const form = byId('cotonoma-form', HTMLFormElement);
const where = byId('cotonoma-where', HTMLSpanElement);
const nameInput = byId('cotonoma-name', HTMLInputElement);
const count = byId('cotonoma-count', HTMLSpanElement);
const problem = byId('cotonoma-error', HTMLDivElement);
const create = byId('cotonoma-create', HTMLButtonElement);

/** @type {{ key: string, name: string } | null} the cotonoma on screen, null at home or while one opens */
let here = null;
/** @type {Element | null} what had the focus before the dialog opened */
let opener = null;

async function newCotonoma() {
  await identityReady;
  if (!state.amishi) {
    emit('signin-wanted', { note: 'Cotonomas need an account: sign in with your email address, then make one.' });
    return;
  }
  opener = document.activeElement;
  nameInput.value = '';
  problem.replaceChildren();
  nameInput.setAttribute('aria-invalid', 'false');
  where.textContent = here ? `in “${here.name}”` : 'on your home timeline';
  updateCount();
  if (!dialog.open) dialog.showModal();
  nameInput.focus();
}

function updateCount() {
  const m = measure(nameInput.value, MAX_COTONOMA_NAME_CHARS);
  showCounter(count, m);
  create.disabled = form.classList.contains('is-busy') || m.over;
}

async function submitNewCotonoma() {
  if (form.classList.contains('is-busy')) return;
  const name = nameInput.value.trim();
  if (!name) {
    problem.replaceChildren(problemLine('Name the cotonoma.', 'A name of 1 to 50 characters.'));
    nameInput.setAttribute('aria-invalid', 'true');
    nameInput.focus();
    return;
  }
  const generation = state.generation;
  const parentKey = state.place;
  form.classList.add('is-busy');
  create.textContent = 'Creating…';
  updateCount();
  problem.replaceChildren();
  try {
    const created = await createCotonoma(name, parentKey);
    dialog.close();
    emit('cotonomas-changed', null);
    if (generation !== state.generation) return;
    emit('cotonoma-created', { cotonoma: created });
  } catch (error) {
    const status = statusOf(error);
    let title = 'No cotonoma was created.';
    if (status === 400) title = 'Check the name.';
    else if (status === 409) title = 'That name is taken here.';
    problem.replaceChildren(problemLine(title, describe(error)));
    nameInput.setAttribute('aria-invalid', status === 400 || status === 409 ? 'true' : 'false');
    nameInput.focus();
  } finally {
    form.classList.remove('is-busy');
    create.textContent = 'Create';
    updateCount();
  }
}

export function start() {
  button.addEventListener('click', newCotonoma);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    submitNewCotonoma();
  });
  for (const id of ['cotonoma-cancel', 'cotonoma-close']) {
    byId(id, HTMLButtonElement).addEventListener('click', () => dialog.close());
  }
  nameInput.addEventListener('input', () => {
    updateCount();
    if (nameInput.getAttribute('aria-invalid') === 'true') {
      nameInput.setAttribute('aria-invalid', 'false');
      problem.replaceChildren();
    }
  });
  closeOnBackdrop(dialog);
  dialog.addEventListener('close', () => {
    const focused = opener;
    opener = null;
    refocus(focused);
  });
  on('place', () => {
    here = null;
  });
  on('cotonoma-shown', ({ cotonoma }) => {
    here = { key: cotonoma.key, name: cotonoma.name };
  });
  on('cotonoma-renamed', ({ key, name }) => {
    if (here?.key === key) here = { key, name };
  });
}
