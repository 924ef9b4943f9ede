package badger

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/fingerprint"
	"github.com/linkguard/linkguard/store/storetest"
)

// fill sets every field reachable from v to a value that is not its
// zero, different per field, so that a field the codec forgets shows.
func fill(t *testing.T, v reflect.Value, n *int) {
	*n++
	if v.Type() == reflect.TypeFor[linkguard.RevokeReason]() {
		// A closed set: the codec stores one of them, not any string.
		rs := linkguard.RevokeReasons
		v.Set(reflect.ValueOf(rs[*n%len(rs)]))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString("s" + strings.Repeat("x", *n))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64, reflect.Int32:
		v.SetInt(int64(*n))
	case reflect.Uint32, reflect.Uint64, reflect.Uint:
		v.SetUint(uint64(*n))
	case reflect.Float64:
		v.SetFloat(float64(*n) + 0.25)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(t, v.Elem(), n)
	case reflect.Slice:
		if v.Type() == reflect.TypeFor[json.RawMessage]() {
			v.SetBytes([]byte(`{"k":` + strings.Repeat("1", *n) + `}`))
			return
		}
		if v.Type().Elem().Kind() == reflect.Uint8 {
			v.SetBytes([]byte(strings.Repeat("b", *n)))
			return
		}
		s := reflect.MakeSlice(v.Type(), 2, 2)
		fill(t, s.Index(0), n)
		fill(t, s.Index(1), n)
		v.Set(s)
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Date(2026, 12, 1, 10, 0, *n, 123456789, time.UTC)))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(t, v.Field(i), n)
			}
		}
	default:
		t.Fatalf("fill: no value for a %s (%s): teach fill and the codec", v.Kind(), v.Type())
	}
}

// TestLinkCodecCoversEveryField: every field of a Link, set, survives
// the stored form. A field added to Link, Requester or Network without
// its line in codec.go fails here.
func TestLinkCodecCoversEveryField(t *testing.T) {
	var l linkguard.Link
	n := 0
	fill(t, reflect.ValueOf(&l).Elem(), &n)
	b, err := encodeLink(nil, &l)
	if err != nil {
		t.Fatal(err)
	}
	var got linkguard.Link
	if err := decodeLink(b, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, l) {
		gj, _ := json.Marshal(got)
		wj, _ := json.Marshal(l)
		t.Fatalf("round trip lost a field:\n got %s\nwant %s", gj, wj)
	}
	if j, _ := json.Marshal(&l); len(b) >= len(j) {
		t.Errorf("stored form is %d bytes, its JSON %d: the codec is for size and speed", len(b), len(j))
	}
	// A zero link too: absent times, hashes and pointers stay absent.
	var zero, z2 linkguard.Link
	b, _ = encodeLink(nil, &zero)
	if err := decodeLink(b, &z2); err != nil || !reflect.DeepEqual(z2, zero) {
		t.Fatalf("zero link: %v %+v", err, z2)
	}
}

// TestHandoffCodecCoversEveryField: the same for a handoff.
func TestHandoffCodecCoversEveryField(t *testing.T) {
	var h linkguard.Handoff
	n := 0
	fill(t, reflect.ValueOf(&h).Elem(), &n)
	b := encodeHandoff(nil, &h)
	var got linkguard.Handoff
	if err := decodeHandoff(b, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, h) {
		gj, _ := json.Marshal(got)
		wj, _ := json.Marshal(h)
		t.Fatalf("round trip lost a field:\n got %s\nwant %s", gj, wj)
	}
	// A verdict without signals keeps null apart from [].
	for _, sig := range [][]fingerprint.Contribution{nil, {}} {
		h := linkguard.Handoff{Verdict: fingerprint.Verdict{Signals: sig}}
		var got linkguard.Handoff
		if err := decodeHandoff(encodeHandoff(nil, &h), &got); err != nil || !reflect.DeepEqual(got, h) {
			t.Fatalf("signals %#v: %v %#v", sig, err, got.Verdict.Signals)
		}
	}
	for i := 1; i < len(b); i++ {
		if err := decodeHandoff(b[:i], &got); err == nil || !strings.Contains(err.Error(), "stored handoff") {
			t.Fatalf("record cut at %d of %d: err = %v", i, len(b), err)
		}
	}
	old, _ := json.Marshal(&h)
	if err := decodeHandoff(old, &got); err != nil || !reflect.DeepEqual(got, h) {
		t.Fatalf("a handoff stored as JSON: %v", err)
	}
}

// TestLinkFormatV1StillRead: links written with the verdict as JSON
// (format 0x01) read the same.
func TestLinkFormatV1StillRead(t *testing.T) {
	var l linkguard.Link
	n := 0
	fill(t, reflect.ValueOf(&l).Elem(), &n)
	v, d := l.Verdict, l.Delivery
	l.Verdict, l.Delivery = nil, nil
	b, _ := encodeLink(nil, &l)
	// Without verdict and delivery the two formats differ in the version
	// byte alone; 0x01 then wrote the verdict's JSON.
	vj, _ := json.Marshal(v)
	dj, _ := json.Marshal(d)
	v1 := append([]byte{linkFormatV1}, b[1:len(b)-2]...)
	v1 = putBytes(v1, vj)
	v1 = putBytes(v1, dj)
	var got linkguard.Link
	l.Verdict, l.Delivery = v, d
	if err := decodeLink(v1, &got); err != nil || !reflect.DeepEqual(got, l) {
		t.Fatalf("format 0x01: %v", err)
	}
}

// TestRevokeReasonReadByOlderVersions: a link revoked for a reason is
// stored as the same link revoked before reasons were, but for revoked_at's
// presence byte (1 there, 2 to 5 here), which every version that reads
// format 0x02 takes as "a time follows": a link a restore revokes stays
// readable by the versions a rollback goes back to, revoked at the same
// time. A byte this version does not know (a later version's reason)
// reads as revoked at the time, with no reason; a reason with no stored
// form is refused.
func TestRevokeReasonReadByOlderVersions(t *testing.T) {
	l := storetest.NewLink(t, time.Now(), "f")
	l.State, l.RevokedAt = linkguard.Revoked, l.CreatedAt.Add(time.Minute)
	before, err := encodeLink(nil, l)
	if err != nil {
		t.Fatal(err)
	}
	for _, why := range linkguard.RevokeReasons {
		l.RevokeReason = why
		b, err := encodeLink(nil, l)
		if err != nil {
			t.Fatal(err)
		}
		var diff []int
		for i := range min(len(b), len(before)) {
			if b[i] != before[i] {
				diff = append(diff, i)
			}
		}
		if len(b) != len(before) || len(diff) != 1 || before[diff[0]] != 1 || b[diff[0]] < 2 {
			t.Fatalf("%s: the record differs from one without a reason at %v (lengths %d, %d); want revoked_at's presence byte alone", why, diff, len(b), len(before))
		}
		var got linkguard.Link
		if err := decodeLink(b, &got); err != nil || got.RevokeReason != why || !got.RevokedAt.Equal(l.RevokedAt) {
			t.Fatalf("%s: read back %q at %s, %v", why, got.RevokeReason, got.RevokedAt, err)
		}
		later := append([]byte(nil), b...)
		later[diff[0]] = 0x7f
		got = linkguard.Link{}
		if err := decodeLink(later, &got); err != nil || got.RevokeReason != "" || !got.RevokedAt.Equal(l.RevokedAt) {
			t.Fatalf("an unknown reason byte: %q at %s, %v; want no reason, the same time", got.RevokeReason, got.RevokedAt, err)
		}
	}
	l.RevokeReason = "by magic"
	if _, err := encodeLink(nil, l); err == nil || !strings.Contains(err.Error(), "by magic") {
		t.Fatalf("an unknown reason: %v", err)
	}
}

// TestLinkCodecRefusesDamage: a cut or unknown record is an error naming
// the problem, never a half-read link.
func TestLinkCodecRefusesDamage(t *testing.T) {
	l := storetest.NewLink(t, time.Now(), "f")
	b, _ := encodeLink(nil, l)
	for i := 1; i < len(b); i++ {
		var got linkguard.Link
		if err := decodeLink(b[:i], &got); err == nil || !strings.Contains(err.Error(), "stored link") {
			t.Fatalf("record cut at %d of %d: err = %v", i, len(b), err)
		}
	}
	var got linkguard.Link
	if err := decodeLink(append(b, 0), &got); err == nil {
		t.Fatal("trailing bytes accepted")
	}
	if err := decodeLink([]byte{0x7f, 1, 2}, &got); err == nil || !strings.Contains(err.Error(), "unknown format") {
		t.Fatalf("unknown format: %v", err)
	}
}

// TestLinksStoredAsJSONStillRead: a data folder from before the compact
// format keeps working, and its links move to the new form when changed.
func TestLinksStoredAsJSONStillRead(t *testing.T) {
	ctx := context.Background()
	s := memStore(t)
	now := time.Now().UTC().Truncate(time.Millisecond)
	l := storetest.NewLink(t, now, "fam")
	l.Metadata = json.RawMessage(`{"plan":"pro"}`)
	old, _ := json.Marshal(l)
	err := s.db.Update(func(txn *badger.Txn) error {
		if err := txn.Set(linkKey(l.ID), old); err != nil {
			return err
		}
		return txn.Set(tokenKey(l.TokenHash), []byte(l.ID))
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.LinkByTokenHash(ctx, l.TokenHash)
	if err != nil || got.ID != l.ID || string(got.Metadata) != `{"plan":"pro"}` || !got.ExpiresAt.Equal(l.ExpiresAt) {
		t.Fatalf("JSON link: %v %+v", err, got)
	}
	if _, err := s.RevokeLink(ctx, l.ID, now, linkguard.RevokeAPI, nil); err != nil {
		t.Fatal(err)
	}
	if v, err := unpack(storedValue(t, s, linkKey(l.ID))); err != nil || v[0] != linkFormat {
		t.Errorf("a changed link is rewritten in the compact form, got %q… (%v)", v[:1], err)
	}
	if got, _ := s.LinkByID(ctx, l.ID); got.State != linkguard.Revoked {
		t.Fatalf("after revoke: %s", got.State)
	}
}

// BenchmarkDecodeLink is the decode behind every landing GET: the
// compact form against the JSON it replaced.
func BenchmarkDecodeLink(b *testing.B) {
	l := storetest.NewLink(b, time.Now(), "family")
	l.Requester.UserAgent = strings.Repeat("Mozilla/5.0 ", 10)
	l.Metadata = json.RawMessage(`{"plan":"pro","team":"a"}`)
	for _, f := range []struct {
		name string
		enc  func() ([]byte, error)
	}{
		{"compact", func() ([]byte, error) { return encodeLink(nil, l) }},
		{"json", func() ([]byte, error) { return json.Marshal(l) }},
	} {
		rec, err := f.enc()
		if err != nil {
			b.Fatal(err)
		}
		b.Run(f.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var got linkguard.Link
				if err := decodeLink(rec, &got); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(rec)), "bytes/link")
		})
	}
}
