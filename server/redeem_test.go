package server

import (
	"fmt"
	"strings"
	"testing"
)

func errObj(t *testing.T, r resp) map[string]any {
	t.Helper()
	e, ok := r.json(t)["error"].(map[string]any)
	if !ok {
		t.Fatalf("no error object: %d %s", r.status, r.body)
	}
	return e
}

func TestPurposeAndLocale(t *testing.T) {
	h := newHarness(t, "")
	h.svc.MatchLocale = func(al string) string {
		if strings.HasPrefix(al, "de") {
			return "de"
		}
		return ""
	}
	for _, tc := range []struct {
		name, body, purpose, locale string
	}{
		{"default", `{"email":"a@example.com","redirect_url":"https://app.example.com/"}`, "sign_in", "en"},
		{"given", `{"email":"a@example.com","redirect_url":"https://app.example.com/","purpose":"reset_password","locale":"pt-br"}`, "reset_password", "pt-BR"},
		{"from accept-language", `{"email":"a@example.com","redirect_url":"https://app.example.com/","purpose":"invite","requester":{"accept_language":"de-CH,de;q=0.9"}}`, "invite", "de"},
		{"unmatched accept-language", `{"email":"a@example.com","redirect_url":"https://app.example.com/","requester":{"accept_language":"ja"}}`, "sign_in", "en"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := h.issue(tc.body)
			m := h.api("GET", "/v1/links/"+l.ID, "").json(t)
			if m["purpose"] != tc.purpose || m["locale"] != tc.locale {
				t.Fatalf("GET: purpose %v locale %v; want %s %s", m["purpose"], m["locale"], tc.purpose, tc.locale)
			}
			r := h.api("POST", "/v1/links/"+l.ID+"/redeem", `{"code":"`+l.Code+`"}`)
			if r.status != 200 {
				t.Fatalf("redeem: %d %s", r.status, r.body)
			}
			m = r.json(t)
			if m["purpose"] != tc.purpose || m["locale"] != tc.locale || m["link_id"] != l.ID || m["email"] != "a@example.com" {
				t.Fatalf("redeem body: %s", r.body)
			}
		})
	}
	for _, tc := range []struct{ name, body, want string }{
		{"400/unknown purpose", `{"email":"a@example.com","redirect_url":"https://app.example.com/","purpose":"login"}`, "purpose"},
		{"400/bad locale", `{"email":"a@example.com","redirect_url":"https://app.example.com/","locale":"not a tag"}`, "locale"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.api("POST", "/v1/links", tc.body)
			if r.status != 400 || !strings.Contains(errObj(t, r)["message"].(string), tc.want) {
				t.Fatalf("%d %s", r.status, r.body)
			}
		})
	}
}

func TestRedeem(t *testing.T) {
	h := newHarness(t, "")
	l := h.issue("")
	wrong := fmt.Sprintf("%06d", (atoi(l.Code)+1)%1000000)
	redeem := func(code string) resp {
		return h.api("POST", "/v1/links/"+l.ID+"/redeem", `{"code":"`+code+`"}`)
	}
	// Not a code at all: refused, and no try is spent.
	for _, bad := range []string{"", "12345", "1234567", "12a456", "１２３４５６"} {
		r := redeem(bad)
		e := errObj(t, r)
		if r.status != 400 || e["code"] != "invalid_code" || e["attempts_left"] != 5.0 {
			t.Fatalf("code %q: %d %s; want 400 invalid_code with 5 attempts left", bad, r.status, r.body)
		}
	}
	r := redeem(wrong)
	if e := errObj(t, r); r.status != 400 || e["code"] != "invalid_code" || e["attempts_left"] != 4.0 {
		t.Fatalf("wrong code: %d %s", r.status, r.body)
	}
	// The landing page spends from the same count.
	nonce := h.nonce(l.Token)
	h.do("POST", "/l/"+l.Token+"/confirm", `{"nonce":"`+nonce+`","code":"`+wrong+`"}`)
	if e := errObj(t, redeem(wrong)); e["attempts_left"] != 2.0 {
		t.Fatalf("after a wrong code on the landing page: %v; want 2 left", e)
	}
	r = redeem(l.Code)
	if r.status != 200 || r.json(t)["verdict"].(map[string]any)["decision"] != "consume" {
		t.Fatalf("right code: %d %s", r.status, r.body)
	}
	if strings.Contains(r.body, l.Code) || strings.Contains(r.body, "lg_code") {
		t.Fatalf("redeem must not echo the code or a handoff code: %s", r.body)
	}
	if h.state(l.ID) != "consumed" {
		t.Fatal("link not consumed")
	}
	r = redeem(l.Code)
	if e := errObj(t, r); r.status != 409 || e["code"] != "not_pending" || e["state"] != "consumed" {
		t.Fatalf("second redeem: %d %s", r.status, r.body)
	}
}

func TestRedeemLockedAndRevoked(t *testing.T) {
	h := newHarness(t, "")
	l := h.issue("")
	wrong := fmt.Sprintf("%06d", (atoi(l.Code)+1)%1000000)
	var last resp
	for i := 0; i < 5; i++ {
		last = h.api("POST", "/v1/links/"+l.ID+"/redeem", `{"code":"`+wrong+`"}`)
	}
	if last.status != 429 {
		t.Fatalf("fifth wrong code: %d %s; want 429", last.status, last.body)
	}
	r := h.api("POST", "/v1/links/"+l.ID+"/redeem", `{"code":"`+l.Code+`"}`)
	if r.status != 429 || errObj(t, r)["code"] != "too_many_attempts" || h.state(l.ID) != "pending" {
		t.Fatalf("right code once locked: %d %s", r.status, r.body)
	}
	l2 := h.issue(`{"email":"bob@example.com","redirect_url":"https://app.example.com/"}`)
	h.api("DELETE", "/v1/links/"+l2.ID, "")
	r = h.api("POST", "/v1/links/"+l2.ID+"/redeem", `{"code":"`+l2.Code+`"}`)
	if e := errObj(t, r); r.status != 409 || e["state"] != "revoked" {
		t.Fatalf("revoked: %d %s", r.status, r.body)
	}
	for _, tc := range []struct {
		name, path, body string
		status           int
	}{
		{"404/unknown id", "/v1/links/lnk_00000000000000000000000000/redeem", `{"code":"123456"}`, 404},
		{"400/unknown field", "/v1/links/" + l2.ID + "/redeem", `{"code":"123456","x":1}`, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if r := h.api("POST", tc.path, tc.body); r.status != tc.status {
				t.Fatalf("%d %s", r.status, r.body)
			}
		})
	}
	if r := h.do("POST", "/v1/links/"+l2.ID+"/redeem", `{"code":"123456"}`); r.status != 401 {
		t.Fatalf("no key: %d", r.status)
	}
}
