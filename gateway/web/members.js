// @ts-check
// The members panel, for a cotonoma's owner: whom it is shared with, adding
// someone by email address (who gets an invitation), and removing them. It is
// behind a disclosure button in the header ("Shared with N"), open on entering
// only while nobody is in it, so that an owner sees how to share.

/** @import { Member } from './api.js' */

import { ApiError, addMember, listMembers, removeMember } from './api.js';
import { byId, h } from './dom.js';
import { formatFull, formatWhen } from './format.js';
import { describe, problemLine, statusOf } from './forms.js';
import { emit, isOwner, on, state } from './state.js';

const panel = byId('members-panel', HTMLElement);
const toggle = byId('members-toggle', HTMLButtonElement);
const toggleText = byId('members-toggle-text', HTMLSpanElement);
const list = byId('member-list', HTMLUListElement);
const empty = byId('member-empty', HTMLParagraphElement);
const form = byId('member-form', HTMLFormElement);
const emailInput = byId('member-email', HTMLInputElement);
const addButton = byId('member-add', HTMLButtonElement);
const problem = byId('member-error', HTMLDivElement);
const status = byId('member-status', HTMLParagraphElement);

/** @type {string | null} the key of the cotonoma whose members these are */
let cotonomaKey = null;
/** @type {Member[] | null} its members, once loaded */
let members = null;
let chosen = false; // the owner opened or closed the panel on this visit: it stays so

/** @param {boolean} open */
function showPanel(open) {
  panel.hidden = !open;
  toggle.setAttribute('aria-expanded', String(open));
}

/** @param {boolean} shared whether the cotonoma is shared, while its members are not known yet */
function renderToggle(shared) {
  const count = members === null ? null : members.length;
  let text = count === null && shared ? 'Shared' : 'Only you';
  if (count) text = `Shared with ${count} ${count === 1 ? 'person' : 'people'}`;
  toggleText.textContent = text;
  toggle.classList.toggle('is-private', text === 'Only you');
}

/** @param {Member} member */
function memberItem(member) {
  const remove = h('button', {
    className: 'button button-quiet button-small member-remove', type: 'button',
    'aria-label': `Remove ${member.email}`, title: `Stop sharing with ${member.email}`,
  }, 'Remove');
  remove.addEventListener('click', () => removeMemberNow(member, remove));
  const added = typeof member.added_at === 'string'
    ? h('time', { className: 'member-added', datetime: member.added_at, title: formatFull(member.added_at), text: `added ${formatWhen(member.added_at)}` })
    : null;
  return h('li', { className: 'member', dataset: { email: member.email } },
    h('span', { className: 'member-who' },
      h('span', { className: 'member-email', text: member.email }), added),
    remove);
}

function renderMembers() {
  const shown = members || [];
  list.replaceChildren(...shown.map(memberItem));
  empty.hidden = members === null || shown.length > 0;
  renderToggle(shown.length > 0);
  if (!chosen && members !== null && shown.length === 0) showPanel(true);
}

/** @param {string} key */
async function loadMembers(key) {
  const generation = state.generation;
  problem.replaceChildren();
  status.textContent = '';
  try {
    const loaded = await listMembers(key);
    if (generation !== state.generation) return;
    members = loaded.filter((m) => m && typeof m.email === 'string');
    renderMembers();
  } catch (error) {
    if (generation !== state.generation) return;
    if (error instanceof ApiError && (error.status === 403 || error.status === 404)) {
      hide(); // not the owner after all
      return;
    }
    problem.replaceChildren(problemLine('The members could not be loaded.', describe(error)));
  }
}

async function addMemberNow() {
  const key = cotonomaKey;
  if (form.classList.contains('is-busy') || key === null) return;
  const email = emailInput.value.trim();
  status.textContent = '';
  if (!email) {
    problem.replaceChildren(problemLine('Enter an email address.', 'The invitation is mailed to it.'));
    emailInput.setAttribute('aria-invalid', 'true');
    emailInput.focus();
    return;
  }
  const generation = state.generation;
  form.classList.add('is-busy');
  addButton.disabled = true;
  problem.replaceChildren();
  try {
    const member = await addMember(key, email);
    if (generation !== state.generation) return;
    const added = member && typeof member.email === 'string' ? member : { email, added_at: new Date().toISOString() };
    members = [...(members || []).filter((m) => m.email !== added.email), added];
    renderMembers();
    emailInput.value = '';
    status.textContent = `Shared with ${added.email}: an invitation is on its way.`;
    emit('cotonomas-changed', null);
  } catch (error) {
    if (generation !== state.generation) return;
    const code = statusOf(error);
    let title = 'Nobody was added.';
    if (code === 400) title = 'Check the address.';
    else if (code === 409) title = 'Already shared.';
    problem.replaceChildren(problemLine(title, describe(error)));
    emailInput.setAttribute('aria-invalid', code === 400 || code === 409 ? 'true' : 'false');
  } finally {
    form.classList.remove('is-busy');
    addButton.disabled = false;
    emailInput.focus();
  }
}

/**
 * @param {Member} member
 * @param {HTMLButtonElement} button
 */
async function removeMemberNow(member, button) {
  const key = cotonomaKey;
  if (key === null) return;
  const generation = state.generation;
  button.disabled = true;
  problem.replaceChildren();
  status.textContent = '';
  try {
    await removeMember(key, member.email);
  } catch (error) {
    if (generation !== state.generation) return;
    if (!(error instanceof ApiError && error.status === 404)) { // 404: not a member any more, as wanted
      button.disabled = false;
      problem.replaceChildren(problemLine(`${member.email} was not removed.`, describe(error)));
      return;
    }
  }
  if (generation !== state.generation) return;
  members = (members || []).filter((m) => m.email !== member.email);
  renderMembers();
  status.textContent = `${member.email} no longer sees this cotonoma.`;
  emailInput.focus();
  emit('cotonomas-changed', null);
}

function hide() {
  cotonomaKey = null;
  members = null;
  toggle.hidden = true;
  showPanel(false);
}

export function start() {
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    addMemberNow();
  });
  emailInput.addEventListener('input', () => {
    if (emailInput.getAttribute('aria-invalid') === 'true') {
      emailInput.setAttribute('aria-invalid', 'false');
      problem.replaceChildren();
    }
  });
  toggle.addEventListener('click', () => {
    chosen = true;
    showPanel(toggle.getAttribute('aria-expanded') !== 'true');
  });
  on('place', hide);
  on('not-found', () => {
    toggle.hidden = true;
    showPanel(false);
  });
  on('cotonoma-shown', ({ cotonoma }) => {
    if (!isOwner(cotonoma)) return;
    cotonomaKey = cotonoma.key;
    chosen = false;
    renderToggle(Boolean(cotonoma.shared));
    toggle.hidden = false;
    showPanel(!cotonoma.shared); // known empty: open at once, the page does not move when its members come
    loadMembers(cotonoma.key);
  });
}
