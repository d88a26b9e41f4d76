// @ts-check
// Runs before the page is first drawn: a plain script in <head>, since the modules run only
// after it. A browser that was signed in when last here most likely still is, so the
// signed-in layout (the column of cotonomas on a wide screen) is drawn from the start and
// nothing moves when the session check answers (sidebar.js keeps the mark). The mark holds
// no secret, only that this browser was signed in; a wrong guess moves the page once.
try {
  if (localStorage.getItem('cotoami.signed-in') === '1') document.documentElement.classList.add('has-sidebar');
} catch {
  // Storage refused (a privacy setting): the layout follows the session check, as without the mark.
}
