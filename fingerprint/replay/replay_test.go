package replay

import (
	"bytes"
	"strings"
	"testing"

	"github.com/linkguard/linkguard/fingerprint"
)

// recorded returns the corpus as the server would have recorded it under
// the default configuration.
func recorded(t *testing.T) []Event {
	evs := readCorpus(t)
	eng, err := fingerprint.NewEngine(fingerprint.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	for i := range evs {
		evs[i].Verdict = eng.Decide(&evs[i].Input)
	}
	return evs
}

func TestRunSameConfigChangesNothing(t *testing.T) {
	var in, out bytes.Buffer
	if err := Write(&in, recorded(t)); err != nil {
		t.Fatal(err)
	}
	if err := Run(&out, fingerprint.DefaultConfig(), &in, RunOptions{}); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{"no decision changes.", "precision", "recall", "was \\ now", "per axis", "automation ", "compatibility "} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "WARNING") {
		t.Errorf("default config passes a scanner:\n%s", s)
	}
}

func TestRunShowsFlipsAndWarnsOnScannerPasses(t *testing.T) {
	var in, out bytes.Buffer
	if err := Write(&in, recorded(t)); err != nil {
		t.Fatal(err)
	}
	cfg := fingerprint.DefaultConfig()
	cfg.Automation.Threshold = 100 // a bad idea: the gate closes on strong marks only
	for _, name := range fingerprint.SignalNames(fingerprint.AxisAutomation) {
		cfg.Disable(name) // a worse one: no mark of a machine counts at all
	}
	cfg.Compatibility.Thresholds.Confirm = 0.3
	if err := Run(&out, cfg, &in, RunOptions{}); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{"changed decisions:", "code → confirm", "WARNING:", "decisions change."} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
}

func TestReplayMetrics(t *testing.T) {
	evs := recorded(t)
	eng, _ := fingerprint.NewEngine(fingerprint.DefaultConfig())
	res := Replay(eng, evs)
	m := res.NewMetrics
	if m.ScannerPassed != 0 || m.Recall() != 1 || m.Scanners+m.Humans != len(evs) {
		t.Fatalf("metrics %+v", m)
	}
	// Per axis: the gate stops every scanner of the corpus; the people it
	// stops are the two that type the code (no JavaScript, browser
	// isolation); compatibility holds no one back.
	ax := m.Axes()
	if ax[0].Axis != fingerprint.AxisAutomation || ax[0].Recall() != 1 || ax[0].FalseStop != 2 || ax[1].Stopped+ax[1].FalseStop != 0 {
		t.Fatalf("per axis %+v", ax)
	}
	if res.OldMetrics != m {
		t.Fatalf("recorded %+v, new %+v", res.OldMetrics, m)
	}
}

func TestReadErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"400/unknown field", `{"id":"a","bogus":1}`, "line 1"},
		{"400/bad label", "\n" + `{"id":"a","label":"robot"}`, `line 2: label "robot"`},
		{"400/not json", `{"id":`, "line 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Read(strings.NewReader(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
}

func TestExplain(t *testing.T) {
	evs := recorded(t)
	var in bytes.Buffer
	if err := Write(&in, evs); err != nil {
		t.Fatal(err)
	}
	ev, err := FindEvent(&in, "code_scanner/safe links detonation")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := Explain(&out, ev); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{"decision: code", "VETO: the address is in a range of the mail-scanner vendor microsoft", "network", "Boydton, US", "rule: "} {
		if !strings.Contains(s, want) {
			t.Errorf("explanation lacks %q:\n%s", want, s)
		}
	}
	out.Reset()
	cfg := fingerprint.DefaultConfig()
	cfg.Scanners.Disable = []string{"microsoft"}
	if err := ExplainWith(&out, ev, cfg); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "recorded: code") {
		t.Errorf("ExplainWith lacks the recorded verdict:\n%s", out.String())
	}
	if _, err := FindEvent(strings.NewReader(""), "x"); err == nil {
		t.Fatal("FindEvent found a missing event")
	}
}
