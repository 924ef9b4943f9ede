// Package visitrec is the stored form of a visit that the stores share.
//
// A consumption's decision record and its consumed link carry the same
// verdict (1–2 KB of signals and reasons: two thirds of the record, and
// about a third of what a confirm writes). The record leaves it to the
// link: it is written without it, marked verdict_of_link, and a store's
// readers take the verdict from the link, which a store keeps at least as
// long as the record (docs/performance.md, "The verdict, once").
// Store.AddVisit states the contract this rests on: a visit whose Outcome
// is consumed carries the verdict its link was consumed with.
package visitrec

import (
	"encoding/json"
	"fmt"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/fingerprint"
	"github.com/linkguard/linkguard/store/internal/visitq"
)

// Record is a stored visit: the visit and, when its verdict is its
// link's, the mark that says so (the reader then sets Visit.Verdict).
type Record struct {
	VerdictOfLink bool `json:"verdict_of_link,omitempty"`
	linkguard.Visit
}

// mark opens the JSON of a record whose verdict is its link's.
const mark = `{"verdict_of_link":true,`

// Encode is v's stored form: linkguard.EncodeVisit's (bounded), without
// the verdict of a consumption, which its link holds.
func Encode(v *linkguard.Visit) ([]byte, error) {
	if v.Outcome != linkguard.VisitOutcomeConsumed || v.Verdict == nil {
		return linkguard.EncodeVisit(v)
	}
	c := *v
	c.Verdict = nil
	b, err := linkguard.EncodeVisit(&c)
	if err != nil {
		return nil, err
	}
	if len(b) < 2 || b[0] != '{' || b[1] == '}' {
		return nil, fmt.Errorf("encoded visit is not a JSON object with fields: %.20q", b)
	}
	return append([]byte(mark), b[1:]...), nil
}

// Decode reads a record that Encode (or linkguard.EncodeVisit, before
// it) wrote.
func Decode(b []byte) (Record, error) {
	var r Record
	err := json.Unmarshal(b, &r)
	return r, err
}

// Consumption is what the consumption of link linkID records for out's
// Record (linkguard.Outbox.Record), or nil when it has none: a copy in
// that link's records, with the consumption's outcome and verdict v. The
// Record itself gets its ID here when it has none, so that its caller
// knows the stored one.
func Consumption(out *linkguard.Outbox, linkID string, v fingerprint.Verdict) *linkguard.Visit {
	if out == nil || out.Record == nil {
		return nil
	}
	if out.Record.ID == "" {
		out.Record.ID = visitq.NewID(out.Record.At)
	}
	rec := *out.Record
	rec.LinkID, rec.Outcome, rec.Verdict = linkID, linkguard.VisitOutcomeConsumed, &v
	return &rec
}
