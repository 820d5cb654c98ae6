package invoice

import (
	"fmt"

	"github.com/google/uuid"

	"github.com/invoiced/invoiced/engine"
	"github.com/invoiced/invoiced/persistence"
	"github.com/invoiced/invoiced/view"
)

// renderCache holds the API's JSON of recently read invoices by invoice
// and version, so a GET or a list page of an invoice that has not changed
// since it was last rendered copies bytes instead of building and encoding
// its view (and, for a list, instead of reading and replaying its stream).
//
// An invoice's JSON depends on nothing but its state at one version and
// constants of the process: its project's owner (a project never changes
// owner), the currency table (decimals, network, confirmations) and the
// public URL, which are view.FromInvoice's inputs; no field depends on the
// time of the request. So the bytes of a version stay right for that
// version for good, and reads fill the cache as they render, with none of
// the state cache's care (stateCache.loaded): a reader asks for exactly the
// version it read, never for "the latest", so an older version left behind
// is merely unused until a newer one replaces it or it is evicted.
//
// Only committed states are rendered into it: a version number belongs to
// its state only once the commit is durable (a failed decision's number is
// taken by the next one). It is a clockCache bounded by bytes, an entry
// taking its JSON's length plus renderOverhead.
type renderCache struct{ *clockCache[[]byte] }

// renderOverhead is what an entry costs beyond its JSON: the ring slot,
// the map entry and the allocator's rounding of the bytes.
const renderOverhead = 160

// renderTypical is an entry of an invoice as the API creates it (its JSON
// is about 1,150 bytes), which sizes the rings.
const renderTypical = 1150 + renderOverhead

// DefaultRenderCacheBytes is the default of INVOICED_RENDER_CACHE_MB:
// about 25,000 invoices' JSON.
const DefaultRenderCacheBytes = 32 << 20

func newRenderCache(maxBytes int64) renderCache {
	return renderCache{newClockCache[[]byte](maxBytes, renderTypical)}
}

// keep records body as id's JSON at version; it copies body. An empty
// body is not kept: a cached body is never nil, which AppendList relies on.
func (c renderCache) keep(id uuid.UUID, version uint64, body []byte) {
	if c.clockCache == nil || len(body) == 0 {
		return
	}
	b := append([]byte(nil), body...)
	c.put(id, version, int64(cap(b))+renderOverhead, b)
}

// AppendJSON appends the API's JSON of inv to b: view.FromInvoice's
// encoding, with the project's owner as user_id (Config.Owner) and the
// checkout links under Config.PublicURL. inv must be a committed state, as
// Create, ChangeStatus and Get return it: its JSON is kept for its version.
func (s *Service) AppendJSON(b []byte, inv engine.Invoice) []byte {
	if body, _, ok := s.rendered.get(inv.ID, inv.Version); ok {
		return append(b, body...)
	}
	return s.render(b, inv)
}

// AppendInvoice appends the API's JSON of project's invoice id, as Get
// reads it, to b: copied from the render cache when the version read is
// cached, without copying the state on the way. Another project's invoice
// is engine.ErrNotFound, as for Get.
func (s *Service) AppendInvoice(b []byte, project, id uuid.UUID) ([]byte, error) {
	inv, ok := s.states.ref(id)
	if !ok {
		var err error
		if inv, err = s.load(id); err != nil {
			return b, err
		}
	}
	if inv.ProjectID != project {
		return b, engine.ErrNotFound
	}
	if body, _, ok := s.rendered.get(id, inv.Version); ok {
		return append(b, body...), nil
	}
	return s.render(b, *inv), nil
}

// AppendNewJSON is AppendJSON for an invoice just created: its JSON is
// rendered but not kept. Creates are the bulk of a write-heavy load (a
// sale, the expiry storm of docs/operations-storms.md); kept, they would
// evict the entries readers use and hold memory for invoices nobody may
// read. The first read of the invoice keeps it.
func (s *Service) AppendNewJSON(b []byte, inv engine.Invoice) []byte {
	v := view.FromInvoice(inv, s.owner(inv.ProjectID), s.cfg.Rules.Currencies, s.cfg.PublicURL)
	return v.AppendJSON(b)
}

// render appends inv's JSON to b and keeps it.
func (s *Service) render(b []byte, inv engine.Invoice) []byte {
	start := len(b)
	b = s.AppendNewJSON(b, inv)
	s.rendered.keep(inv.ID, inv.Version, b[start:])
	return b
}

// owner is the account owning project (Config.Owner; nil: the nil UUID).
func (s *Service) owner(project uuid.UUID) uuid.UUID {
	if s.cfg.Owner == nil {
		return uuid.Nil
	}
	return s.cfg.Owner(project)
}

// AppendList appends the JSON of one page of q's invoices to b, separated
// by commas (the items of a JSON array), and returns the number of
// invoices matching q. The page, the version of each of its invoices and
// the total come from one store snapshot (persistence.Store.ListKnown); an
// invoice whose JSON is cached at the version the snapshot holds is copied
// from the cache, and only the others are read, replayed and rendered.
func (s *Service) AppendList(b []byte, q persistence.Query) ([]byte, int, error) {
	cached := make([][]byte, 0, min(max(q.Limit, 0), 128))
	states, total, err := s.cfg.Store.ListKnown(q, func(id uuid.UUID, version uint64) bool {
		body, _, ok := s.rendered.get(id, version)
		cached = append(cached, body)
		return ok
	})
	if err != nil {
		return b, 0, fmt.Errorf("list invoices: %w", err)
	}
	for i, st := range states {
		if i > 0 {
			b = append(b, ',')
		}
		if cached[i] != nil {
			b = append(b, cached[i]...)
			continue
		}
		inv, err := replayExisting(st.Snapshot, st.Events)
		if err != nil {
			return b, 0, fmt.Errorf("list invoices: %s: %w", st.ID, err)
		}
		b = s.render(b, inv)
	}
	return b, total, nil
}
