//go:build race

package fingerprint

// raceEnabled: under the race detector sync.Pool drops items at random
// and the detector allocates, so allocation counts are checked without it.
const raceEnabled = true
