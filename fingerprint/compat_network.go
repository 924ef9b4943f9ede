package fingerprint

// network (compatibility): whose network the visitor comes from, against
// the requester's. A known mail scanner's network is a mark of a machine
// (scanner_network, on the automation axis); a datacenter is only far
// from a person at home, since VPN exits live there too.
func (e *eval) network() {
	rq, vs := &e.in.Requester.Network, &e.in.Visitor.Network
	switch {
	case vs.Prefix != "" && vs.Prefix == rq.Prefix:
		e.note(1, "same address block as the requester")
	case vs.ASN != 0 && vs.ASN == rq.ASN:
		e.note(0.8, "same network as the requester (").asn(vs.ASN).text(")")
	case e.c.datacenter[vs.ASN]:
		e.note(-1, "").asn(vs.ASN).text(" is a datacenter network: people rarely browse from one")
	case vs.ASN == 0:
		e.note(0, "no ASN for the visitor")
	default:
		e.note(0, "another network than the requester (").asn(vs.ASN).text(")")
	}
}
