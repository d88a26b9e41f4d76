#!/bin/sh
# The image's command: cotoami.conf.template rendered with the environment (only the
# template's own names: nginx's $variables stay as they are), then nginx with ARGS.
set -eu
envsubst '$LISTEN_PORT $WEB_ROOT $UPSTREAM_TIMEOUT $AVATAR_ORIGIN $AUTH_UPSTREAM $COTOS_UPSTREAM $COTONOMAS_UPSTREAM $LIVE_UPSTREAM $GRAPH_UPSTREAM $ARCHIVE_UPSTREAM $CLIENT_CONNECTIONS $CLIENT_REQUEST_RATE $CLIENT_REQUEST_BURST' \
  < /etc/nginx/templates/cotoami.conf.template > /etc/nginx/conf.d/cotoami.conf
exec nginx -g 'daemon off;' "$@"
