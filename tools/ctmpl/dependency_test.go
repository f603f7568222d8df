package main

import (
	"context"
	"reflect"
	"strings"
	"testing"
)

func TestParseHealthServiceQuery(t *testing.T) {
	cases := []struct {
		text, name, tag, dc string
		filters             []string
	}{
		{"web", "web", "", "", []string{"passing"}},
		{"production.test-server", "test-server", "production", "", []string{"passing"}},
		{"staging.api-9000|any", "api-9000", "staging", "", []string{"any"}},
		{"web|passing,warning", "web", "", "", []string{"passing", "warning"}},
		{"web| warning , passing", "web", "", "", []string{"passing", "warning"}},
		{"v1.2.web@dc2", "web", "v1.2", "dc2", []string{"passing"}},
		{"web_1|critical", "web_1", "", "", []string{"critical"}},
	}
	for _, c := range cases {
		query, err := parseHealthServiceQuery(c.text)
		if err != nil {
			t.Errorf("%q: %v", c.text, err)
			continue
		}
		if query.Name != c.name || query.Tag != c.tag || query.Datacenter != c.dc || !reflect.DeepEqual(query.Filters, c.filters) {
			t.Errorf("%q parsed as %+v", c.text, query)
		}
	}
}

func TestParseHealthServiceQueryErrors(t *testing.T) {
	cases := map[string]string{
		"":                 "want [tag.]name",
		"web|healthy":      `unknown health filter "healthy"`,
		"web|any,passing":  "cannot be combined",
		"web server":       "want [tag.]name",
		"production.":      "want [tag.]name",
		"web|passing|junk": "want [tag.]name",
	}
	for text, want := range cases {
		_, err := parseHealthServiceQuery(text)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want it to mention %q", text, err, want)
		}
	}
}

func TestServiceQueriesShareOneDependencyWhateverTheFilterOrder(t *testing.T) {
	first, _ := parseHealthServiceQuery("web|warning,passing")
	second, _ := parseHealthServiceQuery("web|passing,warning")
	if first.ID() != second.ID() {
		t.Errorf("%s != %s", first.ID(), second.ID())
	}
	tagged, _ := parseHealthServiceQuery("production.web")
	if tagged.ID() == first.ID() {
		t.Error("a tag must make a different dependency")
	}
}

func TestAggregatedStatus(t *testing.T) {
	cases := []struct {
		checks []healthCheck
		want   string
	}{
		{nil, healthPassing},
		{[]healthCheck{{"a", "passing"}, {"b", "passing"}}, healthPassing},
		{[]healthCheck{{"a", "passing"}, {"b", "warning"}}, healthWarning},
		{[]healthCheck{{"a", "warning"}, {"b", "critical"}}, healthCritical},
		{[]healthCheck{{"a", "passing"}, {"_node_maintenance", "critical"}}, healthMaintenance},
		{[]healthCheck{{"_service_maintenance:web", "critical"}}, healthMaintenance},
		{[]healthCheck{{"a", "bogus"}}, healthCritical},
	}
	for _, c := range cases {
		if got := aggregatedStatus(c.checks); got != c.want {
			t.Errorf("aggregatedStatus(%v) = %q, want %q", c.checks, got, c.want)
		}
	}
}

func TestInstancesFilterSortAndAddressFallback(t *testing.T) {
	entries := []healthEntry{
		entry("node-b", "10.0.0.2", "web-2", "", 8002, []string{"z", "a", "z"}, "passing"),
		entry("node-a", "10.0.0.1", "web-9", "192.168.1.9", 8009, nil, "passing"),
		entry("node-a", "10.0.0.1", "web-1", "", 8001, nil, "warning"),
		entry("node-c", "10.0.0.3", "web-3", "", 8003, nil, "critical"),
	}
	query, _ := parseHealthServiceQuery("web")
	got := query.instances(entries)
	if ids := instanceIDs(got); ids != "web-9,web-2" {
		t.Fatalf("passing only, sorted by node: got %s", ids)
	}
	if got[0].Address != "192.168.1.9" || got[1].Address != "10.0.0.2" || got[1].NodeAddress != "10.0.0.2" {
		t.Errorf("addresses: %+v %+v", got[0], got[1])
	}
	if !reflect.DeepEqual(got[1].Tags, ServiceTags{"a", "z"}) {
		t.Errorf("tags not sorted and unique: %v", got[1].Tags)
	}

	warningToo, _ := parseHealthServiceQuery("web|passing,warning")
	if ids := instanceIDs(warningToo.instances(entries)); ids != "web-1,web-9,web-2" {
		t.Errorf("passing,warning: got %s (sorted by node then ID)", ids)
	}
	anyStatus, _ := parseHealthServiceQuery("web|any")
	all := anyStatus.instances(entries)
	if ids := instanceIDs(all); ids != "web-1,web-9,web-2,web-3" {
		t.Errorf("any: got %s", ids)
	}
	if all[3].Status != healthCritical || all[0].Status != healthWarning {
		t.Errorf("status not reported: %s %s", all[3].Status, all[0].Status)
	}
}

func TestHealthQuerySendsPassingTagAndDatacenter(t *testing.T) {
	fake := newFakeConsul(t)
	client, _ := NewConsulClient(fake.URL(), "", 0)
	query, _ := parseHealthServiceQuery("production.web@dc1")
	if _, _, err := query.Fetch(context.Background(), client, QueryOptions{}); err != nil {
		t.Fatal(err)
	}
	anyQuery, _ := parseHealthServiceQuery("web|any")
	if _, _, err := anyQuery.Fetch(context.Background(), client, QueryOptions{}); err != nil {
		t.Fatal(err)
	}
	log := fake.requestLog()
	if log[0] != "/v1/health/service/web?dc=dc1&passing&tag=production" {
		t.Errorf("passing query: %s", log[0])
	}
	if log[1] != "/v1/health/service/web" {
		t.Errorf("any query must not ask Consul to filter: %s", log[1])
	}
}

func TestCatalogServicesMergedSortedTags(t *testing.T) {
	fake := newFakeConsul(t)
	fake.register(fakeInstance{Node: "n1", Name: "web", ID: "web-1", Tags: []string{"production", "b"}})
	fake.register(fakeInstance{Node: "n2", Name: "web", ID: "web-2", Tags: []string{"staging", "b"}})
	fake.register(fakeInstance{Node: "n1", Name: "api", Tags: nil})
	client, _ := NewConsulClient(fake.URL(), "", 0)
	data, meta, err := (&CatalogServicesQuery{}).Fetch(context.Background(), client, QueryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	services := data.([]*CatalogSnippet)
	if len(services) != 2 || services[0].Name != "api" || services[1].Name != "web" {
		t.Fatalf("services: %+v", services)
	}
	if !reflect.DeepEqual(services[1].Tags, ServiceTags{"b", "production", "staging"}) {
		t.Errorf("tags: %v", services[1].Tags)
	}
	if meta.Index != 4 {
		t.Errorf("index %d, want the X-Consul-Index 4", meta.Index)
	}
}

func entry(node, nodeAddress, id, address string, port int, tags []string, status string) healthEntry {
	var e healthEntry
	e.Node.Node, e.Node.Address = node, nodeAddress
	e.Service.ID, e.Service.Service, e.Service.Address, e.Service.Port = id, "web", address, port
	e.Service.Tags = tags
	e.Checks = []healthCheck{{CheckID: "service:" + id, Status: status}}
	return e
}

func instanceIDs(instances []*HealthService) string {
	ids := make([]string, 0, len(instances))
	for _, instance := range instances {
		ids = append(ids, instance.ID)
	}
	return strings.Join(ids, ",")
}
