#!/bin/sh
# Test plugin: forks a helper that records its pid, then never answers. Both must be killed.
sleep 300 &
echo $! > "${HANG_PID_FILE:-/dev/null}"
sleep 300
