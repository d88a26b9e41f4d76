// @ts-check
// The confirm page of a sign-in link (/signin/TOKEN): whom it signs in (the
// whole address: the link came in its mail), how many anonymous cotos of the browser that asked for it would join the account
// (whoever asked chose that, not necessarily the person here, who may decline
// them), and buttons that use it up. Mail scanners open links too, so opening
// the page consumes nothing; a button does, and then the page is the one the
// link was asked for from. A used link in a browser signed in already says
// who is signed in, not that the link is used.

import { ApiError, inspectSigninLink, signIn } from './api.js';
import { byId, h } from './dom.js';
import { formatNumber } from './format.js';
import { describe } from './forms.js';
import { takeReturnPath } from './router.js';
import { emit, identityReady, state } from './state.js';

const page = byId('confirm', HTMLElement);
const checking = byId('confirm-checking', HTMLParagraphElement);
const signinCard = byId('confirm-signin', HTMLDivElement);
const email = byId('confirm-email', HTMLSpanElement);
const button = byId('confirm-button', HTMLButtonElement);
const anonymous = byId('confirm-anonymous', HTMLParagraphElement);
const declineButton = byId('confirm-decline', HTMLButtonElement);
const problem = byId('confirm-problem', HTMLDivElement);
const errorCard = byId('confirm-error', HTMLDivElement);
const errorTitle = byId('confirm-error-title', HTMLHeadingElement);
const errorText = byId('confirm-error-text', HTMLParagraphElement);
const retryButton = byId('confirm-retry', HTMLButtonElement);
const alreadyCard = byId('confirm-already', HTMLDivElement);
const alreadyEmail = byId('confirm-already-email', HTMLSpanElement);

/**
 * What to say about a link that cannot sign anyone in, and what to do next.
 * @param {unknown} error
 * @returns {{ title: string, text: string, retry?: boolean }}
 */
function linkTrouble(error) {
  if (!(error instanceof ApiError)) {
    console.error(error);
    return { title: 'Something went wrong', text: 'This page ran into a problem. Reload it and try again.', retry: true };
  }
  if (error.status === 410 && /used/i.test(error.title)) {
    return {
      title: error.title,
      text: 'Each sign-in link works only once, and this one has signed someone in already. ' +
        'Ask for a new link, then open the newest mail.',
    };
  }
  if (error.status === 410) {
    return {
      title: error.title,
      text: 'A sign-in link works for 10 minutes after it was asked for. Ask for a new link and open it soon after it arrives.',
    };
  }
  if (error.status === 400) {
    return {
      title: 'Not a sign-in link',
      text: 'This address is not a working sign-in link; it may have been cut short when it was copied. Ask for a new link.',
    };
  }
  return { title: error.status === 429 ? error.title : 'The link could not be checked', text: error.description, retry: true };
}

/**
 * @param {unknown} error
 * @param {() => void} retry
 */
function showLinkTrouble(error, retry) {
  const trouble = linkTrouble(error);
  checking.hidden = true;
  signinCard.hidden = true;
  errorTitle.textContent = trouble.title;
  errorText.textContent = trouble.text;
  retryButton.hidden = !trouble.retry;
  retryButton.onclick = trouble.retry ? retry : null;
  errorCard.hidden = false;
}

/**
 * What signing in would save of the browser that asked for the link, and the
 * way to decline it; nothing is said when nothing would be saved.
 * @param {number | null} count null: the link saves a pad that cannot be counted just now
 */
function showAnonymousCotos(count) {
  const some = count === null || count > 0;
  anonymous.hidden = !some;
  declineButton.hidden = !some;
  if (count === null) {
    anonymous.textContent = 'Any cotos from the browser that asked will be saved into this account.';
  } else if (count > 0) {
    const cotos = count === 1 ? 'coto' : 'cotos';
    anonymous.textContent = `${formatNumber(count)} ${cotos} from the browser that asked will be saved into this account.`;
  }
}

/**
 * A used link opened in a browser where someone is signed in (the mail opened a second
 * time, most likely): who that is and the way home, rather than "already used".
 * @param {unknown} error
 * @returns {Promise<boolean>} whether it was so
 */
async function signedInAlready(error) {
  if (!(error instanceof ApiError && error.status === 410 && /used/i.test(error.title))) return false;
  await identityReady;
  const amishi = state.amishi;
  if (!amishi) return false;
  alreadyEmail.textContent = amishi.email || amishi.display_name;
  checking.hidden = true;
  signinCard.hidden = true;
  errorCard.hidden = true;
  alreadyCard.hidden = false;
  document.title = 'Signed in — Cotoami';
  return true;
}

/** Shows whom the link signs in, consuming nothing. */
async function checkLink() {
  errorCard.hidden = true;
  signinCard.hidden = true;
  checking.hidden = false;
  const token = state.confirmToken ?? '';
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(token)) {
    showLinkTrouble(new ApiError(400, 'Invalid sign-in link', ''), checkLink);
    return;
  }
  try {
    const link = await inspectSigninLink(token);
    email.textContent = link.email ?? link.email_hint ?? ''; // email_hint: from an auth of before
    const count = link.anonymous_cotos;
    showAnonymousCotos(count);
    problem.replaceChildren();
    checking.hidden = true;
    signinCard.hidden = false;
    button.focus();
  } catch (error) {
    if (!(await signedInAlready(error))) showLinkTrouble(error, checkLink);
  }
}

/**
 * A button: consumes the link, saving the anonymous cotos or declining them;
 * then the token leaves the address bar and the history, and the person is on
 * the page they asked for the link from.
 * @param {boolean} saveAnonymous
 */
async function confirmSignin(saveAnonymous) {
  button.disabled = true;
  declineButton.disabled = true;
  (saveAnonymous ? button : declineButton).textContent = 'Signing in…';
  problem.replaceChildren();
  try {
    const { amishi, saved_cotos: saved = 0 } = await signIn(state.confirmToken ?? '', saveAnonymous);
    history.replaceState(null, '', takeReturnPath());
    document.title = 'Cotoami';
    state.confirmToken = null;
    page.hidden = true;
    emit('signed-in', { amishi, saved });
  } catch (error) {
    if (error instanceof ApiError && (error.status === 400 || error.status === 410)) {
      showLinkTrouble(error, checkLink);
    } else {
      problem.replaceChildren(h('p', { className: 'confirm-problem-text' },
        h('strong', { text: 'You are not signed in yet.' }), ' ', describe(error)));
    }
  } finally {
    button.disabled = false;
    declineButton.disabled = false;
    button.textContent = 'Sign in';
    declineButton.textContent = 'Sign in without them';
  }
}

/** Shows the confirm page for the token in state.confirmToken. */
export function start() {
  document.title = 'Sign in — Cotoami';
  page.hidden = false;
  button.addEventListener('click', () => confirmSignin(true));
  declineButton.addEventListener('click', () => confirmSignin(false));
  byId('confirm-new-link', HTMLButtonElement).addEventListener('click', () => emit('signin-wanted', { note: '' }));
  // Leaving replaces the page, so the link's address does not stay in the history.
  for (const link of page.querySelectorAll('a[href="/"]')) {
    link.addEventListener('click', (event) => {
      const click = /** @type {MouseEvent} */ (event);
      if (click.button !== 0 || click.ctrlKey || click.metaKey || click.shiftKey || click.altKey) return;
      click.preventDefault();
      location.replace('/');
    });
  }
  checkLink();
}
