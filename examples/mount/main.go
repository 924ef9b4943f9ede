// Command mount is a host site that signs its users in with linkguard
// mounted inside it, under /auth: its own Fiber app (or, with -nethttp,
// its own net/http mux) serves a home page with a "Sign in" link to the
// kit's hosted sign-in, and a /callback that exchanges the lg_code through
// the kit's HTTP API, as a real backend would, and shows the email.
//
//	go run ./examples/mount            # Fiber: k.Mount(app, "/auth")
//	go run ./examples/mount -nethttp   # net/http: http.StripPrefix("/auth", k.Handler())
//
// Then open http://127.0.0.1:3000/ and sign in with any address: the kit
// runs in dev mode, so the mail lands in http://127.0.0.1:3000/auth/dev/outbox.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/linkguard/linkguard/kit"
)

// prefix is where the kit is mounted; the kit's PublicURL ends with it.
const prefix = "/auth"

func main() {
	addr := flag.String("addr", "127.0.0.1:3000", "address to listen on")
	nethttp := flag.Bool("nethttp", false, "serve with net/http (k.Handler) instead of Fiber (k.Mount)")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Error("listen", "err", err)
		os.Exit(1)
	}
	s, err := newSite("http://"+ln.Addr().String(), *nethttp, log)
	if err != nil {
		log.Error("start", "err", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s.Start(ctx)
	log.Info("example site ready", "url", s.base+"/", "outbox", s.base+prefix+"/dev/outbox", "net/http", *nethttp)

	errc := make(chan error, 1)
	go func() { errc <- s.Serve(ln) }()
	select {
	case err = <-errc:
	case <-ctx.Done():
	}
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		log.Error("stopped", "err", err)
		os.Exit(1)
	}
}

// site is the host application with the kit inside it.
type site struct {
	base   string // "http://127.0.0.1:3000": the host's own origin
	apiKey string // the key this backend uses for the kit's /v1 API
	kit    *kit.Kit
	api    *http.Client

	fiber *fiber.App   // the Fiber variant
	http  *http.Server // the net/http variant
}

// newSite builds the kit and the host around it; base is the host's
// origin, and the kit lives at base+"/auth".
func newSite(base string, nethttp bool, log *slog.Logger) (*site, error) {
	s := &site{base: base, apiKey: rand.Text(), api: &http.Client{Timeout: 10 * time.Second}}
	k, err := kit.New(kit.Options{
		// Links and pages point at the mount point.
		PublicURL: base + prefix,
		// The host's backend calls the kit's /v1 API with this key. In
		// production, read it from a secret store; never ship it to browsers.
		APIKeys: []string{s.apiKey},
		// Dev mode: an in-memory outbox instead of SMTP, plain-http cookies.
		// In production, set SMTPURL and MailFrom, DataDir for a durable
		// store, and serve over https.
		Dev: true,
		// DataDir empty: an in-memory store, gone at exit.
		Log: log,
	})
	if err != nil {
		return nil, err
	}
	s.kit = k
	if nethttp {
		mux := http.NewServeMux()
		// NB: the kit sees paths without the prefix; its PublicURL tells
		// it to write links and forms with it.
		mux.Handle(prefix+"/", http.StripPrefix(prefix, k.Handler()))
		mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
			writeHTML(w, http.StatusOK, s.home())
		})
		mux.HandleFunc("GET /callback", func(w http.ResponseWriter, r *http.Request) {
			status, page := s.callback(r.Context(), r.URL.Query().Get("lg_code"))
			writeHTML(w, status, page)
		})
		s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		return s, nil
	}
	app := fiber.New(fiber.Config{
		DisableStartupMessage: true,
		// The parent's server settings apply to mounted apps too: the
		// kit's pages post small forms, but browsers send big headers.
		ReadBufferSize: 16 << 10,
	})
	app.Get("/", func(c *fiber.Ctx) error {
		return c.Type("html").Send(s.home())
	})
	app.Get("/callback", func(c *fiber.Ctx) error {
		status, page := s.callback(c.UserContext(), c.Query("lg_code"))
		return c.Status(status).Type("html").Send(page)
	})
	k.Mount(app, prefix)
	s.fiber = app
	return s, nil
}

// Start runs the kit's background work (mail delivery).
func (s *site) Start(ctx context.Context) { s.kit.Start(ctx) }

// Serve serves the site on ln until Close.
func (s *site) Serve(ln net.Listener) error {
	if s.fiber != nil {
		return s.fiber.Listener(ln)
	}
	if err := s.http.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Close stops the HTTP server first, then the kit.
func (s *site) Close() error {
	var err error
	if s.fiber != nil {
		err = s.fiber.ShutdownWithTimeout(5 * time.Second)
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = s.http.Shutdown(ctx)
		cancel()
	}
	return errors.Join(err, s.kit.Close())
}

var page = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Example site</title></head>
<body style="font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;">
<h1>Example site</h1>
{{if .Email}}<p id="signed-in">Signed in as <strong>{{.Email}}</strong>.</p>
<p><a href="/">Home</a></p>
{{else}}{{with .Error}}<p id="error" role="alert">{{.}}</p>{{end}}
<p>This site mounts linkguard under <code>/auth</code>.</p>
<p><a id="sign-in" href="{{.LoginURL}}">Sign in</a></p>
<p>Dev mode: the email lands in the <a href="/auth/dev/outbox">outbox</a>.</p>
{{end}}
</body>
</html>
`))

type pageData struct{ Email, Error, LoginURL string }

func (s *site) render(d pageData) []byte {
	d.LoginURL = prefix + "/login?redirect_url=" + url.QueryEscape(s.base+"/callback")
	var b bytes.Buffer
	if err := page.Execute(&b, d); err != nil {
		panic(err) // a bug in the template above
	}
	return b.Bytes()
}

func (s *site) home() []byte { return s.render(pageData{}) }

// callback is where the kit sends the browser after sign-in, with
// ?lg_code=...: the backend exchanges it for the verified email. A real
// site would start its own session here and redirect.
func (s *site) callback(ctx context.Context, code string) (int, []byte) {
	if code == "" {
		return http.StatusBadRequest, s.render(pageData{Error: "This page expects an lg_code from the sign-in link."})
	}
	email, err := s.exchange(ctx, code)
	if err != nil {
		return http.StatusBadRequest, s.render(pageData{Error: "Sign-in failed: " + err.Error()})
	}
	return http.StatusOK, s.render(pageData{Email: email})
}

// exchange calls POST /auth/v1/exchange, as any backend would, even one
// in another language on another machine.
func (s *site) exchange(ctx context.Context, code string) (string, error) {
	body, _ := json.Marshal(map[string]string{"code": code})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.base+prefix+"/v1/exchange", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+s.apiKey)
	req.Header.Set("Content-Type", "application/json")
	res, err := s.api.Do(req)
	if err != nil {
		return "", fmt.Errorf("exchange: %w", err)
	}
	defer res.Body.Close()
	var out struct {
		Email string `json:"email"`
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		return "", fmt.Errorf("exchange: %s: %w", res.Status, err)
	}
	if res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s (%s)", strings.TrimSuffix(out.Error.Message, "."), out.Error.Code)
	}
	return out.Email, nil
}

func writeHTML(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b)
}
