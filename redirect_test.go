package linkguard

import "testing"

// TestRedirectParams: the redirect keeps the host's query byte for byte
// (';', bad escapes, bare names, the fragment) and loses every lg_*
// parameter a caller put there, however spelt, before ours is added.
func TestRedirectParams(t *testing.T) {
	for in, want := range map[string]string{
		"https://app.example.com/cb":                      "https://app.example.com/cb?lg_code=C",
		"https://app.example.com/cb?":                     "https://app.example.com/cb?lg_code=C",
		"https://app.example.com/cb?x=1":                  "https://app.example.com/cb?x=1&lg_code=C",
		"https://app.example.com/cb?a=1;b=2&c=%zz&d#frag": "https://app.example.com/cb?a=1;b=2&c=%zz&d&lg_code=C#frag",
		"https://app.example.com/cb?lg_code=evil&x=1":     "https://app.example.com/cb?x=1&lg_code=C",
		"https://app.example.com/cb?LG_Assertion=forged":  "https://app.example.com/cb?lg_code=C",
		"https://app.example.com/cb?lg%5Fcode=evil&y":     "https://app.example.com/cb?y&lg_code=C",
		"https://app.example.com/cb?lg_assertion&z=%2B":   "https://app.example.com/cb?z=%2B&lg_code=C",
	} {
		if got := withParam(withoutLG(in), "lg_code", "C"); got != want {
			t.Errorf("%s\n  got  %s\n  want %s", in, got, want)
		}
	}
}

// TestRedirectPaths: RedirectPaths narrows the origins it names to its
// prefixes, on segment boundaries, and a path that climbs out with dot
// segments is refused however it is escaped.
func TestRedirectPaths(t *testing.T) {
	s := &Service{Policy: Policy{
		RedirectOrigins: []string{"https://app.example.com", "https://other.example.com"},
		RedirectPaths:   []string{"https://app.example.com/auth/", "https://app.example.com/cb"},
	}}
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"https://app.example.com/auth/", true},
		{"https://app.example.com/auth/done?x=1", true},
		{"https://app.example.com/cb", true},
		{"https://app.example.com/cb/more", true},
		{"https://other.example.com/anything", true}, // not named: any path
		{"https://app.example.com/", false},
		{"https://app.example.com", false},
		{"https://app.example.com/admin", false},
		{"https://app.example.com/authx", false},
		{"https://app.example.com/auth", false}, // the prefix is /auth/
		{"https://app.example.com/cbx", false},
		{"https://app.example.com/auth/../admin", false},
		{"https://app.example.com/auth/%2e%2e/admin", false},
		{"https://app.example.com/auth/..%2fadmin", false},
		{"https://app.example.com/auth/./x", false},
		{"https://evil.example.com/auth/", false},
	} {
		_, err := s.CheckRedirect(tc.url)
		if (err == nil) != tc.ok {
			t.Errorf("CheckRedirect(%s): err %v, want allowed %v", tc.url, err, tc.ok)
		}
	}
}
