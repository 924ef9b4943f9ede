package oidc

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/linkguard/linkguard"
)

// Namespaces of the KV, named in the root package so that a restore
// finds them (linkguard.KVCredentials). Keys of codes and tokens are
// hashes, never the values a client holds.
const (
	nsRequest = linkguard.KVOIDCRequest // auth request id → authRequest
	nsCode    = linkguard.KVOIDCCode    // sha256(code) → auth request id
	nsToken   = linkguard.KVOIDCAccess  // access token id → accessToken
	nsRefresh = linkguard.KVOIDCRefresh // sha256(refresh token) → refreshToken
)

// authRequest is one authorization request, from /authorize until its
// code is exchanged. It implements op.AuthRequest.
type authRequest struct {
	ID                  string                   `json:"id"`
	ClientID            string                   `json:"client_id"`
	RedirectURI         string                   `json:"redirect_uri"`
	Scopes              []string                 `json:"scopes"`
	State               string                   `json:"state,omitempty"`
	Nonce               string                   `json:"nonce,omitempty"`
	ResponseType        oidc.ResponseType        `json:"response_type"`
	ResponseMode        oidc.ResponseMode        `json:"response_mode,omitempty"`
	CodeChallenge       string                   `json:"code_challenge,omitempty"`
	CodeChallengeMethod oidc.CodeChallengeMethod `json:"code_challenge_method,omitempty"`
	CreatedAt           time.Time                `json:"created_at"`
	ExpiresAt           time.Time                `json:"expires_at"`
	// Set when the person signed in.
	Subject  string    `json:"sub,omitempty"`
	Email    string    `json:"email,omitempty"`
	AuthTime time.Time `json:"auth_time,omitzero"`
	AMR      []string  `json:"amr,omitempty"`
	IsDone   bool      `json:"done,omitempty"`
	// CodeExpiresAt is when the issued code stops working.
	CodeExpiresAt time.Time `json:"code_expires_at,omitzero"`
}

func (a *authRequest) GetID() string                      { return a.ID }
func (a *authRequest) GetACR() string                     { return "" }
func (a *authRequest) GetAMR() []string                   { return a.AMR }
func (a *authRequest) GetAudience() []string              { return []string{a.ClientID} }
func (a *authRequest) GetAuthTime() time.Time             { return a.AuthTime }
func (a *authRequest) GetClientID() string                { return a.ClientID }
func (a *authRequest) GetNonce() string                   { return a.Nonce }
func (a *authRequest) GetRedirectURI() string             { return a.RedirectURI }
func (a *authRequest) GetResponseType() oidc.ResponseType { return a.ResponseType }
func (a *authRequest) GetResponseMode() oidc.ResponseMode { return a.ResponseMode }
func (a *authRequest) GetScopes() []string                { return a.Scopes }
func (a *authRequest) GetState() string                   { return a.State }
func (a *authRequest) GetSubject() string                 { return a.Subject }
func (a *authRequest) Done() bool                         { return a.IsDone }
func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge {
	if a.CodeChallenge == "" {
		return nil
	}
	return &oidc.CodeChallenge{Challenge: a.CodeChallenge, Method: a.CodeChallengeMethod}
}

// accessToken is what an opaque access token stands for.
type accessToken struct {
	ID        string    `json:"id"`
	ClientID  string    `json:"client_id"`
	Subject   string    `json:"sub"`
	Email     string    `json:"email"`
	Scopes    []string  `json:"scopes"`
	ExpiresAt time.Time `json:"expires_at"`
}

// refreshToken is what a refresh token stands for; it is spent (taken)
// at each use and replaced by a new one.
type refreshToken struct {
	ClientID  string    `json:"client_id"`
	Subject   string    `json:"sub"`
	Email     string    `json:"email"`
	Scopes    []string  `json:"scopes"`
	AuthTime  time.Time `json:"auth_time"`
	AMR       []string  `json:"amr,omitempty"`
	ExpiresAt time.Time `json:"expires_at"`
}

func (r *refreshToken) GetAMR() []string            { return r.AMR }
func (r *refreshToken) GetAudience() []string       { return []string{r.ClientID} }
func (r *refreshToken) GetAuthTime() time.Time      { return r.AuthTime }
func (r *refreshToken) GetClientID() string         { return r.ClientID }
func (r *refreshToken) GetScopes() []string         { return r.Scopes }
func (r *refreshToken) GetSubject() string          { return r.Subject }
func (r *refreshToken) SetCurrentScopes(s []string) { r.Scopes = s }

// storage is op.Storage on a linkguard.KV.
type storage struct {
	p *Provider
}

var (
	_ op.Storage                   = (*storage)(nil)
	_ op.CanSetUserinfoFromRequest = (*storage)(nil)
)

func (s *storage) kv() linkguard.KV { return s.p.kv }

func hashKey(v string) string {
	h := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

func (s *storage) put(ctx context.Context, ns, key string, v any, until time.Time) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	ttl := until.Sub(s.p.now()) + time.Second
	if ttl < time.Second {
		ttl = time.Second
	}
	return s.kv().PutKV(ctx, ns, key, b, ttl)
}

func (s *storage) get(ctx context.Context, ns, key string, v any) error {
	b, err := s.kv().GetKV(ctx, ns, key)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// notFound is an error op answers as a client fault, never a 500.
type notFound struct{ what string }

func (e notFound) Error() string { return e.what + " not found or expired" }
func (notFound) IsNotFound()     {}

func (s *storage) CreateAuthRequest(ctx context.Context, req *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	c, ok := s.p.clients[req.ClientID]
	if !ok {
		return nil, oidc.ErrInvalidClient().WithDescription("unknown client_id")
	}
	// NB: op lets a native client's loopback redirect differ in its
	// port (RFC 8252); ours are matched exactly, as configured.
	if !slices.Contains(c.cfg.RedirectURIs, req.RedirectURI) {
		return nil, oidc.ErrInvalidRequestRedirectURI().WithDescription("redirect_uri is not one of the client's")
	}
	if req.ResponseType != oidc.ResponseTypeCode {
		return nil, oidc.ErrInvalidRequest().WithDescription("only the authorization code flow (response_type=code) is supported")
	}
	if req.CodeChallenge != "" && req.CodeChallengeMethod != oidc.CodeChallengeMethodS256 {
		return nil, oidc.ErrInvalidRequest().WithDescription("code_challenge_method must be S256")
	}
	if c.cfg.Public && req.CodeChallenge == "" {
		return nil, oidc.ErrInvalidRequest().WithDescription("PKCE is required for this client: send code_challenge with code_challenge_method=S256")
	}
	if slices.Contains(req.Prompt, oidc.PromptNone) {
		// There is no provider session: every sign-in is a new link.
		return nil, oidc.ErrLoginRequired().WithDescription("prompt=none: sign-in needs an email link every time")
	}
	if len(req.State) > 1024 || len(req.Nonce) > 1024 || len(req.CodeChallenge) > 128 {
		return nil, oidc.ErrInvalidRequest().WithDescription("state and nonce are at most 1024 characters, code_challenge 128")
	}
	var scopes []string
	for _, sc := range req.Scopes {
		if c.allows(sc) && !slices.Contains(scopes, sc) {
			scopes = append(scopes, sc)
		}
	}
	id, err := linkguard.NewToken(s.p.rand)
	if err != nil {
		return nil, err
	}
	now := s.p.now()
	a := &authRequest{
		ID: id, ClientID: req.ClientID, RedirectURI: req.RedirectURI, Scopes: scopes,
		State: req.State, Nonce: req.Nonce, ResponseType: req.ResponseType, ResponseMode: req.ResponseMode,
		CodeChallenge: req.CodeChallenge, CodeChallengeMethod: req.CodeChallengeMethod,
		CreatedAt: now, ExpiresAt: now.Add(s.p.opts.AuthRequestTTL),
	}
	if err := s.put(ctx, nsRequest, id, a, a.ExpiresAt); err != nil {
		return nil, fmt.Errorf("store auth request: %w", err)
	}
	return a, nil
}

// request loads an auth request that has not expired.
func (s *storage) request(ctx context.Context, id string) (*authRequest, error) {
	if len(id) == 0 || len(id) > 64 {
		return nil, notFound{"auth request"}
	}
	var a authRequest
	err := s.get(ctx, nsRequest, id, &a)
	if errors.Is(err, linkguard.ErrNotFound) || err == nil && !s.p.now().Before(a.ExpiresAt) {
		return nil, notFound{"auth request"}
	}
	if err != nil {
		return nil, err
	}
	return &a, nil
}

func (s *storage) AuthRequestByID(ctx context.Context, id string) (op.AuthRequest, error) {
	return s.request(ctx, id)
}

// AuthRequestByCode spends the code: the mapping from code to request is
// taken in one compare-and-set (linkguard.KV.TakeKV), so a code works at
// most once even when two instances receive it at the same moment.
// NB: op calls this before it checks the client and the PKCE verifier, so
// a failed exchange spends the code too; the client starts over.
func (s *storage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	if len(code) == 0 || len(code) > 512 {
		return nil, notFound{"code"}
	}
	id, err := s.kv().TakeKV(ctx, nsCode, hashKey(code))
	if errors.Is(err, linkguard.ErrNotFound) {
		return nil, notFound{"code"}
	}
	if err != nil {
		return nil, err
	}
	a, err := s.request(ctx, string(id))
	if err != nil {
		return nil, err
	}
	if !a.IsDone || !s.p.now().Before(a.CodeExpiresAt) {
		return nil, notFound{"code"}
	}
	return a, nil
}

func (s *storage) SaveAuthCode(ctx context.Context, id, code string) error {
	a, err := s.request(ctx, id)
	if err != nil {
		return err
	}
	a.CodeExpiresAt = s.p.now().Add(s.p.opts.CodeTTL)
	if err := s.put(ctx, nsRequest, id, a, a.ExpiresAt); err != nil {
		return err
	}
	return s.kv().PutKV(ctx, nsCode, hashKey(code), []byte(id), s.p.opts.CodeTTL+time.Second)
}

func (s *storage) DeleteAuthRequest(ctx context.Context, id string) error {
	return s.kv().DeleteKV(ctx, nsRequest, id)
}

// tokenFields is what every token request gives a token.
func tokenFields(req op.TokenRequest) (clientID, email string, authTime time.Time, amr []string, err error) {
	switch r := req.(type) {
	case *authRequest:
		return r.ClientID, r.Email, r.AuthTime, r.AMR, nil
	case *refreshToken:
		return r.ClientID, r.Email, r.AuthTime, r.AMR, nil
	}
	return "", "", time.Time{}, nil, fmt.Errorf("oidc: token request of type %T is not supported", req)
}

func (s *storage) CreateAccessToken(ctx context.Context, req op.TokenRequest) (string, time.Time, error) {
	clientID, email, _, _, err := tokenFields(req)
	if err != nil {
		return "", time.Time{}, err
	}
	id, err := linkguard.NewToken(s.p.rand)
	if err != nil {
		return "", time.Time{}, err
	}
	t := &accessToken{ID: id, ClientID: clientID, Subject: req.GetSubject(), Email: email,
		Scopes: req.GetScopes(), ExpiresAt: s.p.now().Add(s.p.opts.AccessTokenTTL)}
	if err := s.put(ctx, nsToken, id, t, t.ExpiresAt); err != nil {
		return "", time.Time{}, err
	}
	return id, t.ExpiresAt, nil
}

func (s *storage) CreateAccessAndRefreshTokens(ctx context.Context, req op.TokenRequest, current string) (string, string, time.Time, error) {
	clientID, email, authTime, amr, err := tokenFields(req)
	if err != nil {
		return "", "", time.Time{}, err
	}
	if c, ok := s.p.clients[clientID]; !ok || !c.cfg.RefreshTokens {
		return "", "", time.Time{}, oidc.ErrUnauthorizedClient().WithDescription("refresh tokens are off for this client")
	}
	id, exp, err := s.CreateAccessToken(ctx, req)
	if err != nil {
		return "", "", time.Time{}, err
	}
	rt, err := linkguard.NewToken(s.p.rand)
	if err != nil {
		return "", "", time.Time{}, err
	}
	r := &refreshToken{ClientID: clientID, Subject: req.GetSubject(), Email: email, Scopes: req.GetScopes(),
		AuthTime: authTime, AMR: amr, ExpiresAt: s.p.now().Add(s.p.opts.RefreshTokenTTL)}
	if err := s.put(ctx, nsRefresh, hashKey(rt), r, r.ExpiresAt); err != nil {
		return "", "", time.Time{}, err
	}
	return id, rt, exp, nil
}

// TokenRequestByRefreshToken spends the refresh token (rotation): a
// replayed one finds nothing.
func (s *storage) TokenRequestByRefreshToken(ctx context.Context, rt string) (op.RefreshTokenRequest, error) {
	if len(rt) == 0 || len(rt) > 512 {
		return nil, op.ErrInvalidRefreshToken
	}
	b, err := s.kv().TakeKV(ctx, nsRefresh, hashKey(rt))
	if errors.Is(err, linkguard.ErrNotFound) {
		return nil, op.ErrInvalidRefreshToken
	}
	if err != nil {
		return nil, err
	}
	var r refreshToken
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, err
	}
	if !s.p.now().Before(r.ExpiresAt) {
		return nil, op.ErrInvalidRefreshToken
	}
	return &r, nil
}

// TerminateSession has nothing to end: the provider keeps no session,
// every sign-in is a new email link.
func (s *storage) TerminateSession(context.Context, string, string) error { return nil }

func (s *storage) RevokeToken(ctx context.Context, tokenOrID, userID, clientID string) *oidc.Error {
	if len(tokenOrID) == 0 || len(tokenOrID) > 512 {
		return nil
	}
	if userID == "" { // a refresh token
		b, err := s.kv().GetKV(ctx, nsRefresh, hashKey(tokenOrID))
		if err != nil {
			return nil
		}
		var r refreshToken
		if json.Unmarshal(b, &r) == nil && r.ClientID != clientID {
			return oidc.ErrInvalidClient().WithDescription("the token belongs to another client")
		}
		if err := s.kv().DeleteKV(ctx, nsRefresh, hashKey(tokenOrID)); err != nil {
			return oidc.ErrServerError().WithParent(err)
		}
		return nil
	}
	var t accessToken
	if err := s.get(ctx, nsToken, tokenOrID, &t); err != nil {
		return nil
	}
	if t.ClientID != clientID {
		return oidc.ErrInvalidClient().WithDescription("the token belongs to another client")
	}
	if err := s.kv().DeleteKV(ctx, nsToken, tokenOrID); err != nil {
		return oidc.ErrServerError().WithParent(err)
	}
	return nil
}

func (s *storage) GetRefreshTokenInfo(ctx context.Context, clientID, token string) (string, string, error) {
	if len(token) == 0 || len(token) > 512 {
		return "", "", op.ErrInvalidRefreshToken
	}
	var r refreshToken
	if err := s.get(ctx, nsRefresh, hashKey(token), &r); err != nil || r.ClientID != clientID {
		return "", "", op.ErrInvalidRefreshToken
	}
	return r.Subject, hashKey(token), nil
}

func (s *storage) SigningKey(ctx context.Context) (op.SigningKey, error) {
	return s.p.keys.signingKey(s.p.algFor(ctx)), nil
}

func (s *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.EdDSA, jose.RS256}, nil
}

func (s *storage) KeySet(context.Context) ([]op.Key, error) { return s.p.keys.public(), nil }

func (s *storage) GetClientByClientID(_ context.Context, id string) (op.Client, error) {
	c, ok := s.p.clients[id]
	if !ok {
		return nil, notFound{"client"}
	}
	return c, nil
}

// AuthorizeClientIDSecret checks the secret, bounded and remembered
// (clientauth.go). A refused check is noted for ServeHTTP's writer, which
// answers it with its own status.
func (s *storage) AuthorizeClientIDSecret(ctx context.Context, id, secret string) error {
	st, _ := ctx.Value(authKey{}).(*authState)
	if st == nil {
		st = &authState{}
	}
	err := s.p.auth.verify(ctx, st.addr, id, secret)
	if ref := (*refusal)(nil); errors.As(err, &ref) {
		st.refused = ref
	}
	return err
}

func (s *storage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

// setUserinfo fills the claims the scopes allow. email_verified is true:
// the person proved the mailbox by opening the link sent to it.
func setUserinfo(u *oidc.UserInfo, sub, email string, scopes []string) {
	u.Subject = sub
	for _, sc := range scopes {
		switch sc {
		case ScopeEmail:
			u.Email = email
			u.EmailVerified = true
		case ScopeProfile:
			u.PreferredUsername = email
		}
	}
}

func (s *storage) SetUserinfoFromRequest(_ context.Context, u *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	switch r := req.(type) {
	case *authRequest:
		setUserinfo(u, r.Subject, r.Email, scopes)
	case *refreshToken:
		setUserinfo(u, r.Subject, r.Email, scopes)
	}
	return nil
}

func (s *storage) SetUserinfoFromToken(ctx context.Context, u *oidc.UserInfo, tokenID, subject, _ string) error {
	t, err := s.token(ctx, tokenID, subject)
	if err != nil {
		return err
	}
	setUserinfo(u, t.Subject, t.Email, t.Scopes)
	return nil
}

func (s *storage) token(ctx context.Context, id, subject string) (*accessToken, error) {
	if len(id) == 0 || len(id) > 64 {
		return nil, notFound{"token"}
	}
	var t accessToken
	err := s.get(ctx, nsToken, id, &t)
	if errors.Is(err, linkguard.ErrNotFound) || err == nil && (t.Subject != subject || !s.p.now().Before(t.ExpiresAt)) {
		return nil, notFound{"token"}
	}
	if err != nil {
		return nil, err
	}
	return &t, nil
}

func (s *storage) SetIntrospectionFromToken(ctx context.Context, r *oidc.IntrospectionResponse, tokenID, subject, clientID string) error {
	t, err := s.token(ctx, tokenID, subject)
	if err != nil {
		return err
	}
	if t.ClientID != clientID {
		return notFound{"token"}
	}
	var u oidc.UserInfo
	setUserinfo(&u, t.Subject, t.Email, t.Scopes)
	r.SetUserInfo(&u)
	r.Scope = t.Scopes
	r.ClientID = t.ClientID
	return nil
}

func (s *storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

func (s *storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errors.New("private_key_jwt client authentication is not supported")
}

func (s *storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errors.New("the JWT profile grant is not supported")
}

func (s *storage) Health(context.Context) error { return nil }
