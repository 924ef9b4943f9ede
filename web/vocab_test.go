package web

import (
	"os"
	"regexp"
	"slices"
	"testing"

	"github.com/linkguard/linkguard"
)

// matches returns the first group of every match of re in the file.
func matches(t *testing.T, file string, re *regexp.Regexp) []string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range re.FindAllSubmatch(b, -1) {
		out = append(out, string(m[1]))
	}
	return out
}

// TestPageScriptSpeaksTheDomainsNames checks the page script's and the
// stylesheet's copies of the page states, outcomes and error codes
// against the Go constants: a name written in lg.js or style.css that
// the domain does not define is a typo or a rename that missed a copy.
func TestPageScriptSpeaksTheDomainsNames(t *testing.T) {
	js, css := "static/lg.js", "static/style.css"
	jsStates := append(matches(t, js, regexp.MustCompile(`setState\("([a-z]+)"\)`)),
		matches(t, js, regexp.MustCompile(`"data-lg-state"\) [!=]== "([a-z]+)"`))...)
	cssStates := matches(t, css, regexp.MustCompile(`data-lg-state="([a-z]+)"`))
	outcomes := matches(t, js, regexp.MustCompile(`case "([a-z_]+)":`))
	codes := matches(t, js, regexp.MustCompile(`error\.code === "([a-z_]+)"`))
	if len(jsStates) < 5 || len(cssStates) < 5 || len(outcomes) < 5 || len(codes) < 3 {
		t.Fatalf("the patterns found too little (states %v, styled %v, outcomes %v, codes %v): did lg.js change shape?",
			jsStates, cssStates, outcomes, codes)
	}
	for _, s := range jsStates {
		if !slices.Contains(linkguard.PageStates, linkguard.PageState(s)) {
			t.Errorf("lg.js sets page state %q, which linkguard does not define", s)
		}
		if !slices.Contains(cssStates, s) {
			t.Errorf("lg.js sets page state %q, which style.css does not style", s)
		}
	}
	for _, s := range cssStates {
		if !slices.Contains(linkguard.PageStates, linkguard.PageState(s)) {
			t.Errorf("style.css styles page state %q, which linkguard does not define", s)
		}
	}
	for _, o := range outcomes {
		if !slices.Contains(linkguard.Outcomes, linkguard.Outcome(o)) {
			t.Errorf("lg.js handles outcome %q, which linkguard does not define", o)
		}
	}
	for _, o := range linkguard.Outcomes {
		if !slices.Contains(outcomes, string(o)) {
			t.Errorf("lg.js does not handle outcome %q", o)
		}
	}
	for _, c := range codes {
		if !slices.Contains(linkguard.ErrorCodes, linkguard.ErrorCode(c)) {
			t.Errorf("lg.js checks error code %q, which linkguard does not define", c)
		}
	}
}

// TestPersonScriptSpeaksTheDomainsNames checks lg-person.js the same way:
// the states its status poll sets and stops at must be page states that
// the domain defines and the stylesheet styles.
func TestPersonScriptSpeaksTheDomainsNames(t *testing.T) {
	js := "static/lg-person.js"
	set := matches(t, js, regexp.MustCompile(`page_state: "([a-z]+)"`))
	final := matches(t, js, regexp.MustCompile(`var final = \{([^}]*)\}`))
	if len(set) < 1 || len(final) != 1 {
		t.Fatalf("the patterns found too little (set %v, final %v): did lg-person.js change shape?", set, final)
	}
	finals := regexp.MustCompile(`([a-z]+): true`).FindAllStringSubmatch(final[0], -1)
	if len(finals) < 2 {
		t.Fatalf("final states %q: did lg-person.js change shape?", final[0])
	}
	for _, m := range finals {
		set = append(set, m[1])
	}
	cssStates := matches(t, "static/style.css", regexp.MustCompile(`data-lg-state="([a-z]+)"`))
	for _, s := range set {
		if !slices.Contains(linkguard.PageStates, linkguard.PageState(s)) {
			t.Errorf("lg-person.js names page state %q, which linkguard does not define", s)
		}
		if !slices.Contains(cssStates, s) {
			t.Errorf("lg-person.js names page state %q, which style.css does not style", s)
		}
	}
}
