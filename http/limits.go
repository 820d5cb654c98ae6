package httpapi

import (
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
)

// limiter is a token bucket per project or account (every key of it
// shares one, so a roll's overlap does not double the rate): each may make
// rate requests per second on average and burst at once, the server's
// setting unless the project has its own rate (then its burst is the rate,
// rounded up). Buckets idle for a minute are dropped, so memory follows the
// active callers.
type limiter struct {
	rate  float64 // the server's; 0 = no limit
	burst float64
	now   func() time.Time

	mu      sync.Mutex // guards buckets and lastGC
	buckets map[uuid.UUID]*bucket
	lastGC  time.Time
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newLimiter(rate float64, burst int, now func() time.Time) *limiter {
	if rate > 0 && burst < 1 {
		burst = int(math.Ceil(rate))
	}
	return &limiter{rate: max(rate, 0), burst: float64(burst), now: now, buckets: map[uuid.UUID]*bucket{}}
}

// allow takes a token from key's bucket, refilled at rate (the server's
// when 0), or says how long until one is there.
func (l *limiter) allow(key uuid.UUID, rate float64) (bool, time.Duration) {
	burst := l.burst
	if rate > 0 {
		burst = math.Ceil(rate)
	} else {
		rate = l.rate
	}
	if rate <= 0 {
		return true, 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastGC) > time.Minute {
		for k, b := range l.buckets {
			if now.Sub(b.at) > time.Minute {
				delete(l.buckets, k)
			}
		}
		l.lastGC = now
	}
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{tokens: burst, at: now}
		l.buckets[key] = b
	}
	b.tokens = math.Min(burst, b.tokens+now.Sub(b.at).Seconds()*rate)
	b.at = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / rate * float64(time.Second))
}

// retryAfter is the Retry-After header value: whole seconds, at least 1.
func retryAfter(d time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(d.Seconds()))))
}

// maxJSONDepth bounds nesting in request bodies: ours are flat objects, and
// refusing deep documents early keeps a 64 KiB body of brackets cheap.
const maxJSONDepth = 32

// jsonTooDeep reports whether body nests objects or arrays deeper than
// maxJSONDepth (brackets inside strings do not count).
func jsonTooDeep(body []byte) bool {
	depth, inString, escaped := 0, false, false
	for _, c := range body {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			if depth > maxJSONDepth {
				return true
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return false
}
