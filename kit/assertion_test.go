package kit

import (
	"encoding/json"
	"io"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/linkguard/linkguard/assertion"
)

func TestRedirectCarriesAVerifiableAssertion(t *testing.T) {
	k, err := New(Options{
		PublicURL: "https://kit.example.com", DataDir: t.TempDir(), APIKeys: []string{"api-key-0123456789"},
		RedirectOrigins: []string{"https://app.example.com"}, HandoffAssertion: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	do := func(method, path, body, ct string) (int, string) {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		req.Header.Set("Authorization", "Bearer api-key-0123456789")
		res, err := k.App().Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	_, body := do("POST", "/v1/links", `{"email":"alice@example.com","redirect_url":"https://app.example.com/cb","send_email":false,"metadata":{"plan":"pro"}}`, "application/json")
	var issued struct{ URL, Code string }
	json.Unmarshal([]byte(body), &issued)
	path := strings.TrimPrefix(issued.URL, "https://kit.example.com")
	_, page := do("GET", path, "", "")
	nonce := regexp.MustCompile(`name="lg-nonce" content="([^"]+)"`).FindStringSubmatch(page)[1]
	_, out := do("POST", path+"/confirm", `{"nonce":"`+nonce+`","code":"`+issued.Code+`"}`, "application/json")
	var res struct {
		Outcome     string `json:"outcome"`
		RedirectURL string `json:"redirect_url"`
	}
	json.Unmarshal([]byte(out), &res)
	u, _ := url.Parse(res.RedirectURL)
	tok := u.Query().Get("lg_assertion")
	if res.Outcome != "consumed" || tok == "" || u.Query().Get("lg_code") == "" {
		t.Fatalf("confirm: %s", out)
	}

	status, jwks := do("GET", "/.well-known/jwks.json", "", "")
	if status != 200 {
		t.Fatalf("jwks: %d", status)
	}
	keys, err := assertion.ParseJWKS([]byte(jwks))
	if err != nil {
		t.Fatal(err)
	}
	c, err := assertion.Verify(tok, keys, assertion.VerifyOptions{Issuer: "https://kit.example.com", Audience: "https://app.example.com", Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if c.Email != "alice@example.com" || string(c.Metadata) != `{"plan":"pro"}` || c.Verdict.Decision != "consume" || strings.Join(c.AMR, ",") != "email_link,code" {
		t.Fatalf("claims: %+v", c)
	}
	if _, err := assertion.Verify(tok, keys, assertion.VerifyOptions{Issuer: "https://kit.example.com", Audience: "https://evil.example.net", Now: time.Now()}); err == nil {
		t.Fatal("the assertion verified for another audience")
	}
}
