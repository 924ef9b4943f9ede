package server

import (
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/fingerprint"
)

// TestPurposeAndLanguageOnThePage: a reset link for a German requester
// reads in German with reset wording; a link without a locale follows
// the browser; <html lang> says which.
func TestPurposeAndLanguageOnThePage(t *testing.T) {
	h := newHarness(t, "")
	h.svc.MatchLocale = h.srv.site.Catalog().Match
	reset := h.issue(`{"email":"a@example.com","redirect_url":"https://app.example.com/","purpose":"reset_password","requester":{"accept_language":"de-DE,de;q=0.9"}}`)
	r := h.do("GET", "/l/"+reset.Token, "", "Accept-Language", "en")
	for _, want := range []string{`<html lang="de">`, "Passwort zurücksetzen", "Ihr Passwort zurückzusetzen", "Geben Sie den Code aus Ihrer E-Mail ein"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("German reset page lacks %q", want)
		}
	}
	for _, bad := range []string{"Sign in", "Signing you in", "sich anzumelden"} {
		if strings.Contains(r.body, bad) {
			t.Errorf("German reset page says %q", bad)
		}
	}
	plain := h.issue(`{"email":"b@example.com","redirect_url":"https://app.example.com/","purpose":"invite","locale":"fr"}`)
	if r := h.do("GET", "/l/"+plain.Token, ""); !strings.Contains(r.body, `<html lang="fr">`) || !strings.Contains(r.body, "Accepter l’invitation") {
		t.Errorf("French invite page:\n%s", r.body)
	}
	if r := h.do("GET", "/l/unknown-token-0123456789", "", "Accept-Language", "pl-PL,pl;q=0.9"); !strings.Contains(r.body, `<html lang="pl">`) || !strings.Contains(r.body, "Ten link wygasł") {
		t.Errorf("unknown token for a Polish browser:\n%s", r.body)
	}
	if r := h.do("GET", "/login?redirect_url="+url.QueryEscape("https://app.example.com/"), "", "Accept-Language", "nl"); !strings.Contains(r.body, `<html lang="nl">`) || !strings.Contains(r.body, "Stuur me een inloglink") {
		t.Errorf("Dutch sign-in form:\n%s", r.body)
	}
}

// TestLockedLandingOffersANewLink: after the last wrong code the landing
// page is locked, with #lg-new-link; the new link goes to the same
// address and site, and the answer is the waiting page of this browser,
// which never shows the address.
func TestLockedLandingOffersANewLink(t *testing.T) {
	h := newMailHarness(t)
	l := h.issue(`{"email":"carol@example.com","redirect_url":"https://app.example.com/cb","purpose":"approve","locale":"it"}`)
	code := h.code("carol@example.com")
	// A form post of something that is not a code spends nothing.
	b := &browser{h: h}
	nonce := h.nonce(l.Token)
	r := b.send("POST", "/l/"+l.Token+"/confirm", url.Values{"nonce": {nonce}, "code": {"12"}})
	if !strings.Contains(r.body, "Nessun tentativo è stato contato") {
		t.Fatalf("not a code: %s", r.body)
	}
	for range 5 {
		r = b.send("POST", "/l/"+l.Token+"/confirm", url.Values{"nonce": {nonce}, "code": {wrongCode(code)}})
	}
	page := h.do("GET", "/l/"+l.Token, "")
	if pageState(t, page) != "locked" || !strings.Contains(page.body, `id="lg-new-link"`) || !strings.Contains(page.body, "Troppi codici errati") {
		t.Fatalf("locked page:\n%s", page.body)
	}
	h.codes = map[string]string{}
	r = b.send("POST", "/l/"+l.Token+"/confirm", url.Values{"nonce": {h.nonce(l.Token)}, "new": {"1"}}, "Sec-Fetch-Site", "same-origin")
	if pageState(t, r) != "sent" || strings.Contains(r.body, "carol@example.com") || !strings.Contains(r.body, `id="lg-wait-code"`) || !strings.Contains(r.body, `lang="it"`) {
		t.Fatalf("after asking for a new link:\n%s", r.body)
	}
	newCode := h.code("carol@example.com")
	if newCode == "" {
		t.Fatal("no new mail")
	}
	id := regexp.MustCompile(`name="link" value="([^"]+)"`).FindStringSubmatch(r.body)[1]
	m := h.api("GET", "/v1/links/"+id, "").json(t)
	if m["email"] != "carol@example.com" || m["purpose"] != "approve" || m["locale"] != "it" || m["redirect_url"] != "https://app.example.com/cb" {
		t.Fatalf("new link: %v", m)
	}
	// This browser asked for it: its waiting page takes the new code.
	csrf := csrfRE.FindStringSubmatch(r.body)[1]
	if r := b.typeCode(id, csrf, newCode); r.status != 303 {
		t.Fatalf("new code on the waiting page: %d %s", r.status, r.body)
	}
	// A second ask within the cooldown sends nothing more.
	h.codes = map[string]string{}
	b.send("POST", "/l/"+l.Token+"/confirm", url.Values{"nonce": {h.nonce(l.Token)}, "new": {"1"}})
	if h.code("carol@example.com") != "" {
		t.Error("a second new link within the cooldown was mailed")
	}
	// A forged nonce gets no link.
	if r := b.send("POST", "/l/"+l.Token+"/confirm", url.Values{"nonce": {"forged"}, "new": {"1"}}); r.status != 303 || h.code("carol@example.com") != "" {
		t.Errorf("forged nonce: %d", r.status)
	}
}

// TestLandingSaysWhereItWasAsked: the page of a link asked for by a
// browser with a device cookie, opened in another, says where it was
// asked from; the asking browser's own page does not.
func TestLandingSaysWhereItWasAsked(t *testing.T) {
	h := newMailHarness(t)
	l, err := h.svc.Issue(t.Context(), &linkIssue)
	if err != nil {
		t.Fatal(err)
	}
	token := l.URL[strings.LastIndex(l.URL, "/")+1:]
	r := h.do("GET", "/l/"+token, "", "Accept-Language", "de")
	if !strings.Contains(r.body, `id="lg-asked"`) || !strings.Contains(r.body, "You asked for this link from Firefox on Windows") {
		t.Errorf("another browser's page does not say where it was asked:\n%s", r.body)
	}
	own := (&browser{h: h, cookie: "c-0123456789012345678901234567890123456789abc"}).send("GET", "/l/"+token, nil)
	if strings.Contains(own.body, `id="lg-asked"`) {
		t.Error("the asking browser's own page says where it was asked")
	}
}

var linkIssue = func() linkguard.IssueRequest {
	return linkguard.IssueRequest{Email: "dan@example.com", RedirectURL: "https://app.example.com/cb",
		Requester: linkguard.Client{Binding: "c-0123456789012345678901234567890123456789abc",
			Visitor: fingerprint.Visitor{UserAgent: personUA, AcceptLanguage: "de"}}}
}()
