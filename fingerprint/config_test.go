package fingerprint

import (
	"reflect"
	"testing"
)

// TestHashCoversEveryField changes every field of the configuration, one
// at a time, found by reflection (so a field added later is covered
// without editing this test), and checks that the hash changes.
func TestHashCoversEveryField(t *testing.T) {
	base := DefaultConfig()
	h0 := base.Hash()
	n := 0
	var walk func(path string, v reflect.Value, sf *reflect.StructField)
	walk = func(path string, v reflect.Value, sf *reflect.StructField) {
		if sf != nil && sf.Tag.Get("json") == "-" {
			return // MovedKeys: holds nothing
		}
		switch v.Kind() {
		case reflect.Struct:
			for i := 0; i < v.NumField(); i++ {
				f := v.Type().Field(i)
				walk(path+"."+f.Name, v.Field(i), &f)
			}
			return
		case reflect.Map:
			// Every signal of every axis: flip it and reweigh it.
			for _, k := range v.MapKeys() {
				for _, edit := range []func(*SignalConfig){
					func(s *SignalConfig) { s.Enabled = !s.Enabled },
					func(s *SignalConfig) { s.Weight += 0.25 },
				} {
					cfg := DefaultConfig()
					set := reflect.ValueOf(&cfg).Elem().FieldByIndex(fieldIndex(t, path)).Interface().(SignalSet)
					sc := set[k.String()]
					edit(&sc)
					set[k.String()] = sc
					check(t, path+"["+k.String()+"]", h0, cfg.Hash())
					n++
				}
			}
			return
		}
		cfg := DefaultConfig()
		f := reflect.ValueOf(&cfg).Elem().FieldByIndex(fieldIndex(t, path))
		switch f.Kind() {
		case reflect.Bool:
			f.SetBool(!f.Bool())
		case reflect.Float64:
			f.SetFloat(f.Float() + 0.125)
		case reflect.Int:
			f.SetInt(f.Int() + 1)
		case reflect.String:
			f.SetString(f.String() + "x")
		case reflect.Slice:
			f.Set(reflect.Append(f, reflect.Zero(f.Type().Elem())))
		default:
			t.Fatalf("%s: kind %s not covered by this test", path, f.Kind())
		}
		check(t, path, h0, cfg.Hash())
		n++
	}
	walk("", reflect.ValueOf(base), nil)
	if n < 20 {
		t.Fatalf("only %d fields walked", n)
	}
	// Slices inside slices: an added scanner's own fields.
	for _, edit := range []func(*ScannerEntry){
		func(e *ScannerEntry) { e.Name = "y" },
		func(e *ScannerEntry) { e.Source = "y" },
		func(e *ScannerEntry) { e.ASNs = []uint32{2} },
		func(e *ScannerEntry) { e.Ranges = []string{"10.0.0.0/8"} },
		func(e *ScannerEntry) { e.UserAgents = []string{"y"} },
	} {
		a, b := DefaultConfig(), DefaultConfig()
		a.Scanners.Add = []ScannerEntry{{Name: "x", ASNs: []uint32{1}}}
		b.Scanners.Add = []ScannerEntry{{Name: "x", ASNs: []uint32{1}}}
		edit(&b.Scanners.Add[0])
		check(t, "Scanners.Add[0]", a.Hash(), b.Hash())
	}
	// A signal left out of a set decides as its default: same hash.
	c := DefaultConfig()
	delete(c.Compatibility.Signals, "geo")
	if c.Hash() != h0 {
		t.Error("a signal left at its default by omission changes the hash")
	}
}

func check(t *testing.T, path, before, after string) {
	t.Helper()
	if before == after {
		t.Errorf("changing %s leaves the hash at %s", path, before)
	}
}

// fieldIndex turns ".A.B" into the index path of Config.A.B.
func fieldIndex(t *testing.T, path string) []int {
	t.Helper()
	typ := reflect.TypeOf(Config{})
	var idx []int
	name := ""
	for _, r := range path[1:] + "." {
		if r != '.' {
			name += string(r)
			continue
		}
		f, ok := typ.FieldByName(name)
		if !ok {
			t.Fatalf("no field %s in %s", name, typ)
		}
		idx = append(idx, f.Index...)
		typ, name = f.Type, ""
	}
	return idx
}

// TestEngineConfigIsACopy: editing the Config an engine returns does not
// reach the running configuration (its maps are the engine's own).
func TestEngineConfigIsACopy(t *testing.T) {
	e := mustEngine(t, DefaultConfig())
	h := e.Hash()
	c := e.Config()
	c.Compatibility.Signals["geo"] = SignalConfig{Enabled: false}
	if e.Config().Compatibility.Signals["geo"].Weight != 1 || e.Hash() != h {
		t.Fatal("the engine's configuration changed through a returned copy")
	}
}
