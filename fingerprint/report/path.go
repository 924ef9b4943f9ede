package report

import "math"

// PathWindowMS is how far back before a click the click's pointer path
// reaches.
const PathWindowMS = 3000

// pathRing is how many recent pointer positions a PathTracker keeps for
// the click window. At 60 moves a second it covers PathWindowMS.
const pathRing = 192

type point struct{ x, y, t float64 }

// PathTracker follows trusted pointer movement: running totals over the
// whole page life, and the last positions for the path before a click.
// The zero value is ready to use. It is not safe for concurrent use (the
// collector runs on the page's one thread).
type PathTracker struct {
	ring  [pathRing]point
	n     int // positions stored in ring (≤ pathRing)
	next  int // index of the next write
	first point
	last  point
	total int
	// Running sums for the whole path.
	length             float64
	speeds             int
	speedSum, speedSq2 float64
}

// Move records the pointer at (x, y) at time t (ms). A position equal to
// the last one is not a new point.
func (p *PathTracker) Move(x, y, t float64) {
	if bad(x) || bad(y) || bad(t) {
		return
	}
	pt := point{x, y, t}
	if p.total > 0 {
		if x == p.last.x && y == p.last.y {
			return
		}
		d := math.Hypot(x-p.last.x, y-p.last.y)
		p.length += d
		if dt := t - p.last.t; dt > 0 {
			v := d / dt
			p.speeds++
			p.speedSum += v
			p.speedSq2 += v * v
		}
	} else {
		p.first = pt
	}
	p.last = pt
	p.total++
	p.ring[p.next] = pt
	p.next = (p.next + 1) % pathRing
	if p.n < pathRing {
		p.n++
	}
}

// Total summarizes all movement so far (EndDistance is -1).
func (p *PathTracker) Total() PointerPath {
	out := PointerPath{Points: p.total, Length: p.length, EndDistance: -1}
	if p.total == 0 {
		return out
	}
	out.DurationMS = p.last.t - p.first.t
	if p.length > 0 {
		out.Straightness = min(1, math.Hypot(p.last.x-p.first.x, p.last.y-p.first.y)/p.length)
	}
	if p.total >= 3 {
		out.SpeedCV = cv(p.speeds, p.speedSum, p.speedSq2)
	}
	return out
}

// Before summarizes the movement in the PathWindowMS before time t, and
// how far its last position is from (x, y), the click point. Pass
// hasPoint false for a click without coordinates (keyboard activation):
// EndDistance is then -1.
func (p *PathTracker) Before(t, x, y float64, hasPoint bool) PointerPath {
	pts := make([]point, 0, p.n)
	for i := 0; i < p.n; i++ {
		pt := p.ring[(p.next-p.n+i+pathRing)%pathRing]
		if pt.t <= t && pt.t >= t-PathWindowMS {
			pts = append(pts, pt)
		}
	}
	return summarize(pts, x, y, hasPoint)
}

func summarize(pts []point, x, y float64, hasPoint bool) PointerPath {
	out := PointerPath{Points: len(pts), EndDistance: -1}
	if len(pts) == 0 {
		return out
	}
	var n int
	var sum, sq float64
	for i := 1; i < len(pts); i++ {
		d := math.Hypot(pts[i].x-pts[i-1].x, pts[i].y-pts[i-1].y)
		out.Length += d
		if dt := pts[i].t - pts[i-1].t; dt > 0 {
			v := d / dt
			n++
			sum += v
			sq += v * v
		}
	}
	a, z := pts[0], pts[len(pts)-1]
	out.DurationMS = z.t - a.t
	if out.Length > 0 {
		out.Straightness = min(1, math.Hypot(z.x-a.x, z.y-a.y)/out.Length)
	}
	if len(pts) >= 3 {
		out.SpeedCV = cv(n, sum, sq)
	}
	if hasPoint && !bad(x) && !bad(y) {
		out.EndDistance = math.Hypot(x-z.x, y-z.y)
	}
	return out
}

// cv is the coefficient of variation (stddev / mean) of n values given
// their sum and sum of squares.
func cv(n int, sum, sq float64) float64 {
	if n < 2 || sum <= 0 {
		return 0
	}
	mean := sum / float64(n)
	v := sq/float64(n) - mean*mean
	if v <= 0 {
		return 0
	}
	return math.Sqrt(v) / mean
}

func bad(f float64) bool { return math.IsNaN(f) || math.IsInf(f, 0) }
