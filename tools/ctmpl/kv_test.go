package main

import (
	"context"
	"testing"
)

func TestKVQueries(t *testing.T) {
	fake := newFakeConsul(t)
	fake.putKey("app/prod/web/A", "1")
	fake.putKey("app/prod/web/sub/B", "2")
	fake.putKey("app/prod/web/empty", "")
	client, _ := NewConsulClient(fake.URL(), "", 0)
	ctx := context.Background()

	data, _, err := (&KVGetQuery{Key: "app/prod/web/A"}).Fetch(ctx, client, QueryOptions{})
	if err != nil || data.(kvValue) != (kvValue{Exists: true, Value: "1"}) {
		t.Errorf("get: %v %v", data, err)
	}
	data, _, err = (&KVGetQuery{Key: "app/prod/web/empty"}).Fetch(ctx, client, QueryOptions{})
	if err != nil || data.(kvValue) != (kvValue{Exists: true}) {
		t.Errorf("empty value must exist: %v %v", data, err)
	}
	data, meta, err := (&KVGetQuery{Key: "missing"}).Fetch(ctx, client, QueryOptions{})
	if err != nil || data.(kvValue).Exists || !meta.NotFound || meta.Index == 0 {
		t.Errorf("missing: %v %+v %v", data, meta, err)
	}
	data, _, err = (&KVListQuery{Prefix: "app/prod/web"}).Fetch(ctx, client, QueryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pairs := data.([]*KeyPair)
	if len(pairs) != 3 || pairs[0].Key != "A" || pairs[0].Path != "app/prod/web/A" || pairs[2].Key != "sub/B" {
		t.Errorf("list: %+v", pairs)
	}
	data, _, err = (&KVListQuery{Prefix: "nothing/here"}).Fetch(ctx, client, QueryOptions{})
	if err != nil || len(data.([]*KeyPair)) != 0 {
		t.Errorf("empty list: %v %v", data, err)
	}
}

func TestKeyPathIsEscapedPerSegmentAndLeadingSlashDropped(t *testing.T) {
	fake := newFakeConsul(t)
	fake.putKey("app/a b/c?d", "v")
	brain := NewBrain()
	tmpl, err := parseTemplate(TemplateSpec{Source: "t", Destination: "o"}, `{{ keyOrDefault "/app/a b/c?d" "none" }}`)
	if err != nil {
		t.Fatal(err)
	}
	client, _ := NewConsulClient(fake.URL(), "", 0)
	for _, dep := range tmpl.Render(brain).Missing {
		data, _, err := dep.Fetch(context.Background(), client, QueryOptions{})
		if err != nil {
			t.Fatal(err)
		}
		brain.Remember(dep.ID(), data)
	}
	if got := string(tmpl.Render(brain).Content); got != "v" {
		t.Errorf("rendered %q", got)
	}
	if uri := fake.requestLog()[0]; uri != "/v1/kv/app/a%20b/c%3Fd" {
		t.Errorf("request %q", uri)
	}
}
