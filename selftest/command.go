package selftest

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"time"
)

// Command is `linkguard selftest` and `linkguard-selftest`: it reads the
// flags (getenv for their defaults), runs every step with browser for
// the headless one (nil: skipped) and prints the report; a failed step
// is an error that names it.
func Command(ctx context.Context, args []string, getenv func(string) string, browser Browser, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("selftest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := Options{Browser: browser}
	fs.StringVar(&o.URL, "url", getenv("LINKGUARD_PUBLIC_URL"), "the deployment's public `URL` (default $LINKGUARD_PUBLIC_URL)")
	fs.StringVar(&o.APIKey, "api-key", "", "one of the deployment's API keys (default $LINKGUARD_SELFTEST_API_KEY)")
	fs.StringVar(&o.RedirectURL, "redirect-url", "", "the test link's redirect (default: the URL's origin + /)")
	fs.StringVar(&o.Email, "email", "selftest@example.com", "the test link's address (no mail is sent)")
	fs.StringVar(&o.Chromium, "chromium", "", `the browser for the headless step (default: chromium on PATH; "off" skips it)`)
	fs.DurationVar(&o.Timeout, "timeout", 15*time.Second, "bound on each request")
	source := fs.String("source", "", "local `address` the requests leave from")
	expect := fs.String("expect-ip", "", "the `address` the server must see for this machine (its public address behind a NAT)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("selftest: unexpected argument %q", fs.Arg(0))
	}
	if o.APIKey == "" {
		o.APIKey = getenv("LINKGUARD_SELFTEST_API_KEY")
	}
	for _, a := range []struct {
		flag string
		in   string
		out  *netip.Addr
	}{{"--source", *source, &o.Source}, {"--expect-ip", *expect, &o.ExpectIP}} {
		if a.in == "" {
			continue
		}
		ip, err := netip.ParseAddr(a.in)
		if err != nil {
			return fmt.Errorf("selftest: %s %q is not an IP address", a.flag, a.in)
		}
		*a.out = ip
	}
	rep, err := Run(ctx, o)
	if err != nil {
		return fmt.Errorf("selftest: %w", err)
	}
	if err := rep.Print(stdout); err != nil {
		return err
	}
	return rep.Err()
}
