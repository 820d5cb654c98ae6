package rates

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/invoiced/invoiced/internal/backoff"
	"github.com/invoiced/invoiced/internal/clock"
)

// Defaults of AggregatorConfig.
const (
	DefaultInterval  = time.Minute
	DefaultStaleness = 5 * time.Minute
	DefaultRetryMin  = 5 * time.Second
	DefaultRetryMax  = 5 * time.Minute
)

// AggregatorConfig is an Aggregator's wiring; zero durations take the
// defaults above.
type AggregatorConfig struct {
	// Providers are polled concurrently, each on its own schedule. Their
	// names must be distinct. None means Overrides is the only source.
	Providers []Provider
	// Overrides, if not nil, pins rates: a pair it holds is always quoted
	// from it (Source "static") and never asked of the providers. An
	// operator uses it to fix a rate no provider gets right, and offline
	// mode uses it for every pair.
	Overrides *Static
	// Pairs are what the providers are asked for.
	Pairs []Pair
	// Interval is the wait between successful fetches of one provider.
	Interval time.Duration
	// Staleness is how old a provider's value may be and still count; when
	// no provider has a value this fresh, the pair has no rate. It must not
	// be shorter than Interval.
	Staleness time.Duration
	// RetryMin and RetryMax bound the backoff after failed fetches: RetryMin
	// after the first failure, doubling, at most RetryMax, jittered.
	RetryMin, RetryMax time.Duration
	// Clock is nil for the real clock.
	Clock  clock.Clock
	Logger *slog.Logger // nil discards
}

// Aggregator quotes the median of its providers' fresh values and keeps those
// values up to date in the background (Run).
//
// The median of an even number of values is the lower middle one, never a
// mean: the quote is then a price a provider actually reported, it needs no
// rounding rule, and with two providers it is the lower rate, which makes the
// buyer's crypto amount the larger one — erring, by at most the spread
// between the providers, on the side of the merchant who is owed the fiat
// amount.
//
// An Aggregator is safe for concurrent use. It implements Source, All for
// GET /api/v1/rates, and prometheus.Collector (see Describe).
type Aggregator struct {
	providers []Provider
	names     []string // providers[i].Name()
	// sources[mask] is the Quote.Source for the providers whose bits are
	// set in mask, precomputed so Quote does not allocate; nil with more
	// than maxPrecomputedSources providers.
	sources   []string
	pinned    *Static // nil: nothing pinned
	pairs     []Pair  // asked of providers, pinned ones removed
	pairIndex map[Pair]int
	listed    []Pair // every quotable pair, pinned ones included, sorted for All
	interval  time.Duration
	staleness time.Duration
	backoff   backoff.Backoff
	clock     clock.Clock
	log       *slog.Logger
	running   atomic.Bool

	// mu guards obs and the counters. Provider i's poll goroutine is the
	// only writer of obs[*][i], fetchOK[i] and fetchErr[i]; Quote, All and
	// Collect read.
	mu       sync.RWMutex
	obs      [][]observation // [pair index][provider index]
	fetchOK  []uint64
	fetchErr []uint64
}

// observation is a provider's last good value for a pair.
type observation struct {
	rate string // as the provider gave it, valid per validateRate
	at   time.Time
}

// NewAggregator checks cfg and returns an Aggregator that has no provider
// values yet: until Run's first fetches complete only pinned pairs quote.
func NewAggregator(cfg AggregatorConfig) (*Aggregator, error) {
	a := &Aggregator{
		providers: cfg.Providers,
		pinned:    cfg.Overrides,
		pairIndex: make(map[Pair]int),
		interval:  orDefault(cfg.Interval, DefaultInterval),
		staleness: orDefault(cfg.Staleness, DefaultStaleness),
		backoff:   backoff.Backoff{Min: orDefault(cfg.RetryMin, DefaultRetryMin), Max: orDefault(cfg.RetryMax, DefaultRetryMax), Jitter: backoff.Equal},
		clock:     clock.OrReal(cfg.Clock),
		log:       cfg.Logger,
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if cfg.Interval < 0 || cfg.Staleness < 0 || cfg.RetryMin < 0 || cfg.RetryMax < 0 {
		return nil, errors.New("rates: negative interval, staleness or retry bound")
	}
	if len(a.providers) > 0 && a.staleness < a.interval {
		return nil, fmt.Errorf("rates: staleness limit %s is shorter than the refresh interval %s: every rate would expire before its refresh", a.staleness, a.interval)
	}
	if a.backoff.Min > a.backoff.Max {
		return nil, fmt.Errorf("rates: retry minimum %s is over the maximum %s", a.backoff.Min, a.backoff.Max)
	}
	seen := make(map[string]bool)
	for _, p := range a.providers {
		if p == nil {
			return nil, errors.New("rates: nil provider")
		}
		name := p.Name()
		if seen[name] {
			return nil, fmt.Errorf("rates: provider %q given twice", name)
		}
		seen[name] = true
		a.names = append(a.names, name)
	}

	if len(a.names) <= maxPrecomputedSources {
		a.sources = make([]string, 1<<len(a.names))
		for mask := 1; mask < len(a.sources); mask++ {
			var indices []int
			for i := range a.names {
				if mask&(1<<i) != 0 {
					indices = append(indices, i)
				}
			}
			a.sources[mask] = a.joinNames(indices)
		}
	}

	listed := make(map[Pair]bool)
	if a.pinned != nil {
		for _, q := range a.pinned.All(staticFiat) {
			listed[Pair{q.Currency, q.Fiat}] = true
		}
	}
	for _, p := range cfg.Pairs {
		if err := validateCode(p.Currency); err != nil {
			return nil, fmt.Errorf("rates: pair %s: %w", p, err)
		}
		if err := validateCode(p.Fiat); err != nil {
			return nil, fmt.Errorf("rates: pair %s: %w", p, err)
		}
		if listed[p] {
			continue // pinned, or given twice
		}
		listed[p] = true
		a.pairIndex[p] = len(a.pairs)
		a.pairs = append(a.pairs, p)
	}
	for p := range listed {
		a.listed = append(a.listed, p)
	}
	sort.Slice(a.listed, func(i, j int) bool {
		x, y := a.listed[i], a.listed[j]
		if x.Fiat != y.Fiat {
			return x.Fiat < y.Fiat
		}
		return x.Currency < y.Currency
	})

	a.obs = make([][]observation, len(a.pairs))
	for i := range a.obs {
		a.obs[i] = make([]observation, len(a.providers))
	}
	a.fetchOK = make([]uint64, len(a.providers))
	a.fetchErr = make([]uint64, len(a.providers))
	return a, nil
}

// orDefault returns d, or def when d is zero.
func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// Run fetches from every provider at once, then keeps each on its own
// schedule: Interval after a success, the backoff after a failure. It returns
// once ctx is done and every fetch it started has returned. Run is called
// once (go agg.Run(ctx)); a second call panics.
func (a *Aggregator) Run(ctx context.Context) {
	if !a.running.CompareAndSwap(false, true) {
		panic("rates: Aggregator.Run called twice")
	}
	var wg sync.WaitGroup
	for i := range a.providers {
		wg.Go(func() { a.poll(ctx, i) })
	}
	<-ctx.Done()
	wg.Wait()
}

// poll is provider i's loop.
func (a *Aggregator) poll(ctx context.Context, i int) {
	failures := 0
	for {
		err := a.refresh(ctx, i)
		if ctx.Err() != nil {
			return
		}
		wait := a.interval
		if err != nil {
			failures++
			wait, _ = a.backoff.Wait(failures)
			a.log.Warn("rate fetch failed", "provider", a.names[i], "err", err, "failures", failures, "retry_in", wait)
		} else if failures > 0 {
			a.log.Info("rate fetch recovered", "provider", a.names[i], "after_failures", failures)
			failures = 0
		}
		select {
		case <-ctx.Done():
			return
		case <-a.clock.After(wait):
		}
	}
}

// refresh fetches once from provider i and stores what it got. Values for
// pairs it was not asked for are ignored; one invalid value fails the fetch.
// A fetch cut short by ctx is neither stored nor counted.
func (a *Aggregator) refresh(ctx context.Context, i int) error {
	got, err := a.providers[i].Fetch(ctx, slices.Clone(a.pairs))
	if ctx.Err() != nil {
		return ctx.Err()
	}
	type update struct {
		pair int
		obs  observation
	}
	var updates []update
	if err == nil {
		now := a.clock.Now()
		for p, rate := range got {
			pi, ok := a.pairIndex[p]
			if !ok {
				continue
			}
			if verr := validateRate(rate); verr != nil {
				err = fmt.Errorf("%s: %s: %w", a.names[i], p, verr)
				break
			}
			updates = append(updates, update{pi, observation{rate: rate, at: now}})
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil {
		a.fetchErr[i]++
		return err
	}
	a.fetchOK[i]++
	for _, u := range updates {
		a.obs[u.pair][i] = u.obs
	}
	return nil
}

// Quote returns the pinned rate for a pinned pair; otherwise the median
// (lower middle, see Aggregator) of the providers' values no older than the
// staleness limit. Its Source is the one provider's name, or
// "median(kraken,coingecko)" naming every provider whose value counted, and
// its At is the oldest of those values' fetch times. With no fresh value the
// error wraps ErrNoRate and says how old the newest value is.
func (a *Aggregator) Quote(currency, fiat string) (Quote, error) {
	if a.pinned != nil && fiat == staticFiat {
		if q, ok := a.pinned.byCurrency[currency]; ok {
			return q, nil
		}
	}
	p := Pair{currency, fiat}
	pi, ok := a.pairIndex[p]
	if !ok {
		return Quote{}, fmt.Errorf("rate %s: not an enabled pair: %w", p, ErrNoRate)
	}
	now := a.clock.Now()

	// Few providers: fixed arrays keep Quote free of allocations for up to 8.
	var freshBuf [8]int
	fresh := freshBuf[:0]
	var newest time.Time
	a.mu.RLock()
	row := a.obs[pi]
	for j, o := range row {
		if o.at.IsZero() {
			continue
		}
		if o.at.After(newest) {
			newest = o.at
		}
		if now.Sub(o.at) <= a.staleness {
			fresh = append(fresh, j)
		}
	}
	var usedBuf [8]observation
	used := usedBuf[:0]
	for _, j := range fresh {
		used = append(used, row[j])
	}
	a.mu.RUnlock()

	if len(used) == 0 {
		if newest.IsZero() {
			return Quote{}, fmt.Errorf("rate %s: no provider has answered yet: %w", p, ErrNoRate)
		}
		return Quote{}, fmt.Errorf("rate %s: newest value is %s old, over the staleness limit %s: %w",
			p, now.Sub(newest).Round(time.Second), a.staleness, ErrNoRate)
	}

	// Sort fresh (provider indices) and used together by value; insertion
	// sort is stable, so equal values keep provider order.
	for k := 1; k < len(used); k++ {
		for m := k; m > 0 && compareRates(used[m].rate, used[m-1].rate) < 0; m-- {
			used[m], used[m-1] = used[m-1], used[m]
			fresh[m], fresh[m-1] = fresh[m-1], fresh[m]
		}
	}
	median := used[(len(used)-1)/2]
	at := used[0].at
	for _, o := range used[1:] {
		if o.at.Before(at) {
			at = o.at
		}
	}
	return Quote{Currency: currency, Fiat: fiat, Rate: median.rate, Source: a.sourceName(fresh), At: at}, nil
}

// maxPrecomputedSources bounds the providers whose source names are
// precomputed: 2^8 strings at most.
const maxPrecomputedSources = 8

// sourceName names the providers at indices (distinct, any order).
func (a *Aggregator) sourceName(indices []int) string {
	if a.sources == nil {
		return a.joinNames(indices)
	}
	mask := 0
	for _, j := range indices {
		mask |= 1 << j
	}
	return a.sources[mask]
}

// joinNames names the providers at indices in configuration order:
// "kraken", or "median(kraken,coingecko)".
func (a *Aggregator) joinNames(indices []int) string {
	if len(indices) == 1 {
		return a.names[indices[0]]
	}
	sorted := slices.Clone(indices)
	slices.Sort(sorted)
	names := make([]string, len(sorted))
	for k, j := range sorted {
		names[k] = a.names[j]
	}
	return "median(" + strings.Join(names, ",") + ")"
}

// All returns the quote of every pair in fiat that has one now, sorted by
// currency code; pairs without a fresh rate are left out. The slice is new
// and non-nil.
func (a *Aggregator) All(fiat string) []Quote {
	out := []Quote{}
	for _, p := range a.listed {
		if p.Fiat != fiat {
			continue
		}
		if q, err := a.Quote(p.Currency, p.Fiat); err == nil {
			out = append(out, q)
		}
	}
	return out
}
