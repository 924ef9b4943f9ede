package kit

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/linkguard/linkguard/internal/redistest"
)

// TestTwoInstancesShareRedis: a link issued by one instance is opened,
// consumed and exchanged through another, and only once.
func TestTwoInstancesShareRedis(t *testing.T) {
	rurl := redistest.ForTest(t).URL
	secret := bytes.Repeat([]byte{42}, 32)
	const key = "shared-api-key-0123456789"
	newKit := func() *Kit {
		k, err := New(Options{PublicURL: "https://kit.example.com", Store: rurl, SecretKey: secret,
			APIKeys: []string{key}, RedirectOrigins: []string{"https://app.example.com"}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { k.Close() })
		return k
	}
	a, b := newKit(), newKit()
	do := func(k *Kit, method, path, body string) (int, string) {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		req.Header.Set("Authorization", "Bearer "+key)
		res, err := k.App().Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		out, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(out)
	}

	_, body := do(a, "POST", "/v1/links", `{"email":"alice@example.com","redirect_url":"https://app.example.com/cb","send_email":false}`)
	var issued struct{ ID, URL, Code string }
	json.Unmarshal([]byte(body), &issued)
	path := strings.TrimPrefix(issued.URL, "https://kit.example.com")
	_, page := do(b, "GET", path, "")
	nonce := regexp.MustCompile(`name="lg-nonce" content="([^"]+)"`).FindStringSubmatch(page)[1]
	_, out := do(b, "POST", path+"/confirm", `{"nonce":"`+nonce+`","code":"`+issued.Code+`"}`)
	var res struct {
		Outcome     string `json:"outcome"`
		RedirectURL string `json:"redirect_url"`
	}
	json.Unmarshal([]byte(out), &res)
	if res.Outcome != "consumed" {
		t.Fatalf("confirm on instance b: %s", out)
	}
	if _, again := do(a, "POST", path+"/confirm", `{"nonce":"`+nonce+`","code":"`+issued.Code+`"}`); !strings.Contains(again, `"used"`) {
		t.Fatalf("confirm again on instance a: %s, want used", again)
	}
	u, _ := url.Parse(res.RedirectURL)
	code := u.Query().Get("lg_code")
	if status, ex := do(a, "POST", "/v1/exchange", `{"code":"`+code+`"}`); status != 200 || !strings.Contains(ex, "alice@example.com") {
		t.Fatalf("exchange on a: %d %s", status, ex)
	}
	if status, _ := do(b, "POST", "/v1/exchange", `{"code":"`+code+`"}`); status != 400 {
		t.Fatalf("second exchange on b: %d, want 400", status)
	}
	if _, st := do(b, "GET", "/v1/links/"+issued.ID, ""); !strings.Contains(st, `"state":"consumed"`) {
		t.Fatalf("state seen from b: %s", st)
	}
}
