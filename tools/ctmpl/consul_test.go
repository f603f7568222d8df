package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

const secretToken = "s3cr3t-token-value"

func TestTokenGoesInHeaderNeverInURLOrErrors(t *testing.T) {
	var seenHeader, seenURL string
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seenHeader, seenURL = r.Header.Get("X-Consul-Token"), r.URL.String()
		w.Header().Set("X-Consul-Index", "3")
		http.Error(w, "Permission denied", http.StatusForbidden)
	}))
	defer server.Close()
	client, err := NewConsulClient(server.URL, secretToken, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = client.Get(context.Background(), "/v1/catalog/services", nil, QueryOptions{})
	if seenHeader != secretToken || strings.Contains(seenURL, secretToken) {
		t.Errorf("header %q url %q", seenHeader, seenURL)
	}
	var statusErr *StatusError
	if !errors.As(err, &statusErr) || statusErr.Code != 403 || !isPermanent(err) {
		t.Fatalf("want a permanent 403 StatusError, got %v", err)
	}
	message := err.Error()
	for _, part := range []string{"403", "Permission denied", "/v1/catalog/services", "CONSUL_HTTP_TOKEN"} {
		if !strings.Contains(message, part) {
			t.Errorf("error %q lacks %q", message, part)
		}
	}
	if strings.Contains(message, secretToken) {
		t.Error("error leaks the token")
	}
}

func TestBlockingQueryParameters(t *testing.T) {
	requests := make(chan *url.URL, 2)
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests <- r.URL
		w.Header().Set("X-Consul-Index", "12")
		w.Header().Set("X-Consul-LastContact", "7")
		_, _ = w.Write([]byte(`{}`))
	}))
	defer server.Close()
	client, _ := NewConsulClient(server.URL, "", 0)
	_, meta, err := client.Get(context.Background(), "/v1/catalog/services", nil, QueryOptions{Index: 11, Wait: 90 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if got := (<-requests).RawQuery; got != "index=11&wait=90s" {
		t.Errorf("query %q", got)
	}
	if meta.Index != 12 || meta.LastContact != 7*time.Millisecond {
		t.Errorf("meta %+v", meta)
	}
	_, _, _ = client.Get(context.Background(), "/v1/kv/a", url.Values{"recurse": {""}}, QueryOptions{Wait: time.Minute})
	if got := (<-requests).RawQuery; got != "recurse" {
		t.Errorf("a non-blocking read must not send index/wait, and flags go by presence: %q", got)
	}
}

func TestMaxStaleFallsBackToConsistentRead(t *testing.T) {
	var queries []string
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		queries = append(queries, r.URL.RawQuery)
		w.Header().Set("X-Consul-Index", "5")
		if r.URL.Query().Has("stale") {
			w.Header().Set("X-Consul-LastContact", "5000")
		}
		_, _ = w.Write([]byte(`{}`))
	}))
	defer server.Close()
	client, _ := NewConsulClient(server.URL, "", time.Second)
	if _, _, err := client.Get(context.Background(), "/v1/catalog/services", nil, QueryOptions{}); err != nil {
		t.Fatal(err)
	}
	if strings.Join(queries, " ; ") != "stale ; " {
		t.Errorf("queries %q: want a stale read, then a consistent one", queries)
	}
}

func TestUnreachableConsulNamesTheAddress(t *testing.T) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	address := listener.Addr().String()
	listener.Close() // nothing listens there any more
	client, _ := NewConsulClient(address, "", 0)
	_, _, err = client.Get(context.Background(), "/v1/catalog/services", nil, QueryOptions{})
	if err == nil || !strings.Contains(err.Error(), "cannot reach "+address) || isPermanent(err) {
		t.Fatalf("got %v", err)
	}
}

func TestBadAddressAndBadIndexHeader(t *testing.T) {
	if _, err := NewConsulClient("ftp://x", "", 0); err == nil {
		t.Error("ftp scheme accepted")
	}
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Consul-Index", "abc")
		_, _ = w.Write([]byte(`{}`))
	}))
	defer server.Close()
	client, _ := NewConsulClient(server.URL, "", 0)
	if _, _, err := client.Get(context.Background(), "/v1/catalog/services", nil, QueryOptions{}); err == nil || !strings.Contains(err.Error(), "X-Consul-Index") {
		t.Errorf("got %v", err)
	}
}

func TestServerErrorIsRetryable(t *testing.T) {
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "No cluster leader", http.StatusInternalServerError)
	}))
	defer server.Close()
	client, _ := NewConsulClient(server.URL, "", 0)
	_, _, err := client.Get(context.Background(), "/v1/catalog/services", nil, QueryOptions{})
	if err == nil || isPermanent(err) || !strings.Contains(err.Error(), "No cluster leader") {
		t.Errorf("got %v", err)
	}
}
