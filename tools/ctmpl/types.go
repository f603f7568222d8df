package main

import "sort"

// ServiceTags is a tag list templates can ask `.Tags.Contains "x"`.
type ServiceTags []string

// Contains reports whether the tag is present.
func (t ServiceTags) Contains(tag string) bool {
	for _, candidate := range t {
		if candidate == tag {
			return true
		}
	}
	return false
}

// ContainsAll reports whether every given tag is present.
func (t ServiceTags) ContainsAll(tags []string) bool {
	for _, tag := range tags {
		if !t.Contains(tag) {
			return false
		}
	}
	return true
}

// ContainsAny reports whether at least one given tag is present.
func (t ServiceTags) ContainsAny(tags []string) bool {
	for _, tag := range tags {
		if t.Contains(tag) {
			return true
		}
	}
	return false
}

// sortedTags copies, sorts and de-duplicates, as consul-template does, so a
// re-ordered registration does not change the rendered file.
func sortedTags(tags []string) ServiceTags {
	result := make(ServiceTags, 0, len(tags))
	seen := make(map[string]bool, len(tags))
	for _, tag := range tags {
		if !seen[tag] {
			seen[tag] = true
			result = append(result, tag)
		}
	}
	sort.Strings(result)
	return result
}

// CatalogSnippet is one entry of `services`.
type CatalogSnippet struct {
	Name string
	Tags ServiceTags
}

// HealthService is one instance returned by `service`.
type HealthService struct {
	Node           string
	NodeID         string
	NodeAddress    string
	NodeDatacenter string
	NodeMeta       map[string]string
	Address        string
	ID             string
	Name           string
	Tags           ServiceTags
	Port           int
	ServiceMeta    map[string]string
	Status         string
}

// KeyPair is one entry of `ls` and `tree`: Key is relative to the prefix,
// Path is the full key.
type KeyPair struct {
	Path        string
	Key         string
	Value       string
	Flags       uint64
	CreateIndex uint64
	ModifyIndex uint64
	LockIndex   uint64
	Session     string
}

// tagged is implemented by every result type that `byTag` can group.
type tagged interface{ tagList() []string }

func (s *CatalogSnippet) tagList() []string { return s.Tags }
func (s *HealthService) tagList() []string  { return s.Tags }
