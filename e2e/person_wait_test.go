package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestWaitingPageCodeCrossDevice: the person asks on the computer (the
// asker), opens the mail on the phone (a second browser context, which
// is not signed in by that), and types the mail's code on the
// computer's waiting page: the computer lands signed in at the host.
func TestWaitingPageCodeCrossDevice(t *testing.T) {
	e := newKitEnv(t, nil)
	asker := e.browser(45 * time.Second)
	signIn(t, asker, e, "alice@example.com")
	if st, err := waitState(asker, "sent"); err != nil || st != "sent" {
		t.Fatalf("waiting page state %q (%v), want sent", st, err)
	}
	m := e.mailTo("alice@example.com")

	phone := e.browser(45 * time.Second)
	if err := chromedp.Do(phone, chromedp.Navigate(m.URL)); err != nil {
		t.Fatal(err)
	}
	if _, err := waitState(phone, "confirm", "code", "error"); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(asker,
		chromedp.WaitVisible(chromedp.CSS("#lg-wait-code")),
		chromedp.SendKeys(chromedp.CSS("#lg-wait-code"), m.Code),
		chromedp.Click(chromedp.CSS("#lg-wait-submit")),
	); err != nil {
		t.Fatal(err)
	}
	signedIn(t, asker, e, "alice@example.com")
	if s := e.probe(m.URL); s != "used" {
		t.Errorf("the link is %q after the code, want used", s)
	}
}

// TestWaitingPageLearnsOfOtherDevice: the link is used on another device
// while the waiting page is open; the page moves to elsewhere without a
// reload and says so.
func TestWaitingPageLearnsOfOtherDevice(t *testing.T) {
	e := newKitEnv(t, nil)
	asker := e.browser(45 * time.Second)
	signIn(t, asker, e, "alice@example.com")
	m := e.mailTo("alice@example.com")
	status, err := chromedp.Run(asker, chromedp.Evaluate[string](`document.body.getAttribute("data-lg-status")`))
	if err != nil || !strings.Contains(status, "/login/status/") {
		t.Fatalf("data-lg-status %q (%v)", status, err)
	}
	id := status[strings.LastIndex(status, "/")+1:]
	// The other device: the host's own code page, on the same count.
	req, _ := http.NewRequest("POST", e.base+"/v1/links/"+id+"/redeem", strings.NewReader(`{"code":"`+m.Code+`"}`))
	req.Header.Set("Authorization", "Bearer test-key")
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("redeem: %d", res.StatusCode)
	}
	if st, err := waitState(asker, "elsewhere"); err != nil || st != "elsewhere" {
		t.Fatalf("state %q (%v), want elsewhere", st, err)
	}
	text, err := chromedp.Run(asker, chromedp.Evaluate[string](`document.querySelector(".lg-elsewhere").innerText + "|" + document.getElementById("lg-live").textContent`))
	if err != nil || !strings.Contains(text, "other device") || !strings.HasSuffix(text, "|"+strings.SplitN(text, "\n", 2)[0]) {
		t.Errorf("elsewhere says %q (%v), and the live region should announce its heading", text, err)
	}
}
