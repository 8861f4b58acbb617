package conformance

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// Markdown writes the reports as results/conformance.md.
func Markdown(w io.Writer, reps []Report, header string) {
	fmt.Fprintf(w, "# Conformance: the models beside the real pools they name\n\n")
	fmt.Fprintf(w, "%s\n\n", header)
	fmt.Fprintf(w, "Each scenario is drawn by `conformance.Gen` (1-4 workers, 0-12 jobs, every wait style, 0-3 faults anywhere meaningful for the model, payload 0, 100 KiB or 1 MiB) and run on the model and on the real pool. They agree when the model's proven `hang` meets the real pool's `no-answer`, `completed` meets `completed`, and `raised` meets `raised` with the same error kinds (the real pool's Python exceptions mapped by `conformance.RealKind`; with `wait=map` the real caller sees only the map's one error, whose kind must be one of the model's). A scenario a side refuses is skipped, with the reason, and is not counted as agreement.\n\n")
	fmt.Fprintf(w, "| pair | scenarios run | agree | disagree (explained) | skipped | harness errors | wall |\n|---|---|---|---|---|---|---|\n")
	for _, r := range reps {
		fmt.Fprintf(w, "| %s vs `%s` | %d | %d | %d (%d) | %d | %d | %s |\n", r.Pair.Model, r.Pair.Real, r.Ran, r.Agree, r.Disagree, r.Explained, r.SkippedN, len(r.Errors), r.Wall.Round(time.Second))
	}
	for _, r := range reps {
		fmt.Fprintf(w, "\n## %s vs `%s`\n\n", r.Pair.Model, r.Pair.Real)
		fmt.Fprintf(w, "%d distinct scenarios (drawn from rapid seeds %d to %d): %d ran on both sides, %d agree, %d disagree, %d skipped.\n\n",
			r.Ran+r.SkippedN+len(r.Errors), r.Seed, r.Seed+r.Drawn-1, r.Ran, r.Agree, r.Disagree, r.SkippedN)
		fmt.Fprintf(w, "Agreements by verdict (model/real): %s.\n", counts(r.Verdicts))
		if len(r.Skipped) > 0 {
			fmt.Fprintf(w, "\nSkipped, by reason:\n")
			for _, k := range sortedKeys(r.Skipped) {
				fmt.Fprintf(w, "- %d: %s\n", r.Skipped[k], k)
			}
		}
		if len(r.Errors) > 0 {
			fmt.Fprintf(w, "\nRuns with no verdict on a side (neither agreement nor disagreement; a model's `hang-timeout` is its 20 s backstop expiring with neither an answer nor a proven hang, a defect of the model):\n")
		}
		for _, e := range r.Errors {
			if len(e) > 400 {
				e = e[:400] + "..."
			}
			fmt.Fprintf(w, "- %s\n", e)
		}
		for i, f := range r.Findings {
			fmt.Fprintf(w, "\n### Disagreement %d: %s (%d scenario%s)\n\n", i+1, f.Key, f.Count, plural(f.Count))
			fmt.Fprintf(w, "- first seen: `%s`\n", f.First.Pair.RealText(f.First.Scenario))
			fmt.Fprintf(w, "- minimal: `%s`\n  - model: %s: %s\n  - real: %s: %s\n", f.Minimal.Scenario, f.Minimal.Model, f.Minimal.Model.Summary, f.Minimal.Real, f.Minimal.Real.Summary)
			cmds := f.Minimal.Pair.Commands(f.Minimal.Scenario)
			fmt.Fprintf(w, "- replay: `%s` and `%s`\n", cmds[0], cmds[1])
			if len(f.Replays) > 0 {
				fmt.Fprintf(w, "- the minimal scenario replayed: %s\n", counts(f.Replays))
			}
			if f.Known != nil {
				fmt.Fprintf(w, "- why (%s, `%s`): %s\n", causeName(f.Known.Cause), f.Known.ID, f.Known.Why)
			} else {
				fmt.Fprintf(w, "- why: **unexplained**\n")
			}
		}
	}
}

func causeName(c string) string {
	switch c {
	case "model":
		return "the model is wrong"
	case "python":
		return "a bug of this Python version"
	case "race":
		return "the pools race"
	case "driver":
		return "the driver realises the plan differently"
	}
	return c
}

func counts(m map[string]int) string {
	var parts []string
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func sortedKeys(m map[string]int) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
