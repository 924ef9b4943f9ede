package replay

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/linkguard/linkguard/fingerprint"
)

var corpusPath = filepath.Join("..", "..", "testdata", "corpus", "profiles.jsonl")

func readCorpus(t testing.TB) []Event {
	t.Helper()
	f, err := os.Open(corpusPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	evs, err := Read(f)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// TestCorpus holds the default configuration to the bar: no
// scanner profile is consumed or offered Continue, no person in the
// browser that asked is sent to the code, and every profile gets the
// decision its labeller expects (its id says which).
func TestCorpus(t *testing.T) {
	evs := readCorpus(t)
	eng, err := fingerprint.NewEngine(fingerprint.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	scanners, humans := 0, 0
	for _, ev := range evs {
		t.Run(ev.ID, func(t *testing.T) {
			if ev.Note == "" {
				t.Error("profile without a note saying where its traits come from")
			}
			// The name states the verdict: <expect>_<label>/<what>.
			if want := string(ev.Expect) + "_" + ev.Label + "/"; ev.Expect == "" || !strings.HasPrefix(ev.ID, want) {
				t.Errorf("profile id %q does not start with %q", ev.ID, want)
			}
			v := eng.Decide(&ev.Input)
			switch ev.Label {
			case LabelScanner:
				scanners++
				if v.Decision != fingerprint.Code {
					t.Errorf("scanner got %s (score %.3f, rule %s)", v.Decision, v.Score, v.Rule)
				}
			case LabelHuman:
				humans++
				if ev.Input.Binding && v.Decision != fingerprint.Consume {
					t.Errorf("same-browser person got %s", v.Decision)
				}
			default:
				t.Errorf("unlabelled profile")
			}
			if ev.Expect != "" && v.Decision != ev.Expect {
				var b strings.Builder
				shown := ev
				shown.Verdict = v
				_ = Explain(&b, shown)
				t.Errorf("got %s, the corpus expects %s\n%s", v.Decision, ev.Expect, b.String())
			}
		})
	}
	if scanners < 30 || humans < 25 {
		t.Errorf("corpus has %d scanner and %d human profiles; issue 8 asks for at least 30 and 25", scanners, humans)
	}
}
