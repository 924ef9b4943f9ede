package linkguard

import (
	"strconv"
	"sync"
	"time"
)

// Notice is what a landing page tells the person when a known mail
// filter opened their link first: the filter's name and how long after
// the link was sent. It never names an address.
type Notice struct {
	// Filter is the mail filter's name as people know it.
	Filter string
	// After is how long after issue it opened the link ("3 seconds"),
	// and Seconds the same in seconds, for pages in other languages.
	After   string
	Seconds int64
}

// filterNames are the scanner entries (fingerprint's scanner list) that
// are mail filters, by the name people know them by. Entries not listed
// here (an operator's own) show their entry name; chat unfurlers are not
// mail filters and are not mentioned.
var filterNames = map[string]string{
	"microsoft":      "Microsoft Defender for Office 365",
	"proofpoint":     "Proofpoint",
	"mimecast":       "Mimecast",
	"barracuda":      "Barracuda",
	"cisco":          "Cisco Secure Email",
	"google":         "Google",
	"chat-unfurlers": "",
}

// maxSightings bounds the sightings a Service remembers.
const maxSightings = 1 << 14

// sightings remembers, per link, the first visit that a scanner entry
// claimed, so that the page a person loads later can say so without a
// store read. NB: it is this process's memory: a scanner that another
// instance served, or that came before a restart, is not mentioned.
type sightings struct {
	mu sync.Mutex
	m  map[string]sighting
}

type sighting struct {
	scanner string
	after   time.Duration
}

// noteScanner records that scanner opened l at time at, unless an earlier
// sighting is known.
func (s *Service) noteScanner(l *Link, scanner string, at time.Time) {
	if scanner == "" {
		return
	}
	sg := &s.sightings
	sg.mu.Lock()
	defer sg.mu.Unlock()
	if sg.m == nil {
		sg.m = map[string]sighting{}
	}
	if _, ok := sg.m[l.ID]; ok {
		return
	}
	if len(sg.m) >= maxSightings {
		for k := range sg.m { // bounded: forget one at random
			delete(sg.m, k)
			break
		}
	}
	sg.m[l.ID] = sighting{scanner: scanner, after: at.Sub(l.CreatedAt)}
}

// notice is what the page of l says about a filter that opened it first.
func (s *Service) notice(l *Link) Notice {
	sg := &s.sightings
	sg.mu.Lock()
	x, ok := sg.m[l.ID]
	sg.mu.Unlock()
	if !ok {
		return Notice{}
	}
	name, known := filterNames[x.scanner]
	if !known {
		name = x.scanner
	}
	if name == "" {
		return Notice{}
	}
	return Notice{Filter: name, After: humanDuration(x.after), Seconds: max(int64(x.after/time.Second), 0)}
}

// humanDuration writes d as people say it: "3 seconds", "2 minutes".
func humanDuration(d time.Duration) string {
	n, unit := int64(d/time.Second), "second"
	switch {
	case d >= 48*time.Hour:
		n, unit = int64(d/(24*time.Hour)), "day"
	case d >= 2*time.Hour:
		n, unit = int64(d/time.Hour), "hour"
	case d >= 2*time.Minute:
		n, unit = int64(d/time.Minute), "minute"
	}
	if n < 0 {
		n = 0
	}
	if n != 1 {
		unit += "s"
	}
	return strconv.FormatInt(n, 10) + " " + unit
}
