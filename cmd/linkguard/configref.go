package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// The configuration reference: configDocs says what each key of Config
// means and which environment variable and flag set it; the key list
// itself comes from Config by reflection, so a key added to Config
// without a line here fails TestConfigReference. `linkguard config
// --print-defaults` and docs/configuration.md are both made from these.

//go:generate go run . config --markdown ../../docs/configuration.md

// keyDoc documents one setting.
type keyDoc struct {
	// Key is the YAML path ("links.default_ttl"); entries of a list are
	// "[]", of a map "<name>". Empty for a setting with no YAML key.
	Key  string
	Env  string
	Flag string
	Doc  string
	// Default, when set, replaces the default read from Default() (a
	// derived one, "http:// + listen").
	Default string
}

var configDocs = []keyDoc{
	{Key: "", Env: "LINKGUARD_CONFIG", Flag: "--config", Doc: "the YAML file of these settings"},
	{Key: "listen", Env: "LINKGUARD_LISTEN", Flag: "--listen", Doc: "address to listen on"},
	{Key: "public_url", Env: "LINKGUARD_PUBLIC_URL", Doc: "base URL that links use, with the path the kit is mounted under; https outside dev mode", Default: "http:// + listen"},
	{Key: "data_dir", Env: "LINKGUARD_DATA_DIR", Doc: "Badger data folder (also holds server.key)"},
	{Key: "store", Env: "LINKGUARD_STORE", Doc: "badger, or a redis:// or rediss:// URL for several instances on one Redis (docs/redis.md)"},
	{Key: "api_keys", Env: "LINKGUARD_API_KEYS", Doc: "API keys of /v1 (16+ characters each; comma-separated in the environment)", Default: "dev mode: a dev key kept in the data folder"},
	{Key: "redirect_origins", Env: "LINKGUARD_REDIRECT_ORIGINS", Doc: "allowed redirect origins", Default: "the public URL's origin"},
	{Key: "redirect_paths", Env: "LINKGUARD_REDIRECT_PATHS", Doc: "path prefixes (https://app.example.com/auth/): an origin named here only accepts redirects under its prefixes", Default: "any path"},
	{Key: "default_redirect", Env: "LINKGUARD_DEFAULT_REDIRECT", Doc: "redirect used when a request names none"},
	{Key: "trusted_proxies", Env: "LINKGUARD_TRUSTED_PROXIES", Doc: "CIDRs of reverse proxies whose X-Forwarded-For is believed (`linkguard selftest` checks it)"},
	{Key: "secret_key_file", Env: "LINKGUARD_SECRET_KEY_FILE", Doc: "server key file (32+ random bytes); share it between instances", Default: "data_dir/server.key, created at first start"},
	{Key: "dev", Env: "LINKGUARD_DEV", Flag: "--dev", Doc: "dev mode: outbox, dev API key, plain-http cookies, /demo"},
	{Key: "geoip.city", Env: "LINKGUARD_GEOIP_CITY", Doc: "GeoIP2/GeoLite2 City or Country mmdb (geo signals off without)"},
	{Key: "geoip.asn", Env: "LINKGUARD_GEOIP_ASN", Doc: "GeoLite2-ASN-schema mmdb (network signals from config only without)"},
	{Key: "mail.smtp_url", Env: "LINKGUARD_SMTP_URL", Doc: "smtp://user:pass@host:587 (STARTTLS) or smtps://user:pass@host:465 (TLS); no mail is sent without"},
	{Key: "mail.from", Env: "LINKGUARD_MAIL_FROM", Doc: "sender address", Default: "linkguard@ + public host"},
	{Key: "mail.templates_dir", Env: "LINKGUARD_MAIL_TEMPLATES_DIR", Doc: "folder of email templates (subject.txt, body.txt, body.html) replacing the embedded ones"},
	{Key: "links.default_ttl", Doc: "a link's lifetime when the request names none (1m..24h)"},
	{Key: "links.nonce_max_age", Doc: "how long a rendered landing page may report"},
	{Key: "links.handoff_ttl", Doc: "lifetime of a handoff code (lg_code)"},
	{Key: "links.max_code_attempts", Doc: "wrong codes a link takes before it locks"},
	{Key: "links.retention", Doc: "how long finished links stay readable by the API"},
	{Key: "brand.name", Doc: "product name on pages and mails"},
	{Key: "brand.logo_url", Doc: "logo on pages and mails (https, or a data: URL)"},
	{Key: "brand.accent", Doc: "accent colour (#rrggbb)"},
	{Key: "brand.support", Doc: "support contact shown on error pages"},
	{Key: "templates_dir", Env: "LINKGUARD_TEMPLATES_DIR", Doc: "folder of page templates (landing.html, login.html, ...) replacing the embedded ones"},
	{Key: "messages_dir", Env: "LINKGUARD_MESSAGES_DIR", Doc: "folder of message files (de.yaml, sv.yaml, ...) that add a language or override shipped messages"},
	{Key: "default_locale", Env: "LINKGUARD_DEFAULT_LOCALE", Doc: "language of pages and mails that match no offered one"},
	{Key: "shutdown_timeout", Doc: "how long a graceful shutdown waits for requests in flight"},
	{Key: "handoff.assertion", Env: "LINKGUARD_HANDOFF_ASSERTION", Doc: "redirects also carry lg_assertion, an Ed25519 JWT; keys at /.well-known/jwks.json"},
	{Key: "metrics_listen", Env: "LINKGUARD_METRICS_LISTEN", Doc: "address of the Prometheus /metrics listener (off when empty)"},
	{Key: "log.format", Env: "LINKGUARD_LOG_FORMAT", Doc: "text (logfmt) or json (one object per line)"},
	{Key: "log.level", Env: "LINKGUARD_LOG_LEVEL", Doc: "debug, info, warn or error"},
	{Key: "oidc.clients", Doc: "relying parties of the OpenID provider (on when this lists any; `linkguard oidc add-client`, docs/oidc.md)"},
	{Key: "oidc.clients[].id", Doc: "the client_id"},
	{Key: "oidc.clients[].secret", Doc: "bcrypt hash of the client secret; empty for a public client"},
	{Key: "oidc.clients[].public", Doc: "a client without a secret (PKCE S256 required)"},
	{Key: "oidc.clients[].redirect_uris", Doc: "redirect URIs, matched exactly"},
	{Key: "oidc.clients[].post_logout_redirect_uris", Doc: "where end-session may send the browser"},
	{Key: "oidc.clients[].scopes", Doc: "scopes the client may ask for", Default: "openid, email, profile"},
	{Key: "oidc.clients[].id_token_alg", Doc: "EdDSA or RS256", Default: "EdDSA"},
	{Key: "oidc.clients[].refresh_tokens", Doc: "the client may ask for offline_access and get refresh tokens"},
	{Key: "oidc.auth_request_ttl", Doc: "how long a person has to sign in"},
	{Key: "oidc.code_ttl", Doc: "how long an authorization code works"},
	{Key: "oidc.access_token_ttl", Doc: "access token lifetime"},
	{Key: "oidc.id_token_ttl", Doc: "ID token lifetime"},
	{Key: "oidc.refresh_token_ttl", Doc: "refresh token lifetime"},
	{Key: "admin.emails", Env: "LINKGUARD_ADMIN_EMAILS", Doc: "addresses that may sign in to the operator's console at /admin (none: no console; docs/console.md)"},
	{Key: "webhooks", Doc: "endpoints told of link events, Standard Webhooks signed (docs/webhooks.md)"},
	{Key: "webhooks[].url", Doc: "where events are posted"},
	{Key: "webhooks[].secret", Doc: "whsec_ and the base64 of 24 to 64 random bytes"},
	{Key: "webhooks[].events", Doc: "event types sent", Default: "all but link.issued and link.revoked"},
	{Key: "webhook_timeout", Doc: "how long one delivery may take; after a crash, deliveries in flight are sent again 3× this plus 10 s later"},
	{Key: "heuristics.zero_click", Doc: "a visit without the device cookie may consume with no click at stage verify (docs/tuning.md)"},
	{Key: "heuristics.automation.threshold", Doc: "weighted sum of machine marks at which the gate asks for the code"},
	{Key: "heuristics.automation.signals", Doc: "the gate's signals by name: enabled and weight of each (docs/tuning.md)"},
	{Key: "heuristics.automation.signals.<name>.enabled", Doc: "the signal counts"},
	{Key: "heuristics.automation.signals.<name>.weight", Doc: "the signal's weight"},
	{Key: "heuristics.compatibility.thresholds.consume", Doc: "lowest compatibility score that consumes with no click (zero_click only)"},
	{Key: "heuristics.compatibility.thresholds.confirm", Doc: "lowest score offered Continue; below it the code"},
	{Key: "heuristics.compatibility.thresholds.click", Doc: "lowest score that consumes after a trusted click on Continue"},
	{Key: "heuristics.compatibility.signals", Doc: "the compatibility signals by name: enabled and weight of each (docs/tuning.md)"},
	{Key: "heuristics.compatibility.signals.<name>.enabled", Doc: "the signal counts"},
	{Key: "heuristics.compatibility.signals.<name>.weight", Doc: "the signal's weight"},
	{Key: "heuristics.params.fast_seconds", Doc: "a first visit sooner than this after issue is faster than a person opens the mail"},
	{Key: "heuristics.params.scanner_window_seconds", Doc: "scanners typically arrive within this many seconds of the mail being sent"},
	{Key: "heuristics.params.burst_seconds", Doc: "two visits closer than this are a machine's"},
	{Key: "heuristics.params.stale_majors", Doc: "a Chrome, Edge or Firefox this many major versions behind looks like a scanner's pinned browser"},
	{Key: "heuristics.params.near_km", Doc: "requester and visitor closer than this are near"},
	{Key: "heuristics.params.far_km", Doc: "requester and visitor farther than this are far"},
	{Key: "heuristics.params.min_click_ms", Doc: "a click on Continue sooner than this after it was shown is faster than a person reads"},
	{Key: "heuristics.params.min_pointer_points", Doc: "a pointer path of at least this many points before the click counts as a hand on a mouse"},
	{Key: "heuristics.params.min_press_ms", Doc: "a mouse button held down for less than this (but more than 0) was pressed by a program"},
	{Key: "heuristics.scanners.disable", Doc: "names of embedded scanner entries to drop, e.g. [google]"},
	{Key: "heuristics.scanners.add", Doc: "scanner entries to add"},
	{Key: "heuristics.scanners.add[].name", Doc: "the entry's name (the metric's vendor)"},
	{Key: "heuristics.scanners.add[].source", Doc: "where its data comes from"},
	{Key: "heuristics.scanners.add[].asns", Doc: "the scanner's AS numbers"},
	{Key: "heuristics.scanners.add[].ranges", Doc: "the scanner's CIDRs"},
	{Key: "heuristics.scanners.add[].user_agents", Doc: "case-insensitive substrings of the scanner's user agents"},
	{Key: "heuristics.datacenters.add", Doc: "AS numbers to count as datacenters"},
	{Key: "heuristics.datacenters.remove", Doc: "embedded datacenter AS numbers to drop"},
}

// configKeys lists every YAML key of t (Config) in field order: leaves,
// and lists and maps of structs with their entries' keys after them.
func configKeys(t reflect.Type) []string {
	var out []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for i := range t.NumField() {
			f := t.Field(i)
			name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if !f.IsExported() || name == "-" || slices.Contains(strings.Split(opts, ","), "inline") {
				continue // inline: the catchers of moved keys, which hold nothing
			}
			if name == "" {
				name = strings.ToLower(f.Name)
			}
			key := name
			if prefix != "" {
				key = prefix + "." + name
			}
			ft := f.Type
			switch {
			case ft.Kind() == reflect.Struct && ft != reflect.TypeFor[time.Duration]():
				walk(ft, key)
			case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
				out = append(out, key)
				walk(ft.Elem(), key+"[]")
			case ft.Kind() == reflect.Map && ft.Elem().Kind() == reflect.Struct:
				out = append(out, key)
				walk(ft.Elem(), key+".<name>")
			default:
				out = append(out, key)
			}
		}
	}
	walk(t, "")
	return out
}

// docFor is the doc of key, or nil.
func docFor(key string) *keyDoc {
	for i := range configDocs {
		if configDocs[i].Key == key {
			return &configDocs[i]
		}
	}
	return nil
}

// valueAt is the field of v (a Config) at a key path without "[]" or
// "<name>", and whether there is one.
func valueAt(v reflect.Value, key string) (reflect.Value, bool) {
	for part := range strings.SplitSeq(key, ".") {
		t := v.Type()
		found := false
		for i := range t.NumField() {
			name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
			if name == part {
				v, found = v.Field(i), true
				break
			}
		}
		if !found {
			return reflect.Value{}, false
		}
	}
	return v, true
}

// defaultText is the default column of d.
func defaultText(d keyDoc) string {
	if d.Default != "" {
		return d.Default
	}
	if d.Key == "" || strings.Contains(d.Key, "[]") || strings.Contains(d.Key, "<name>") {
		return ""
	}
	v, ok := valueAt(reflect.ValueOf(Default()), d.Key)
	if !ok {
		return ""
	}
	switch v.Kind() {
	case reflect.Slice:
		if v.Len() == 0 {
			return ""
		}
	case reflect.Map:
		keys := make([]string, 0, v.Len())
		for _, k := range v.MapKeys() {
			keys = append(keys, k.String())
		}
		sort.Strings(keys)
		return strings.Join(keys, ", ")
	case reflect.String:
		return v.String()
	case reflect.Bool:
		if !v.Bool() {
			return "off"
		}
		return "on"
	}
	if d, ok := v.Interface().(time.Duration); ok {
		return shortDuration(d)
	}
	return fmt.Sprint(v.Interface())
}

// shortDuration drops a duration's zero tails: 15m, not 15m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// printDefaults writes Default() as YAML, each key under a comment that
// says what it means and which environment variable and flag set it.
func printDefaults(w io.Writer) error {
	var root yaml.Node
	if err := root.Encode(Default()); err != nil {
		return err
	}
	var annotate func(n *yaml.Node, prefix string)
	annotate = func(n *yaml.Node, prefix string) {
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				key := k.Value
				if prefix != "" {
					key = prefix + "." + k.Value
				}
				if d := docFor(key); d != nil {
					k.HeadComment = comment(*d)
				}
				if v.Kind == yaml.ScalarNode && v.Tag == "!!str" && strings.HasSuffix(v.Value, "s") {
					if dur, err := time.ParseDuration(v.Value); err == nil {
						v.Value = shortDuration(dur)
					}
				}
				if docFor(key+".<name>") != nil {
					for j := 0; j+1 < len(v.Content); j += 2 {
						annotate(v.Content[j+1], key+".<name>")
					}
					continue
				}
				annotate(v, key)
			}
		case yaml.DocumentNode:
			for _, c := range n.Content {
				annotate(c, prefix)
			}
		}
	}
	annotate(&root, "")
	fmt.Fprintln(w, "# linkguard configuration with every default (`linkguard config --print-defaults`).")
	fmt.Fprintln(w, "# Precedence: defaults, then this file, then the environment, then flags.")
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(&root); err != nil {
		return err
	}
	return enc.Close()
}

// comment is a key's comment in the YAML: its meaning, then how else it
// is set, then the keys of a list's entries.
func comment(d keyDoc) string {
	s := d.Doc
	var also []string
	if d.Env != "" {
		also = append(also, d.Env)
	}
	if d.Flag != "" {
		also = append(also, d.Flag)
	}
	if len(also) > 0 {
		s += " (" + strings.Join(also, ", ") + ")"
	}
	if d.Default != "" {
		s += "; default: " + d.Default
	}
	var entry []string
	for _, e := range configDocs {
		if rest, ok := strings.CutPrefix(e.Key, d.Key+"[]."); ok && !strings.Contains(rest, ".") {
			entry = append(entry, rest)
		}
	}
	if len(entry) > 0 {
		s += "; each: " + strings.Join(entry, ", ")
	}
	return s
}

// configReference is docs/configuration.md.
func configReference(w io.Writer) error {
	var b bytes.Buffer
	b.WriteString(`# Configuration reference

<!-- Generated by ` + "`make config-doc`" + ` (linkguard config --markdown) from the
config struct and cmd/linkguard/configref.go; edit those, not this file. -->

Every setting of ` + "`linkguard serve`" + `: its YAML key, environment
variable and flag, default and meaning. Precedence: the defaults, then the
YAML file (` + "`--config`" + `), then the environment, then flags. Unknown keys
and bad values stop the server at start with a message that names them.
Keys with ` + "`[]`" + ` are those of a list's entries, ` + "`<name>`" + ` a map's keys
(the signals, docs/tuning.md).

| key | environment | flag | default | meaning |
| --- | --- | --- | --- | --- |
`)
	cell := func(s string) string {
		if s == "" {
			return ""
		}
		return "`" + strings.ReplaceAll(s, "|", `\|`) + "`"
	}
	for _, d := range configDocs {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", cell(d.Key), cell(d.Env), cell(d.Flag),
			strings.ReplaceAll(defaultText(d), "|", `\|`), strings.ReplaceAll(d.Doc, "|", `\|`))
	}
	b.WriteString("\n## Every default, as a file\n\n`linkguard config --print-defaults` writes it:\n\n```yaml\n")
	if err := printDefaults(&b); err != nil {
		return err
	}
	b.WriteString("```\n")
	_, err := w.Write(b.Bytes())
	return err
}

// configMain runs `linkguard config`.
func configMain(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("config", flag.ContinueOnError)
	fs.SetOutput(stderr)
	defaults := fs.Bool("print-defaults", false, "write the full YAML configuration, every default filled in and every key commented")
	markdown := fs.String("markdown", "", "write the configuration reference (docs/configuration.md) to `file`")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("config: unexpected argument %q", fs.Arg(0))
	case *defaults:
		return printDefaults(stdout)
	case *markdown != "":
		var b bytes.Buffer
		if err := configReference(&b); err != nil {
			return err
		}
		return os.WriteFile(*markdown, b.Bytes(), 0o644)
	}
	fs.Usage()
	return errors.New("config: want --print-defaults or --markdown FILE")
}
