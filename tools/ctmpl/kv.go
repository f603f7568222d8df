package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/url"
	"sort"
	"strings"
)

// KVGetQuery backs `key` and `keyOrDefault`: /v1/kv/<key>.
type KVGetQuery struct {
	Key string
}

// kvValue tells an absent key from an empty one.
type kvValue struct {
	Exists bool
	Value  string
}

type kvEntry struct {
	Key         string
	Value       *string
	Flags       uint64
	CreateIndex uint64
	ModifyIndex uint64
	LockIndex   uint64
	Session     string
}

func parseKVKey(function, key string) (string, error) {
	// consul-template strips one leading slash; Consul refuses it.
	key = strings.TrimPrefix(key, "/")
	if key == "" {
		return "", fmt.Errorf("%s: empty key", function)
	}
	return key, nil
}

func (q *KVGetQuery) ID() string { return "kv.get(" + q.Key + ")" }

func (q *KVGetQuery) Fetch(ctx context.Context, client *ConsulClient, opts QueryOptions) (any, QueryMeta, error) {
	path := "/v1/kv/" + escapeKey(q.Key)
	body, meta, err := client.Get(ctx, path, nil, opts)
	if err != nil || meta.NotFound {
		return kvValue{}, meta, err
	}
	var entries []kvEntry
	if err := decodeBody(path, body, &entries); err != nil {
		return nil, meta, err
	}
	if len(entries) == 0 {
		return kvValue{}, meta, nil
	}
	value, err := decodeValue(path, entries[0].Value)
	if err != nil {
		return nil, meta, err
	}
	return kvValue{Exists: true, Value: value}, meta, nil
}

// KVListQuery backs `ls` and `tree`: /v1/kv/<prefix>?recurse.
type KVListQuery struct {
	Prefix string
}

func (q *KVListQuery) ID() string { return "kv.list(" + q.Prefix + ")" }

func (q *KVListQuery) Fetch(ctx context.Context, client *ConsulClient, opts QueryOptions) (any, QueryMeta, error) {
	path := "/v1/kv/" + escapeKey(q.Prefix)
	body, meta, err := client.Get(ctx, path, url.Values{"recurse": {""}}, opts)
	if err != nil || meta.NotFound {
		return []*KeyPair{}, meta, err
	}
	var entries []kvEntry
	if err := decodeBody(path, body, &entries); err != nil {
		return nil, meta, err
	}
	pairs := make([]*KeyPair, 0, len(entries))
	for _, entry := range entries {
		value, err := decodeValue(path, entry.Value)
		if err != nil {
			return nil, meta, err
		}
		relative := strings.TrimLeft(strings.TrimPrefix(entry.Key, q.Prefix), "/")
		pairs = append(pairs, &KeyPair{
			Path: entry.Key, Key: relative, Value: value, Flags: entry.Flags,
			CreateIndex: entry.CreateIndex, ModifyIndex: entry.ModifyIndex,
			LockIndex: entry.LockIndex, Session: entry.Session,
		})
	}
	sort.Slice(pairs, func(i, j int) bool { return pairs[i].Path < pairs[j].Path })
	return pairs, meta, nil
}

// escapeKey quotes each path segment but keeps the slashes of the key.
func escapeKey(key string) string {
	segments := strings.Split(key, "/")
	for i, segment := range segments {
		segments[i] = url.PathEscape(segment)
	}
	return strings.Join(segments, "/")
}

func decodeValue(path string, value *string) (string, error) {
	if value == nil {
		return "", nil
	}
	raw, err := base64.StdEncoding.DecodeString(*value)
	if err != nil {
		return "", fmt.Errorf("consul GET %s: value is not base64: %v", path, err)
	}
	return string(raw), nil
}
