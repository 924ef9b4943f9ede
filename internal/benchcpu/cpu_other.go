//go:build !unix

package benchcpu

import "time"

// cpu is unknown here: cpu-ns/op reads 0.
func cpu() time.Duration { return 0 }
