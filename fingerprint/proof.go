package fingerprint

import "strings"

// ProofOK is Input.Proof when the report's proof checked out. Any other
// non-empty value starts with ProofReplay and says why it did not.
const (
	ProofOK     = "ok"
	ProofReplay = "replay: "
)

// ProofFailed reports whether a proof was checked and failed: the report
// was not made by the page's module for this rendering.
func ProofFailed(proof string) bool { return strings.HasPrefix(proof, ProofReplay) }
