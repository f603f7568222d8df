package main

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeConsul is a small in-process Consul for unit tests: catalog, health
// and KV reads with blocking queries, following api-notes.md. One global
// index stands in for Consul's per-table indexes; blocking queries wake on
// any write, which real Consul also allows ("a return is not proof of
// change"). The Python stand-in in sandbox/ serves the functional tests.
type fakeConsul struct {
	t        *testing.T
	server   *httptest.Server
	token    string
	latency  time.Duration // added to every answer, as a busy server would
	mu       sync.Mutex
	index    uint64
	wake     chan struct{}
	services []fakeInstance
	kv       map[string]fakeKV
	requests []string
}

type fakeInstance struct {
	Node, NodeAddress, ID, Name, Address string
	Tags                                 []string
	Port                                 int
	Checks                               []healthCheck
}

type fakeKV struct {
	value  string
	modify uint64
}

func newFakeConsul(t *testing.T) *fakeConsul {
	t.Helper()
	fake := &fakeConsul{t: t, index: 1, wake: make(chan struct{}), kv: map[string]fakeKV{}}
	fake.server = httptest.NewServer(http.HandlerFunc(fake.handle))
	t.Cleanup(fake.server.Close)
	return fake
}

func (f *fakeConsul) URL() string { return f.server.URL }

// write applies change under the lock, bumps the index and wakes blockers.
func (f *fakeConsul) write(change func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.index++
	change()
	close(f.wake)
	f.wake = make(chan struct{})
}

func (f *fakeConsul) register(instance fakeInstance) {
	if instance.ID == "" {
		instance.ID = instance.Name
	}
	f.write(func() { f.services = append(f.services, instance) })
}

func (f *fakeConsul) putKey(key, value string) {
	f.write(func() { f.kv[key] = fakeKV{value: value, modify: f.index} })
}

// requestLog answers the request URIs seen so far.
func (f *fakeConsul) requestLog() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.requests...)
}

// waitForRequest polls, bounded, until a request URI satisfies match.
func (f *fakeConsul) waitForRequest(match func(string) bool) {
	f.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for _, uri := range f.requestLog() {
			if match(uri) {
				return
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	f.t.Fatalf("no matching request within 5s; saw %v", f.requestLog())
}

func (f *fakeConsul) handle(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests = append(f.requests, r.URL.RequestURI())
	f.mu.Unlock()
	if f.token != "" && r.Header.Get("X-Consul-Token") != f.token {
		http.Error(w, "ACL not found", http.StatusForbidden)
		return
	}
	time.Sleep(f.latency)
	query := r.URL.Query()
	if !f.block(w, r, query) {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set("X-Consul-Index", strconv.FormatUint(f.index, 10))
	w.Header().Set("X-Consul-KnownLeader", "true")
	w.Header().Set("X-Consul-LastContact", "0")
	switch {
	case r.URL.Path == "/v1/catalog/services":
		f.writeJSON(w, f.catalog())
	case strings.HasPrefix(r.URL.Path, "/v1/health/service/"):
		name := strings.TrimPrefix(r.URL.Path, "/v1/health/service/")
		f.writeJSON(w, f.health(name, query.Get("tag"), query.Has("passing")))
	case strings.HasPrefix(r.URL.Path, "/v1/kv/"):
		f.serveKV(w, strings.TrimPrefix(r.URL.Path, "/v1/kv/"), query.Has("recurse"))
	default:
		http.NotFound(w, r)
	}
}

// block holds a request with ?index=N until the index passes N or ?wait
// runs out; it answers false when there is nothing more to answer (bad
// parameters, or the client hung up).
func (f *fakeConsul) block(w http.ResponseWriter, r *http.Request, query map[string][]string) bool {
	indexText := firstValue(query, "index")
	if indexText == "" {
		return true
	}
	index, err := strconv.ParseUint(indexText, 10, 64)
	if err != nil {
		http.Error(w, "Invalid index", http.StatusBadRequest)
		return false
	}
	wait := 5 * time.Minute
	if text := firstValue(query, "wait"); text != "" {
		if wait, err = time.ParseDuration(text); err != nil {
			http.Error(w, "Invalid wait time", http.StatusBadRequest)
			return false
		}
	}
	timeout := time.After(wait)
	for {
		f.mu.Lock()
		current, wake := f.index, f.wake
		f.mu.Unlock()
		if current > index {
			return true
		}
		select {
		case <-wake:
		case <-timeout:
			return true
		case <-r.Context().Done():
			return false // the client went away
		}
	}
}

func firstValue(query map[string][]string, key string) string {
	if values := query[key]; len(values) > 0 {
		return values[0]
	}
	return ""
}

func (f *fakeConsul) catalog() map[string][]string {
	catalog := map[string][]string{}
	for _, instance := range f.services {
		tags := catalog[instance.Name]
		for _, tag := range instance.Tags {
			if !containsString(tags, tag) {
				tags = append(tags, tag)
			}
		}
		catalog[instance.Name] = append([]string{}, tags...)
	}
	return catalog
}

func (f *fakeConsul) health(name, tag string, passingOnly bool) []map[string]any {
	entries := []map[string]any{}
	for _, instance := range f.services {
		if instance.Name != name || (tag != "" && !containsString(instance.Tags, tag)) {
			continue
		}
		if passingOnly && !allPassing(instance.Checks) {
			continue
		}
		checks := make([]map[string]string, 0, len(instance.Checks))
		for _, check := range instance.Checks {
			checks = append(checks, map[string]string{"CheckID": check.CheckID, "Status": check.Status, "ServiceID": instance.ID})
		}
		entries = append(entries, map[string]any{
			"Node": map[string]any{"Node": instance.Node, "Address": instance.NodeAddress, "Datacenter": "dc1"},
			"Service": map[string]any{
				"ID": instance.ID, "Service": instance.Name, "Tags": instance.Tags,
				"Address": instance.Address, "Port": instance.Port,
			},
			"Checks": checks,
		})
	}
	return entries
}

func allPassing(checks []healthCheck) bool {
	for _, check := range checks {
		if check.Status != healthPassing {
			return false
		}
	}
	return true
}

func (f *fakeConsul) serveKV(w http.ResponseWriter, key string, recurse bool) {
	var keys []string
	for candidate := range f.kv {
		if candidate == key || (recurse && strings.HasPrefix(candidate, key)) {
			keys = append(keys, candidate)
		}
	}
	if len(keys) == 0 {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	sort.Strings(keys)
	entries := make([]map[string]any, 0, len(keys))
	for _, candidate := range keys {
		item := f.kv[candidate]
		var value any
		if item.value != "" {
			value = base64.StdEncoding.EncodeToString([]byte(item.value))
		}
		entries = append(entries, map[string]any{
			"Key": candidate, "Value": value, "Flags": 0, "LockIndex": 0,
			"CreateIndex": item.modify, "ModifyIndex": item.modify,
		})
	}
	f.writeJSON(w, entries)
}

func (f *fakeConsul) writeJSON(w http.ResponseWriter, body any) {
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(body); err != nil {
		f.t.Errorf("encoding answer: %v", err)
	}
}

func passing(id string) []healthCheck {
	return []healthCheck{{CheckID: id, Status: healthPassing}}
}

func critical(id string) []healthCheck {
	return []healthCheck{{CheckID: id, Status: healthCritical}}
}
