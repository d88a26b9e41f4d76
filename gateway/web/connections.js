// @ts-check
// A coto's connections, in a dialog opened from its Connections button (connect.js): what it
// connects to ("Connects to", in their order) and what connects to it ("Connected from"), each
// with its linking phrase. The person who made a connection may change its phrase (empty clears
// it) or delete the connection (so may the owner of the cotonoma it was made in); a link opens the other coto in its place, and "Graph" draws the
// neighbourhood (graph-view.js). Live connection events read it again while it is open.

/** @import { Coto } from './api.js' */
/** @import { Connection, Neighbour, Way } from './graph-api.js' */

import { h } from './dom.js';
import { closeOnBackdrop, describe, measure, problemLine, refocus, showCounter, statusOf } from './forms.js';
import { MAX_LINKING_PHRASE_CHARS, disconnect, excerpt, moreNeighbours, neighbourhood, setLinkingPhrase } from './graph-api.js';
import { cotoHref } from './router.js';
import { emit, on, state } from './state.js';
import { mayModerate } from './trash.js';

const title = h('h2', { className: 'dialog-title', id: 'connections-title', text: 'Connections' });
const closeButton = h('button', { className: 'dialog-close', type: 'button', 'aria-label': 'Close', title: 'Close' }, '×');
const subject = h('p', { className: 'dialog-text connections-subject' });
const graphButton = h('button', { className: 'button button-secondary button-small', id: 'connections-graph', type: 'button' }, 'Graph');
const status = h('p', { className: 'connections-status', role: 'status' });
const outgoingList = h('ul', { className: 'connection-list', id: 'connections-outgoing', 'aria-labelledby': 'connections-outgoing-heading' });
const incomingList = h('ul', { className: 'connection-list', id: 'connections-incoming', 'aria-labelledby': 'connections-incoming-heading' });
// A coto may have thousands of connections: they come 50 at a time, each way.
const moreOutgoing = h('button', { className: 'button button-quiet button-small connections-more', id: 'connections-more-outgoing', type: 'button', hidden: true }, 'Show more');
const moreIncoming = h('button', { className: 'button button-quiet button-small connections-more', id: 'connections-more-incoming', type: 'button', hidden: true }, 'Show more');
const problem = h('div', { className: 'dialog-error', id: 'connections-error', role: 'alert' });
const panel = h('div', { className: 'dialog-panel' },
  h('div', { className: 'dialog-head' }, title, closeButton), subject, status,
  h('h3', { className: 'connections-heading', id: 'connections-outgoing-heading', text: 'Connects to' }), outgoingList, moreOutgoing,
  h('h3', { className: 'connections-heading', id: 'connections-incoming-heading', text: 'Connected from' }), incomingList, moreIncoming,
  problem, h('div', { className: 'dialog-actions' }, graphButton));
const ways = /** @type {const} */ ({
  outgoing: { list: outgoingList, more: moreOutgoing },
  incoming: { list: incomingList, more: moreIncoming },
});
/** @type {Record<Way, string | null>} the cursor of each way's next page (null: all shown) */
const nextOf = { outgoing: null, incoming: null };
const dialog = h('dialog', { className: 'dialog connections-dialog', id: 'connections-dialog', 'aria-labelledby': 'connections-title' }, panel);

/** @type {Coto | null} the coto whose connections are shown */
let current = null;
/** @type {Element | null} */
let opener = null;
let reading = 0;

/**
 * The form that changes a connection's linking phrase, in place of its row.
 * @param {HTMLLIElement} li
 * @param {Connection} connection
 */
function editPhrase(li, connection) {
  const id = `phrase-${connection.id}`;
  const input = h('input', {
    className: 'field-input connection-phrase-input', id, type: 'text', autocomplete: 'off',
    'aria-describedby': `${id}-count`,
  });
  input.value = connection.linking_phrase ?? '';
  const counter = h('span', { className: 'char-count', id: `${id}-count` });
  const save = h('button', { className: 'button button-primary button-small connection-save', type: 'submit' }, 'Save');
  const cancel = h('button', { className: 'button button-quiet button-small', type: 'button' }, 'Cancel');
  const form = h('form', { className: 'connection-edit', novalidate: true },
    h('label', { className: 'visually-hidden', for: id, text: 'Linking phrase' }), input,
    h('div', { className: 'connection-edit-bar' }, counter, cancel, save));
  const refresh = () => {
    const m = measure(input.value.trim(), MAX_LINKING_PHRASE_CHARS);
    showCounter(counter, m);
    save.disabled = m.over || form.classList.contains('is-busy');
  };
  input.addEventListener('input', refresh);
  input.addEventListener('keydown', (event) => {
    if (event.key !== 'Escape') return;
    event.preventDefault(); // the phrase's editor closes, not the dialog
    load(true);
  });
  cancel.addEventListener('click', () => load(true));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (save.disabled) return;
    form.classList.add('is-busy');
    refresh();
    try {
      await setLinkingPhrase(connection.id, input.value.trim() || null);
      problem.replaceChildren();
      status.textContent = 'Linking phrase saved.';
      emit('graph-changed', null);
      await load(true);
    } catch (error) {
      form.classList.remove('is-busy');
      refresh();
      problem.replaceChildren(problemLine('The linking phrase was not saved.', describe(error)));
    }
  });
  li.replaceChildren(form);
  refresh();
  input.focus();
}

/**
 * @param {HTMLButtonElement} button
 * @param {Connection} connection
 */
async function remove(button, connection) {
  button.disabled = true;
  try {
    await disconnect(connection.id);
    problem.replaceChildren();
    status.textContent = 'Connection deleted.';
    emit('graph-changed', null);
  } catch (error) {
    if (statusOf(error) !== 404) problem.replaceChildren(problemLine('The connection was not deleted.', describe(error)));
  }
  await load(false);
  closeButton.focus();
}

/**
 * One connection: its phrase, the coto at its other end, and, for its maker, Edit and Delete.
 * @param {Neighbour} neighbour
 * @param {'outgoing' | 'incoming'} way
 */
function rowOf({ connection, coto }, way) {
  const what = excerpt(coto) || 'a coto';
  const li = h('li', { className: 'connection', dataset: { id: connection.id } });
  const phrase = connection.linking_phrase
    ? h('span', { className: 'connection-phrase', text: connection.linking_phrase })
    : h('span', { className: 'connection-phrase is-empty', text: way === 'outgoing' ? '→' : '←' });
  li.append(h('div', { className: 'connection-row' }, phrase,
    h('a', { className: 'connection-link', href: cotoHref(coto.id, coto.posted_in?.key), text: what })));
  // Its maker changes and deletes it; the owner of the cotonoma it was made in may delete it too.
  const mine = Boolean(state.amishi) && connection.created_by === state.amishi?.id;
  if (mine || (mayModerate() && connection.created_in === state.place)) {
    const edit = mine ? h('button', {
      className: 'button button-quiet button-small connection-edit-button', type: 'button', 'aria-label': `Edit the linking phrase to ${what}`,
    }, 'Edit') : null;
    const del = h('button', {
      className: 'button button-quiet button-small connection-delete', type: 'button', 'aria-label': `Delete the connection to ${what}`,
    }, 'Delete');
    const actions = h('div', { className: 'connection-actions' }, edit, del);
    edit?.addEventListener('click', () => editPhrase(li, connection));
    del.addEventListener('click', () => {
      // Asked first: its linking phrase goes with it.
      const yes = h('button', { className: 'button button-danger button-small connection-delete-confirm', type: 'button' }, 'Delete');
      const no = h('button', { className: 'button button-quiet button-small', type: 'button' }, 'Cancel');
      yes.addEventListener('click', () => remove(yes, connection));
      no.addEventListener('click', () => {
        actions.replaceChildren(...[edit, del].filter((b) => b !== null));
        del.focus();
      });
      actions.replaceChildren(h('span', { className: 'connection-question', text: 'Delete this connection?' }), yes, no);
      no.focus();
    });
    li.append(actions);
  }
  return li;
}

/**
 * Reads the coto's connections and shows them.
 * @param {boolean} keepFocus the focus goes back to the same connection's Edit button
 */
async function load(keepFocus) {
  if (!current) return;
  const coto = current;
  const read = ++reading;
  const focusedId = keepFocus ? /** @type {HTMLElement | null} */ (document.activeElement?.closest('li.connection'))?.dataset.id : undefined;
  try {
    const found = await neighbourhood(coto.id);
    if (read !== reading || current !== coto) return;
    subject.replaceChildren('Of: ', h('strong', { text: excerpt(found.coto ?? coto) || 'this coto' }));
    outgoingList.replaceChildren(...found.outgoing.map((n) => rowOf(n, 'outgoing')));
    incomingList.replaceChildren(...found.incoming.map((n) => rowOf(n, 'incoming')));
    showMore('outgoing', found.outgoingNext);
    showMore('incoming', found.incomingNext);
    const none = found.outgoing.length + found.incoming.length === 0;
    if (none) status.textContent = 'No connections yet. Select cotos with Connect, then choose “Connect here” on another.';
    else if (!keepFocus) status.textContent = '';
    if (focusedId) {
      const again = dialog.querySelector(`li.connection[data-id="${CSS.escape(focusedId)}"] .connection-edit-button`);
      if (again instanceof HTMLElement) again.focus();
    }
  } catch (error) {
    if (read !== reading) return;
    status.textContent = '';
    problem.replaceChildren(problemLine('The connections could not be loaded.', describe(error)));
  }
}

/**
 * @param {Way} way
 * @param {string | null} next
 */
function showMore(way, next) {
  nextOf[way] = next;
  ways[way].more.hidden = next === null;
}

/**
 * Reads the next page of one way and adds it under what is shown.
 * @param {Way} way
 */
async function readMore(way) {
  const coto = current;
  const after = nextOf[way];
  if (!coto || after === null) return;
  const { list, more } = ways[way];
  const read = reading;
  more.disabled = true;
  try {
    const page = await moreNeighbours(coto.id, way, after);
    if (read !== reading || current !== coto) return;
    list.append(...page.neighbours.map((n) => rowOf(n, way)));
    showMore(way, page.next);
  } catch (error) {
    if (read === reading) problem.replaceChildren(problemLine('More connections could not be loaded.', describe(error)));
  } finally {
    more.disabled = false;
  }
}

/**
 * @param {Coto} coto
 * @param {Element} from
 */
function open(coto, from) {
  current = coto;
  opener = from;
  subject.replaceChildren('Of: ', h('strong', { text: excerpt(coto) || 'this coto' }));
  outgoingList.replaceChildren();
  incomingList.replaceChildren();
  showMore('outgoing', null);
  showMore('incoming', null);
  problem.replaceChildren();
  status.textContent = 'Loading…';
  dialog.showModal();
  closeButton.focus();
  load(false);
}

export function start() {
  document.body.append(dialog);
  closeOnBackdrop(dialog);
  closeButton.addEventListener('click', () => dialog.close());
  moreOutgoing.addEventListener('click', () => readMore('outgoing'));
  moreIncoming.addEventListener('click', () => readMore('incoming'));
  dialog.addEventListener('close', () => {
    current = null;
    refocus(opener);
  });
  // A link to a coto opens it in its place (router.js follows it): the dialog makes way.
  dialog.addEventListener('click', (event) => {
    if (event.target instanceof Element && event.target.closest('a[href]')) dialog.close();
  });
  graphButton.addEventListener('click', () => {
    const coto = current;
    if (!coto) return;
    dialog.close();
    emit('graph-wanted', { cotoId: coto.id, opener: opener instanceof HTMLElement ? opener : null });
  });
  on('connections-wanted', ({ coto, opener: from }) => open(coto, from));
  for (const type of /** @type {const} */ (['live-connection', 'live-connection-updated', 'live-connection-deleted'])) {
    on(type, () => {
      if (dialog.open && !dialog.querySelector('form.connection-edit')) load(true);
    });
  }
  on('place', () => {
    if (dialog.open) dialog.close();
  });
}
