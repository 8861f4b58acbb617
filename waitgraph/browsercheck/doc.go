// Package browsercheck holds the browser check of waitgraph's pictures:
// its test renders the seed's wait-for graph, an observed graph and the
// matrix at a glance into HTML pages, opens them in headless Chromium,
// measures every label as the browser lays it out (check.js), and takes
// screenshots. check.sh runs it and keeps the screenshots.
package browsercheck
