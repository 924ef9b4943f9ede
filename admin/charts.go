package admin

import (
	"fmt"
	"html/template"
	"strings"
	"time"
)

// bucket is one bar group of a chart: a time span and its counts.
type bucket struct {
	Label  string
	Values map[string]int64
}

// chart is a server-rendered SVG: no script, no inline style (the CSP
// forbids both); colours come from classes in admin.css, so light and
// dark follow prefers-color-scheme.
type chart struct {
	Title  string
	SVG    template.HTML
	Legend []legendItem
	Empty  bool
}

type legendItem struct{ Class, Name string }

var seriesNames = map[string]string{cIssued: "issued", "consumed": "consumed", cBlocked: "scanners turned away", cExpired: "expired unused"}

// value reads a series from an hour's counters: "consumed" sums its ways.
func value(m map[string]int64, s string) int64 {
	if s == "consumed" {
		return m[cConsumed+"cookie"] + m[cConsumed+"click"] + m[cConsumed+"code"]
	}
	return m[s]
}

func hourly(hours map[time.Time]map[string]int64, now time.Time, n int, series []string) []bucket {
	end := now.UTC().Truncate(time.Hour)
	out := make([]bucket, n)
	for i := range n {
		h := end.Add(-time.Duration(n-1-i) * time.Hour)
		b := bucket{Label: h.Format("15h"), Values: map[string]int64{}}
		for _, s := range series {
			b.Values[s] = value(hours[h], s)
		}
		out[i] = b
	}
	return out
}

func daily(hours map[time.Time]map[string]int64, now time.Time, n int, series []string) []bucket {
	today := now.UTC().Truncate(24 * time.Hour)
	out := make([]bucket, n)
	for i := range n {
		day := today.Add(-time.Duration(n-1-i) * 24 * time.Hour)
		b := bucket{Label: day.Format("02 Jan"), Values: map[string]int64{}}
		for h := 0; h < 24; h++ {
			m := hours[day.Add(time.Duration(h)*time.Hour)]
			for _, s := range series {
				b.Values[s] += value(m, s)
			}
		}
		out[i] = b
	}
	return out
}

// barChart draws grouped bars, one per series in each bucket.
func barChart(title string, buckets []bucket, series []string) chart {
	const w, h, top, bottom, left = 720.0, 220.0, 10.0, 28.0, 36.0
	var peak int64
	for _, b := range buckets {
		for _, s := range series {
			peak = max(peak, b.Values[s])
		}
	}
	ch := chart{Title: title, Empty: peak == 0}
	for i, s := range series {
		ch.Legend = append(ch.Legend, legendItem{Class: fmt.Sprintf("s%d", i), Name: seriesNames[s]})
	}
	scale := max(peak, 1)
	var sb strings.Builder
	fmt.Fprintf(&sb, `<svg class="chart" viewBox="0 0 %g %g" role="img" aria-label="%s">`, w, h, template.HTMLEscapeString(title))
	plotH := h - top - bottom
	// Axis and the peak's gridline.
	fmt.Fprintf(&sb, `<line class="axis" x1="%g" y1="%g" x2="%g" y2="%g"/>`, left, h-bottom, w, h-bottom)
	fmt.Fprintf(&sb, `<line class="grid" x1="%g" y1="%g" x2="%g" y2="%g"/>`, left, top, w, top)
	fmt.Fprintf(&sb, `<text class="tick" x="%g" y="%g" text-anchor="end">%d</text>`, left-4, top+4, peak)
	fmt.Fprintf(&sb, `<text class="tick" x="%g" y="%g" text-anchor="end">0</text>`, left-4, h-bottom+4)
	slot := (w - left) / float64(len(buckets))
	bar := slot * 0.8 / float64(len(series))
	every := max(1, len(buckets)/8)
	for i, b := range buckets {
		x0 := left + float64(i)*slot + slot*0.1
		for j, s := range series {
			v := b.Values[s]
			bh := plotH * float64(v) / float64(scale)
			fmt.Fprintf(&sb, `<rect class="s%d" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s %s: %d</title></rect>`,
				j, x0+float64(j)*bar, h-bottom-bh, bar, bh, template.HTMLEscapeString(b.Label), seriesNames[s], v)
		}
		if i%every == 0 {
			fmt.Fprintf(&sb, `<text class="tick" x="%.1f" y="%g" text-anchor="middle">%s</text>`, x0+slot*0.4, h-8, template.HTMLEscapeString(b.Label))
		}
	}
	sb.WriteString(`</svg>`)
	ch.SVG = template.HTML(sb.String())
	return ch
}
