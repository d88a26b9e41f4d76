// @ts-check
// "Your data" in the header, beside Sign out: a small menu with "Export my data"
// (GET /api/export downloads cotoami-export.json) and "Import…", a dialog that
// sends an export file (this site's or the original Cotoami's) to POST /api/import
// as a job, shows its progress (GET /api/import/jobs/ID), then the counts and
// every rejected item with its reason. Built with elements and textContent only.

import { request } from './api.js';
import { showError } from './alerts.js';
import { byId, h, icon } from './dom.js';
import { formatNumber } from './format.js';
import { closeOnBackdrop, describe, problemLine, refocus } from './forms.js';
import { route } from './router.js';
import { emit, on } from './state.js';

export const MAX_IMPORT_BYTES = 50 * 1024 * 1024; // the gateway's cap for this route
const POLL_MS = 500;

/**
 * @typedef {{ json: unknown, reason: string }} Rejected
 * @typedef {{ cotos: { inserts: number, updates: number, cotonomas: number, rejected: Rejected[] },
 *   connections: { ok: number, rejected: Rejected[] } }} ImportResult
 * @typedef {{ id: string, state: 'queued' | 'running' | 'done' | 'failed',
 *   progress: { stage: string, done: number, total: number }, result: ImportResult | null,
 *   error: string | null }} ImportJob
 */

// ------------------------------------------------------------------ the menu

/** A box with a lid: what one keeps and takes away. */
const archiveIcon = () => icon(['M4 5h16v4H4z', 'M5 9v10h14V9', 'M10 13h4']);

const menuButton = h('button', {
  className: 'button button-quiet button-small archive-menu-button', id: 'archive-menu-button', type: 'button',
  'aria-expanded': 'false', 'aria-controls': 'archive-menu',
}, archiveIcon(), h('span', { className: 'archive-menu-label' }, 'Your data'));
const exportButton = h('button', { className: 'archive-menu-item', id: 'export-button', type: 'button' },
  'Export my data');
const importButton = h('button', { className: 'archive-menu-item', id: 'import-button', type: 'button',
  'aria-haspopup': 'dialog' }, 'Import…');
const menu = h('div', { className: 'archive-menu', id: 'archive-menu', hidden: true },
  exportButton, importButton);
const holder = h('div', { className: 'archive-menu-holder' }, menuButton, menu);

/** @param {boolean} open */
function setMenu(open) {
  menu.hidden = !open;
  menuButton.setAttribute('aria-expanded', String(open));
}

// ----------------------------------------------------------- the import dialog

const fileInput = h('input', { className: 'field-input', id: 'import-file', type: 'file',
  accept: '.json,application/json', 'aria-describedby': 'import-help' });
const startButton = h('button', { className: 'button button-primary', id: 'import-start', type: 'button' }, 'Import');
const closeButton = h('button', { className: 'button button-quiet', id: 'import-close', type: 'button' }, 'Close');
const problem = h('div', { className: 'dialog-error', id: 'import-error', role: 'alert' });
const bar = h('progress', { className: 'import-progress', id: 'import-progress', max: 1, value: 0, hidden: true });
const status = h('p', { className: 'dialog-text', id: 'import-status', role: 'status' });
const report = h('div', { className: 'import-report', id: 'import-report', hidden: true });
const dialog = h('dialog', { className: 'dialog', id: 'import-dialog', 'aria-labelledby': 'import-title' },
  h('div', { className: 'dialog-panel' },
    h('div', { className: 'dialog-head' }, h('h2', { className: 'dialog-title', id: 'import-title', text: 'Import' })),
    h('p', { className: 'dialog-text', id: 'import-help',
      text: 'A Cotoami export file (cotoami-export.json), from here or from the original Cotoami, up to 50 MiB. ' +
        'Its cotos keep their ids and dates; importing the same file again adds nothing.' }),
    h('label', { className: 'field-label', for: 'import-file', text: 'Export file' }),
    fileInput, problem, bar, status, report,
    h('div', { className: 'dialog-actions' }, closeButton, startButton)));

let importing = false;
let generation = 0; // a dialog opened again forgets what an earlier one was following

function openDialog() {
  setMenu(false);
  if (!importing) {
    problem.replaceChildren();
    status.textContent = '';
    report.hidden = true;
    report.replaceChildren();
    bar.hidden = true;
    fileInput.value = '';
  }
  dialog.showModal();
  (importing ? closeButton : fileInput).focus();
}

/**
 * An answer's error as the services write it, {title, description}.
 * @param {Response} response
 */
async function failure(response) {
  let title = 'The import was refused.';
  let description = `The request failed (${response.status}).`;
  try {
    const body = await response.json();
    if (body && typeof body.title === 'string') title = body.title;
    if (body && typeof body.description === 'string') description = body.description;
  } catch {
    // not JSON: the plain sentence above
  }
  return { title, description };
}

/** @param {ImportJob} job */
function showProgress(job) {
  const { done, total, stage } = job.progress;
  bar.hidden = false;
  bar.max = Math.max(total, 1);
  bar.value = Math.min(done, total);
  const what = stage === 'cotonomas' ? 'cotonomas' : stage === 'connections' ? 'connections and pins' : 'cotos';
  status.textContent = job.state === 'queued'
    ? 'Waiting to start…'
    : `Importing ${what}… ${formatNumber(done)} of ${formatNumber(total)} items`;
}

/**
 * A rejected item, in a line a person can read: what it was, then why.
 * @param {Rejected} rejected
 */
function rejectedLine(rejected) {
  const item = rejected.json;
  /** @type {string} */
  let what = 'An item';
  if (item && typeof item === 'object' && !Array.isArray(item)) {
    const fields = /** @type {Record<string, unknown>} */ (item);
    const text = typeof fields.content === 'string' ? fields.content : '';
    if (typeof fields.start === 'string' || typeof fields.end === 'string') {
      what = `Connection ${String(fields.start ?? '?')} → ${String(fields.end ?? '?')}`;
    } else if (typeof fields.id === 'string') {
      what = text ? `Coto “${text.length > 60 ? `${text.slice(0, 60)}…` : text}”` : `Coto ${fields.id}`;
    }
  }
  return h('li', { className: 'import-rejected-item' },
    h('span', { className: 'import-rejected-what', text: what }), ': ',
    h('span', { className: 'import-rejected-reason', text: rejected.reason }));
}

/** @param {ImportResult} result */
function showResult(result) {
  const { cotos, connections } = result;
  const rejected = [...cotos.rejected, ...connections.rejected];
  const counts = [
    ['Cotos added', cotos.inserts],
    ['Cotos updated', cotos.updates],
    ['Cotonomas added or updated', cotos.cotonomas],
    ['Connections and pins', connections.ok],
    ['Rejected', rejected.length],
  ];
  report.replaceChildren(
    h('dl', { className: 'import-counts', id: 'import-counts' }, ...counts.flatMap(([label, count]) => [
      h('dt', { text: String(label) }), h('dd', { text: formatNumber(Number(count)) })])),
  );
  if (rejected.length) {
    report.append(
      h('h3', { className: 'import-rejected-title', text: 'Not imported' }),
      h('ul', { className: 'import-rejected', id: 'import-rejected' }, ...rejected.map(rejectedLine)),
    );
  }
  report.hidden = false;
  bar.hidden = true;
  status.textContent = rejected.length
    ? `Imported, with ${formatNumber(rejected.length)} ${rejected.length === 1 ? 'item' : 'items'} not imported.`
    : 'Imported.';
}

/**
 * Follows the job until it is done (or failed); resolves to it.
 * @param {string} location
 * @param {number} mine
 * @returns {Promise<ImportJob | null>} null when a newer dialog took over
 */
async function follow(location, mine) {
  for (;;) {
    /** @type {{ job: ImportJob }} */
    const { job } = await request('GET', location);
    if (mine !== generation) return null;
    if (job.state === 'done' || job.state === 'failed') return job;
    showProgress(job);
    await new Promise((resolve) => { setTimeout(resolve, POLL_MS); });
  }
}

async function startImport() {
  const file = fileInput.files && fileInput.files[0];
  problem.replaceChildren();
  if (!file) {
    problem.replaceChildren(problemLine('No file chosen.', 'Choose an export file first.'));
    fileInput.focus();
    return;
  }
  if (file.size > MAX_IMPORT_BYTES) {
    problem.replaceChildren(problemLine('This file is too large.', 'An import file may be at most 50 MiB.'));
    return;
  }
  const mine = ++generation;
  importing = true;
  startButton.disabled = true;
  fileInput.disabled = true;
  report.hidden = true;
  status.textContent = 'Sending the file…';
  try {
    await request('GET', '/api/auth/session'); // a fresh access token for the upload (refreshed if need be)
    const response = await fetch('/api/import', {
      method: 'POST', body: file, credentials: 'same-origin', cache: 'no-store',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json', Prefer: 'respond-async' },
    });
    if (!response.ok) {
      const { title, description } = await failure(response);
      status.textContent = '';
      problem.replaceChildren(problemLine(title, description));
      return;
    }
    const location = response.headers.get('Location') || '';
    /** @type {{ job?: ImportJob } & Partial<ImportResult>} */
    const body = await response.json();
    const job = response.status === 200 ? null : await follow(location, mine);
    if (mine !== generation) return;
    const result = response.status === 200 ? /** @type {ImportResult} */ (body) : job && job.result;
    if (job && job.state === 'failed') {
      problem.replaceChildren(problemLine('The import stopped.', job.error || 'Try again: what was imported stays.'));
    }
    if (result) showResult(result);
    // What was imported shows where the person is: the list of cotonomas and the page, read again.
    emit('cotonomas-changed', null);
    route();
  } catch (error) {
    if (mine !== generation) return;
    status.textContent = '';
    problem.replaceChildren(problemLine('The import did not finish.', describe(error)));
  } finally {
    if (mine === generation) {
      importing = false;
      startButton.disabled = false;
      fileInput.disabled = false;
    }
  }
}

// ------------------------------------------------------------------ export

async function startExport() {
  setMenu(false);
  try {
    await request('GET', '/api/auth/session'); // a fresh access token for the download
  } catch (error) {
    showError('The export did not start.', error);
    return;
  }
  const link = h('a', { href: '/api/export', download: 'cotoami-export.json', hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  refocus(menuButton);
}

export function start() {
  byId('session-signed-in', HTMLDivElement).insertBefore(holder, byId('signout-button', HTMLButtonElement));
  document.body.append(dialog);
  closeOnBackdrop(dialog);
  menuButton.addEventListener('click', () => setMenu(Boolean(menu.hidden)));
  exportButton.addEventListener('click', startExport);
  importButton.addEventListener('click', openDialog);
  startButton.addEventListener('click', startImport);
  closeButton.addEventListener('click', () => dialog.close());
  dialog.addEventListener('close', () => refocus(menuButton));
  holder.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && !menu.hidden) {
      setMenu(false);
      menuButton.focus();
    }
  });
  document.addEventListener('click', (event) => {
    if (!menu.hidden && event.target instanceof Node && !holder.contains(event.target)) setMenu(false);
  });
  holder.addEventListener('focusout', (event) => {
    if (event.relatedTarget instanceof Node && !holder.contains(event.relatedTarget)) setMenu(false);
  });
  on('identity', ({ changed }) => {
    if (!changed) return;
    setMenu(false);
    generation += 1; // another person: what the dialog followed is not theirs
    importing = false;
    startButton.disabled = false;
    fileInput.disabled = false;
    if (dialog.open) dialog.close();
  });
}
