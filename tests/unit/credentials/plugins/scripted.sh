#!/bin/sh
# Test plugin driven by the test: records each request in $REQUEST_LOG (one per line, and
# counts runs that way), waits $DELAY seconds, then prints $RESPONSE_FILE.
request=$(cat)
printf '%s\n' "$request" >> "$REQUEST_LOG"
printf '%s %s\n' "$1" "$PLUGIN_ENV_CHECK" >> "$REQUEST_LOG.args"
sleep "${DELAY:-0}"
cat "$RESPONSE_FILE"
