// Package waitgraph is the room for the pictures shown in design reviews:
// a wait-for graph of one hang, and the matrix at a glance.
//
// It has its own neutral input types, so it depends on nothing else in
// poolhang: a Graph of parties (Node) and waits (Edge), built from a
// proof or from a real pool's evidence by whoever holds them, and a
// Matrix of verdict cells. This package validates them and writes them
// out: Graph.DOT writes Graphviz's DOT language, Matrix.SVG draws the
// matrix as a plain SVG grid. Laying out a graph is left to the
// subpackage layout, which runs Graphviz; it lives apart because linking
// it costs every process of the binary a WebAssembly runtime at start.
//
// Every output is deterministic: the same input gives the same bytes, and
// a pid appears only where the input gives one.
package waitgraph
