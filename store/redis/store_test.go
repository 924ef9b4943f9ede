package redis

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/fingerprint"
	"github.com/linkguard/linkguard/store/storetest"
	goredis "github.com/redis/go-redis/v9"
)

// quietLog drops the store's warnings about the test server's settings
// (no AOF, on purpose).
var quietLog = slog.New(slog.DiscardHandler)

func TestConformance(t *testing.T) {
	needServer(t)
	storetest.Run(t, func(t *testing.T) linkguard.Store { return openStore(t, "") })
}

// Two instances on one Redis race 200 consumes of one link: exactly one
// wins, and only the winner's handoff exists.
func TestTwoInstancesConsumeOnce(t *testing.T) { twoInstancesConsumeOnce(t, openStore) }

func twoInstancesConsumeOnce(t *testing.T, open opener) {
	ctx := context.Background()
	prefix := freshPrefix()
	a, b := open(t, prefix), open(t, prefix)
	now := time.Now().UTC()
	l := storetest.NewLink(t, now, "fam")
	if err := a.CreateLink(ctx, l, nil, nil); err != nil {
		t.Fatal(err)
	}
	var won, lost atomic.Int32
	var winner atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < 200; i++ {
		st := a
		if i%2 == 1 {
			st = b
		}
		wg.Add(1)
		go func(i int, st *Store) {
			defer wg.Done()
			<-start
			h := &linkguard.Handoff{CodeHash: []byte(fmt.Sprint("c", i)), LinkID: l.ID, ExpiresAt: now.Add(time.Minute)}
			got, err := st.ConsumeLink(ctx, l.ID, now, fingerprint.Verdict{Decision: fingerprint.Consume}, h, nil)
			switch {
			case err == nil:
				won.Add(1)
				winner.Store(int32(i))
			case errors.Is(err, linkguard.ErrNotPending):
				lost.Add(1)
				if got == nil || got.State != linkguard.Consumed {
					t.Errorf("loser %d got %+v, want the consumed link", i, got)
				}
			default:
				t.Error(err)
			}
		}(i, st)
	}
	close(start)
	wg.Wait()
	if won.Load() != 1 || lost.Load() != 199 {
		t.Fatalf("won = %d, lost = %d; want 1 and 199", won.Load(), lost.Load())
	}
	for i := 0; i < 200; i++ {
		_, err := b.TakeHandoff(ctx, []byte(fmt.Sprint("c", i)), now)
		if want := i == int(winner.Load()); (err == nil) != want {
			t.Fatalf("handoff c%d: err = %v, want present = %v", i, err, want)
		}
	}
}

// Closing and reopening the linkguard side keeps every state, flushes the
// buffered visits, and a consumed link stays consumed.
func TestStateSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	prefix := freshPrefix()
	now := time.Now().UTC()
	needServer(t)
	s, err := Open(ctx, serverURL, Options{KeyPrefix: prefix, Log: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	pending := storetest.NewLink(t, now, "a")
	consumed := storetest.NewLink(t, now, "b")
	for _, l := range []*linkguard.Link{pending, consumed} {
		if err := s.CreateLink(ctx, l, []byte("sealed"), nil); err != nil {
			t.Fatal(err)
		}
	}
	h := &linkguard.Handoff{CodeHash: []byte("hand"), LinkID: consumed.ID, ExpiresAt: now.Add(time.Minute)}
	if _, err := s.ConsumeLink(ctx, consumed.ID, now, fingerprint.Verdict{Decision: fingerprint.Consume}, h, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ConsumeWithCode(ctx, pending.ID, []byte("wrong"), 5, now, fingerprint.Verdict{}, &linkguard.Handoff{CodeHash: []byte("w"), ExpiresAt: now.Add(time.Minute)}, nil); !errors.Is(err, linkguard.ErrWrongCode) {
		t.Fatal(err)
	}
	for i := 0; i < 30; i++ {
		s.AddVisit(ctx, &linkguard.Visit{LinkID: pending.ID, At: now.Add(time.Duration(i) * time.Millisecond), Kind: linkguard.VisitView})
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openStore(t, prefix)
	if l, err := s.LinkByTokenHash(ctx, pending.TokenHash); err != nil || l.State != linkguard.Pending || l.CodeAttempts != 1 {
		t.Fatalf("pending after reopen: %v %+v", err, l)
	}
	if l, err := s.LinkByID(ctx, consumed.ID); err != nil || l.State != linkguard.Consumed {
		t.Fatalf("consumed after reopen: %v %v", err, l)
	}
	if _, err := s.ConsumeLink(ctx, consumed.ID, now, fingerprint.Verdict{}, &linkguard.Handoff{CodeHash: []byte("x"), ExpiresAt: now.Add(time.Minute)}, nil); !errors.Is(err, linkguard.ErrNotPending) {
		t.Fatalf("consume after reopen: %v", err)
	}
	if v, _ := s.Visits(ctx, pending.ID); len(v) != 30 {
		t.Fatalf("Close must flush buffered visits: got %d, want 30", len(v))
	}
	if jobs, err := s.DueMail(ctx, now.Add(time.Second), time.Minute, 10); err != nil || len(jobs) != 2 {
		t.Fatalf("mail jobs after reopen: %v %+v", err, jobs)
	}
	if _, err := s.TakeHandoff(ctx, []byte("hand"), now); err != nil {
		t.Fatalf("handoff after reopen: %v", err)
	}
	if _, err := s.TakeHandoff(ctx, []byte("hand"), now); !errors.Is(err, linkguard.ErrNotFound) {
		t.Fatalf("handoff twice across reopen: %v", err)
	}
}

func TestOpenErrorsHideThePassword(t *testing.T) {
	needServer(t)
	const pass = "s3cret-Pa55word"
	srv, err := startServer("--requirepass", pass)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	good := "redis://:" + pass + "@" + srv.Addr + "/0"
	s, err := Open(ctx, good, Options{Log: quietLog})
	if err != nil {
		t.Fatalf("right password: %v", err)
	}
	s.Close()

	port, _ := freePort()
	for _, tc := range []struct {
		name, url string
		want      string // in the message
	}{
		{"wrong password", "redis://:" + pass + "x@" + srv.Addr + "/0", srv.Addr},
		{"no password", "redis://" + srv.Addr + "/0", "NOAUTH"},
		{"unreachable port", fmt.Sprintf("redis://:%s@127.0.0.1:%d/0", pass, port), "connection refused"},
		{"bad database", "redis://:" + pass + "@" + srv.Addr + "/x", "database"},
		{"bad port", "redis://:" + pass + "@127.0.0.1:notaport/0", "not valid"},
		{"wrong scheme", "http://:" + pass + "@" + srv.Addr, "redis://"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(ctx, tc.url, Options{Log: quietLog})
			if err == nil {
				t.Fatal("Open succeeded")
			}
			msg := err.Error()
			if strings.Contains(msg, pass) {
				t.Fatalf("error shows the password: %s", msg)
			}
			if !strings.Contains(msg, tc.want) {
				t.Fatalf("error %q does not say %q", msg, tc.want)
			}
			t.Log(msg)
		})
	}
}

// Two deployments on one Redis with different prefixes see nothing of
// each other, even for the same token and family.
func TestKeyPrefixIsolation(t *testing.T) {
	ctx := context.Background()
	a, b := openStore(t, freshPrefix()), openStore(t, freshPrefix())
	now := time.Now().UTC()
	la := storetest.NewLink(t, now, "shared-family")
	lb := storetest.NewLink(t, now, "shared-family")
	lb.TokenHash = la.TokenHash
	if err := a.CreateLink(ctx, la, []byte("mail-a"), nil); err != nil {
		t.Fatal(err)
	}
	if err := b.CreateLink(ctx, lb, nil, nil); err != nil {
		t.Fatal(err)
	}
	if l, _ := a.LinkByID(ctx, la.ID); l.State != linkguard.Pending {
		t.Fatalf("b's link of the same family revoked a's: %s", l.State)
	}
	if _, err := b.LinkByID(ctx, la.ID); !errors.Is(err, linkguard.ErrNotFound) {
		t.Fatalf("b sees a's link: %v", err)
	}
	if l, err := b.LinkByTokenHash(ctx, la.TokenHash); err != nil || l.ID != lb.ID {
		t.Fatalf("b's token lookup: %v %+v", err, l)
	}
	if jobs, _ := b.DueMail(ctx, now.Add(time.Hour), time.Minute, 10); len(jobs) != 0 {
		t.Fatalf("b claimed a's mail: %+v", jobs)
	}
	a.AddVisit(ctx, &linkguard.Visit{LinkID: la.ID, At: now, Kind: linkguard.VisitView})
	a.Close()
	n := 0
	b.ScanVisits(ctx, time.Time{}, func(*linkguard.Visit) error { n++; return nil })
	if n != 0 {
		t.Fatalf("b scanned %d of a's visits", n)
	}
}

// A link's fields assemble (linkJSON) into exactly what encoding/json
// writes for the Link (what Badger stores), through every change the
// scripts make, with metadata that tries to confuse the layout; and the
// reads by token (which take json alone while the link is not stale)
// answer the same link. A link whose only change is its mail's stays
// fresh, its json rebuilt. A revoked link's reason is one of its parts,
// and in json once the mail job rebuilds it.
func TestLinkJSONIsEncodingJSON(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, "")
	rc := rawClient(t)
	now := time.Now().UTC()
	check := func(step, id string) {
		t.Helper()
		raw, err := storedJSON(ctx, rc, s.linkKey(id))
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		l, err := s.LinkByID(ctx, id)
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		want, _ := json.Marshal(l)
		if raw != string(want) {
			t.Fatalf("%s: stored\n%s\nencoding/json\n%s", step, raw, want)
		}
		if got, err := s.LinkByTokenHash(ctx, l.TokenHash); err != nil || !reflect.DeepEqual(got, l) {
			t.Fatalf("%s: LinkByTokenHash %+v, %v\nwant %+v", step, got, err, l)
		}
		if got, _, err := s.LinkAndHistoryByTokenHash(ctx, l.TokenHash); err != nil || !reflect.DeepEqual(got, l) {
			t.Fatalf("%s: LinkAndHistoryByTokenHash %+v, %v\nwant %+v", step, got, err, l)
		}
	}
	l := storetest.NewLink(t, now, "fam")
	l.Metadata = json.RawMessage(`{"state":"consumed","x":"</script>\u2028","tags":[],"o":{},"n":1.5e3,"s":"a/b"}`)
	l.BindingHash = []byte{1, 2, 3}
	l.Requester = fingerprint.Requester{UserAgent: `Mozilla "quoted" ,"state":"x"`}
	if err := s.CreateLink(ctx, l, []byte("mail"), nil); err != nil {
		t.Fatal(err)
	}
	check("created", l.ID)
	if _, err := s.ConsumeWithCode(ctx, l.ID, []byte("wrong"), 5, now, fingerprint.Verdict{}, &linkguard.Handoff{CodeHash: []byte("w"), ExpiresAt: now.Add(time.Minute)}, nil); !errors.Is(err, linkguard.ErrWrongCode) {
		t.Fatal(err)
	}
	check("code attempt", l.ID)
	if _, err := s.DueMail(ctx, now.Add(time.Second), time.Minute, 1); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkMailFailed(ctx, l.ID, 1, now.Add(time.Minute), `dial "smtp": refused`, false, nil); err != nil {
		t.Fatal(err)
	}
	check("mail retrying", l.ID)
	if err := s.MarkMailSent(ctx, l.ID, now.Add(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	check("mail sent", l.ID)
	if js, _ := rc.HGet(ctx, s.linkKey(l.ID), "json").Result(); js != mustJSON(t, mustLink(t, s, l.ID)) {
		t.Fatalf("json rebuilt by the mail job:\n%s\nwant\n%s", js, mustJSON(t, mustLink(t, s, l.ID)))
	}
	if got, _ := s.LinkByID(ctx, l.ID); got.Delivery.Attempts != 2 || got.Delivery.State != "sent" || got.Delivery.LastError != "" {
		t.Fatalf("delivery after a retry and a send: %+v", got.Delivery)
	}
	v := fingerprint.Verdict{Decision: fingerprint.Consume, Score: 0.1 + 0.2}
	if _, err := s.ConsumeLink(ctx, l.ID, now, v, &linkguard.Handoff{CodeHash: []byte("j"), ExpiresAt: now.Add(time.Minute)}, nil); err != nil {
		t.Fatal(err)
	}
	check("consumed", l.ID)
	if got, _ := s.LinkByID(ctx, l.ID); got.Verdict == nil || got.Verdict.Score != 0.1+0.2 || !got.ConsumedAt.Equal(now) {
		t.Fatalf("consumed link lost its verdict or time: %+v", got)
	}

	older := storetest.NewLink(t, now, "fam2")
	newer := storetest.NewLink(t, now.Add(time.Second), "fam2")
	s.CreateLink(ctx, older, nil, nil)
	s.CreateLink(ctx, newer, nil, nil)
	check("revoked by a newer link", older.ID)
	if got := mustLink(t, s, older.ID); got.RevokeReason != linkguard.RevokeReplaced {
		t.Fatalf("revoked by a newer link: reason %q", got.RevokeReason)
	}
	r := storetest.NewLink(t, now, "fam3")
	s.CreateLink(ctx, r, nil, nil)
	s.RevokeLink(ctx, r.ID, now, linkguard.RevokeConsole, nil)
	check("revoked", r.ID)
	if got := mustLink(t, s, r.ID); got.RevokeReason != linkguard.RevokeConsole {
		t.Fatalf("revoked: reason %q", got.RevokeReason)
	}

	c := storetest.NewLink(t, now, "fam5")
	s.CreateLink(ctx, c, []byte("mail"), nil)
	s.DueMail(ctx, now.Add(time.Second), time.Minute, 10)
	s.RevokeLink(ctx, c.ID, now, linkguard.RevokeAPI, nil)
	if err := s.MarkMailCanceled(ctx, c.ID, 0, `the link was revoked before its mail was "sent"`); err != nil {
		t.Fatal(err)
	}
	check("mail canceled", c.ID)
	js, _ := rc.HGet(ctx, s.linkKey(c.ID), "json").Result()
	if want := mustJSON(t, mustLink(t, s, c.ID)); js != want || !strings.Contains(js, `"revoke_reason":"api"`) {
		t.Fatalf("json rebuilt by the mail job's cancel:\n%s\nwant\n%s", js, want)
	}

	m := storetest.NewLink(t, now, "fam4")
	s.CreateLink(ctx, m, []byte("mail"), nil)
	s.DueMail(ctx, now.Add(time.Second), time.Minute, 10)
	if err := s.MarkMailSent(ctx, m.ID, now); err != nil {
		t.Fatal(err)
	}
	check("mailed", m.ID)
	f, _ := rc.HMGet(ctx, s.linkKey(m.ID), "json", "stale").Result()
	if want, _ := storedJSON(ctx, rc, s.linkKey(m.ID)); f[0] != want || f[1] != nil {
		t.Fatalf("a mailed link: json %v, stale %v; want its whole JSON, not stale", f[0], f[1])
	}
}

// Every key of a link expires at expiry + retention; a handoff at its own
// expiry.
func TestKeysExpire(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, "")
	rc := rawClient(t)
	now := time.Now().UTC()
	l := storetest.NewLink(t, now, "fam")
	if err := s.CreateLink(ctx, l, []byte("m"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ConsumeLink(ctx, l.ID, now, fingerprint.Verdict{}, &linkguard.Handoff{CodeHash: []byte("hx"), ExpiresAt: now.Add(time.Minute)}, nil); err != nil {
		t.Fatal(err)
	}
	s.AddVisit(ctx, &linkguard.Visit{LinkID: l.ID, At: now, Kind: linkguard.VisitView})
	s.Close()
	linkTTL := time.Until(l.ExpiresAt) + 7*24*time.Hour
	for _, tc := range []struct {
		key  string
		want time.Duration
	}{
		{s.linkKey(l.ID), linkTTL},
		{s.tokenKey(l.TokenHash), linkTTL},
		{s.familyKey(l.Family), linkTTL},
		{s.mailKey(l.ID), linkTTL},
		{s.visitKey(l.ID), linkTTL},
		{s.handoffKey([]byte("hx")), time.Minute},
	} {
		got, err := rc.PTTL(ctx, tc.key).Result()
		if err != nil {
			t.Fatal(err)
		}
		if d := got - tc.want; d < -5*time.Second || d > 5*time.Second {
			t.Errorf("%s: PTTL = %v, want about %v", tc.key, got, tc.want)
		}
	}
}

// A link opened in a loop keeps its newest views, and its history the
// newest entries, across a restart of the writer.
func TestViewsKeepTheNewest(t *testing.T) {
	ctx := context.Background()
	prefix := freshPrefix()
	s := openStore(t, prefix)
	now := time.Now().UTC()
	for i := 0; i < 250; i++ {
		s.AddVisit(ctx, &linkguard.Visit{LinkID: "lnk_cap", At: now.Add(time.Duration(i) * time.Millisecond), Kind: linkguard.VisitView})
	}
	s.Close() // flushes: nothing more can arrive
	s = openStore(t, prefix)
	got, err := s.Visits(ctx, "lnk_cap")
	if err != nil || len(got) != linkguard.KeptViews {
		t.Fatalf("visits = %d (%v), want %d", len(got), err, linkguard.KeptViews)
	}
	if !got[0].At.Equal(now.Add(218*time.Millisecond)) || !got[31].At.Equal(now.Add(249*time.Millisecond)) {
		t.Fatalf("kept %v..%v, want the newest 32", got[0].At.Sub(now), got[31].At.Sub(now))
	}
	h, err := s.History(ctx, "lnk_cap")
	if err != nil || len(h) != linkguard.HistoryLen || !h[len(h)-1].At.Equal(now.Add(249*time.Millisecond)) {
		t.Fatalf("history: %v, %d entries", err, len(h))
	}
}

// A full buffer drops visits instead of blocking the request.
func TestAddVisitNeverBlocks(t *testing.T) {
	needServer(t)
	s, err := Open(context.Background(), serverURL, Options{KeyPrefix: freshPrefix(), VisitBuffer: 1, Log: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	start := time.Now()
	for i := 0; i < 10000; i++ {
		s.AddVisit(context.Background(), &linkguard.Visit{LinkID: "lnk_flood", At: time.Now(), Kind: linkguard.VisitView})
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("10000 AddVisit took %v", d)
	}
	if s.DroppedVisits() == 0 {
		t.Fatal("no visit was dropped with a buffer of 1")
	}
}

// The scripts survive Redis losing its script cache (a restart, a
// failover, SCRIPT FLUSH), the pipelined visit writer included.
func TestScriptCacheFlushed(t *testing.T) {
	checkScriptCacheFlushed(t, openStore(t, ""), rawClient(t))
}

// checkScriptCacheFlushed flushes rc's script cache around a link's
// creation and its visits, and checks both went through.
func checkScriptCacheFlushed(t *testing.T, s *Store, rc goredis.UniversalClient) {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	if err := rc.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	l := storetest.NewLink(t, now, "fam")
	if err := s.CreateLink(ctx, l, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := rc.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		s.AddVisit(ctx, &linkguard.Visit{LinkID: l.ID, At: now.Add(time.Duration(i) * time.Millisecond), Kind: linkguard.VisitView})
	}
	if v := storetest.WaitVisits(t, s, l.ID, 3); len(v) != 3 {
		t.Fatalf("visits after SCRIPT FLUSH = %d, want 3", len(v))
	}
}

func TestAddVisitAfterClose(t *testing.T) {
	s := openStore(t, "")
	s.Close()
	if err := s.AddVisit(context.Background(), &linkguard.Visit{LinkID: "x"}); err == nil {
		t.Fatal("AddVisit after Close succeeded")
	}
}

// With appendonly yes and appendfsync always, a consumption that Redis
// acknowledged survives a kill -9 of Redis, and the same Store carries on
// once Redis is back.
func TestConsumptionSurvivesRedisCrash(t *testing.T) {
	needServer(t)
	srv, err := startServer("--appendonly", "yes", "--appendfsync", "always")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	ctx := context.Background()
	s, err := Open(ctx, srv.URL, Options{Log: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now().UTC()
	l := storetest.NewLink(t, now, "fam")
	if err := s.CreateLink(ctx, l, nil, nil); err != nil {
		t.Fatal(err)
	}
	h := &linkguard.Handoff{CodeHash: []byte("crash"), LinkID: l.ID, ExpiresAt: now.Add(time.Minute)}
	if _, err := s.ConsumeLink(ctx, l.ID, now, fingerprint.Verdict{Decision: fingerprint.Consume}, h, nil); err != nil {
		t.Fatal(err)
	}
	if err := srv.Crash(); err != nil {
		t.Fatal(err)
	}
	got, err := s.ConsumeLink(ctx, l.ID, now, fingerprint.Verdict{}, &linkguard.Handoff{CodeHash: []byte("again"), ExpiresAt: now.Add(time.Minute)}, nil)
	if !errors.Is(err, linkguard.ErrNotPending) || got.State != linkguard.Consumed {
		t.Fatalf("consume after a Redis crash: %v %+v; want ErrNotPending, consumed", err, got)
	}
	if _, err := s.TakeHandoff(ctx, []byte("crash"), now); err != nil {
		t.Fatalf("handoff after a Redis crash: %v", err)
	}
}

// Open warns about the settings that weaken the guarantees (the test
// server runs without AOF).
func TestOpenWarnsAboutPersistence(t *testing.T) {
	needServer(t)
	var buf strings.Builder
	s, err := Open(context.Background(), serverURL, Options{KeyPrefix: freshPrefix(), Log: slog.New(slog.NewTextHandler(&buf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if !strings.Contains(buf.String(), "appendonly is off") {
		t.Fatalf("no warning about appendonly in %q", buf.String())
	}
}

func TestVersionBelow(t *testing.T) {
	for _, tc := range []struct {
		v    string
		want bool
	}{{"6.0.16", true}, {"6.2.0", false}, {"7.0.15", false}, {"5.0.7", true}, {"10.0.1", false}, {"weird", false}} {
		if got := versionBelow(tc.v, 6, 2); got != tc.want {
			t.Errorf("versionBelow(%q, 6, 2) = %v", tc.v, got)
		}
	}
}

// TestChangeAnswersTheStoredLink: a change's scripts answer the link from
// before the change and Go applies the change (scripts.go); what a change
// returns must be, field for field, the link that a later read decodes
// from the stored fields, for every change and every verdict shape.
func TestChangeAnswersTheStoredLink(t *testing.T) {
	needServer(t)
	ctx := context.Background()
	s := openStore(t, "")
	stored := func(id string) *linkguard.Link {
		t.Helper()
		b, err := storedJSON(ctx, s.rdb, s.linkKey(id))
		if err != nil {
			t.Fatal(err)
		}
		var l linkguard.Link
		if err := json.Unmarshal([]byte(b), &l); err != nil {
			t.Fatal(err)
		}
		return &l
	}
	same := func(name string, got *linkguard.Link, err error, want error) {
		t.Helper()
		if !errors.Is(err, want) && !(err == nil && want == nil) {
			t.Fatalf("%s: %v, want %v", name, err, want)
		}
		if w := stored(got.ID); !reflect.DeepEqual(got, w) {
			t.Fatalf("%s answered\n%+v\nbut stored\n%+v", name, got, w)
		}
	}
	verdicts := []fingerprint.Verdict{
		{Decision: fingerprint.Consume, Score: 0.8125, Automation: 1, Compatibility: 0.7, Config: "c0ffee", Rule: "a rule",
			Signals: []fingerprint.Contribution{{Signal: "code", Value: 1, Weight: 1, Reason: "typed"},
				{Signal: "ua", Axis: fingerprint.AxisAutomation, Value: -0.25, Weight: 0.3, Reason: "odd \"quoted\" <ua>", Veto: true}}},
		{Decision: fingerprint.Consume},
		{Decision: fingerprint.Consume, Signals: []fingerprint.Contribution{}},
	}
	zones := []*time.Location{time.UTC, time.FixedZone("", 3600), time.Local}
	for i, v := range verdicts {
		now := time.Now().In(zones[i]) // with a monotonic reading, as the service's clock
		h := func(l *linkguard.Link) *linkguard.Handoff {
			return &linkguard.Handoff{CodeHash: []byte(fmt.Sprint("handoff", i, l.ID)), LinkID: l.ID, ConsumedAt: now, ExpiresAt: now.Add(time.Minute), Verdict: v}
		}

		a := storetest.NewLink(t, now, fmt.Sprint("a", i))
		s.CreateLink(ctx, a, nil, nil)
		got, err := s.ConsumeLink(ctx, a.ID, now, v, h(a), nil)
		same("ConsumeLink", got, err, nil)
		got, err = s.ConsumeLink(ctx, a.ID, now, v, h(a), nil)
		same("ConsumeLink again", got, err, linkguard.ErrNotPending)

		b := storetest.NewLink(t, now, fmt.Sprint("b", i))
		s.CreateLink(ctx, b, nil, nil)
		got, err = s.RevokeLink(ctx, b.ID, now, linkguard.RevokeAPI, nil)
		same("RevokeLink", got, err, nil)

		c := storetest.NewLink(t, now, fmt.Sprint("c", i))
		s.CreateLink(ctx, c, nil, nil)
		got, err = s.ConsumeWithCode(ctx, c.ID, []byte("wrong"), 5, now, v, h(c), nil)
		same("ConsumeWithCode, wrong code", got, err, linkguard.ErrWrongCode)
		if got.CodeAttempts != 1 {
			t.Fatalf("attempts after a wrong code: %d", got.CodeAttempts)
		}
		got, err = s.ConsumeWithCode(ctx, c.ID, c.CodeHash, 5, now, v, h(c), nil)
		same("ConsumeWithCode", got, err, nil)
		if got.CodeAttempts != 2 || got.State != linkguard.Consumed {
			t.Fatalf("after the right code: %d attempts, %s", got.CodeAttempts, got.State)
		}
	}
}

// TestReadsTodaysRecords: a link hash exactly as CreateLink wrote it on 2
// December 2026 (testdata/link-2026-12-02.json, HGETALL of a link with
// metadata, a requester and a bound browser; never regenerate it: it is
// the format later versions must still read and change) is read by id
// and by token, counts a wrong code, and is consumed by the right one;
// it then reads as encoding/json writes the consumed link, assembled
// from its parts, its json field left as issued.
func TestReadsTodaysRecords(t *testing.T) {
	needServer(t)
	ctx := context.Background()
	s := openStore(t, "")
	fields, want := fixtureLink(t)
	if err := s.rdb.HSet(ctx, s.linkKey(want.ID), fields).Err(); err != nil {
		t.Fatal(err)
	}
	s.rdb.Set(ctx, s.tokenKey(want.TokenHash), want.ID, 0)

	got, err := s.LinkByID(ctx, want.ID)
	if err != nil || !reflect.DeepEqual(got, &want) {
		t.Fatalf("LinkByID: %+v, %v", got, err)
	}
	got, hist, err := s.LinkAndHistoryByTokenHash(ctx, want.TokenHash)
	if err != nil || !reflect.DeepEqual(got, &want) || len(hist) != 0 {
		t.Fatalf("LinkAndHistoryByTokenHash: %+v, %v, %v", got, hist, err)
	}
	at := want.CreatedAt.Add(time.Minute) // before the fixture's expiry
	v := fingerprint.Verdict{Decision: fingerprint.Consume, Score: 1, Signals: []fingerprint.Contribution{{Signal: "code", Value: 1, Weight: 1}}}
	h := &linkguard.Handoff{CodeHash: []byte("fixture handoff"), LinkID: want.ID, ConsumedAt: at, ExpiresAt: at.Add(time.Minute), Verdict: v}
	if l, err := s.ConsumeWithCode(ctx, want.ID, []byte("wrong"), 5, at, v, h, nil); !errors.Is(err, linkguard.ErrWrongCode) || l.CodeAttempts != 1 {
		t.Fatalf("wrong code: %+v, %v", l, err)
	}
	code, err := base64.StdEncoding.DecodeString(fields["code"])
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.ConsumeWithCode(ctx, want.ID, code, 5, at, v, h, nil)
	if err != nil || l.State != linkguard.Consumed || l.CodeAttempts != 2 || !l.ConsumedAt.Equal(at) {
		t.Fatalf("right code: %+v, %v", l, err)
	}
	want.State, want.ConsumedAt, want.CodeAttempts, want.Verdict = linkguard.Consumed, at, 2, &v
	wantJSON, _ := json.Marshal(&want)
	f, err := s.rdb.HMGet(ctx, s.linkKey(want.ID), linkFieldNames...).Result()
	if js, _, _ := linkJSON(f); err != nil || js != string(wantJSON) {
		t.Fatalf("the consumed link assembles as\n%s\nwant\n%s", js, wantJSON)
	}
	if got, err := s.LinkByID(ctx, want.ID); err != nil || !reflect.DeepEqual(got, &want) {
		t.Fatalf("LinkByID after the consumption: %+v, %v", got, err)
	}
	if b, _ := s.rdb.HGet(ctx, s.linkKey(want.ID), "json").Result(); b != fields["json"] {
		t.Fatalf("field json changed:\n%s\nwant it as issued\n%s", b, fields["json"])
	}
}

// fixtureLink is testdata/link-2026-12-02.json: the fields of a link's
// hash as CreateLink wrote them on 2 December 2026, and the link they
// hold.
func fixtureLink(t *testing.T) (map[string]string, linkguard.Link) {
	t.Helper()
	raw, err := os.ReadFile("testdata/link-2026-12-02.json")
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]string
	if err := json.Unmarshal(raw, &fields); err != nil {
		t.Fatal(err)
	}
	var l linkguard.Link
	if err := json.Unmarshal([]byte(fields["json"]), &l); err != nil {
		t.Fatal(err)
	}
	return fields, l
}

// storedJSON is the JSON that the link at key assembles to, read without
// the Store.
func storedJSON(ctx context.Context, rc goredis.UniversalClient, key string) (string, error) {
	f, err := rc.HMGet(ctx, key, linkFieldNames...).Result()
	if err != nil {
		return "", err
	}
	js, ok, err := linkJSON(f)
	if err == nil && !ok {
		err = goredis.Nil
	}
	return js, err
}

func mustLink(t *testing.T, s *Store, id string) *linkguard.Link {
	t.Helper()
	l, err := s.LinkByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestFinishMailFailingLeavesTheJob: Redis does not undo a script's
// writes when a later command of it fails, so a finish that fails on
// the link (a key of another type here; an ACL or a full memory in
// life) must fail before the job leaves the queue: the job stays, due
// again when its lease ends, whatever the outcome being recorded.
func TestFinishMailFailingLeavesTheJob(t *testing.T) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	s := openStore(t, "")
	raw := rawClient(t)
	for _, mark := range []struct {
		name string
		fn   func(id string) error
	}{
		{"sent", func(id string) error { return s.MarkMailSent(ctx, id, now) }},
		{"failed", func(id string) error {
			return s.MarkMailFailed(ctx, id, 1, time.Time{}, "550 no such user", true, nil)
		}},
		{"canceled", func(id string) error { return s.MarkMailCanceled(ctx, id, 0, "the link was revoked") }},
	} {
		t.Run(mark.name, func(t *testing.T) {
			l := storetest.NewLink(t, now, "finish-"+mark.name)
			if err := s.CreateLink(ctx, l, []byte("sealed"), nil); err != nil {
				t.Fatal(err)
			}
			if got, err := s.DueMail(ctx, now, time.Minute, 10); err != nil || len(got) != 1 {
				t.Fatalf("claim: %+v, %v", got, err)
			}
			// The link's key becomes a string: HSET on it fails.
			if err := raw.Set(ctx, s.linkKey(l.ID), "not a hash", 0).Err(); err != nil {
				t.Fatal(err)
			}
			if err := mark.fn(l.ID); err == nil {
				t.Fatal("the finish succeeded on a link key of the wrong type")
			}
			got, err := s.DueMail(ctx, now.Add(2*time.Minute), time.Minute, 10)
			if err != nil || len(got) != 1 || got[0].LinkID != l.ID || string(got[0].Payload) != "sealed" {
				t.Fatalf("after a failed finish, the job's next claim: %+v, %v; want it, payload and all", got, err)
			}
			raw.Del(ctx, s.linkKey(l.ID))
			if err := s.MarkMailSent(ctx, l.ID, now); err != nil {
				t.Fatal(err)
			}
		})
	}
}
