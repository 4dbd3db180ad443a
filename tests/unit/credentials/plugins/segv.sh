#!/bin/sh
# Test plugin: killed by a signal.
kill -SEGV $$
