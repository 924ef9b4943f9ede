package kit

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"net/http"
	"net/netip"

	"github.com/linkguard/linkguard"
	lgoidc "github.com/linkguard/linkguard/oidc"
	"github.com/linkguard/linkguard/server"
)

// setupOIDC builds the OpenID Provider when clients are configured; nil
// otherwise. Its keys are the data folder's (assertion.key for EdDSA,
// oidc-rs256.key for RS256, each with its .prev); without a data folder
// they live in memory only (tests and demos).
func (k *Kit) setupOIDC(opts Options, issuer string, secret []byte) (http.Handler, error) {
	if len(opts.OIDC.Clients) == 0 {
		return nil, nil
	}
	kv, ok := k.store.(linkguard.KV)
	if !ok {
		return nil, errors.New("oidc: the store does not keep OpenID state (it is not a linkguard.KV)")
	}
	limits, ok := k.store.(linkguard.Limiter)
	if !ok {
		return nil, errors.New("oidc: the store does not count client authentications (it is not a linkguard.Limiter)")
	}
	var keys *lgoidc.Keys
	var err error
	if opts.DataDir != "" {
		keys, err = lgoidc.LoadKeys(opts.DataDir, k.log)
	} else {
		ed := opts.AssertionKey
		if ed == nil {
			_, ed, _ = ed25519.GenerateKey(rand.Reader)
		}
		var rs *rsa.PrivateKey
		if rs, err = rsa.GenerateKey(rand.Reader, 2048); err == nil {
			keys, err = lgoidc.NewKeys(ed, rs, nil, nil)
		}
	}
	if err != nil {
		return nil, err
	}
	p, err := lgoidc.New(lgoidc.Options{
		Issuer: issuer, Config: opts.OIDC, KV: kv, Service: k.Service, Keys: keys,
		Secret: secret, Dev: opts.Dev, Log: k.log,
		// Failed client authentications are counted in the store, per
		// client address as the server resolves it.
		Limiter: limits,
		ClientAddr: func(r *http.Request) netip.Addr {
			a, _ := server.ClientAddr(r.Context())
			return a
		},
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}
