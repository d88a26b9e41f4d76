// @ts-check
// Small DOM helpers shared by the page: elements, icons and avatars.
// Text always goes in as text (textContent or text nodes), never as HTML.

/** @import { Amishi } from './api.js' */

/**
 * The page's element with this id, which must be of this type: a page that
 * lost one fails at start, not at the first click.
 * @template {Element} T
 * @param {string} id
 * @param {{ new (): T, prototype: T }} type
 * @returns {T}
 */
export function byId(id, type) {
  const el = document.getElementById(id);
  if (!(el instanceof type)) throw new Error(`#${id} is missing, or not a ${type.name}`);
  return el;
}

/**
 * A property of h(): a string is an attribute (true an empty one; null,
 * undefined and false none); `className`, `text` and `dataset` are set as
 * such, and any other non-string value as the element's own property.
 * @typedef {string | number | boolean | null | undefined | Record<string, string>} Prop
 */

/**
 * Makes an element: h('button', {className: 'x', type: 'button'}, 'text', child ...).
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, Prop>} [props]
 * @param {(Node | string | null | undefined | false)[]} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'className') el.className = String(value);
    else if (key === 'dataset' && typeof value === 'object') Object.assign(el.dataset, value);
    else if (key === 'text') el.textContent = String(value);
    else if (key in el && typeof value !== 'string') Object.assign(el, { [key]: value });
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    el.append(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return el;
}

// ------------------------------------------------------------------ icons

const SVG = 'http://www.w3.org/2000/svg';

/**
 * @param {string[]} paths
 * @param {string} [className]
 * @returns {SVGSVGElement}
 */
export function icon(paths, className = '') {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('width', '16');
  svg.setAttribute('height', '16');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  svg.setAttribute('class', className ? `icon ${className}` : 'icon');
  for (const d of paths) {
    const path = document.createElementNS(SVG, 'path');
    path.setAttribute('d', d);
    svg.append(path);
  }
  return svg;
}

export const pencilIcon = () => icon(['M4 20h4L19 9l-4-4L4 16v4z', 'M13.5 6.5l4 4']);
export const trashIcon = () => icon(['M4 7h16', 'M10 11v6', 'M14 11v6', 'M6 7l1 13h10l1-13', 'M9 7V4h6v3']);
/** A cotonoma: a room, drawn as a rounded frame holding a note. */
export const cotonomaIcon = (className = '') =>
  icon(['M5 4h14a1 1 0 0 1 1 1v14a1 1 0 0 1-1 1H5a1 1 0 0 1-1-1V5a1 1 0 0 1 1-1z', 'M8 9h8', 'M8 13h5'], className);
/** Points right; turned down (CSS) when what it discloses is open. */
export const chevronIcon = (className = '') => icon(['M9 6l6 6-6 6'], className);
export const peopleIcon = () => icon([
  'M9 11a3 3 0 1 0 0-6 3 3 0 0 0 0 6z', 'M3.5 19a5.5 5.5 0 0 1 11 0',
  'M16 5.3a3 3 0 0 1 0 5.4', 'M17.5 14.2A5.5 5.5 0 0 1 20.5 19',
]);

// ---------------------------------------------------------------- avatars

/**
 * The first character of a name, for an avatar that has no picture.
 * @param {string} name
 */
function initialOf(name) {
  const first = [...(name || '').trim()][0];
  return first ? first.toLocaleUpperCase() : '?';
}

/**
 * One of eight calm colours, always the same for the same amishi.
 * @param {string} id
 */
function hueOf(id) {
  let hash = 0;
  for (const c of String(id)) hash = (hash * 31 + (c.codePointAt(0) ?? 0)) % 997;
  return hash % 8;
}

/**
 * @param {string} url
 * @returns {string | null}
 */
function imageUrl(url) {
  try {
    const parsed = new URL(url, location.origin);
    return parsed.protocol === 'https:' || parsed.protocol === 'http:' ? parsed.href : null;
  } catch {
    return null;
  }
}

/**
 * A round avatar: the initial on a colour, covered by the picture once it has
 * loaded. A picture that fails (offline, blocked) is dropped, never shown broken.
 * @param {Amishi} amishi
 * @param {string} className
 * @param {number} size
 */
export function avatarElement(amishi, className, size) {
  const wrap = h('span', {
    className: `avatar avatar-hue-${hueOf(amishi.id)} ${className}`, 'aria-hidden': 'true',
  }, h('span', { className: 'avatar-initial', text: initialOf(amishi.display_name) }));
  const src = imageUrl(amishi.avatar_url);
  if (src) {
    const img = h('img', {
      className: 'avatar-image', alt: '', width: String(size), height: String(size), decoding: 'async',
      referrerpolicy: 'no-referrer',
    });
    img.addEventListener('load', () => wrap.classList.add('has-image'), { once: true });
    img.addEventListener('error', () => img.remove(), { once: true });
    img.src = src;
    wrap.append(img);
  }
  return wrap;
}

/**
 * Whether a value is an amishi as the API shows one (at least an id and a name).
 * @param {unknown} amishi
 * @returns {amishi is Amishi}
 */
export function isAmishi(amishi) {
  return typeof amishi === 'object' && amishi !== null && 'display_name' in amishi &&
    typeof amishi.display_name === 'string';
}

/**
 * A coto's (or a cotonoma's) author, small: only signed-in cotos have one.
 * @param {Amishi | null | undefined} amishi
 * @param {string} [className]
 */
export function authorElement(amishi, className = 'coto-author') {
  if (!isAmishi(amishi)) return null;
  return h('span', { className },
    avatarElement(amishi, 'coto-author-avatar', 20),
    h('span', { className: 'coto-author-name', text: amishi.display_name }));
}
