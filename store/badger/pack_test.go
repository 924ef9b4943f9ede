package badger

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/s2"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/fingerprint"
	"github.com/linkguard/linkguard/store/storetest"
)

// TestPack: a record worth packing comes back as it went in and smaller;
// a short or incompressible one is stored as it is; unpacked records of
// earlier versions read as before; a damaged or oversized packed record
// is an error, not a panic or a huge allocation.
func TestPack(t *testing.T) {
	rec := []byte(`{"verdict":"` + strings.Repeat("the code from the email was typed; ", 30) + `"}`)
	p := pack(rec)
	if p[0] != packedDict1Format || len(p) >= len(rec) {
		t.Fatalf("a %d-byte repetitive record packed to %d bytes, format %#x", len(rec), len(p), p[0])
	}
	if got, err := unpack(p); err != nil || !bytes.Equal(got, rec) {
		t.Fatalf("unpack: %v, equal %v", err, bytes.Equal(got, rec))
	}
	short := []byte{linkFormat, 1, 2, 3}
	if got := pack(short); !bytes.Equal(got, short) {
		t.Errorf("a short record was changed: %x", got)
	}
	random := make([]byte, 1000)
	for i := range random {
		random[i] = byte(i*7919 + i*i*31)
	}
	random[0] = '{'
	if got := pack(random); len(got) > len(random) {
		t.Errorf("an incompressible record grew to %d bytes", len(got))
	}
	for _, old := range [][]byte{[]byte(`{"id":"x"}`), {linkFormat, 0}, {linkFormatV1, 0}} {
		if got, err := unpack(old); err != nil || !bytes.Equal(got, old) {
			t.Errorf("an unpacked record %q read as %q, %v", old, got, err)
		}
	}
	// Packed without a dictionary: what this store wrote until
	// December 2026.
	plain := append([]byte{packedFormat}, s2.Encode(nil, rec)...)
	if got, err := unpack(plain); err != nil || !bytes.Equal(got, rec) {
		t.Fatalf("a record packed without dictionary: %v, equal %v", err, bytes.Equal(got, rec))
	}
	for _, bad := range [][]byte{p[:len(p)-3], plain[:len(plain)-3]} {
		if _, err := unpack(bad); err == nil {
			t.Errorf("a truncated packed record (format %#x) unpacked", bad[0])
		}
	}
	big := make([]byte, maxUnpacked+1)
	for _, huge := range [][]byte{
		append([]byte{packedFormat}, s2.Encode(nil, big)...),
		append([]byte{packedDict1Format}, dict1().Encode(nil, big)...),
	} {
		if _, err := unpack(huge); err == nil {
			t.Errorf("a packed record (format %#x) over maxUnpacked unpacked", huge[0])
		}
	}
}

// TestPackDictIsFrozen: records on disk were packed against dictionary
// 1's exact bytes, and a record packed against other bytes decodes to
// garbage or an error. A better dictionary is a new file and a new
// format byte (pack.go), never an edit of this one.
func TestPackDictIsFrozen(t *testing.T) {
	const want = "27fcbc6e9f62aba45a1a8b276c98e09f51b8ba340ac30e356f2f31a16528c7ee"
	if got := fmt.Sprintf("%x", sha256.Sum256(dict1Bytes)); got != want {
		t.Fatalf("packdict1.txt has sha256 %s, want %s: stored records would no longer read", got, want)
	}
}

// TestPackDictShrinksVerdicts: a link carrying a verdict of the real
// engine, and a decision visit carrying it again, pack to at most three
// quarters of what plain s2 makes of them: the dictionary holds the
// verdicts' reasons and a visit's field names.
func TestPackDictShrinksVerdicts(t *testing.T) {
	eng, err := fingerprint.NewEngine(fingerprint.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	in := &fingerprint.Input{Stage: fingerprint.StageConfirm, Now: now,
		Requester: fingerprint.Requester{At: now.Add(-time.Minute)},
		Visitor:   fingerprint.Visitor{At: now}}
	v := eng.Decide(in)
	if len(v.Signals) < 5 {
		t.Fatalf("the engine gave %d signals: not a realistic verdict", len(v.Signals))
	}
	l := storetest.NewLink(t, now, "fam-dict")
	l.State, l.ConsumedAt, l.Verdict = linkguard.Consumed, now, &v
	rl, err := encodeLink(nil, l)
	if err != nil {
		t.Fatal(err)
	}
	rv, err := linkguard.EncodeVisit(&linkguard.Visit{ID: "18ed630392a478c000008996", LinkID: l.ID, At: now,
		Kind: linkguard.VisitCode, Outcome: linkguard.VisitOutcomeConsumed, Input: in, Verdict: &v})
	if err != nil {
		t.Fatal(err)
	}
	for name, rec := range map[string][]byte{"link": rl, "decision visit": rv} {
		p, s := len(pack(rec)), len(s2.Encode(nil, rec))
		t.Logf("%s: %d bytes, plain s2 %d, with the dictionary %d", name, len(rec), s, p)
		if p*4 > s*3 {
			t.Errorf("%s: packed to %d bytes, plain s2 %d: the dictionary saved less than a quarter", name, p, s)
		}
	}
}

// TestLinksAreStoredPacked: a link whose record compresses is stored
// packed and reads back whole, from Badger and not from the cache.
func TestLinksAreStoredPacked(t *testing.T) {
	ctx := context.Background()
	s := memStore(t)
	l := storetest.NewLink(t, time.Now().UTC().Truncate(time.Millisecond), "fam-pack")
	l.Metadata = json.RawMessage(`{"note":"` + strings.Repeat("abc", 200) + `"}`)
	if err := s.CreateLink(ctx, l, nil, nil); err != nil {
		t.Fatal(err)
	}
	raw := storedValue(t, s, linkKey(l.ID))
	if raw[0] != packedDict1Format {
		t.Fatalf("stored link starts with %#x, want packed (%#x)", raw[0], packedDict1Format)
	}
	var got linkguard.Link
	if err := decodeLink(raw, &got); err != nil || string(got.Metadata) != string(l.Metadata) {
		t.Fatalf("decode: %v, metadata %d bytes, want %d", err, len(got.Metadata), len(l.Metadata))
	}
}

// TestHandoffRefersToItsLink: a consumption's handoff that shares its
// link's address, metadata, locale and verdict is stored without them
// and taken back whole; one that differs from its link is stored whole.
func TestHandoffRefersToItsLink(t *testing.T) {
	ctx := context.Background()
	s := memStore(t)
	now := time.Now().UTC().Truncate(time.Millisecond)
	v := fingerprint.Verdict{Decision: fingerprint.Consume, Score: 0.9, Automation: 1,
		Signals: []fingerprint.Contribution{{Signal: "code", Value: 1, Reason: "the code from the email was typed"}}}
	for _, c := range []struct {
		name   string
		edit   func(h *linkguard.Handoff)
		format byte
	}{
		{"shared", func(*linkguard.Handoff) {}, handoffRefFormat},
		{"other address", func(h *linkguard.Handoff) { h.Email = "other@example.com" }, handoffFormat},
		{"other verdict", func(h *linkguard.Handoff) { h.Verdict.Score = 0.1 }, handoffFormat},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := storetest.NewLink(t, now, "fam-ref-"+c.name)
			l.Metadata, l.Locale = json.RawMessage(`{"plan":"pro"}`), "de"
			if err := s.CreateLink(ctx, l, nil, nil); err != nil {
				t.Fatal(err)
			}
			h := &linkguard.Handoff{CodeHash: []byte("ref-" + c.name), LinkID: l.ID, Email: l.Email, Metadata: l.Metadata,
				Purpose: linkguard.PurposeSignIn, Locale: l.Locale, ConsumedAt: now, ExpiresAt: now.Add(time.Minute), Verdict: v}
			c.edit(h)
			if _, err := s.ConsumeLink(ctx, l.ID, now, v, h, nil); err != nil {
				t.Fatal(err)
			}
			raw := storedValue(t, s, handoffKey(h.CodeHash))
			if raw, _ = unpack(raw); raw[0] != c.format {
				t.Errorf("stored as format %#x, want %#x (%d bytes)", raw[0], c.format, len(raw))
			}
			got, err := s.TakeHandoff(ctx, h.CodeHash, now)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, h) {
				t.Errorf("taken back:\n%+v\nwant\n%+v", got, h)
			}
		})
	}
}
