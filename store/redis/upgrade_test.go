package redis

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"reflect"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/fingerprint"
	"github.com/linkguard/linkguard/store/storetest"
)

// TestRollingUpgrade: in a rolling upgrade, instances of the version
// before 2 December 2026 (its code script is
// testdata/codescript-2026-12-02.lua) and of this one share a Redis.
// A link issued here and changed by an old instance (a wrong code, then
// the right one) reads right here. A link changed here keeps its json
// field as issued, which is all an old instance reads (docs/redis.md,
// Upgrading): it would show the link as issued, but its scripts check the
// fields, so it neither consumes the link a second time nor forgets a
// counted attempt.
func TestRollingUpgrade(t *testing.T) {
	needServer(t)
	ctx := context.Background()
	s := openStore(t, "")
	now := time.Now().UTC()
	lua, err := os.ReadFile("testdata/codescript-2026-12-02.lua")
	if err != nil {
		t.Fatal(err)
	}
	oldCodeScript := goredis.NewScript(luaQueue + string(lua))
	v := fingerprint.Verdict{Decision: fingerprint.Consume, Score: 1,
		Signals: []fingerprint.Contribution{{Signal: "code", Value: 1, Weight: 1, Reason: "typed"}}}
	old := func(l *linkguard.Link, code []byte) int64 {
		t.Helper()
		h := &linkguard.Handoff{CodeHash: append([]byte("old"), code...), LinkID: l.ID, ConsumedAt: now, ExpiresAt: now.Add(time.Minute), Verdict: v}
		hb, _ := json.Marshal(h)
		consumedAt, _ := fragment(now)
		verdict, _ := fragment(&v)
		keys, args, err := s.outboxArgs([]string{s.linkKey(l.ID), s.handoffKey(h.CodeHash)},
			[]any{nanos(now), 5, base64.StdEncoding.EncodeToString(code), consumedAt, verdict, hb,
				nanos(h.ExpiresAt), h.ExpiresAt.UnixMilli()}, nil)
		if err != nil {
			t.Fatal(err)
		}
		reply, err := oldCodeScript.Run(ctx, s.rdb, keys, args...).Slice()
		if err != nil {
			t.Fatal(err)
		}
		return reply[0].(int64)
	}
	issue := func(family string) *linkguard.Link {
		l := storetest.NewLink(t, now, family)
		if err := s.CreateLink(ctx, l, nil, nil); err != nil {
			t.Fatal(err)
		}
		return l
	}
	hb := func(l *linkguard.Link) *linkguard.Handoff {
		return &linkguard.Handoff{CodeHash: []byte("new" + l.ID), LinkID: l.ID, ExpiresAt: now.Add(time.Minute), Verdict: v}
	}

	// An old instance changes a link issued here.
	a := issue("a")
	if st := old(a, []byte("wrong")); st != resWrongCode {
		t.Fatalf("old instance, wrong code: status %d", st)
	}
	if got, err := s.LinkByTokenHash(ctx, a.TokenHash); err != nil || got.CodeAttempts != 1 || got.State != linkguard.Pending {
		t.Fatalf("after an old instance's wrong code: %+v, %v", got, err)
	}
	if st := old(a, a.CodeHash); st != resDone {
		t.Fatalf("old instance, right code: status %d", st)
	}
	got, err := s.LinkByID(ctx, a.ID)
	if err != nil || got.State != linkguard.Consumed || got.CodeAttempts != 2 || !got.ConsumedAt.Equal(now) || got.Verdict.Score != 1 {
		t.Fatalf("after an old instance's consumption: %+v, %v", got, err)
	}
	if byToken, err := s.LinkByTokenHash(ctx, a.TokenHash); err != nil || !reflect.DeepEqual(byToken, got) {
		t.Fatalf("by token after an old instance's consumption: %+v, %v", byToken, err)
	}
	if _, err := s.ConsumeWithCode(ctx, a.ID, a.CodeHash, 5, now, v, hb(a), nil); err != linkguard.ErrNotPending {
		t.Fatalf("consumed by an old instance, then the code here: %v", err)
	}

	// A link changed here (stale), then by an old instance, which
	// rebuilds json: read right by both.
	d := issue("d")
	s.ConsumeWithCode(ctx, d.ID, []byte("wrong"), 5, now, v, hb(d), nil)
	if st := old(d, d.CodeHash); st != resDone {
		t.Fatalf("old instance, right code after a wrong one here: status %d", st)
	}
	got, err = s.LinkByTokenHash(ctx, d.TokenHash)
	if err != nil || got.State != linkguard.Consumed || got.CodeAttempts != 2 {
		t.Fatalf("changed here, then by an old instance: %+v, %v", got, err)
	}
	if js, _ := s.rdb.HGet(ctx, s.linkKey(d.ID), "json").Result(); js != mustJSON(t, got) {
		t.Fatalf("an old instance's json:\n%s\nwant\n%s", js, mustJSON(t, got))
	}

	// This version consumes; an old instance reads the json as issued and
	// cannot consume again.
	b := issue("b")
	issued, _ := s.rdb.HGet(ctx, s.linkKey(b.ID), "json").Result()
	if _, err := s.ConsumeWithCode(ctx, b.ID, b.CodeHash, 5, now, v, hb(b), nil); err != nil {
		t.Fatal(err)
	}
	if js, _ := s.rdb.HGet(ctx, s.linkKey(b.ID), "json").Result(); js != issued {
		t.Fatalf("field json changed by a consumption:\n%s\nwant it as issued\n%s", js, issued)
	}
	if st := old(b, b.CodeHash); st != resNotPending {
		t.Fatalf("old instance's code on a link consumed here: status %d, want %d (not pending)", st, resNotPending)
	}

	// Attempts counted here bound an old instance's.
	c := issue("c")
	for range 5 {
		s.ConsumeWithCode(ctx, c.ID, []byte("wrong"), 5, now, v, hb(c), nil)
	}
	if st := old(c, c.CodeHash); st != resTooMany {
		t.Fatalf("old instance's right code after 5 wrong ones here: status %d, want %d", st, resTooMany)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
