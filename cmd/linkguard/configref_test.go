package main

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestConfigReference: every YAML key of Config has a line in configDocs
// and none names a key Config lacks; every environment variable that
// loadEnv reads is documented, on the key it sets.
func TestConfigReference(t *testing.T) {
	keys := configKeys(reflect.TypeFor[Config]())
	for _, k := range keys {
		if docFor(k) == nil {
			t.Errorf("config key %q has no line in configDocs (cmd/linkguard/configref.go): add one, then make config-doc", k)
		}
	}
	for _, d := range configDocs {
		if d.Key != "" && !slices.Contains(keys, d.Key) {
			t.Errorf("configDocs documents %q, which Config does not have", d.Key)
		}
		if d.Doc == "" {
			t.Errorf("configDocs: %q has no meaning", d.Key)
		}
	}
	documented := map[string]bool{}
	for _, d := range configDocs {
		if d.Env != "" {
			documented[d.Env] = true
		}
	}
	for _, e := range envNames {
		if !documented[e] {
			t.Errorf("loadEnv reads %s, which configDocs does not name", e)
		}
	}
}

// TestEnvSetsItsKey: each documented variable sets the key its line
// names (and not another).
func TestEnvSetsItsKey(t *testing.T) {
	for _, d := range configDocs {
		if d.Env == "" || d.Key == "" {
			continue
		}
		def := Default()
		want, _ := valueAt(reflect.ValueOf(&def).Elem(), d.Key)
		var sample string
		switch want.Kind() {
		case reflect.Bool:
			sample = strings.ToUpper(map[bool]string{false: "true", true: "false"}[want.Bool()])
		case reflect.Slice:
			sample = "a-sample,b-sample"
		default:
			sample = "sample-" + strings.ToLower(d.Env)
		}
		c := Default()
		if err := c.loadEnv(env(map[string]string{d.Env: sample})); err != nil {
			t.Errorf("%s=%s: %v", d.Env, sample, err)
			continue
		}
		got, _ := valueAt(reflect.ValueOf(&c).Elem(), d.Key)
		if reflect.DeepEqual(got.Interface(), want.Interface()) {
			t.Errorf("%s=%s left %s at its default", d.Env, sample, d.Key)
		}
		// Nothing else moved: put the key back and compare whole configs.
		got.Set(want)
		if !reflect.DeepEqual(c, def) {
			t.Errorf("%s set more than %s", d.Env, d.Key)
		}
	}
}

// TestServeHelp: `serve --help` exits 0 and lists exactly the flags of
// the reference.
func TestServeHelp(t *testing.T) {
	var out, errw bytes.Buffer
	err := run([]string{"serve", "--help"}, &out, &errw)
	if err != nil && !strings.Contains(err.Error(), "help requested") {
		t.Fatalf("serve --help: %v", err)
	}
	// main exits 0 on flag.ErrHelp; the usage went to stderr.
	var got []string
	for _, m := range regexp.MustCompile(`(?m)^  -([a-z-]+)`).FindAllStringSubmatch(errw.String(), -1) {
		got = append(got, "--"+m[1])
	}
	var want []string
	for _, d := range configDocs {
		if d.Flag != "" {
			want = append(want, d.Flag)
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("serve flags %v, documented %v\n%s", got, want, errw.String())
	}
}

// TestPrintDefaultsLoadsBack: the printed file, loaded into an empty
// configuration, is Default() again, and every documented key is in it.
func TestPrintDefaultsLoadsBack(t *testing.T) {
	var b bytes.Buffer
	if err := run([]string{"config", "--print-defaults"}, &b, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "defaults.yaml")
	if err := os.WriteFile(file, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	var c Config
	if err := c.loadFile(file); err != nil {
		t.Fatalf("the printed defaults do not load: %v\n%s", err, b.String())
	}
	got, _ := yaml.Marshal(c)
	want, _ := yaml.Marshal(Default())
	if !bytes.Equal(got, want) {
		t.Errorf("loaded back:\n%s\nwant:\n%s", got, want)
	}
	for _, d := range configDocs {
		if d.Key != "" && !strings.Contains(d.Key, "[]") && !strings.Contains(d.Key, "<name>") && !strings.Contains(b.String(), "# "+d.Doc) {
			t.Errorf("the printed defaults have no comment for %s", d.Key)
		}
	}
}

// TestConfigDocFresh: docs/configuration.md is what the reference
// generates now.
func TestConfigDocFresh(t *testing.T) {
	var b bytes.Buffer
	if err := configReference(&b); err != nil {
		t.Fatal(err)
	}
	have, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatalf("%v: run make config-doc", err)
	}
	if !bytes.Equal(have, b.Bytes()) {
		t.Errorf("docs/configuration.md is stale: run make config-doc")
	}
}
