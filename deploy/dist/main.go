// Command dist packs the folders `make dist` built, one per platform
// (dist/linkguard_<version>_<os>_<arch>/), into archives (.zip for
// Windows, .tar.gz otherwise) and writes their SHA-256 sums to
// dist/SHA256SUMS, in the format `sha256sum -c` reads.
//
//	go run ./deploy/dist dist
package main

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: dist DIR")
		os.Exit(2)
	}
	if err := pack(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "dist:", err)
		os.Exit(1)
	}
}

func pack(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var archives []string
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), "linkguard_") {
			continue
		}
		name := e.Name() + ".tar.gz"
		write := writeTarGz
		if strings.Contains(e.Name(), "_windows_") {
			name, write = e.Name()+".zip", writeZip
		}
		if err := write(filepath.Join(dir, name), filepath.Join(dir, e.Name()), e.Name()); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		archives = append(archives, name)
	}
	if len(archives) == 0 {
		return fmt.Errorf("no linkguard_* folders in %s: run make dist", dir)
	}
	sort.Strings(archives)
	var sums strings.Builder
	for _, a := range archives {
		b, err := os.ReadFile(filepath.Join(dir, a))
		if err != nil {
			return err
		}
		h := sha256.Sum256(b)
		fmt.Fprintf(&sums, "%s  %s\n", hex.EncodeToString(h[:]), a)
		fmt.Printf("%s  %d bytes\n", a, len(b))
	}
	return os.WriteFile(filepath.Join(dir, "SHA256SUMS"), []byte(sums.String()), 0o644)
}

// files lists a folder's files, sorted, so archives are reproducible.
func files(root string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			out = append(out, p)
		}
		return err
	})
	sort.Strings(out)
	return out, err
}

var epoch = time.Unix(0, 0).UTC()

func writeTarGz(dst, root, prefix string) error {
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer f.Close()
	gz := gzip.NewWriter(f)
	tw := tar.NewWriter(gz)
	list, err := files(root)
	if err != nil {
		return err
	}
	for _, p := range list {
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		hdr := &tar.Header{Name: prefix + "/" + filepath.ToSlash(rel), Mode: int64(fi.Mode().Perm()), Size: fi.Size(), ModTime: epoch, Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if err := copyFile(tw, p); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := gz.Close(); err != nil {
		return err
	}
	return f.Close()
}

func writeZip(dst, root, prefix string) error {
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer f.Close()
	zw := zip.NewWriter(f)
	list, err := files(root)
	if err != nil {
		return err
	}
	for _, p := range list {
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		hdr, _ := zip.FileInfoHeader(fi)
		hdr.Name, hdr.Method, hdr.Modified = prefix+"/"+filepath.ToSlash(rel), zip.Deflate, epoch
		w, err := zw.CreateHeader(hdr)
		if err != nil {
			return err
		}
		if err := copyFile(w, p); err != nil {
			return err
		}
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return f.Close()
}

func copyFile(w io.Writer, p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}
