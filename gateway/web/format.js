// @ts-check
// Small pure helpers: counting characters the way the server does, and dates.

/**
 * The number of characters the server will count: Unicode code points of the
 * text without leading and trailing whitespace (the server strips it).
 * @param {string} text
 */
export function charCount(text) {
  // A string's iterator walks code points, so an emoji counts once, as on the server.
  return [...text.trim()].length;
}

const numberFormat = new Intl.NumberFormat();
/** @param {number} n */
export const formatNumber = (n) => numberFormat.format(n);

const timeOnly = new Intl.DateTimeFormat(undefined, { hour: 'numeric', minute: '2-digit' });
const sameYear = new Intl.DateTimeFormat(undefined, {
  month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit',
});
const otherYear = new Intl.DateTimeFormat(undefined, {
  year: 'numeric', month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit',
});
const full = new Intl.DateTimeFormat(undefined, {
  dateStyle: 'full', timeStyle: 'long',
});

/** @param {Date} date */
function startOfDay(date) {
  return new Date(date.getFullYear(), date.getMonth(), date.getDate()).getTime();
}

/**
 * A short, readable local time: "Today, 9:41 AM", "Mar 4, 9:41 AM", "Mar 4, 2023, 9:41 AM".
 * @param {string} iso
 */
export function formatWhen(iso, now = new Date()) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const days = Math.round((startOfDay(now) - startOfDay(date)) / 86400000);
  if (days === 0) return `Today, ${timeOnly.format(date)}`;
  if (days === 1) return `Yesterday, ${timeOnly.format(date)}`;
  if (date.getFullYear() === now.getFullYear()) return sameYear.format(date);
  return otherYear.format(date);
}

/**
 * The full local time, for a tooltip.
 * @param {string} iso
 */
export function formatFull(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : full.format(date);
}
