package laws

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// maxShown is how many bytes of a value (or of guest text) a report shows.
const maxShown = 200

// String renders the report for the uploader: the verdict, then each
// violation with the law, the input and what went wrong.
func (r Report) String() string {
	var b strings.Builder
	var refusing, warnings []string
	for _, v := range r.Violations {
		if v.Law.Refuses() {
			refusing = append(refusing, string(v.Law))
		} else {
			warnings = append(warnings, string(v.Law))
		}
	}
	switch {
	case len(refusing) > 0:
		fmt.Fprintf(&b, "refused: %s failed", strings.Join(refusing, " and "))
	case len(warnings) > 0:
		fmt.Fprintf(&b, "accepted with warnings: %s", strings.Join(warnings, ", "))
	default:
		b.WriteString("accepted")
	}
	fmt.Fprintf(&b, " (%d sibling sets tried)\n", r.Checked)
	if len(r.Passed) > 0 {
		names := make([]string, len(r.Passed))
		for i, l := range r.Passed {
			names[i] = string(l)
		}
		fmt.Fprintf(&b, "passed: %s\n", strings.Join(names, ", "))
	}
	for _, l := range Laws() {
		if n := r.Undecided[l]; n > 0 {
			fmt.Fprintf(&b, "%s: not evaluated on %d sets (a merge returned DEFER or ERROR)\n", l, n)
		}
	}
	for _, v := range r.Violations {
		b.WriteString(v.String())
	}
	return b.String()
}

// String renders the violation on a few lines, ending with a newline.
func (v Violation) String() string {
	verdict := "warning"
	if v.Law.Refuses() {
		verdict = "refuses the upload"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s violated (%s)\n", v.Law, verdict)
	fmt.Fprintf(&b, "  input: %s\n", formatSiblings(v.Input, v.Tombstones, v.Timestamps))
	fmt.Fprintf(&b, "  %s\n", v.Detail)
	return b.String()
}

// formatSiblings lists siblings as "[value @time, tombstone @time]", times
// in RFC 3339 (UTC, nanoseconds when not zero).
func formatSiblings(values [][]byte, tombstones []bool, timestamps []int64) string {
	parts := make([]string, len(values))
	for i, value := range values {
		s := formatValue(value)
		if i < len(tombstones) && tombstones[i] {
			s = "tombstone"
		}
		if i < len(timestamps) {
			s += " @" + time.Unix(0, timestamps[i]).UTC().Format(time.RFC3339Nano)
		}
		parts[i] = s
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// formatValue shows a value as quoted text if it is printable UTF-8, else
// as base64, cut after maxShown bytes.
func formatValue(v []byte) string {
	if isText(v) {
		return truncateText(string(v), maxShown)
	}
	if len(v) <= maxShown {
		return "base64:" + base64.StdEncoding.EncodeToString(v)
	}
	return fmt.Sprintf("base64:%s… (%d bytes)", base64.StdEncoding.EncodeToString(v[:maxShown]), len(v))
}

// truncateText quotes s, cut at a rune boundary after at most n bytes.
func truncateText(s string, n int) string {
	if len(s) <= n {
		return strconv.Quote(s)
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (%d bytes)", strconv.Quote(s[:cut]), len(s))
}

func isText(v []byte) bool {
	if !utf8.Valid(v) {
		return false
	}
	for _, r := range string(v) {
		if !unicode.IsPrint(r) && r != '\n' && r != '\t' && r != '\r' {
			return false
		}
	}
	return true
}
