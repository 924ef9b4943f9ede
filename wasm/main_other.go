//go:build !(js && wasm)

package main

// main exists so that the package builds (and vets) on the host; the
// collector itself only runs in a browser.
func main() { println("the collector builds with GOOS=js GOARCH=wasm") }
