package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/linkguard/linkguard"
)

// OpenKV returns a fresh, empty KV; the caller's cleanup closes it.
type OpenKV func(t *testing.T) linkguard.KV

// KVCases are the conformance tests of a linkguard.KV.
var KVCases = []struct {
	Name string
	Test func(t *testing.T, open OpenKV)
}{
	{"kv: put, get, replace, delete", kvPutGet},
	{"kv: namespaces do not mix", kvNamespaces},
	{"kv: a value expires", kvExpires},
	{"kv: 200 concurrent takes: exactly one gets the value", kvTakeOnce},
	{"kv: bad arguments are refused with a named error", kvBounds},
}

// RunKV runs every KV case as a subtest named after it.
func RunKV(t *testing.T, open OpenKV) {
	for _, c := range KVCases {
		t.Run(c.Name, func(t *testing.T) { c.Test(t, open) })
	}
}

func kvPutGet(t *testing.T, open OpenKV) {
	kv := open(t)
	if _, err := kv.GetKV(ctx, "a", "k"); !errors.Is(err, linkguard.ErrNotFound) {
		t.Fatalf("get of nothing: %v, want ErrNotFound", err)
	}
	if err := kv.PutKV(ctx, "a", "k", []byte("one"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := kv.PutKV(ctx, "a", "k", []byte("two"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if v, err := kv.GetKV(ctx, "a", "k"); err != nil || string(v) != "two" {
		t.Fatalf("get = %q, %v; want two", v, err)
	}
	// A value of the largest size round-trips byte for byte.
	big := bytes.Repeat([]byte{0, 1, 2, 255}, linkguard.MaxKVValue/4)
	if err := kv.PutKV(ctx, "a", "big", big, time.Minute); err != nil {
		t.Fatal(err)
	}
	if v, err := kv.GetKV(ctx, "a", "big"); err != nil || !bytes.Equal(v, big) {
		t.Fatalf("big value: %d bytes, %v", len(v), err)
	}
	if err := kv.DeleteKV(ctx, "a", "k"); err != nil {
		t.Fatal(err)
	}
	if err := kv.DeleteKV(ctx, "a", "k"); err != nil {
		t.Fatalf("second delete: %v, want nil", err)
	}
	if _, err := kv.GetKV(ctx, "a", "k"); !errors.Is(err, linkguard.ErrNotFound) {
		t.Fatalf("get after delete: %v, want ErrNotFound", err)
	}
	if v, err := kv.TakeKV(ctx, "a", "big"); err != nil || !bytes.Equal(v, big) {
		t.Fatalf("take: %d bytes, %v", len(v), err)
	}
	if _, err := kv.GetKV(ctx, "a", "big"); !errors.Is(err, linkguard.ErrNotFound) {
		t.Fatalf("get after take: %v, want ErrNotFound", err)
	}
}

func kvNamespaces(t *testing.T, open OpenKV) {
	kv := open(t)
	// "a" + "b/c" must not meet "a_b" + "c" or "a" + "b" + "/c".
	if err := kv.PutKV(ctx, "a", "b_c", []byte("1"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := kv.PutKV(ctx, "a_b", "c", []byte("2"), time.Minute); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ ns, key, want string }{{"a", "b_c", "1"}, {"a_b", "c", "2"}} {
		if v, err := kv.GetKV(ctx, c.ns, c.key); err != nil || string(v) != c.want {
			t.Errorf("get %s %s = %q, %v; want %s", c.ns, c.key, v, err, c.want)
		}
	}
	if _, err := kv.GetKV(ctx, "b", "b_c"); !errors.Is(err, linkguard.ErrNotFound) {
		t.Errorf("other namespace: %v, want ErrNotFound", err)
	}
}

func kvExpires(t *testing.T, open OpenKV) {
	kv := open(t)
	if err := kv.PutKV(ctx, "a", "short", []byte("x"), time.Second); err != nil {
		t.Fatal(err)
	}
	if err := kv.PutKV(ctx, "a", "long", []byte("y"), time.Hour); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := kv.GetKV(ctx, "a", "short")
		if errors.Is(err, linkguard.ErrNotFound) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("a 1s value is still there after 5s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := kv.TakeKV(ctx, "a", "short"); !errors.Is(err, linkguard.ErrNotFound) {
		t.Errorf("take of an expired value: %v, want ErrNotFound", err)
	}
	if v, err := kv.GetKV(ctx, "a", "long"); err != nil || string(v) != "y" {
		t.Errorf("the 1h value: %q, %v", v, err)
	}
}

func kvTakeOnce(t *testing.T, open OpenKV) {
	kv := open(t)
	for round := 0; round < 3; round++ {
		key := fmt.Sprint("code", round)
		if err := kv.PutKV(ctx, "codes", key, []byte("auth-request"), time.Minute); err != nil {
			t.Fatal(err)
		}
		var got, missed atomic.Int32
		var wg sync.WaitGroup
		startc := make(chan struct{})
		for i := 0; i < 200; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-startc
				v, err := kv.TakeKV(ctx, "codes", key)
				switch {
				case err == nil && string(v) == "auth-request":
					got.Add(1)
				case errors.Is(err, linkguard.ErrNotFound):
					missed.Add(1)
				default:
					t.Errorf("take: %q, %v", v, err)
				}
			}()
		}
		close(startc)
		wg.Wait()
		if got.Load() != 1 || missed.Load() != 199 {
			t.Fatalf("round %d: %d takers got the value, %d missed; want 1 and 199", round, got.Load(), missed.Load())
		}
	}
}

func kvBounds(t *testing.T, open OpenKV) {
	kv := open(t)
	long := strings.Repeat("k", linkguard.MaxKVKey+1)
	for _, c := range []struct {
		name, ns, key string
		val           []byte
		ttl           time.Duration
		want          string
	}{
		{"empty namespace", "", "k", nil, time.Minute, "namespace"},
		{"namespace with a separator", "a/b", "k", nil, time.Minute, "namespace"},
		{"namespace with a colon", "a:b", "k", nil, time.Minute, "namespace"},
		{"empty key", "a", "", nil, time.Minute, "key"},
		{"long key", "a", long, nil, time.Minute, "key"},
		{"big value", "a", "k", make([]byte, linkguard.MaxKVValue+1), time.Minute, "value"},
		{"no ttl", "a", "k", nil, 0, "ttl"},
	} {
		err := kv.PutKV(ctx, c.ns, c.key, c.val, c.ttl)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error naming the %s", c.name, err, c.want)
		}
	}
	if _, err := kv.GetKV(ctx, "a", long); err == nil {
		t.Error("get with a long key: no error")
	}
	if _, err := kv.TakeKV(ctx, "", "k"); err == nil {
		t.Error("take with no namespace: no error")
	}
}
