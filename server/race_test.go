//go:build race

package server

// raceEnabled shortens the long loops: the race detector makes each
// request several times slower.
const raceEnabled = true
