package fingerprint

// SchemaVersion is the version of Report that this build writes and reads.
const SchemaVersion = 1

// Report is what the landing page's collector sends with verify and
// confirm. It is compiled into the WebAssembly collector too.
//
// NB: the collector encodes it without encoding/json (see Encode); the
// server decodes it with encoding/json, rejecting unknown fields.
type Report struct {
	V           int         `json:"v"`
	Interaction Interaction `json:"interaction"`
}

// Interaction holds trusted user input seen by the page.
type Interaction struct {
	// Click is the click on Continue, when there was one.
	Click *Click `json:"click,omitempty"`
}

// Click describes the click on Continue.
type Click struct {
	Trusted bool `json:"trusted"`
}

// TrustedClick reports whether the report carries a trusted click.
func (r *Report) TrustedClick() bool {
	return r != nil && r.Interaction.Click != nil && r.Interaction.Click.Trusted
}
