#!/bin/sh
# Test plugin: exits 0 with something that is not a response (and holds a secret).
cat >/dev/null
echo 'password=STDOUT-SECRET-garbage this is not json'
