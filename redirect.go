package linkguard

import (
	"net/url"
	"strings"
)

// withParam returns raw with the query parameter k=v appended. The rest
// of the query is kept byte for byte: parameters with ';', bad escapes or
// no '=' are the host's business, and re-encoding the query (url.Values)
// would drop or rewrite them.
func withParam(raw, k, v string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw // validated at issue; cannot happen
	}
	p := url.QueryEscape(k) + "=" + url.QueryEscape(v)
	if u.RawQuery == "" {
		u.RawQuery = p
	} else {
		u.RawQuery += "&" + p
	}
	u.ForceQuery = false
	return u.String()
}

// withoutLG returns raw without any query parameter whose name starts
// with "lg_" (however escaped), so that a caller-supplied lg_code or
// lg_assertion never reaches the host beside, or instead of, ours. Every
// other parameter is kept byte for byte.
func withoutLG(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.RawQuery == "" {
		return raw
	}
	parts := strings.Split(u.RawQuery, "&")
	kept := parts[:0]
	for _, p := range parts {
		name, _, _ := strings.Cut(p, "=")
		if n, err := url.QueryUnescape(name); err == nil {
			name = n
		}
		if !strings.HasPrefix(strings.ToLower(name), "lg_") {
			kept = append(kept, p)
		}
	}
	u.RawQuery = strings.Join(kept, "&")
	return u.String()
}

// pathAllowed reports whether the URL's path starts with one of the
// allowed prefixes for its origin (Policy.RedirectPaths): a prefix
// ending in "/" matches below it, one without matches itself and below
// it. A path with a "." or ".." segment (however escaped) is refused: a
// browser resolves it, and /auth/../admin is not under /auth/.
func pathAllowed(u *url.URL, origin string, prefixes []string) bool {
	if len(prefixes) == 0 {
		return true
	}
	p := u.EscapedPath()
	if p == "" {
		p = "/"
	}
	for _, seg := range strings.Split(p, "/") {
		if s, err := url.PathUnescape(seg); err != nil || s == "." || s == ".." || strings.ContainsAny(s, "/\\") {
			return false
		}
	}
	for _, pre := range prefixes {
		o, path, ok := cutOrigin(pre)
		if !ok || o != origin {
			continue
		}
		if p == path || strings.HasPrefix(p, path) && (strings.HasSuffix(path, "/") || p[len(path)] == '/') {
			return true
		}
	}
	return false
}

// cutOrigin splits an allowed prefix "https://app.example.com/auth/" into
// its origin and its path.
func cutOrigin(prefix string) (origin, path string, ok bool) {
	u, err := url.Parse(prefix)
	if err != nil || u.Host == "" {
		return "", "", false
	}
	path = u.EscapedPath()
	if path == "" {
		path = "/"
	}
	return Origin(u), path, true
}

// redirectPaths are the RedirectPaths entries of origin.
func (s *Service) redirectPaths(origin string) []string {
	var out []string
	for _, p := range s.Policy.RedirectPaths {
		if o, _, ok := cutOrigin(p); ok && o == origin {
			out = append(out, p)
		}
	}
	return out
}
