// @ts-check
// Who is signed in: the session check, the header (the Sign in button, or the
// amishi and Sign out), home's heading and the notices above its composer, the
// one saying how many anonymous cotos a sign-in saved, and what follows when
// the person changes: "identity" for the views, and the page again.

/** @import { Amishi } from './api.js' */

import { ApiError, currentSession, session, signOut } from './api.js';
import { showError, showMessage } from './alerts.js';
import { avatarElement, byId, h } from './dom.js';
import { formatNumber } from './format.js';
import { route } from './router.js';
import { emit, on, resolveIdentity, state } from './state.js';

const signinButton = byId('signin-button', HTMLButtonElement);
const sessionArea = byId('session', HTMLDivElement);
const signedIn = byId('session-signed-in', HTMLDivElement);
const identity = byId('identity', HTMLSpanElement);
const signoutButton = byId('signout-button', HTMLButtonElement);
const anonymousNotice = byId('anonymous-notice', HTMLParagraphElement);
const accountNotice = byId('account-notice', HTMLParagraphElement);
const accountNoticeName = byId('account-notice-name', HTMLSpanElement);
const homeTitle = byId('home-title', HTMLHeadingElement);
const homeNotices = byId('home-notices', HTMLDivElement);
const savedNotice = byId('saved-notice', HTMLParagraphElement);

/** @param {Amishi | null | undefined} amishi */
const idOf = (amishi) => amishi?.id ?? null;

/** The heading and the notices above the composer belong to home. */
function renderNotices() {
  const amishi = state.amishi;
  const known = amishi !== undefined;
  const home = state.place === null;
  homeTitle.hidden = !home;
  homeNotices.hidden = !home;
  homeNotices.classList.toggle('is-reserving', !amishi); // unknown yet, or nobody: see components.css
  anonymousNotice.hidden = !known || Boolean(amishi) || !home;
  accountNotice.hidden = !amishi || !home;
}

/**
 * How many anonymous cotos signing in saved into the account: said once, until the person goes elsewhere.
 * @param {number | null} saved null: cotos did not take them yet (auth hands them over later)
 */
function showSaved(saved) {
  if (saved === 0) return;
  savedNotice.hidden = false;
  savedNotice.textContent = saved === null
    ? 'Your anonymous cotos will be saved to your account shortly.'
    : `${formatNumber(saved)} ${saved === 1 ? 'coto' : 'cotos'} saved to your account.`;
}

/**
 * Shows who is signed in (or that nobody is) in the header and the notices,
 * then tells the views.
 * @param {boolean} changed another person (or nobody) than before
 */
function renderIdentity(changed) {
  const amishi = state.amishi;
  const known = amishi !== undefined;
  sessionArea.classList.toggle('is-pending', !known);
  signinButton.hidden = !known || Boolean(amishi) || state.confirmToken !== null;
  signedIn.hidden = !amishi;
  renderNotices();
  if (amishi) {
    identity.replaceChildren(
      avatarElement(amishi, 'amishi-avatar', 28),
      h('span', { className: 'amishi-name', text: amishi.display_name }),
    );
    identity.title = amishi.email ? `Signed in as ${amishi.display_name} (${amishi.email})` : `Signed in as ${amishi.display_name}`;
    accountNoticeName.textContent = amishi.email || amishi.display_name;
  } else {
    identity.replaceChildren();
    identity.removeAttribute('title');
  }
  if (!known) return;
  emit('identity', { amishi, changed });
  resolveIdentity();
}

/**
 * Someone (or nobody) is signed in now; a different person gets their own page.
 * @param {Amishi | null} amishi
 */
function setIdentity(amishi) {
  const before = state.amishi;
  state.amishi = amishi;
  const changed = idOf(before) !== idOf(amishi);
  renderIdentity(changed);
  if (before !== undefined && changed && state.confirmToken === null) route();
}

/** The session ended without the person asking (the refresh was refused). */
function sessionEnded() {
  if (state.amishi === null) return;
  const wasSignedIn = Boolean(state.amishi);
  state.amishi = null;
  renderIdentity(wasSignedIn);
  if (state.confirmToken !== null) return;
  route();
  if (wasSignedIn) showMessage('You are signed out.', 'Your session has ended. Sign in again to see your account’s cotos.');
}

/**
 * A sign-in link was used on the confirm page, which has left the address bar.
 * @param {Amishi} amishi
 */
function signedInByLink(amishi) {
  const changed = idOf(state.amishi) !== amishi.id;
  state.amishi = amishi;
  renderIdentity(changed);
  if (!changed) emit('cotonomas-changed', null); // the same person: their list, fresh
  route();
}

async function checkSession() {
  try {
    setIdentity(await currentSession());
  } catch (error) {
    if (error instanceof ApiError && error.signedOut) return; // sessionEnded() has shown it
    // Not known (offline, a failing service): offer signing in; the timeline says what failed.
    if (state.amishi === undefined) setIdentity(null);
  }
}

async function signOutNow() {
  signoutButton.disabled = true;
  try {
    await signOut();
    setIdentity(null);
    signinButton.focus();
  } catch (error) {
    showError('You are still signed in.', error);
  } finally {
    signoutButton.disabled = false;
  }
}

/** Listens, then asks who is signed in. */
export function start() {
  signoutButton.addEventListener('click', signOutNow);
  for (const opener of [signinButton, byId('notice-signin', HTMLButtonElement)]) {
    opener.addEventListener('click', () => emit('signin-wanted', { note: '' }));
  }
  session.addEventListener('signedout', sessionEnded);
  session.addEventListener('refreshed', (event) =>
    setIdentity(/** @type {CustomEvent<Amishi | null>} */ (event).detail || null));
  on('place', () => {
    savedNotice.hidden = true;
    renderNotices();
  });
  on('signed-in', ({ amishi, saved }) => {
    signedInByLink(amishi); // goes to the page: "place" clears the notices first
    showSaved(saved);
  });
  document.addEventListener('visibilitychange', () => {
    // Another tab may have signed in or out meanwhile: the cookies are shared.
    if (document.visibilityState === 'visible' && state.amishi !== undefined && state.confirmToken === null) {
      checkSession();
    }
  });
  checkSession();
}
