// @ts-check
// Cotoami web client: the anonymous memo pad (growth record 1), signing in
// with email alone (2), cotonomas (3), sharing them by email (4), and seeing
// what others do in them as it happens (live.js), and searching them all (search.js);
// connecting cotos, pinning them to a stock and drawing them as a graph (stock.js, connect.js).
// Everything a person wrote is rendered with textContent, never as HTML; a coto's
// Markdown is elements built from markdown-it's tokens, its text as text (markdown.js).
//
// This module only starts the page. Each view is a module that looks up its
// own elements and talks to the others through state.js's events, never
// into their internals; api.js is the services' contract, router.js the
// addresses. The views start in this order, which is also the order in which
// they hear each event.

import * as archive from './archive.js';
import * as composer from './composer.js';
import * as confirm from './confirm.js';
import * as connect from './connect.js';
import * as connections from './connections.js';
import * as cotonomaDelete from './cotonoma-delete.js';
import * as cotonomaPage from './cotonoma-page.js';
import * as graphView from './graph-view.js';
import * as identity from './identity.js';
import * as live from './live.js';
import * as members from './members.js';
import * as newCotonoma from './new-cotonoma.js';
import * as router from './router.js';
import * as search from './search.js';
import * as sidebar from './sidebar.js';
import * as signin from './signin.js';
import { state } from './state.js';
import * as stock from './stock.js';
import * as timeline from './timeline.js';
import * as trash from './trash.js';

state.confirmToken = router.tokenInAddress();
for (const view of [signin, newCotonoma, sidebar, timeline, trash, members, composer, cotonomaPage, cotonomaDelete, search,
  stock, connect, connections, graphView, archive, live, router]) {
  view.start();
}
// Who is signed in, and the page, at once: both follow the same cookies.
identity.start();
if (state.confirmToken !== null) confirm.start();
else router.route();
