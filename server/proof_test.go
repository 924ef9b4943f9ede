package server

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/linkguard/linkguard/fingerprint/report"
)

// proven returns the report in js as the page's collector would send it
// on the rendering with this nonce at this stage: stamped with the
// stage's time and proven. Tests that are not about the proof use it so
// that their reports are believed.
func proven(t testing.TB, nonce, stage, js string) string {
	t.Helper()
	var r report.Report
	if err := json.Unmarshal([]byte(js), &r); err != nil {
		t.Fatalf("proven: %v", err)
	}
	r.V, r.Stage = report.SchemaVersion, stage
	if r.Timing.VerifyMS == 0 {
		r.Timing.StartMS, r.Timing.VerifyMS = 100, 400
	}
	if stage == "confirm" && r.Timing.ConfirmMS == 0 {
		r.Timing.ConfirmMS = 900
	}
	p, ok := report.Prove(nonce, &r)
	if !ok {
		t.Fatal("proven: no proof found")
	}
	r.Proof = &p
	return string(r.AppendJSON(nil))
}

// TestReplayedReportGetsTheCode sends, with a fresh nonce, reports that
// no page made for it: each gets the code whatever else it says, leaves
// the link pending, and is recorded as a replay that GET /v1/links/{id}
// shows. The same report, proven for this rendering, is believed.
func TestReplayedReportGetsTheCode(t *testing.T) {
	h := newHarness(t, "")
	other := h.personLink(`{"email":"bob@example.com","redirect_url":"https://app.example.com/"}`)
	otherNonce := h.nonce(other.Token)
	cases := []struct {
		name    string
		signals func(nonce string) string
		reason  string
	}{
		{"replay/no proof (v2 report)", func(string) string { return trustedClick }, "no proof"},
		{"replay/proof of another rendering", func(string) string { return proven(t, otherNonce, "confirm", trustedClick) }, "another rendering"},
		{"replay/proof edited onto this nonce", func(n string) string {
			return strings.Replace(proven(t, otherNonce, "confirm", trustedClick), otherNonce, n, 1)
		}, "does not match"},
		{"replay/proven for verify, sent to confirm", func(n string) string { return proven(t, n, "verify", trustedClick) }, "made for"},
		{"replay/clock longer than the rendering", func(n string) string {
			var r report.Report
			json.Unmarshal([]byte(trustedClick), &r)
			r.V, r.Stage, r.Timing = report.SchemaVersion, "confirm", report.Timing{StartMS: 100, VerifyMS: 400, ConfirmMS: 95_000}
			p, _ := report.Prove(n, &r)
			r.Proof = &p
			return string(r.AppendJSON(nil))
		}, "open 95.0 s"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := h.personLink("")
			nonce := h.nonce(l.Token)
			h.clock.Add(4 * time.Second)
			r := h.person("POST", "/l/"+l.Token+"/confirm", `{"nonce":"`+nonce+`","signals":`+c.signals(nonce)+`}`)
			if r.status != 200 || r.json(t)["outcome"] != "code" || h.state(l.ID) != "pending" {
				t.Fatalf("%d %s; state %s: want code, pending", r.status, r.body, h.state(l.ID))
			}
			g := h.waitVisits(l.ID, 2)
			last := g[len(g)-1].(map[string]any)
			proof, _ := last["proof"].(string)
			if !strings.HasPrefix(proof, "replay: ") || !strings.Contains(proof, c.reason) {
				t.Fatalf("visit proof = %q, want a replay naming %q; visit %v", proof, c.reason, last)
			}
			found := false
			for _, s := range last["signals"].([]any) {
				sm := s.(map[string]any)
				found = found || sm["signal"] == "proof" && sm["veto"] == true
			}
			if !found {
				t.Fatalf("verdict does not name the replay: %v", last["signals"])
			}
		})
	}
	t.Run("ok/the same report proven here is believed", func(t *testing.T) {
		l := h.personLink("")
		nonce := h.nonce(l.Token)
		h.clock.Add(4 * time.Second)
		r := h.person("POST", "/l/"+l.Token+"/confirm", `{"nonce":"`+nonce+`","signals":`+proven(t, nonce, "confirm", trustedClick)+`}`)
		if r.json(t)["outcome"] != "consumed" {
			t.Fatalf("%s, want consumed", r.body)
		}
		g := h.waitVisits(l.ID, 2)
		if p := g[len(g)-1].(map[string]any)["proof"]; p != "ok" {
			t.Fatalf("visit proof = %v, want ok", p)
		}
	})
}

// waitVisits returns the link's visits from GET /v1/links/{id} once it
// lists at least n (visits are evidence, written in the background).
func (h *harness) waitVisits(id string, n int) []any {
	h.t.Helper()
	var vs []any
	for i := 0; i < 200; i++ {
		vs, _ = h.api("GET", "/v1/links/"+id, "").json(h.t)["visits"].([]any)
		if len(vs) >= n {
			return vs
		}
		time.Sleep(5 * time.Millisecond)
	}
	h.t.Fatalf("link %s has %d visits, want %d", id, len(vs), n)
	return nil
}
