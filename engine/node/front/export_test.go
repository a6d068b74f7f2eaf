package front

import (
	"time"

	"github.com/concord-kv/concord/engine/meta"
)

// RateLimiter exposes the token buckets to the black-box tests.
type RateLimiter struct{ l *rateLimiter }

func NewRateLimiter() RateLimiter { return RateLimiter{newRateLimiter()} }

func (r RateLimiter) Take(ns meta.Namespace, limit string, perSecond uint32, members int, now time.Time) error {
	return r.l.take(ns, limit, perSecond, members, now)
}

func (r RateLimiter) TakeN(ns meta.Namespace, limit string, perSecond uint64, n, members int, now time.Time) error {
	return r.l.takeN(ns, limit, perSecond, n, members, now)
}

func (r RateLimiter) Changed(ns meta.Namespace) { r.l.changed(ns) }

func (r RateLimiter) Size() int { return r.l.size() }

// CheckQuota is the quota decision of a client write (quota.go).
var CheckQuota = checkQuota

func (r RateLimiter) Refusing(ns meta.Namespace, limit string, perSecond uint64, members int, now time.Time) error {
	return r.l.refusing(ns, limit, perSecond, members, now)
}
