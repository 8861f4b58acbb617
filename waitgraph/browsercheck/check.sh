#!/bin/sh
# The browser check of waitgraph's pictures: renders the seed's wait-for
# graph, an observed graph and the matrix at a glance, opens each in
# headless Chromium, checks that every label is readable and overlaps
# nothing, and keeps the pages and screenshots in DIR (default
# /tmp/waitgraph-screenshots). CHROMIUM overrides /usr/bin/chromium.
set -eu
dir=${1:-/tmp/waitgraph-screenshots}
cd "$(dirname "$0")"
WAITGRAPH_SCREENSHOTS=$dir go test -count=1 -v -run TestBrowser .
echo "pages and screenshots: $dir"
