package httpapi

import (
	"math"
	"strconv"
	"sync"
	"time"
)

// limiter is a token bucket per API key (by key hash): each key may make
// Rate requests per second on average and Burst at once. Buckets idle for
// a minute are dropped, so memory follows the active keys.
type limiter struct {
	rate  float64
	burst float64
	now   func() time.Time

	mu      sync.Mutex // guards buckets and lastGC
	buckets map[[32]byte]*bucket
	lastGC  time.Time
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newLimiter(rate float64, burst int, now func() time.Time) *limiter {
	if rate <= 0 {
		return nil
	}
	if burst < 1 {
		burst = int(math.Ceil(rate))
	}
	return &limiter{rate: rate, burst: float64(burst), now: now, buckets: map[[32]byte]*bucket{}}
}

// allow takes a token for key, or says how long until one is there.
func (l *limiter) allow(key [32]byte) (bool, time.Duration) {
	if l == nil {
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
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[key] = b
	}
	b.tokens = math.Min(l.burst, b.tokens+now.Sub(b.at).Seconds()*l.rate)
	b.at = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
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
