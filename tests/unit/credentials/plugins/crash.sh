#!/bin/sh
# Test plugin: writes half a response holding a secret, complains on stderr, exits 3.
cat >/dev/null
printf '{"auth":{"x":{"password":"STDOUT-SECRET-crash"'
printf 'plugin exploded: disk on fire\nsecond line STDERR-SECOND-LINE\n' >&2
exit 3
