package main

import (
	"fmt"
	"sync"
)

// Scratch is consul-template's `scratch`: a key/value store that lives for
// one execution of one template, so a template can build sets and maps
// (Go templates have none of their own). Same methods and semantics as
// consul-template's: Key, Get, Set, SetX, MapSet, MapSetX, MapValues.
type Scratch struct {
	mu     sync.RWMutex
	values map[string]any
}

// Key reports whether k has been set.
func (s *Scratch) Key(k string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, ok := s.values[k]
	return ok
}

// Get answers the value stored at k, or nil.
func (s *Scratch) Get(k string) any {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.values[k]
}

// Set stores v at k, replacing any value; it prints nothing.
func (s *Scratch) Set(k string, v any) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.init()
	s.values[k] = v
	return ""
}

// SetX stores v at k only when k is not set yet.
func (s *Scratch) SetX(k string, v any) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.init()
	if _, ok := s.values[k]; !ok {
		s.values[k] = v
	}
	return ""
}

// MapSet stores v under mk in the map named k (created on first use).
func (s *Scratch) MapSet(k, mk string, v any) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mapSet(k, mk, v, true)
}

// MapSetX is MapSet that keeps an existing mk.
func (s *Scratch) MapSetX(k, mk string, v any) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mapSet(k, mk, v, false)
}

// mapSet needs the lock held by its caller.
func (s *Scratch) mapSet(k, mk string, v any, overwrite bool) (string, error) {
	s.init()
	if _, ok := s.values[k]; !ok {
		s.values[k] = map[string]any{}
	}
	typed, ok := s.values[k].(map[string]any)
	if !ok {
		return "", fmt.Errorf("%q is not a map", k)
	}
	if _, exists := typed[mk]; overwrite || !exists {
		typed[mk] = v
	}
	return "", nil
}

// MapValues answers the values of the map named k, sorted by their keys;
// nil when k is not set or not a map.
func (s *Scratch) MapValues(k string) ([]any, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	typed, ok := s.values[k].(map[string]any)
	if !ok {
		return nil, nil
	}
	keys := sortedKeys(typed)
	sorted := make([]any, len(keys))
	for i, key := range keys {
		sorted[i] = typed[key]
	}
	return sorted, nil
}

func (s *Scratch) init() {
	if s.values == nil {
		s.values = map[string]any{}
	}
}
