package admin

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"

	"github.com/linkguard/linkguard/fingerprint"
)

// SaveToFile returns a SaveHeuristics that writes cfg as the
// `heuristics:` section of the YAML file at path, leaving every other
// key as it was, atomically (a temporary file in the same folder, synced,
// then renamed over the old one), and then applies it with apply (the
// kit's reload). A file that does not parse is left alone.
func SaveToFile(path string, apply func(fingerprint.Config) error) func(fingerprint.Config) (string, error) {
	return func(cfg fingerprint.Config) (string, error) {
		if err := cfg.Validate(); err != nil {
			return "", err
		}
		old, err := os.ReadFile(path)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("read %s: %w", path, err)
		}
		var doc yaml.Node
		if len(bytes.TrimSpace(old)) > 0 {
			if err := yaml.Unmarshal(old, &doc); err != nil {
				return "", fmt.Errorf("%s does not parse, so it is left alone: %v", path, err)
			}
		}
		if doc.Kind == 0 {
			doc = yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.MappingNode, Tag: "!!map"}}}
		}
		root := doc.Content[0]
		if root.Kind != yaml.MappingNode {
			return "", fmt.Errorf("%s is not a YAML mapping, so it is left alone", path)
		}
		var val yaml.Node
		if err := val.Encode(cfg); err != nil {
			return "", err
		}
		replaced := false
		for i := 0; i+1 < len(root.Content); i += 2 {
			if root.Content[i].Value == "heuristics" {
				root.Content[i+1], replaced = &val, true
			}
		}
		if !replaced {
			root.Content = append(root.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "heuristics"}, &val)
		}
		var buf bytes.Buffer
		enc := yaml.NewEncoder(&buf)
		enc.SetIndent(2)
		if err := enc.Encode(&doc); err != nil {
			return "", err
		}
		if err := writeAtomic(path, buf.Bytes()); err != nil {
			return "", err
		}
		if err := apply(cfg); err != nil {
			return "", fmt.Errorf("written to %s but not applied: %w", path, err)
		}
		return path, nil
	}
}

func writeAtomic(path string, b []byte) error {
	mode := fs.FileMode(0o600)
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".linkguard-config-*")
	if err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	defer os.Remove(tmp.Name()) // after the rename, a no-op
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("write config: %w", err)
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("write config: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write config: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
