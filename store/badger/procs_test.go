package badger

import "testing"

func TestProcs(t *testing.T) {
	for _, c := range []struct{ chosen, want int }{
		{1, 4}, {2, 8}, {16, 64}, {32, 128}, {64, 128}, {200, 200},
	} {
		if got := Procs(c.chosen); got != c.want {
			t.Errorf("Procs(%d) = %d, want %d", c.chosen, got, c.want)
		}
	}
}
