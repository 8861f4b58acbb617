// Package conformance is the room that checks models against the real
// pools they name: generated scenarios run on a model (pools/, through
// scenarios.Run) and on its real counterpart (realpools.Run), and the
// two must agree: a proven hang against no answer, raised against raised
// with the same kinds of error, completed against completed. Any
// disagreement is shrunk (rapid's shrinking, then a greedy minimizer that
// re-runs smaller scenarios for real) and printed with the commands that
// replay it on both; a table of known, argued differences (Known) says
// why each one that is understood happens.
package conformance
