package report

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"
)

const testNonce = "AAAAAGkxLq0xMjM0NTY3ODkwYWJjZGVm"

func provenReport(t testing.TB, r *Report, nonce string) {
	t.Helper()
	p, ok := Prove(nonce, r)
	if !ok {
		t.Fatal("Prove found no counter")
	}
	r.Proof = &p
}

func sampleReport() *Report {
	r := &Report{V: SchemaVersion, Stage: "confirm",
		Device:      Device{UserAgent: "Mozilla/5.0 (X11; Linux x86_64)", Window: Window{InnerWidth: 1280, ScreenY: 40}},
		Interaction: Interaction{Click: &Click{Trusted: true, OnContinue: true, AtMS: 2500, X: 640, Y: 300, PressMS: 95}},
		Timing:      Timing{StartMS: 120, VerifyMS: 450, ConfirmMS: 2510},
	}
	return r
}

func TestProofChecks(t *testing.T) {
	edit := func(f func(r *Report)) func(r *Report) { return f }
	cases := []struct {
		name  string
		nonce string // the request's nonce; testNonce when ""
		edit  func(r *Report)
		want  error
	}{
		{name: "ok/as made"},
		{name: "replay/no proof", edit: edit(func(r *Report) { r.Proof = nil }), want: ErrNoProof},
		{name: "replay/another rendering's nonce", nonce: "AAAAAGkxLq5vdGhlcm90aGVyb3RoZXI", want: ErrProofNonce},
		{name: "replay/nonce swapped in the proof too", nonce: "AAAAAGkxLq5vdGhlcm90aGVyb3RoZXI",
			edit: edit(func(r *Report) { r.Proof.Nonce = "AAAAAGkxLq5vdGhlcm90aGVyb3RoZXI" }), want: ErrProofMismatch},
		{name: "replay/click moved", edit: edit(func(r *Report) { r.Interaction.Click.X++ }), want: ErrProofMismatch},
		{name: "replay/clock edited", edit: edit(func(r *Report) { r.Timing.ConfirmMS = 900 }), want: ErrProofMismatch},
		{name: "replay/stage edited", edit: edit(func(r *Report) { r.Stage = "verify" }), want: ErrProofMismatch},
		{name: "replay/counter guessed", edit: edit(func(r *Report) { r.Proof.Counter++ }), want: ErrProofMismatch},
		{name: "replay/negative counter", edit: edit(func(r *Report) { r.Proof.Counter = -1 }), want: ErrProofMismatch},
		{name: "replay/too easy", edit: edit(func(r *Report) { r.Proof.Bits = MinProofBits - 1 }), want: ErrProofTooEasy},
		{name: "replay/too hard", edit: edit(func(r *Report) { r.Proof.Bits = MaxProofBits + 1 }), want: ErrProofTooHard},
		{name: "ok/the page's timing of the work is not bound", edit: edit(func(r *Report) { r.Proof.MS = 12345 })},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := sampleReport()
			provenReport(t, r, testNonce)
			if c.edit != nil {
				c.edit(r)
			}
			nonce := c.nonce
			if nonce == "" {
				nonce = testNonce
			}
			if err := CheckProof(nonce, r); !errors.Is(err, c.want) {
				t.Fatalf("CheckProof = %v, want %v", err, c.want)
			}
		})
	}
}

// TestProofDoesWork checks that the found counter really has the claimed
// difficulty and that lower counters do not (the search is the first hit,
// so a proof is not free).
func TestProofDoesWork(t *testing.T) {
	r := sampleReport()
	provenReport(t, r, testNonce)
	seed := ProofSeed(testNonce, ProofBits, r)
	if proofZeros(&seed, r.Proof.Counter) < ProofBits {
		t.Fatal("counter does not meet the difficulty")
	}
	for n := 0; n < r.Proof.Counter; n++ {
		if proofZeros(&seed, n) >= ProofBits {
			t.Fatalf("counter %d already met the difficulty; Prove returned %d", n, r.Proof.Counter)
		}
	}
}

// TestProofSurvivesDecode checks that a proof made over the collector's
// encoding still holds after the server decodes the report with
// encoding/json: the server re-encodes to find the seed. Strings are
// valid UTF-8 and numbers finite, as the collector sends them.
func TestProofSurvivesDecode(t *testing.T) {
	valid := []string{"", "a", "HeadlessChrome", `quote " back \ slash`, "tab\tnl\ncr\r", "\x00\x01\x1f\x7f",
		"<script>&amp;</script>", "ünïcødé ✓ 日本語 😀", "\u2028\u2029", "Europe/London"}
	for seed := uint64(0); seed < 100; seed++ {
		rnd := rand.New(rand.NewPCG(seed, 11))
		var r Report
		fill(reflect.ValueOf(&r).Elem(), rnd, valid)
		r.Proof = nil
		provenReport(t, &r, testNonce)
		b := r.AppendJSON(nil)
		got := decodeStrict(t, b)
		if err := CheckProof(testNonce, got); err != nil {
			t.Fatalf("seed %d: %v after decode\n%s", seed, err, b)
		}
	}
}

// FuzzCheckProof feeds arbitrary reports to the server's check: it must
// never panic, and a report it accepts stays accepted after another trip
// through JSON (the check depends on values, not on their spelling).
func FuzzCheckProof(f *testing.F) {
	r := sampleReport()
	provenReport(f, r, testNonce)
	f.Add(string(r.AppendJSON(nil)))                                             // a good proof
	f.Add(`{"v":3,"proof":{"nonce":"` + testNonce + `","bits":24,"counter":0}}`) // the hardest claim, wrong
	f.Add(`{"v":3,"proof":{"nonce":"` + testNonce + `","bits":12,"counter":-5}}`)
	f.Add(`{"v":2}`)
	f.Fuzz(func(t *testing.T, body string) {
		var r Report
		if json.Unmarshal([]byte(body), &r) != nil {
			return
		}
		if CheckProof(testNonce, &r) != nil {
			return
		}
		var again Report
		if err := json.Unmarshal(r.AppendJSON(nil), &again); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if err := CheckProof(testNonce, &again); err != nil {
			t.Fatalf("accepted proof rejected after a round trip: %v", err)
		}
	})
}
