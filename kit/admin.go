package kit

import (
	"context"
	"errors"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/admin"
	"github.com/linkguard/linkguard/fingerprint"
	"github.com/linkguard/linkguard/webhook"
)

// AdminOptions turn on the operator's console at /admin (package admin).
type AdminOptions struct {
	// Emails may sign in to the console; empty: there is no console, and
	// /admin answers 404 like any unknown path.
	Emails []string
	// ConfigFile is the YAML file the console's Tuning page saves the
	// heuristics to (then reloads them). Empty: it can replay, not save.
	ConfigFile string
	// SessionTTL is how long a console session lasts (default 1h).
	SessionTTL time.Duration
}

// setupEvents wires what listens to the service's events: the console's
// per-hour counters and the webhook dispatcher (whose timers find expired
// links for both), and registers the console's routes. Nothing of it
// exists when there is neither an admin address nor a webhook.
func (k *Kit) setupEvents(opts Options, publicURL string) error {
	consoleOn := len(opts.Admin.Emails) > 0
	if !consoleOn && len(opts.Webhooks) == 0 {
		return nil
	}
	svc := k.Service
	if consoleOn && svc.Mail == nil {
		return errors.New("admin.emails: operators sign in to the console by email, and this server sends none: set LINKGUARD_SMTP_URL (or use dev mode)")
	}
	var listeners []func(context.Context, *linkguard.Event)
	if consoleOn {
		k.counter = admin.NewCounter(k.store, k.log)
		listeners = append(listeners, k.counter.Event)
		svc.Visited = k.counter.Visit
	}
	d, err := webhook.New(webhook.Options{Store: k.store, Endpoints: opts.Webhooks,
		Timeout: opts.WebhookTimeout, Timers: consoleOn, Emit: svc.Emit, Log: k.log})
	if err != nil {
		return err
	}
	if d.Active() {
		k.webhooks = d
		svc.Webhooks = d
		listeners = append(listeners, d.Notify)
	}
	svc.Notify = func(ctx context.Context, e *linkguard.Event) {
		for _, l := range listeners {
			l(ctx, e)
		}
	}
	k.mailHooks.sent = func(at time.Time) {
		if k.counter != nil {
			k.counter.MailSent(at)
		}
	}
	k.mailHooks.svc = svc
	if !consoleOn {
		return nil
	}
	// The console's sign-in links come back to /admin/callback on the
	// kit itself, whatever the hosts' redirect settings say.
	pu, _ := url.Parse(publicURL)
	origin := linkguard.Origin(pu)
	pol := &svc.Policy
	if !slices.Contains(pol.RedirectOrigins, origin) {
		pol.RedirectOrigins = append(slices.Clip(pol.RedirectOrigins), origin)
	}
	for _, p := range pol.RedirectPaths {
		if u, err := url.Parse(p); err == nil && linkguard.Origin(u) == origin {
			pol.RedirectPaths = append(slices.Clip(pol.RedirectPaths), publicURL+"/admin/callback")
			break
		}
	}
	var save func(fingerprint.Config) (string, error)
	if opts.Admin.ConfigFile != "" {
		save = admin.SaveToFile(opts.Admin.ConfigFile, func(cfg fingerprint.Config) error { return k.Reload(&cfg) })
	}
	c, err := admin.New(admin.Options{Service: svc, Engine: k.Engine, Emails: opts.Admin.Emails, Dev: opts.Dev,
		BasePath: strings.TrimRight(pu.Path, "/"), DeviceCookie: k.Server.DeviceCookie(), Client: k.Server.Client,
		CSP: k.Server.CSP(), SaveHeuristics: save, Counter: k.counter, SessionTTL: opts.Admin.SessionTTL, Log: k.log})
	if err != nil {
		return err
	}
	c.Register(k.Server.App())
	k.console = c
	return nil
}

// startEvents runs the counters' flush and the webhook deliveries.
func (k *Kit) startEvents(ctx context.Context) {
	if k.counter != nil {
		k.wg.Add(1)
		go func() {
			defer k.wg.Done()
			k.counter.Run(ctx, 5*time.Second)
		}()
	}
	if k.webhooks != nil {
		k.wg.Add(1)
		go func() {
			defer k.wg.Done()
			if err := k.webhooks.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
				k.log.Error("webhook dispatcher stopped", "err", err)
			}
		}()
	}
}

// mailHooks tell the console and the webhooks what the mail deliverer did.
type mailHooks struct {
	sent func(at time.Time)
	// svc, when set, queues and tells mail.failed.
	svc *linkguard.Service
}

var addressRe = regexp.MustCompile(`[^\s<>()"',;:]+@[^\s<>()"',;:]+`)

// redactAddresses hides email addresses in a mail server's answer, which
// often quotes the recipient: webhook bodies never carry an address.
func redactAddresses(s string) string { return addressRe.ReplaceAllString(s, "<address>") }
