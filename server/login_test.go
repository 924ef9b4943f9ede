package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/internal/redistest"
	redisstore "github.com/linkguard/linkguard/store/redis"
	"github.com/linkguard/linkguard/web"
)

// signIn is the hosted sign-in on one store with mail on: the links
// issued are noted, by address as typed, in the order they were sent.
type signIn struct {
	*harness
	mu    sync.Mutex
	sent  map[string][]string // email as typed → link ids
	store linkguard.Store
}

// newSignIn is the dev-mode server of newHarness with mail configured,
// on st (nil: newHarness's Badger). The mail is sealed as the kit does
// not: these tests read who was sent what, not the message.
func newSignIn(t *testing.T, st linkguard.Store, clk *clock) *signIn {
	h := newHarness(t, "")
	if clk != nil {
		h.clock = clk
		h.svc.Now = clk.Now
	}
	si := &signIn{harness: h, sent: map[string][]string{}, store: h.store}
	if st != nil {
		si.store = st
		svc := &linkguard.Service{Store: st, Keys: h.svc.Keys, Decider: h.svc.Decider, Policy: h.svc.Policy, Now: h.svc.Now, Log: h.svc.Log}
		site, _ := web.New(web.Options{})
		srv, err := New(Options{Service: svc, Site: site, Dev: true, MailConfigured: true,
			Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		h.svc, h.srv = svc, srv
	}
	h.srv.opts.MailConfigured = true
	h.svc.Mail = func(l *linkguard.Link, req *linkguard.IssueRequest, u, code string) ([]byte, error) {
		si.mu.Lock()
		si.sent[l.Email] = append(si.sent[l.Email], l.ID)
		si.mu.Unlock()
		return []byte("sealed"), nil
	}
	return si
}

// device is a browser's device cookie (each test device its own).
func device(n int) string { return fmt.Sprintf("device-%040d", n) }

var pageNoiseRE = regexp.MustCompile(`name="csrf" value="[^"]*"|lnk_[0-9a-z]{26}`)

// login posts the form for email as the browser with cookie dev, from ip
// (an X-Forwarded-For that the harness does not trust unless told).
func (si *signIn) login(dev, email string) resp {
	si.t.Helper()
	form := url.Values{"email": {email}, "redirect_url": {"https://app.example.com/cb"}, "csrf": {si.svc.Keys.CSRF(dev)}}
	return si.do("POST", "/login", form.Encode(), "Content-Type", "application/x-www-form-urlencoded",
		"Cookie", "lg_device="+dev, "Sec-Fetch-Site", "same-origin")
}

// links is every link sent to the addresses, as typed.
func (si *signIn) links(emails ...string) []string {
	si.mu.Lock()
	defer si.mu.Unlock()
	var out []string
	for _, e := range emails {
		out = append(out, si.sent[e]...)
	}
	return out
}

func (si *signIn) linkState(id string) linkguard.State {
	si.t.Helper()
	l, err := si.store.LinkByID(context.Background(), id)
	if err != nil {
		si.t.Fatal(err)
	}
	return l.State
}

// samePage compares two sign-in pages without their CSRF tokens, link ids
// and the addresses they echo.
func samePage(t *testing.T, a, b resp, emailA, emailB string) {
	t.Helper()
	pa := pageNoiseRE.ReplaceAllString(strings.ReplaceAll(a.body, strings.ReplaceAll(emailA, "+", "&#43;"), "X"), "")
	pb := pageNoiseRE.ReplaceAllString(strings.ReplaceAll(b.body, strings.ReplaceAll(emailB, "+", "&#43;"), "X"), "")
	if a.status != b.status || pa != pb {
		t.Fatalf("the pages differ:\n%d %s\n----\n%d %s", a.status, pa, b.status, pb)
	}
}

// TestStrangerCannotRevokeYourLink: a sign-in asked by another browser
// for your address leaves your pending link alone; your own browser
// asking again replaces it (newest-only per device).
func TestStrangerCannotRevokeYourLink(t *testing.T) {
	si := newSignIn(t, nil, nil)
	if r := si.login(device(1), "alice@example.com"); r.status != 200 || !strings.Contains(r.body, "Check your inbox") {
		t.Fatalf("alice's sign-in: %d %s", r.status, r.body)
	}
	si.login(device(2), "alice@example.com") // a stranger, for alice
	ls := si.links("alice@example.com")
	if len(ls) != 2 {
		t.Fatalf("%d links sent to alice, want 2 (hers and the stranger's)", len(ls))
	}
	if st := si.linkState(ls[0]); st != linkguard.Pending {
		t.Fatalf("alice's link is %s after a stranger asked for her address, want pending", st)
	}
	si.clock.Add(resendCooldown + time.Second)
	si.login(device(1), "alice@example.com") // alice again, after the cooldown
	ls = si.links("alice@example.com")
	if len(ls) != 3 || si.linkState(ls[0]) != linkguard.Revoked || si.linkState(ls[1]) != linkguard.Pending || si.linkState(ls[2]) != linkguard.Pending {
		t.Fatalf("after alice asked again: %d links, states %v; want hers revoked, the stranger's and her new one pending", len(ls), ls)
	}
}

// TestLoginAddressLimits: strangers asking for one mailbox, in every
// spelling of it, get at most loginPerAddress links sent per window, and
// every answer is the same page as a sent link's.
func TestLoginAddressLimits(t *testing.T) {
	si := newSignIn(t, nil, nil)
	spellings := []string{"carol@example.com", "carol+1@example.com", "Carol+x@example.com", "carol+2@example.com", "CAROL@example.com", "carol+3@example.com"}
	var first resp
	for i, e := range spellings {
		r := si.login(device(10+i), e)
		if i == 0 {
			first = r
		}
		samePage(t, first, r, spellings[0], e)
	}
	if n := len(si.links(spellings...)); n != loginPerAddress {
		t.Fatalf("%d links sent to carol's mailbox by %d strangers, want %d", n, len(spellings), loginPerAddress)
	}
	if n := len(si.links("carol+1@example.com")); n != 1 {
		t.Fatalf("carol+1@ got %d links, want 1: mail goes to the address as typed", n)
	}
	si.mu.Lock()
	si.sent = map[string][]string{}
	si.mu.Unlock()
	for i, e := range []string{"d.a.v.e@gmail.com", "dave@googlemail.com", "da.ve+x@gmail.com", "dave@gmail.com"} {
		si.login(device(20+i), e)
	}
	if n := len(si.links("d.a.v.e@gmail.com", "dave@googlemail.com", "da.ve+x@gmail.com", "dave@gmail.com")); n != loginPerAddress {
		t.Fatalf("%d links sent to dave's Gmail in 4 spellings, want %d", n, loginPerAddress)
	}
	// The window slides from carol's three links: a second before they
	// leave it she is still at the limit (an aligned window would have
	// started afresh on its edge, wherever that fell); as they leave, she
	// may ask again.
	si.clock.Add(si.svc.Policy.DefaultTTL - time.Second)
	si.login(device(30), "carol@example.com")
	if n := len(si.links("carol@example.com")); n != 0 {
		t.Fatalf("carol@ got %d links a second before her first three left the window, want 0", n)
	}
	si.clock.Add(time.Second)
	si.login(device(31), "carol@example.com")
	if n := len(si.links("carol@example.com")); n != 1 {
		t.Fatalf("carol@ got %d links as her first three left the window, want 1", n)
	}
}

// TestLoginCooldownSaysNothing: the answer to a sign-in does not tell
// whether the address asked a moment ago, on this device or another.
func TestLoginCooldownSaysNothing(t *testing.T) {
	// The clock starts half a second before a half minute, where windows
	// aligned to the clock (as limits once were) let alice's second ask
	// through: the cooldown runs from her first, wherever that falls.
	si := newSignIn(t, nil, &clock{t: time.Now().UTC().Truncate(time.Minute).Add(29500 * time.Millisecond)})
	si.login(device(1), "alice@example.com")
	time.Sleep(1100 * time.Millisecond) // for a cooldown on the wall clock
	si.clock.Add(1100 * time.Millisecond)
	fresh := si.login(device(2), "nobody@example.com")
	for _, tc := range []struct {
		name string
		dev  string
	}{{"same device, within the cooldown", device(1)}, {"another device", device(2)}} {
		r := si.login(tc.dev, "alice@example.com")
		if tc.dev == device(2) { // same CSRF as fresh
			samePage(t, fresh, r, "nobody@example.com", "alice@example.com")
		} else if c := regexp.MustCompile(`again in (\d+) seconds`).FindStringSubmatch(r.body); c == nil || c[1] != "30" {
			t.Fatalf("%s: %q, want the page of a link just sent (30 seconds)", tc.name, c)
		}
	}
	if n := len(si.links("alice@example.com")); n != 2 {
		t.Fatalf("alice got %d links, want 2 (one per device)", n)
	}
}

// TestLoginLimitsTwoInstances: two servers on one real redis-server share
// the sign-in limits: the cooldown, the per-address cap and the per-IP
// limit hold whichever instance a request reaches.
func TestLoginLimitsTwoInstances(t *testing.T) {
	rs := redistest.ForTest(t)
	clk := &clock{t: time.Now().UTC()}
	open := func() *redisstore.Store {
		st, err := redisstore.Open(context.Background(), rs.URL, redisstore.Options{KeyPrefix: "two:"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	a, b := newSignIn(t, open(), clk), newSignIn(t, open(), clk)
	a.login(device(1), "alice@example.com")
	b.login(device(1), "alice@example.com") // within the cooldown, on the other instance
	if n := len(a.links("alice@example.com")) + len(b.links("alice@example.com")); n != 1 {
		t.Fatalf("%d links sent for one device within the cooldown across two instances, want 1", n)
	}
	for i := 0; i < 4; i++ {
		[]*signIn{a, b}[i%2].login(device(10+i), "carol+"+fmt.Sprint(i)+"@example.com")
	}
	if n := len(a.links("carol+0@example.com", "carol+2@example.com")) + len(b.links("carol+1@example.com", "carol+3@example.com")); n != loginPerAddress {
		t.Fatalf("%d links sent to carol across two instances, want %d", n, loginPerAddress)
	}
	// The per-IP limit: app.Test's peer is 0.0.0.0 on both.
	limited := 0
	for i := 0; i < 2*loginPerIP; i++ {
		if r := []*signIn{a, b}[i%2].login(device(100+i), fmt.Sprintf("u%d@example.com", i)); r.status == 429 {
			limited++
		}
	}
	if limited == 0 {
		t.Fatalf("%d sign-ins from one address across two instances: none limited", 2*loginPerIP)
	}
	// The waiting page's code limit per client address, likewise.
	limited = 0
	for i := 0; i <= waitPerIP; i++ {
		si := []*signIn{a, b}[i%2]
		form := url.Values{"link": {"lnk_06h35jss92dyf8dsfxm1psekkc"}, "code": {"123456"}, "csrf": {si.svc.Keys.CSRF(device(1))}}
		r := si.do("POST", "/login/code", form.Encode(), "Content-Type", "application/x-www-form-urlencoded",
			"Cookie", "lg_device="+device(1), "Sec-Fetch-Site", "same-origin")
		if r.status == 429 {
			limited++
		}
	}
	if limited != 1 {
		t.Fatalf("%d codes from one address across two instances: %d limited, want the last one", waitPerIP+1, limited)
	}
}
