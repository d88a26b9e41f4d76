// @ts-check
// The sign-in dialog: an email address, and a link mailed to it. Opened by
// "signin-wanted", from wherever signing in is offered or needed.

import { ApiError, listCotos, requestSigninLink } from './api.js';
import { byId } from './dom.js';
import { closeOnBackdrop, describe, problemLine, refocus } from './forms.js';
import { rememberReturnPath } from './router.js';
import { on, state } from './state.js';

const dialog = byId('signin-dialog', HTMLDialogElement);
const note = byId('signin-note', HTMLParagraphElement);
const form = byId('signin-form', HTMLFormElement);
const emailInput = byId('signin-email', HTMLInputElement);
const saveRow = byId('signin-save-row', HTMLDivElement);
const save = byId('signin-save-anonymous', HTMLInputElement);
const problem = byId('signin-error', HTMLDivElement);
const submit = byId('signin-submit', HTMLButtonElement);
const sent = byId('signin-sent', HTMLDivElement);
const sentAddress = byId('signin-sent-address', HTMLElement);
const sentValidity = byId('signin-sent-validity', HTMLSpanElement);
const done = byId('signin-done', HTMLButtonElement);

let busy = false;
/** @type {Element | null} what had the focus before the dialog opened */
let opener = null;

/**
 * @param {string} title
 * @param {string} description
 */
function showDialogError(title, description) {
  problem.replaceChildren(problemLine(title, description));
}

function clearDialogError() {
  problem.replaceChildren();
  emailInput.setAttribute('aria-invalid', 'false');
}

/** Whether the "save the anonymous cotos" choice makes sense: an anonymous pad with cotos. */
async function updateSaveChoice() {
  if (state.amishi !== null) {
    saveRow.hidden = true;
    return;
  }
  if (state.confirmToken === null && state.place === null && state.cotosShown !== null) {
    saveRow.hidden = state.cotosShown === 0;
    return;
  }
  saveRow.hidden = true; // the pad is not on screen: ask whether it has any
  try {
    const page = await listCotos(null, 1);
    saveRow.hidden = state.amishi !== null || !(Array.isArray(page.cotos) && page.cotos.length > 0);
  } catch {
    // Without knowing, the choice stays hidden; signing in works all the same.
  }
}

/**
 * Opens the sign-in dialog; `why` says why signing in is needed here, if it is.
 * @param {string} why
 */
function openSigninDialog(why) {
  opener = document.activeElement;
  note.textContent = why;
  note.hidden = !why;
  form.hidden = false;
  sent.hidden = true;
  dialog.setAttribute('aria-labelledby', 'signin-title');
  clearDialogError();
  updateSaveChoice();
  if (!dialog.open) dialog.showModal();
  emailInput.focus();
  emailInput.select();
}

function closeSigninDialog() {
  if (dialog.open) dialog.close();
}

/** @param {number | undefined} seconds */
function waitText(seconds) {
  if (seconds === undefined || !Number.isFinite(seconds)) return '';
  if (seconds < 90) return ' Try again in a minute.';
  return ` Try again in about ${Math.ceil(seconds / 60)} minutes.`;
}

async function submitSignin() {
  if (busy) return;
  const email = emailInput.value.trim();
  if (!email) {
    showDialogError('Enter your email address.', 'The sign-in link is mailed to it.');
    emailInput.setAttribute('aria-invalid', 'true');
    emailInput.focus();
    return;
  }
  busy = true;
  clearDialogError();
  form.classList.add('is-busy');
  submit.disabled = true;
  submit.textContent = 'Sending…';
  try {
    const saveAnonymous = !saveRow.hidden && save.checked;
    rememberReturnPath();
    const answer = await requestSigninLink(email, saveAnonymous);
    // The service says how long its links work; the mail says the same.
    const minutes = Number.isInteger(answer?.expires_minutes) ? answer.expires_minutes : 10;
    sentAddress.textContent = email;
    sentValidity.textContent = `it works once, within ${minutes}\u00a0minutes`;
    form.hidden = true;
    sent.hidden = false;
    dialog.setAttribute('aria-labelledby', 'signin-sent-title');
    done.focus();
  } catch (error) {
    if (error instanceof ApiError && error.status === 400) {
      showDialogError('Check the address.', error.description);
      emailInput.setAttribute('aria-invalid', 'true');
      emailInput.focus();
    } else if (error instanceof ApiError && error.status === 429) {
      showDialogError(`${error.title}.`, `${error.description}${waitText(error.retryAfter)}`);
    } else {
      showDialogError('No link was sent.', describe(error));
    }
  } finally {
    busy = false;
    form.classList.remove('is-busy');
    submit.disabled = false;
    submit.textContent = 'Send sign-in link';
  }
}

export function start() {
  on('signin-wanted', ({ note: why }) => openSigninDialog(why));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    submitSignin();
  });
  for (const id of ['signin-cancel', 'signin-close', 'signin-sent-close']) {
    byId(id, HTMLButtonElement).addEventListener('click', closeSigninDialog);
  }
  done.addEventListener('click', closeSigninDialog);
  byId('signin-again', HTMLButtonElement).addEventListener('click', () => openSigninDialog(note.textContent ?? ''));
  emailInput.addEventListener('input', () => {
    if (emailInput.getAttribute('aria-invalid') === 'true') clearDialogError();
  });
  closeOnBackdrop(dialog);
  dialog.addEventListener('close', () => {
    refocus(opener);
    opener = null;
  });
}
