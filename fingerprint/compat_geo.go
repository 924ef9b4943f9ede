package fingerprint

import "strings"

// geo (compatibility): where the requester and the visitor are, by GeoIP.
func (e *eval) geo() {
	rq, vs := &e.in.Requester.Network, &e.in.Visitor.Network
	if rq.Country == "" || vs.Country == "" {
		e.note(0, "no GeoIP country for the requester or the visitor")
		return
	}
	same := strings.EqualFold(rq.Country, vs.Country)
	p := &e.c.cfg.Params
	if rq.HasGeo && vs.HasGeo {
		d := distanceKm(rq.Lat, rq.Lon, vs.Lat, vs.Lon)
		switch {
		case d <= p.NearKm:
			e.note(1, "the visitor is ")
		case d >= p.FarKm:
			e.note(-1, "the visitor is ")
		case same:
			e.note(0.5, "the visitor is ")
		default:
			e.note(-0.4, "the visitor is ")
		}
		e.int(int(d)).text(" km from the requester (").ext(rq.Country).text(" → ").ext(vs.Country).text(")")
		return
	}
	if same {
		if rq.City != "" && rq.City == vs.City {
			e.note(1, "same city as the requester (").ext(vs.City).text(")")
			return
		}
		e.note(0.6, "same country as the requester (").ext(vs.Country).text(")")
		return
	}
	e.note(-0.8, "another country than the requester (").ext(rq.Country).text(" → ").ext(vs.Country).text(")")
}
