package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ConsulClient speaks the few read endpoints of the Consul HTTP API the
// template functions need. It never logs or returns the token.
type ConsulClient struct {
	base     *url.URL
	token    string
	http     *http.Client
	maxStale time.Duration
}

// QueryOptions are the blocking-query knobs of one request.
type QueryOptions struct {
	Index uint64        // 0: answer at once; else hold until the index passes it
	Wait  time.Duration // how long Consul may hold a blocking query
}

// QueryMeta is what Consul says about the answer besides the body.
type QueryMeta struct {
	Index       uint64
	LastContact time.Duration
	NotFound    bool
}

// StatusError is a non-2xx answer other than a handled 404.
type StatusError struct {
	Method  string
	Path    string
	Code    int
	Message string
}

func (e *StatusError) Error() string {
	hint := ""
	if e.Code == http.StatusForbidden || e.Code == http.StatusUnauthorized {
		hint = " (ACL denied: check -token, -token-file or CONSUL_HTTP_TOKEN)"
	}
	return fmt.Sprintf("consul %s %s: %d %s: %s%s", e.Method, e.Path, e.Code,
		http.StatusText(e.Code), e.Message, hint)
}

// Permanent says retrying the same request cannot help.
func (e *StatusError) Permanent() bool {
	return e.Code >= 400 && e.Code < 500 && e.Code != http.StatusTooManyRequests
}

// isPermanent reports errors that retrying will not fix.
func isPermanent(err error) bool {
	var statusErr *StatusError
	return errors.As(err, &statusErr) && statusErr.Permanent()
}

// nonBlockingTimeout bounds every request that Consul answers at once.
const nonBlockingTimeout = 10 * time.Second

func NewConsulClient(addr, token string, maxStale time.Duration) (*ConsulClient, error) {
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	base, err := url.Parse(addr)
	if err != nil || base.Host == "" || (base.Scheme != "http" && base.Scheme != "https") {
		return nil, fmt.Errorf("consul address %q: want http(s)://host:port", addr)
	}
	transport := &http.Transport{
		Proxy:               nil, // loopback and cluster addresses only; ignore proxy env
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 32,
		IdleConnTimeout:     90 * time.Second,
	}
	return &ConsulClient{
		base:     base,
		token:    token,
		http:     &http.Client{Transport: transport},
		maxStale: maxStale,
	}, nil
}

// Get reads one endpoint; path must be URL-escaped already. A 404 is not an error: meta.NotFound is set and
// the index still counts, because blocking on a missing key is how `key`
// waits for it to appear.
func (c *ConsulClient) Get(ctx context.Context, path string, query url.Values, opts QueryOptions) ([]byte, QueryMeta, error) {
	body, meta, err := c.get(ctx, path, query, opts, c.maxStale > 0)
	// A stale answer from a follower that lost touch too long ago is retried
	// against the leader, as consul-template's max_stale does.
	if err == nil && c.maxStale > 0 && meta.LastContact > c.maxStale {
		return c.get(ctx, path, query, opts, false)
	}
	return body, meta, err
}

func (c *ConsulClient) get(ctx context.Context, path string, query url.Values, opts QueryOptions, stale bool) ([]byte, QueryMeta, error) {
	requestURL := c.requestURL(path, query, opts, stale)
	timeout := nonBlockingTimeout
	if opts.Index > 0 {
		// Consul may hold the request for wait plus wait/16 of jitter.
		timeout = opts.Wait + opts.Wait/16 + nonBlockingTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	request, err := http.NewRequestWithContext(ctx, http.MethodGet, requestURL, nil)
	if err != nil {
		return nil, QueryMeta{}, fmt.Errorf("consul GET %s: %v", path, err)
	}
	if c.token != "" {
		request.Header.Set("X-Consul-Token", c.token)
	}
	response, err := c.http.Do(request)
	if err != nil {
		return nil, QueryMeta{}, fmt.Errorf("consul GET %s: cannot reach %s: %v", path, c.base.Host, unwrapURLError(err))
	}
	defer response.Body.Close()
	body, err := io.ReadAll(io.LimitReader(response.Body, 64<<20))
	if err != nil {
		return nil, QueryMeta{}, fmt.Errorf("consul GET %s: reading answer: %v", path, err)
	}
	meta, err := parseQueryMeta(response.Header)
	if err != nil {
		return nil, QueryMeta{}, fmt.Errorf("consul GET %s: %v", path, err)
	}
	switch {
	case response.StatusCode == http.StatusOK:
		return body, meta, nil
	case response.StatusCode == http.StatusNotFound:
		meta.NotFound = true
		return nil, meta, nil
	default:
		return nil, QueryMeta{}, &StatusError{
			Method: http.MethodGet, Path: path, Code: response.StatusCode,
			Message: strings.TrimSpace(string(truncate(body, 200))),
		}
	}
}

func (c *ConsulClient) requestURL(escapedPath string, query url.Values, opts QueryOptions, stale bool) string {
	values := url.Values{}
	for key, list := range query {
		values[key] = append([]string(nil), list...)
	}
	if opts.Index > 0 {
		values.Set("index", strconv.FormatUint(opts.Index, 10))
		values.Set("wait", formatWait(opts.Wait))
	}
	if stale {
		values.Set("stale", "")
	}
	// path arrives escaped (a key may hold "?" or spaces); RawPath keeps
	// that escaping, Path must be its decoded twin for url.URL to use it.
	full := *c.base
	full.RawPath = strings.TrimSuffix(c.base.EscapedPath(), "/") + escapedPath
	full.Path, _ = url.PathUnescape(full.RawPath)
	// Flags such as ?passing count by presence; Encode writes them as "passing=".
	full.RawQuery = strings.ReplaceAll(values.Encode(), "=&", "&")
	full.RawQuery = strings.TrimSuffix(full.RawQuery, "=")
	return full.String()
}

// formatWait renders a duration the way Consul's ?wait parser accepts it.
func formatWait(wait time.Duration) string {
	if wait%time.Second == 0 {
		return strconv.FormatInt(int64(wait/time.Second), 10) + "s"
	}
	return strconv.FormatInt(int64(wait/time.Millisecond), 10) + "ms"
}

func parseQueryMeta(header http.Header) (QueryMeta, error) {
	meta := QueryMeta{}
	if text := header.Get("X-Consul-Index"); text != "" {
		index, err := strconv.ParseUint(text, 10, 64)
		if err != nil {
			return meta, fmt.Errorf("bad X-Consul-Index %q", text)
		}
		meta.Index = index
	}
	if text := header.Get("X-Consul-LastContact"); text != "" {
		if ms, err := strconv.ParseUint(text, 10, 64); err == nil {
			meta.LastContact = time.Duration(ms) * time.Millisecond
		}
	}
	return meta, nil
}

// unwrapURLError drops url.Error's "Get <url>:" prefix; the caller already
// names the path, and the URL would repeat it.
func unwrapURLError(err error) error {
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		return urlErr.Err
	}
	return err
}

func truncate(body []byte, limit int) []byte {
	if len(body) > limit {
		return append(body[:limit:limit], "..."...)
	}
	return body
}
