package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"

	"github.com/linkguard/linkguard/selftest"
)

// selftestMain runs `linkguard selftest`. The headless-browser step needs
// chromedp, which the server binary does not carry: when the helper
// binary linkguard-selftest is installed (beside this one, else on PATH)
// the whole self-test is its run; without it every other step runs here
// and the browser step is skipped, saying why.
func selftestMain(args []string, stdout, stderr io.Writer) error {
	if helper := findSelftestHelper(); helper != "" {
		return runSelftestHelper(helper, args, stdout, stderr)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	return selftest.Command(ctx, args, os.Getenv, nil, stdout, stderr)
}

// findSelftestHelper is the path of linkguard-selftest beside this
// executable, else on PATH; "" when there is none.
func findSelftestHelper() string {
	if exe, err := os.Executable(); err == nil {
		if p, err := exec.LookPath(filepath.Join(filepath.Dir(exe), selftest.Helper)); err == nil {
			return p
		}
	}
	p, err := exec.LookPath(selftest.Helper)
	if err != nil {
		return ""
	}
	return p
}

// runSelftestHelper runs helper with args on this process's terminal; its
// failure is its exit status, as it has said why on stderr.
func runSelftestHelper(helper string, args []string, stdout, stderr io.Writer) error {
	cmd := exec.Command(helper, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, stdout, stderr
	// NB: Ctrl-C reaches the helper too (same process group); this process
	// waits for it to stop rather than leave it printing after the prompt.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt)
	defer signal.Stop(sig)
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() > 0 {
		return exitStatus(ee.ExitCode())
	}
	if err != nil {
		return fmt.Errorf("selftest: run %s: %w", helper, err)
	}
	return nil
}

// exitStatus is a failure already reported on stderr: main exits with it
// and prints nothing more.
type exitStatus int

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }
