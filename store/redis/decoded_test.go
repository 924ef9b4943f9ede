package redis

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/linkguard/linkguard"
)

// TestDecodedIsExact: the same bytes give the same link without a second
// decode, other bytes (the link changed by any instance) are decoded, and
// a caller's changes to its copy never reach the next reader.
func TestDecodedIsExact(t *testing.T) {
	d := newDecoded()
	at := time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC)
	l := linkguard.Link{ID: "l1", Email: "a@example.com", State: linkguard.Pending, CreatedAt: at, ExpiresAt: at.Add(time.Hour)}
	pending, _ := json.Marshal(&l)
	l.State, l.ConsumedAt = linkguard.Consumed, at.Add(time.Minute)
	consumed, _ := json.Marshal(&l)

	a, err := d.link(string(pending))
	if err != nil || a.State != linkguard.Pending {
		t.Fatalf("first read: %+v, %v", a, err)
	}
	a.State, a.Email = linkguard.Revoked, "changed by a caller"
	b, err := d.link(string(pending))
	if err != nil || b.State != linkguard.Pending || b.Email != "a@example.com" {
		t.Fatalf("second read of the same bytes: %+v, %v; want the stored link", b, err)
	}
	ps := string(pending)
	if n := testing.AllocsPerRun(100, func() { d.link(ps) }); n > 1 {
		t.Errorf("a read of known bytes costs %v allocations, want 1 (the caller's copy)", n)
	}
	c, err := d.link(string(consumed))
	if err != nil || c.State != linkguard.Consumed || !c.ConsumedAt.Equal(at.Add(time.Minute)) {
		t.Fatalf("read of the changed bytes: %+v, %v; want the consumed link", c, err)
	}
	if _, err := d.link(`{"id":`); err == nil {
		t.Fatal("broken JSON decoded without an error")
	}
}
