package badger

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/fingerprint"
)

// The stored form of a link (l/<id>): a compact binary record, because a
// link is read on every landing GET and verify and rewritten on every
// consumption, and JSON was most of what those cost (docs/performance.md).
//
//	0x02                              format version
//	fields in the order of encodeLink: strings and byte strings as a
//	uvarint length and the bytes; times as a varint of Unix nanoseconds
//	after a presence byte; integers as varints; floats as 8 bytes.
//	verdict: a presence byte, then its fields (putVerdict); delivery: its
//	JSON (rare), empty when absent. revoked_at's presence byte also says
//	why the link was revoked (putRevoked).
//
// Format 0x01 had the verdict as JSON; records written before either are
// JSON (they start with '{'). Both are still read. A field added to Link,
// Requester, Network or Verdict without a line here fails
// TestLinkCodecCoversEveryField.
//
// The revoke reason is in revoked_at's presence byte, not a field of its
// own or a new format: every version that reads format 0x02 reads any
// byte but 0 there as "a time follows", so a link revoked here, by a
// restore above all, stays readable by the versions a rollback goes back
// to (EndCredentials' NB), which see it revoked at the same time, the
// reason unseen.
//
// Handoffs (h/<hash>) are stored the same way (encodeHandoff), since a
// consumption writes one beside the link in its synced transaction.
// Both are stored packed (pack.go) when that makes them smaller; a
// handoff that shares its link's address, metadata, locale and verdict
// is stored without them (encodeHandoffRef, Store.consume).
const (
	linkFormatV1  = 0x01
	linkFormat    = 0x02
	handoffFormat = 0x02
	// handoffRefFormat is a handoff that takes its address, metadata,
	// locale and verdict from its link when it is taken (Store.consume).
	handoffRefFormat = 0x03
)

// encodeLink appends the stored form of l to b.
func encodeLink(b []byte, l *linkguard.Link) ([]byte, error) {
	b = append(b, linkFormat)
	b = putString(b, l.ID)
	b = putString(b, l.Email)
	b = putString(b, l.RedirectURL)
	b = putBytes(b, l.Metadata)
	b = putString(b, string(l.Purpose))
	b = putString(b, l.Locale)
	b = putString(b, l.Family)
	b = putBytes(b, l.TokenHash)
	b = putBytes(b, l.CodeHash)
	b = putBytes(b, l.BindingHash)
	r := &l.Requester
	b = putNetwork(b, &r.Network)
	b = putString(b, r.UserAgent)
	b = putString(b, r.AcceptLanguage)
	b = putBool(b, r.HasBinding)
	b = putTime(b, r.At)
	b = putString(b, string(l.State))
	b = putTime(b, l.CreatedAt)
	b = putTime(b, l.ExpiresAt)
	b = putTime(b, l.ConsumedAt)
	b, err := putRevoked(b, l.RevokedAt, l.RevokeReason)
	if err != nil {
		return nil, fmt.Errorf("encode link %s: %w", l.ID, err)
	}
	b = binary.AppendVarint(b, int64(l.CodeAttempts))
	if l.Verdict == nil {
		b = append(b, 0)
	} else {
		b = putVerdict(append(b, 1), l.Verdict)
	}
	return putJSON(b, l.Delivery, l.Delivery != nil)
}

func putVerdict(b []byte, v *fingerprint.Verdict) []byte {
	b = putString(b, string(v.Decision))
	b = putFloat(b, v.Score)
	b = putFloat(b, v.Automation)
	b = putFloat(b, v.Compatibility)
	if v.Signals == nil {
		b = append(b, 0) // nil and empty differ in JSON (null, [])
	} else {
		b = binary.AppendUvarint(b, uint64(len(v.Signals))+1)
	}
	for i := range v.Signals {
		c := &v.Signals[i]
		b = putString(b, c.Signal)
		b = putString(b, string(c.Axis))
		b = putFloat(b, c.Value)
		b = putFloat(b, c.Weight)
		b = putString(b, c.Reason)
		b = putBool(b, c.Veto)
	}
	b = putString(b, v.Config)
	return putString(b, v.Rule)
}

// encodeHandoff appends the stored form of h to b.
func encodeHandoff(b []byte, h *linkguard.Handoff) []byte {
	b = append(b, handoffFormat)
	b = putBytes(b, h.CodeHash)
	b = putString(b, h.LinkID)
	b = putString(b, h.Email)
	b = putBytes(b, h.Metadata)
	b = putString(b, string(h.Purpose))
	b = putString(b, h.Locale)
	b = putTime(b, h.ConsumedAt)
	b = putTime(b, h.ExpiresAt)
	return putVerdict(b, &h.Verdict)
}

// encodeHandoffRef appends the stored form of h without what it shares
// with its link (handoffRefFormat).
func encodeHandoffRef(b []byte, h *linkguard.Handoff) []byte {
	b = append(b, handoffRefFormat)
	b = putBytes(b, h.CodeHash)
	b = putString(b, h.LinkID)
	b = putString(b, string(h.Purpose))
	b = putTime(b, h.ConsumedAt)
	return putTime(b, h.ExpiresAt)
}

// decodeStoredHandoff reads a stored handoff, in any format, into h;
// fromLink says that its address, metadata, locale and verdict are to be
// read from its link.
func decodeStoredHandoff(rec []byte, h *linkguard.Handoff) (fromLink bool, err error) {
	rec, err = unpack(rec)
	if err != nil {
		return false, fmt.Errorf("stored handoff: %w", err)
	}
	if len(rec) == 0 || rec[0] != handoffRefFormat {
		return false, decodeHandoff(rec, h)
	}
	d := decoder{b: rec[1:]}
	h.CodeHash = d.bytes()
	h.LinkID = d.str()
	h.Purpose = linkguard.Purpose(d.str())
	h.ConsumedAt = d.time()
	h.ExpiresAt = d.time()
	if err := d.end(); err != nil {
		return false, fmt.Errorf("stored handoff: %w", err)
	}
	return true, nil
}

// decodeHandoff reads a stored handoff, whole (JSON or handoffFormat,
// packed or not), into h.
func decodeHandoff(rec []byte, h *linkguard.Handoff) error {
	rec, err := unpack(rec)
	if err != nil {
		return fmt.Errorf("stored handoff: %w", err)
	}
	if len(rec) > 0 && rec[0] == '{' {
		return json.Unmarshal(rec, h)
	}
	if len(rec) == 0 || rec[0] != handoffFormat {
		return fmt.Errorf("stored handoff: unknown format %q", rec[:min(len(rec), 1)])
	}
	d := decoder{b: rec[1:]}
	h.CodeHash = d.bytes()
	h.LinkID = d.str()
	h.Email = d.str()
	if m := d.bytes(); m != nil {
		h.Metadata = json.RawMessage(m)
	}
	h.Purpose = linkguard.Purpose(d.str())
	h.Locale = d.str()
	h.ConsumedAt = d.time()
	h.ExpiresAt = d.time()
	d.verdict(&h.Verdict)
	if err := d.end(); err != nil {
		return fmt.Errorf("stored handoff: %w", err)
	}
	return nil
}

func putFloat(b []byte, f float64) []byte {
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(f))
}

func putNetwork(b []byte, n *fingerprint.Network) []byte {
	b = putString(b, n.Prefix)
	b = putString(b, n.Country)
	b = putString(b, n.City)
	b = putFloat(b, n.Lat)
	b = putFloat(b, n.Lon)
	b = putBool(b, n.HasGeo)
	b = binary.AppendUvarint(b, uint64(n.ASN))
	b = putString(b, n.ASOrg)
	b = putString(b, n.TimeZone)
	return putString(b, n.Range)
}

func putString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func putBytes(b, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

func putBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

func putTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, 0)
	}
	return binary.AppendVarint(append(b, 1), t.UnixNano())
}

// revokeReasons are the reasons by the presence byte of revoked_at that
// names them; 1 is revoked with no reason recorded (a link revoked before
// reasons were). NB: frozen, as stored records use them: a new reason
// takes a new byte, never a used one.
var revokeReasons = [...]linkguard.RevokeReason{
	2: linkguard.RevokeAPI,
	3: linkguard.RevokeConsole,
	4: linkguard.RevokeReplaced,
	5: linkguard.RevokeRestore,
}

// putRevoked appends RevokedAt as putTime does, its presence byte naming
// why (revokeReasons).
func putRevoked(b []byte, t time.Time, why linkguard.RevokeReason) ([]byte, error) {
	if t.IsZero() {
		if why != "" {
			return nil, fmt.Errorf("revoke reason %q without a revocation time", why)
		}
		return append(b, 0), nil
	}
	c := 1
	if why != "" {
		if c = slices.Index(revokeReasons[:], why); c < 0 {
			return nil, fmt.Errorf("revoke reason %q has no stored form (revokeReasons)", why)
		}
	}
	return binary.AppendVarint(append(b, byte(c)), t.UnixNano()), nil
}

func putJSON(b []byte, v any, present bool) ([]byte, error) {
	if !present {
		return append(b, 0), nil
	}
	j, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return putBytes(b, j), nil
}

// decodeLink reads a stored link, in either format, into l. The record
// may be Badger's own memory: nothing of it is kept.
func decodeLink(rec []byte, l *linkguard.Link) error {
	rec, err := unpack(rec)
	if err != nil {
		return fmt.Errorf("stored link: %w", err)
	}
	if len(rec) > 0 && rec[0] == '{' {
		return json.Unmarshal(rec, l)
	}
	if len(rec) == 0 || (rec[0] != linkFormat && rec[0] != linkFormatV1) {
		return fmt.Errorf("stored link: unknown format %q", rec[:min(len(rec), 1)])
	}
	d := decoder{b: rec[1:]}
	l.ID = d.str()
	l.Email = d.str()
	l.RedirectURL = d.str()
	if m := d.bytes(); m != nil {
		l.Metadata = json.RawMessage(m)
	}
	l.Purpose = linkguard.Purpose(d.str())
	l.Locale = d.str()
	l.Family = d.str()
	l.TokenHash = d.bytes()
	l.CodeHash = d.bytes()
	l.BindingHash = d.bytes()
	r := &l.Requester
	d.network(&r.Network)
	r.UserAgent = d.str()
	r.AcceptLanguage = d.str()
	r.HasBinding = d.bool()
	r.At = d.time()
	l.State = linkguard.State(d.str())
	l.CreatedAt = d.time()
	l.ExpiresAt = d.time()
	l.ConsumedAt = d.time()
	l.RevokedAt, l.RevokeReason = d.revoked()
	l.CodeAttempts = int(d.varint())
	if rec[0] == linkFormatV1 {
		if j := d.bytes(); j != nil && d.err == nil {
			l.Verdict = new(fingerprint.Verdict)
			d.fail(json.Unmarshal(j, l.Verdict))
		}
	} else if d.bool() {
		l.Verdict = new(fingerprint.Verdict)
		d.verdict(l.Verdict)
	}
	if j := d.bytes(); j != nil && d.err == nil {
		l.Delivery = new(linkguard.Delivery)
		d.fail(json.Unmarshal(j, l.Delivery))
	}
	if err := d.end(); err != nil {
		return fmt.Errorf("stored link: %w", err)
	}
	return nil
}

// end is the decoder's first error, or one for bytes left over.
func (d *decoder) end() error {
	if d.err == nil && len(d.b) != 0 {
		d.err = errors.New("trailing bytes")
	}
	return d.err
}

func (d *decoder) verdict(v *fingerprint.Verdict) {
	v.Decision = fingerprint.Decision(d.str())
	v.Score = d.float()
	v.Automation = d.float()
	v.Compatibility = d.float()
	if n := d.uvarint(); n > 0 && d.err == nil {
		n--
		if n > uint64(len(d.b))/20 { // a signal takes at least 20 bytes
			d.fail(errShort)
			return
		}
		v.Signals = make([]fingerprint.Contribution, n)
		for i := range v.Signals {
			c := &v.Signals[i]
			c.Signal = d.str()
			c.Axis = fingerprint.Axis(d.str())
			c.Value = d.float()
			c.Weight = d.float()
			c.Reason = d.str()
			c.Veto = d.bool()
		}
	}
	v.Config = d.str()
	v.Rule = d.str()
}

// decoder reads what encodeLink wrote; the first error sticks and every
// later read returns a zero value.
type decoder struct {
	b   []byte
	err error
}

var errShort = errors.New("record is cut short")

func (d *decoder) fail(err error) {
	if d.err == nil && err != nil {
		d.err = err
	}
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(errShort)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail(errShort)
		return 0
	}
	d.b = d.b[n:]
	return v
}

// raw returns the next length-prefixed field, in the record's memory.
func (d *decoder) raw() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.fail(errShort)
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) str() string { return string(d.raw()) }

// bytes is a copy of the next byte string; nil when it is empty.
func (d *decoder) bytes() []byte {
	v := d.raw()
	if len(v) == 0 {
		return nil
	}
	return append([]byte(nil), v...)
}

func (d *decoder) byte1() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) == 0 {
		d.fail(errShort)
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) bool() bool { return d.byte1() == 1 }

func (d *decoder) time() time.Time {
	if d.byte1() == 0 {
		return time.Time{}
	}
	return time.Unix(0, d.varint()).UTC()
}

// revoked reads what putRevoked wrote. A presence byte it does not know
// (a reason added by a later version) reads as revoked at the time with
// no reason, as older versions read every reason.
func (d *decoder) revoked() (time.Time, linkguard.RevokeReason) {
	c := d.byte1()
	if c == 0 {
		return time.Time{}, ""
	}
	t := time.Unix(0, d.varint()).UTC()
	if int(c) < len(revokeReasons) {
		return t, revokeReasons[c]
	}
	return t, ""
}

func (d *decoder) float() float64 {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 8 {
		d.fail(errShort)
		return 0
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(d.b))
	d.b = d.b[8:]
	return v
}

func (d *decoder) network(n *fingerprint.Network) {
	n.Prefix = d.str()
	n.Country = d.str()
	n.City = d.str()
	n.Lat = d.float()
	n.Lon = d.float()
	n.HasGeo = d.bool()
	n.ASN = uint32(d.uvarint())
	n.ASOrg = d.str()
	n.TimeZone = d.str()
	n.Range = d.str()
}
