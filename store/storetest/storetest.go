// Package storetest is the conformance suite every linkguard.Store must
// pass: run it from each implementation's tests with a real store.
package storetest

import (
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/linkguard/linkguard"
)

// Open returns a fresh, empty store; the suite closes it.
type Open func(t *testing.T) linkguard.Store

// NewLink returns a pending link with random hashes, created at now.
func NewLink(t testing.TB, now time.Time, family string) *linkguard.Link {
	t.Helper()
	id, err := linkguard.NewID(rand.Reader, now)
	if err != nil {
		t.Fatal(err)
	}
	rnd := func() []byte { b := make([]byte, 32); rand.Read(b); return b }
	return &linkguard.Link{
		ID: id, Email: "alice@example.com", RedirectURL: "https://app.example.com/cb",
		Family: family, TokenHash: rnd(), CodeHash: rnd(), State: linkguard.Pending,
		CreatedAt: now, ExpiresAt: now.Add(15 * time.Minute),
	}
}

// Case is one named conformance test. It gets a fresh store from open;
// the store is closed by open's cleanup.
type Case struct {
	Name string
	Test func(t *testing.T, open Open)
}

// Cases are the suite's tests in the order Run runs them. A new
// conformance test is one function and one line here.
var Cases = []Case{
	{"create and find", createAndFind},
	{"new link revokes the older pending one of its family", newLinkRevokesOlder},
	{"a storm of issues on one family, with mail retrying, all succeed", familyStorm},
	{"consume once, with handoff", consumeOnceWithHandoff},
	{"expired link cannot be consumed; expired handoff cannot be taken", expiredLinkAndHandoff},
	{"revoke", revoke},
	{"a revoked link keeps why it was revoked, read back every way", revokeReasons},
	{"code attempts are bounded under concurrency", codeAttemptsBounded},
	{"a code is counted, compared and spent in one step", codeConsumesOnce},
	{"code and click in parallel consume once", parallelCodeAndClick},
	{"200 concurrent consumes: exactly one wins", concurrentConsumesOneWins},
	{"visits are recorded in order and scanned", visitsInOrder},
	{"visits and history are bounded, newest kept, decisions always recorded", visitsBounded},
	{"a maximal visit is stored within MaxVisitBytes", visitSizeBounded},
	{"a consumption's decision visit reads back with its verdict", consumedDecisionHasItsVerdict},
	{"a consumption records its decision with it, and only a consumption", consumptionRecordsItsDecision},
	{"mail queue: claim, lease, retry, sent, failed", mailQueueLifecycle},
	{"mail queue: a canceled mail ends unsent, with no event", mailQueueCanceled},
	{"mail queue: concurrent claimers get each job once", mailQueueConcurrentClaimers},
	{"webhook queue: claim, lease, retry, delivered, failed, bound", webhookQueueLifecycle},
	{"webhook queue: concurrent claimers get each job once", webhookQueueConcurrentClaimers},
	{"webhook jobs are queued by the change that commits them, and only then", outboxWithChanges},
	{"a full webhook queue drops a change's jobs, not the change; one id is kept once", outboxBound},
	{"per-hour counts and the scan of links", countsAndLinks},
	{"ending credentials revokes pending links, deletes handoffs and OpenID entries", endCredentials},
}

// Run runs every case of the suite as a subtest named after it.
func Run(t *testing.T, open Open) {
	for _, c := range Cases {
		t.Run(c.Name, func(t *testing.T) { c.Test(t, open) })
	}
}

// ctx and start are shared by the cases: the stores take no deadline
// here, and every case measures time from a millisecond-aligned now.
var ctx = context.Background()

func start() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }
