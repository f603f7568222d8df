package main

import "sync"

// Brain holds the latest data of every watched dependency. Views write it,
// render passes read it.
type Brain struct {
	mu   sync.RWMutex
	data map[string]any
}

func NewBrain() *Brain { return &Brain{data: map[string]any{}} }

func (b *Brain) Remember(id string, data any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.data[id] = data
}

// Recall answers the stored data and whether a fetch has completed yet.
func (b *Brain) Recall(id string) (any, bool) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	data, ok := b.data[id]
	return data, ok
}

func (b *Brain) Forget(id string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.data, id)
}

// renderPass records, for one execution of one template, which
// dependencies it read and which it still lacks.
type renderPass struct {
	brain   *Brain
	used    map[string]Dependency
	missing map[string]Dependency
	absent  map[string]Dependency // fetched, but a `key` that does not exist yet
}

func newRenderPass(brain *Brain) *renderPass {
	return &renderPass{
		brain: brain, used: map[string]Dependency{},
		missing: map[string]Dependency{}, absent: map[string]Dependency{},
	}
}

// recall marks dep as used and, when it has never been fetched, as missing.
func (p *renderPass) recall(dep Dependency) (any, bool) {
	id := dep.ID()
	if existing, ok := p.used[id]; ok {
		dep = existing
	} else {
		p.used[id] = dep
	}
	data, ok := p.brain.Recall(id)
	if !ok {
		p.missing[id] = dep
	}
	return data, ok
}

// stillMissing marks a fetched dependency as not good enough yet (a `key`
// that does not exist), so the template is not written.
func (p *renderPass) stillMissing(dep Dependency) {
	p.missing[dep.ID()] = dep
	p.absent[dep.ID()] = dep
}
