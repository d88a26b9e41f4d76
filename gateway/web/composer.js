// @ts-check
// The composer: a new coto, posted where the person is (home or a cotonoma).

import { postCoto } from './api.js';
import { clearError, showError } from './alerts.js';
import { byId, h } from './dom.js';
import { isMac, isSubmitShortcut, measure, showCounter } from './forms.js';
import { previewToggle } from './preview.js';
import { emit, on, state } from './state.js';

const composer = byId('composer', HTMLFormElement);
const label = byId('composer-label', HTMLLabelElement);
const input = byId('coto-input', HTMLTextAreaElement);
const postButton = byId('post-button', HTMLButtonElement);
const charCount = byId('char-count', HTMLSpanElement);
const postHint = byId('post-hint', HTMLSpanElement);
const head = byId('composer-head', HTMLDivElement);
// Write and Preview beside the label; the preview takes the textarea's place.
const preview = previewToggle(input, 'coto-preview');

let posting = false;
// The Idempotency-Key of the draft being posted, kept until it is posted, so
// pressing Post again after a lost answer cannot post the same draft twice.
/** @type {{ content: string, place: string | null, key: string } | null} */
let draft = null;

function updateComposer() {
  const m = measure(input.value);
  showCounter(charCount, m);
  postButton.disabled = posting || m.blank || m.over;
  input.setAttribute('aria-invalid', m.over ? 'true' : 'false');
}

/** 128 random bits in hex (crypto.randomUUID exists only on HTTPS pages). */
function newIdempotencyKey() {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
}

async function submitComposer() {
  const m = measure(input.value);
  if (posting || m.blank || m.over) return;
  posting = true;
  composer.classList.add('is-busy');
  postButton.textContent = 'Posting…';
  updateComposer();
  const generation = state.generation;
  const content = input.value;
  const place = state.place;
  if (!draft || draft.content !== content || draft.place !== place) {
    draft = { content, place, key: newIdempotencyKey() };
  }
  try {
    const coto = await postCoto(content, place, draft.key);
    draft = null;
    if (generation === state.generation) {
      clearError();
      emit('coto-posted', { coto });
    }
    input.value = '';
    preview.write();
  } catch (error) {
    showError('Your coto was not posted.', error);
  } finally {
    posting = false;
    composer.classList.remove('is-busy');
    postButton.textContent = 'Post';
    updateComposer();
    input.focus();
  }
}

export function start() {
  head.append(preview.group);
  input.after(preview.preview);
  if (isMac) {
    postHint.replaceChildren(h('kbd', { text: '⌘' }), ' + ', h('kbd', { text: 'Enter' }), ' to post');
  }
  input.addEventListener('input', updateComposer);
  // The whole form's: the shortcut posts from the preview's buttons too.
  composer.addEventListener('keydown', (event) => {
    if (isSubmitShortcut(event)) {
      event.preventDefault();
      submitComposer();
    }
  });
  composer.addEventListener('submit', (event) => {
    event.preventDefault();
    submitComposer();
  });
  on('place', ({ key }) => {
    if (key === null) label.textContent = 'New coto';
  });
  on('cotonoma-entered', () => {
    label.textContent = 'New coto';
  });
  on('cotonoma-shown', ({ cotonoma }) => {
    label.textContent = `New coto in ${cotonoma.name}`;
  });
  on('cotonoma-renamed', ({ name }) => {
    label.textContent = `New coto in ${name}`;
  });
  on('composer-focus', () => {
    preview.write();
    input.focus();
  });
  updateComposer();
}
