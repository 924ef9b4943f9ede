//go:build !race

package linkguard

const raceEnabled = false
