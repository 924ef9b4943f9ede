package mail

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	s := time.Second
	tests := []struct {
		name    string
		b       Backoff
		attempt int
		want    time.Duration
	}{
		{"default/first", Backoff{Base: 5 * s, Max: 10 * time.Minute}, 1, 5 * s},
		{"default/second", Backoff{Base: 5 * s, Max: 10 * time.Minute}, 2, 10 * s},
		{"default/third", Backoff{Base: 5 * s, Max: 10 * time.Minute}, 3, 20 * s},
		{"default/eighth", Backoff{Base: 5 * s, Max: 10 * time.Minute}, 8, 10 * time.Minute},
		{"cap/huge attempt does not overflow", Backoff{Base: 5 * s, Max: 10 * time.Minute}, 1 << 30, 10 * time.Minute},
		{"zero attempt/is first", Backoff{Base: 5 * s, Max: time.Minute}, 0, 5 * s},
		{"zero value/uses defaults", Backoff{}, 1, 5 * s},
		{"jitter/none drawn", Backoff{Base: 10 * s, Max: time.Minute, Jitter: 0.2, Rand: func() float64 { return 0 }}, 1, 10 * s},
		{"jitter/half drawn", Backoff{Base: 10 * s, Max: time.Minute, Jitter: 0.2, Rand: func() float64 { return 0.5 }}, 1, 9 * s},
		{"jitter/at cap", Backoff{Base: 10 * s, Max: time.Minute, Jitter: 0.5, Rand: func() float64 { return 0.5 }}, 10, 45 * s},
		{"jitter/bad rand ignored", Backoff{Base: 10 * s, Max: time.Minute, Jitter: 0.2, Rand: func() float64 { return 7 }}, 1, 10 * s},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.b.Delay(tc.attempt); got != tc.want {
				t.Errorf("Delay(%d) = %v, want %v", tc.attempt, got, tc.want)
			}
		})
	}
}

func TestDefaultBackoffStaysInRange(t *testing.T) {
	for attempt := 1; attempt < 40; attempt++ {
		d := DefaultBackoff.Delay(attempt)
		if d < 4*time.Second || d > 10*time.Minute {
			t.Fatalf("Delay(%d) = %v out of range", attempt, d)
		}
	}
}
