package webhook

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestNodeVerifiesDeliveries runs examples/webhook-node/verify.mjs, an
// independent implementation on Node's built-in crypto, on a real
// delivery and on tampered copies. Without node it skips, unless CI is set.
func TestNodeVerifiesDeliveries(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("node is not on the PATH; CI must have it")
		}
		t.Skip("node is not on the PATH")
	}
	script, _ := filepath.Abs("../examples/webhook-node/verify.mjs")
	rc, srv := newReceiver(t)
	st := openStore(t, "")
	d, _ := New(fast(st, srv.URL))
	var hdr map[string]string
	rc.onRequest = func(h map[string]string) { hdr = h }
	enqueue(t, d, consumed("lnk_node"))
	stop := run(t, d)
	ids := rc.wait(t, 1)
	stop()
	rc.mu.Lock()
	body := string(rc.bodies[ids[0]])
	rc.mu.Unlock()

	check := func(name, secret, body string, h map[string]string, want string) {
		t.Helper()
		ts := h["webhook-timestamp"]
		in, _ := json.Marshal(map[string]any{"secret": secret, "headers": h, "body": body, "now": json.Number(ts)})
		cmd := exec.Command(node, script)
		cmd.Stdin = bytes.NewReader(in)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: node: %v\n%s", name, err, out)
		}
		if got := strings.TrimSpace(string(out)); !strings.HasPrefix(got, want) {
			t.Fatalf("%s: node says %q, want %q", name, got, want)
		}
	}
	check("real", testSecret, body, hdr, "ok")
	check("body changed", testSecret, strings.Replace(body, "lnk_node", "lnk_nodf", 1), hdr, "bad")
	check("other secret", "whsec_"+strings.Repeat("A", 32), body, hdr, "bad")
	h2 := map[string]string{}
	for k, v := range hdr {
		h2[k] = v
	}
	h2["webhook-id"] = "msg_other"
	check("id changed", testSecret, body, h2, "bad")
}
