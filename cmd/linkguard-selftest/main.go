// Command linkguard-selftest is `linkguard selftest` with its headless-
// browser step: package selftest with a Chromium driven by chromedp
// (package selftest/chromium). It is a binary of its own so that the
// server binary carries no browser driver; `linkguard selftest` runs it
// when it is installed beside linkguard or on PATH (docs/operations.md).
//
//	linkguard-selftest --url URL --api-key KEY [--chromium PATH|off]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"

	"github.com/linkguard/linkguard/selftest"
	"github.com/linkguard/linkguard/selftest/chromium"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := selftest.Command(ctx, os.Args[1:], os.Getenv, chromium.Play, os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, selftest.Helper+":", err)
		os.Exit(1)
	}
}
