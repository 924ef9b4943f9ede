// Package chaos kills the real linkguard binary (SIGKILL) under issue and
// consume load, restarts it on the same store, and checks that nothing it
// acknowledged was lost or undone and that no link was consumed twice:
// on Badger, on Redis, and across crashes of Redis itself. Its tests are
// the suite; `make chaos` runs many rounds, `make test` a few.
package chaos
