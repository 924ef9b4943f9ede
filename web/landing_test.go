package web

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/linkguard/linkguard"
)

// TestLandingVariantsMatchTheTemplate: for every state and flag, with
// and without each slot, with values that may and may not be slotted,
// the pre-rendered page is byte for byte the executed template.
func TestLandingVariantsMatchTheTemplate(t *testing.T) {
	s, err := New(Options{BasePath: "/auth"})
	if err != nil {
		t.Fatal(err)
	}
	used := time.Date(2026, 11, 30, 9, 8, 7, 0, time.UTC)
	var cases []Landing
	for _, state := range []linkguard.PageState{linkguard.PageChecking, linkguard.PageConfirm, linkguard.PageCode,
		linkguard.PageLocked, linkguard.PageDone, linkguard.PageUsed, linkguard.PageExpired, linkguard.PageError} {
		for _, nonce := range []string{"AAAAAAAAaaaa-_0123456789"} {
			for _, login := range []string{"", "/auth/login?redirect_url=https%3A%2F%2Fapp.example.com%2Fcb%3Fx%3D1"} {
				for _, flags := range []int{1, 3} { // Scripts, Scripts and Fast
					cases = append(cases, Landing{State: state, Nonce: nonce, ConfirmURL: "/auth/l/tok-_9/confirm",
						Scripts: flags&1 != 0, Fast: flags&2 != 0, LoginURL: login, UsedAt: used, ExpiresAt: used.Add(time.Hour)})
				}
			}
		}
	}
	// No nonce, values that must not be slotted, and free strings.
	cases = append(cases,
		Landing{State: linkguard.PageChecking, ConfirmURL: "/l/x/confirm"},
		Landing{State: "checking", Nonce: `a"b<c>`, ConfirmURL: "/l/x/confirm", Scripts: true},
		Landing{State: "checking", Nonce: "n", ConfirmURL: "javascript:alert(1)", Scripts: true},
		Landing{State: "checking", Nonce: "n", ConfirmURL: "//evil.example/x", Scripts: true},
		Landing{State: "expired", Nonce: "n", ConfirmURL: "/l/x/confirm", LoginURL: "/login?a=b&c=<d>"},
		Landing{State: "code", Nonce: "n", ConfirmURL: "/l/x/confirm", CodeError: "That code is not right <3", Email: "a@b.example"},
		Landing{State: "done", Nonce: "n", ConfirmURL: "/l/x/confirm", RedirectURL: "https://app.example.com/cb?lg_code=x&y=1"},
	)
	for i, d := range cases {
		for round := range 2 { // built, then from the cache
			var want, got bytes.Buffer
			if err := s.execute(&want, landingPage, d); err != nil {
				t.Fatal(err)
			}
			if err := s.RenderLanding(&got, d); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(want.Bytes(), got.Bytes()) {
				t.Fatalf("case %d (%+v), round %d: pre-rendered page differs from the template:\n%s\n--- want ---\n%s", i, d, round, got.String(), want.String())
			}
		}
	}
	// The pages scanners and people load come from the cache.
	for _, d := range cases[:8] {
		key, _, ok := s.landingKey(&d)
		if v := s.variant(key); !ok || v == nil || !v.ok {
			t.Errorf("%+v: not served from pre-rendered pieces", d)
		}
	}
}

// TestLandingVariantsAreBounded: past maxVariants, pages are executed.
func TestLandingVariantsAreBounded(t *testing.T) {
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.landing.limit = 20
	for i := range s.landing.limit + 10 {
		d := Landing{State: "code", Nonce: "n", ConfirmURL: "/l/x/confirm", CodeError: fmt.Sprint("error ", i)}
		var want, got bytes.Buffer
		s.execute(&want, landingPage, d)
		if err := s.RenderLanding(&got, d); err != nil || !bytes.Equal(want.Bytes(), got.Bytes()) {
			t.Fatalf("variant %d: %v", i, err)
		}
	}
	if n := len(*s.landing.variants.Load()); n != s.landing.limit {
		t.Fatalf("%d variants cached, want %d", n, s.landing.limit)
	}
}

func TestLandingAllocations(t *testing.T) {
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	d := Landing{State: "checking", Nonce: "AAAAAAAAaaaa-_0123456789", ConfirmURL: "/l/tok/confirm", Scripts: true}
	var b bytes.Buffer
	s.RenderLanding(&b, d)
	if n := testing.AllocsPerRun(100, func() { b.Reset(); s.RenderLanding(&b, d) }); n > 0 {
		t.Errorf("RenderLanding allocates %.0f times per page", n)
	}
}

func BenchmarkLanding(b *testing.B) {
	s, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	d := Landing{State: "checking", Nonce: "AAAAAAAAaaaa-_0123456789", ConfirmURL: "/l/tok/confirm", Scripts: true}
	var buf bytes.Buffer
	for _, bc := range []struct {
		name string
		fn   func() error
	}{
		{"pre-rendered", func() error { return s.RenderLanding(&buf, d) }},
		{"template", func() error { return s.execute(&buf, landingPage, d) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				buf.Reset()
				if err := bc.fn(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
