// Command image builds linkguard's OCI image without a Docker daemon, with
// github.com/google/go-containerregistry: a scratch image holding the
// static binary, CA certificates (for SMTP over TLS and rediss://), a
// passwd entry for the unprivileged user, and an empty /data, written as
// a tarball that `docker load` and `podman load` accept.
//
//	go run ./deploy/image --binary dist/linux_amd64/linkguard --arch amd64 \
//	    --tag linkguard:dev --out dist/linkguard-image-amd64.tar
//
// `make image` builds the binary and runs this.
package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The image's user: nonroot, as distroless names it.
const uid = 65532

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	bin := fs.String("binary", "", "the static linux `binary` to put in the image (required)")
	arch := fs.String("arch", "amd64", "the binary's `architecture` (amd64, arm64)")
	tag := fs.String("tag", "linkguard:dev", "image `reference` recorded in the tarball")
	out := fs.String("out", "linkguard-image.tar", "tarball to write")
	version := fs.String("version", "dev", "version `label`")
	cacerts := fs.String("ca-certificates", "/etc/ssl/certs/ca-certificates.crt", "CA bundle to include (\"\" for none)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *bin == "" {
		return errors.New("--binary is required")
	}
	ref, err := name.NewTag(*tag)
	if err != nil {
		return fmt.Errorf("--tag %q: %w", *tag, err)
	}
	img, err := Build(Options{Binary: *bin, Arch: *arch, Version: *version, CACerts: *cacerts})
	if err != nil {
		return err
	}
	if err := tarball.WriteToFile(*out, ref, img); err != nil {
		return fmt.Errorf("write %s: %w", *out, err)
	}
	fi, _ := os.Stat(*out)
	fmt.Printf("%s: %s (%d bytes)\n", *out, ref, fi.Size())
	return nil
}

// Options say what goes into the image.
type Options struct {
	Binary, Arch, Version string
	// CACerts is a CA bundle path; "" leaves it out.
	CACerts string
}

// Build makes the image: one layer, the config of a service.
func Build(o Options) (v1.Image, error) {
	bin, err := os.ReadFile(o.Binary)
	if err != nil {
		return nil, fmt.Errorf("binary: %w", err)
	}
	var certs []byte
	if o.CACerts != "" {
		if certs, err = os.ReadFile(o.CACerts); err != nil {
			return nil, fmt.Errorf("ca-certificates: %w (pass --ca-certificates \"\" to leave them out)", err)
		}
	}
	layerTar, err := rootfs(bin, certs)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.AppendLayers(img, layer)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", o.Arch
	cf.Created = v1.Time{Time: time.Unix(0, 0).UTC()} // reproducible
	cf.Config = v1.Config{
		Entrypoint:   []string{"/linkguard"},
		Cmd:          []string{"serve"},
		User:         fmt.Sprintf("%d:%d", uid, uid),
		WorkingDir:   "/data",
		Env:          []string{"LINKGUARD_LISTEN=0.0.0.0:8080", "LINKGUARD_DATA_DIR=/data", "LINKGUARD_LOG_FORMAT=json", "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"},
		ExposedPorts: map[string]struct{}{"8080/tcp": {}},
		Volumes:      map[string]struct{}{"/data": {}},
		Labels: map[string]string{
			"org.opencontainers.image.title":       "linkguard",
			"org.opencontainers.image.description": "One-time sign-in links that mail scanners cannot spend",
			"org.opencontainers.image.version":     o.Version,
			"org.opencontainers.image.source":      "https://github.com/linkguard/linkguard",
		},
	}
	return mutate.ConfigFile(img, cf)
}

// rootfs is the image's one layer: /linkguard, /etc/passwd and group,
// the CA bundle, and /data and /tmp owned by the service user.
func rootfs(bin, certs []byte) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mtime := time.Unix(0, 0).UTC()
	dir := func(name string, mode int64, owner int) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: mode, Uid: owner, Gid: owner, ModTime: mtime})
	}
	file := func(name string, mode int64, b []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(b)), ModTime: mtime}); err != nil {
			return err
		}
		_, err := tw.Write(b)
		return err
	}
	steps := []func() error{
		func() error { return dir("etc/", 0o755, 0) },
		func() error {
			return file("etc/passwd", 0o644, fmt.Appendf(nil, "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%d:%d:nonroot:/data:/sbin/nologin\n", uid, uid))
		},
		func() error { return file("etc/group", 0o644, fmt.Appendf(nil, "root:x:0:\nnonroot:x:%d:\n", uid)) },
		func() error { return dir("data/", 0o700, uid) },
		func() error { return dir("tmp/", 0o1777, 0) },
		func() error { return file("linkguard", 0o755, bin) },
	}
	if certs != nil {
		steps = append(steps,
			func() error { return dir("etc/ssl/", 0o755, 0) },
			func() error { return dir("etc/ssl/certs/", 0o755, 0) },
			func() error { return file("etc/ssl/certs/ca-certificates.crt", 0o644, certs) })
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
