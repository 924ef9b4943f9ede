package kit

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/assertion"
	"github.com/linkguard/linkguard/fingerprint"
)

// setupAssertion loads (or creates) the Ed25519 key of signed assertions
// and makes the service sign every consumption. A previous key, kept as
// assertion.key.prev, stays in the JWKS so that tokens signed just before
// a rotation still verify.
func (k *Kit) setupAssertion(opts Options, issuer string) (*assertion.Signer, error) {
	if opts.DataDir == "" && opts.AssertionKey == nil {
		return nil, errors.New("signed assertions need a data folder or an AssertionKey")
	}
	key := opts.AssertionKey
	var signerOpts []assertion.Option
	if key == nil {
		path := filepath.Join(opts.DataDir, "assertion.key")
		var err error
		key, err = assertion.LoadOrCreateKey(path)
		var kfe *assertion.KeyFileError
		if errors.As(err, &kfe) && kfe.Problem == assertion.KeyLoosePermissions {
			k.log.Warn("assertion key file is readable by others: chmod 600 it", "path", path)
		} else if err != nil {
			return nil, fmt.Errorf("assertion key: %w", err)
		}
		if _, err := os.Stat(path + ".prev"); err == nil {
			// NB: every problem but loose permissions leaves prev nil:
			// stop with the file's error rather than sign without it.
			prev, err := assertion.LoadOrCreateKey(path + ".prev")
			if errors.As(err, &kfe) && kfe.Problem == assertion.KeyLoosePermissions {
				k.log.Warn("previous assertion key file is readable by others: chmod 600 it", "path", path+".prev")
			} else if err != nil {
				return nil, fmt.Errorf("previous assertion key (remove it once no host needs tokens it signed): %w", err)
			}
			signerOpts = append(signerOpts, assertion.WithPrevious(prev.Public().(ed25519.PublicKey)))
		}
	}
	signer := assertion.NewSigner(key, issuer, nil, signerOpts...)
	k.Service.Assert = func(l *linkguard.Link, v fingerprint.Verdict, byCode bool) (string, error) {
		u, err := url.Parse(l.RedirectURL)
		if err != nil {
			return "", err
		}
		amr := []string{"email_link"}
		if byCode {
			amr = append(amr, "code")
		}
		return signer.Sign(assertion.Claims{
			Audience: linkguard.Origin(u), Email: l.Email, LinkID: l.ID, Metadata: l.Metadata,
			Verdict: &assertion.Verdict{Decision: string(v.Decision), Score: v.Score}, AMR: amr,
		})
	}
	return signer, nil
}
