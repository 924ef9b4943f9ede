package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"gopkg.in/yaml.v3"

	lgoidc "github.com/linkguard/linkguard/oidc"
)

// stringList is a flag given several times.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// oidcMain runs `linkguard oidc <subcommand>`.
func oidcMain(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "add-client" {
		fmt.Fprintln(stderr, "usage: linkguard oidc add-client --id ID --redirect-uri URL [--redirect-uri URL2] [--public] [--scopes \"email profile\"] [--alg EdDSA|RS256] [--dev]")
		return errors.New("oidc: want the subcommand add-client")
	}
	fs := flag.NewFlagSet("oidc add-client", flag.ContinueOnError)
	fs.SetOutput(stderr)
	id := fs.String("id", "", "the client_id")
	var redirects, logouts stringList
	fs.Var(&redirects, "redirect-uri", "an exact redirect URI (repeat for more)")
	fs.Var(&logouts, "post-logout-redirect-uri", "where end-session may send the browser (repeat for more)")
	public := fs.Bool("public", false, "a public client (single-page or native app): no secret, PKCE required")
	scopes := fs.String("scopes", "", `scopes besides openid the client may ask for (default "email profile")`)
	alg := fs.String("alg", "", "ID token algorithm: EdDSA (default) or RS256")
	dev := fs.Bool("dev", false, "allow http redirect URIs other than localhost (dev mode)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("oidc add-client: unexpected argument %q", fs.Arg(0))
	}
	c := lgoidc.ClientConfig{ID: *id, Public: *public, RedirectURIs: redirects,
		PostLogoutRedirectURIs: logouts, Scopes: strings.Fields(*scopes), IDTokenAlg: *alg}
	var secret string
	if !c.Public {
		var err error
		if secret, c.Secret, err = lgoidc.NewSecret(); err != nil {
			return err
		}
	}
	if err := c.Validate(*dev); err != nil {
		return err
	}
	out, err := yaml.Marshal(map[string]any{"oidc": map[string]any{"clients": []lgoidc.ClientConfig{c}}})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "# Add this client to the oidc.clients list of the config file:\n%s", omitEmpty(string(out)))
	if secret != "" {
		fmt.Fprintf(stdout, "\n# The client secret, shown only this once (linkguard keeps only its hash):\n#   client_id:     %s\n#   client_secret: %s\n", c.ID, secret)
	}
	return nil
}

// omitEmpty drops the YAML lines of settings left empty.
func omitEmpty(y string) string {
	var b strings.Builder
	for _, line := range strings.SplitAfter(y, "\n") {
		t := strings.TrimSpace(line)
		if strings.HasSuffix(t, ": \"\"") || strings.HasSuffix(t, ": []") || strings.HasSuffix(t, ": false") {
			continue
		}
		b.WriteString(line)
	}
	return b.String()
}
