package main

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// TestImageRunsItsBinary builds the real linkguard binary, makes the
// image tarball, reads it back as `docker load` would (manifest.json,
// config, layers), unpacks its filesystem and runs the binary found there.
func TestImageRunsItsBinary(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "linkguard")
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X main.version=imagetest", "-o", bin, "../../cmd/linkguard")
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out := filepath.Join(dir, "image.tar")
	if err := run([]string{"--binary", bin, "--arch", runtime.GOARCH, "--tag", "linkguard:imagetest", "--out", out, "--version", "imagetest"}); err != nil {
		t.Fatal(err)
	}

	tag, _ := name.NewTag("linkguard:imagetest")
	img, err := tarball.ImageFromPath(out, &tag)
	if err != nil {
		t.Fatalf("the tarball does not load: %v", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != "linux" || cf.Architecture != runtime.GOARCH || cf.Config.User != "65532:65532" ||
		strings.Join(cf.Config.Entrypoint, " ") != "/linkguard" || strings.Join(cf.Config.Cmd, " ") != "serve" {
		t.Errorf("config: os %s arch %s user %q entrypoint %v cmd %v", cf.OS, cf.Architecture, cf.Config.User, cf.Config.Entrypoint, cf.Config.Cmd)
	}

	root := filepath.Join(dir, "rootfs")
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	files := map[string]bool{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		files[h.Name] = true
		p := filepath.Join(root, filepath.Clean("/"+h.Name))
		switch h.Typeflag {
		case tar.TypeDir:
			os.MkdirAll(p, 0o755)
		case tar.TypeReg:
			os.MkdirAll(filepath.Dir(p), 0o755)
			f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, os.FileMode(h.Mode))
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(f, tr)
			f.Close()
		}
	}
	for _, want := range []string{"linkguard", "etc/passwd", "data", "etc/ssl/certs/ca-certificates.crt"} {
		if !files[want] {
			t.Errorf("the image lacks %s (has %v)", want, files)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got, err := exec.CommandContext(ctx, filepath.Join(root, "linkguard"), "version").CombinedOutput()
	if err != nil || !strings.Contains(string(got), "imagetest") {
		t.Fatalf("the image's binary: %v: %s", err, got)
	}
	t.Logf("image %s: %s", out, strings.TrimSpace(string(got)))

	// With a Docker daemon at hand, it must load the tarball too.
	dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer dcancel()
	if exec.CommandContext(dctx, "docker", "info").Run() == nil {
		lctx, lcancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer lcancel()
		if b, err := exec.CommandContext(lctx, "docker", "load", "-i", out).CombinedOutput(); err != nil {
			t.Errorf("docker load: %v\n%s", err, b)
		}
	}
}
