package fingerprint

// scanner_network (automation): the visitor's address lies in a known
// mail scanner's network (a strong mark; scanners.go names each entry's
// public source) or in a datacenter (a weak one: the cloud providers'
// ASN registry entries, scanners.go).
//
// NB: with Proofpoint or Mimecast browser isolation a person's own click
// also comes from the vendor's network; the veto sends them to the code,
// which they can type, never to a dead end.
func (e *eval) scannerNetwork() {
	vs := &e.in.Visitor.Network
	if vs.Range != "" {
		e.veto("the address is in a range of the mail-scanner vendor ").ext(vs.Range).text("; a person behind its browser isolation can still type the code")
		return
	}
	if name, ok := e.c.scannerASN[vs.ASN]; ok && vs.ASN != 0 {
		e.veto("").asn(vs.ASN).text(" belongs to the mail-scanner vendor ").ext(name).text("; a person behind its browser isolation can still type the code")
		return
	}
	if e.c.datacenter[vs.ASN] {
		// Weak: VPN exits live in datacenters too; compatibility counts
		// the same fact against "the person who asked".
		e.mark(0.4, "").asn(vs.ASN).text(" is a datacenter network, where scanners and headless browsers run (and VPN exits)")
		return
	}
	e.note(0, "not a known mail scanner's network")
}
